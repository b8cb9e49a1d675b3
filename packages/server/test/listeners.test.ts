// The listening sockets' receive buffer, requests relayed from another
// process's listening socket (what a cluster worker serves), and single-port
// sessions that keep running while the server drains.

import { readFileSync } from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createServer, type RelayListener, type TftpServer } from "../src/index.js";
import { UdpListeners } from "../src/internal.js";
import { UdpClient, closeAllClients, get, rrq } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const data = bytes(70_000);
const { root, cleanup } = makeRoot({ "big.bin": data, "small.txt": "hello\n" });
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

function rmemMax(): number | undefined {
  try {
    return Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8").trim());
  } catch {
    return undefined;
  }
}

describe("receive buffer of the listening sockets", () => {
  it("by default asks for the kernel's largest and reports what it granted", async () => {
    const srv = await startServer({ root });
    const rb = srv.server.receiveBuffer()!;
    const max = rmemMax();
    if (max === undefined) {
      expect(rb.asked).toBe(8 * 1024 * 1024);
    } else {
      expect(rb.kernelMax).toBe(max);
      expect(rb.asked).toBe(max);
      // Linux doubles the ask for its bookkeeping; never less than asked.
      expect(rb.granted).toBeGreaterThanOrEqual(max);
    }
  });

  it("recvBufferBytes asks for that size", async () => {
    const srv = await startServer({ root, recvBufferBytes: 65_536 });
    const rb = srv.server.receiveBuffer()!;
    expect(rb.asked).toBe(65_536);
    expect(rb.granted).toBeGreaterThanOrEqual(65_536);
    const max = rmemMax();
    if (max !== undefined && max > 65_536) expect(rb.granted).toBeLessThan(2 * max);
  });

  it("a bad recvBufferBytes stops the start naming the option", () => {
    expect(() => createServer({ root, recvBufferBytes: -1 })).toThrow(/recvBufferBytes/);
  });
});

/** A "primary": listens on loopback and hands every datagram to `server.receive`, answering through its own socket. */
async function relayTo(server: TftpServer): Promise<{ port: number; relayed: () => number; sentBack: () => number; close: () => Promise<void> }> {
  let relayed = 0;
  let sentBack = 0;
  const vias = new Map<number, RelayListener>();
  const listeners: UdpListeners = new UdpListeners({
    bindInterfaces: false,
    rescanIntervalMs: 5000,
    recvBufferBytes: 0,
    onMessage: (msg, rinfo, l) => {
      relayed++;
      let via = vias.get(l.id);
      if (!via) {
        via = {
          local: l.local,
          port: l.port,
          send: (packet, port, address) => {
            sentBack++;
            l.socket.send(Buffer.from(packet), port, address);
          },
        };
        vias.set(l.id, via);
      }
      // What an IPC hop does: the worker gets its own copy.
      server.receive(Buffer.from(msg), { ...rinfo }, via);
    },
  });
  const bound = await listeners.listen({ host: "127.0.0.1", port: 0 });
  return { port: bound.port, relayed: () => relayed, sentBack: () => sentBack, close: () => listeners.close() };
}

describe("relayed requests (serveRelayed + receive)", () => {
  it("a relayed RRQ runs on a session socket of the serving process, byte for byte", async () => {
    const ended: string[] = [];
    const server = createServer({ root, timeoutSeconds: 0.2, onSessionEnd: (s) => ended.push(s.outcome) });
    server.serveRelayed();
    const relay = await relayTo(server);
    try {
      const c = await UdpClient.open();
      const r = await get(c, relay.port, "big.bin", { options: [["blksize", "1024"]] });
      expect(r.error).toBeUndefined();
      expect(r.data.equals(data)).toBe(true);
      expect(r.sessionPort).not.toBe(relay.port);
      expect(relay.relayed()).toBe(1); // only the request came through the relay
      const c2 = await UdpClient.open();
      const r2 = await get(c2, relay.port, "missing.txt");
      expect(r2.error?.code).toBe(1);
      await new Promise((res) => setTimeout(res, 50));
      expect(ended).toContain("ok");
      expect(ended).toContain("not-found");
    } finally {
      await server.close();
      await relay.close();
    }
  });

  it("single-port: every packet goes through the relay both ways", async () => {
    const server = createServer({ root, singlePort: true, timeoutSeconds: 0.2 });
    server.serveRelayed();
    const relay = await relayTo(server);
    try {
      const c = await UdpClient.open();
      const r = await get(c, relay.port, "big.bin", { options: [["blksize", "1024"], ["windowsize", "4"]] });
      expect(r.error).toBeUndefined();
      expect(r.data.equals(data)).toBe(true);
      expect(r.sessionPort).toBe(relay.port);
      expect(r.strays).toEqual([]);
      const blocks = Math.ceil(data.length / 1024) + (data.length % 1024 === 0 ? 1 : 0);
      expect(relay.sentBack()).toBeGreaterThanOrEqual(blocks + 1); // OACK + every DATA
      expect(relay.relayed()).toBeGreaterThanOrEqual(1 + Math.ceil(blocks / 4)); // RRQ + ACKs
    } finally {
      await server.close();
      await relay.close();
    }
  });
});

describe("draining in single-port mode", () => {
  it("a session running when close() starts still gets its ACKs through the listening socket and completes", async () => {
    const srv = await startServer({ root, singlePort: true, timeoutSeconds: 0.2 });
    const c = await UdpClient.open();
    const late = await UdpClient.open();
    let closing: Promise<void> | undefined;
    const r = await get(c, srv.port, "big.bin", {
      options: [["blksize", "512"]],
      ack: (block, send) => {
        if (block === 3 && !closing) {
          closing = srv.server.close({ graceMs: 10_000 });
          late.send(rrq("small.txt"), srv.port); // a new request while draining
        }
        send(block);
      },
    });
    expect(closing).toBeDefined();
    expect(r.error).toBeUndefined();
    expect(r.data.equals(data)).toBe(true);
    await closing;
    expect(srv.ended.map((s) => s.outcome)).toEqual(["ok"]);
    // The request that came while draining started no session and got no answer.
    expect(await late.recvOrNull(300)).toBeNull();
    expect(srv.server.stats().sessionsStarted).toBe(1);
  });
});
