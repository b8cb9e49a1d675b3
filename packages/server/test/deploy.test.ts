// Single-port mode, port ranges, limits and caps, live reconfiguration.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UdpClient, closeAllClients, get, rrq, ackPacket, dataPacket } from "./helpers/client.js";
import { put } from "./helpers/put.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const big = bytes(300_000);
const small = bytes(1000);
const { root, cleanup } = makeRoot({ "big.bin": big, "small.bin": small, "v.txt": "one" });
const other = makeRoot({ "v.txt": "two" });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});
afterAll(() => {
  cleanup();
  other.cleanup();
});

describe("single-port mode", () => {
  it("every packet comes from the listening port; several clients at once get their files", async () => {
    const s = await startServer({ root, singlePort: true });
    const clients = await Promise.all([0, 1, 2, 3, 4].map(() => UdpClient.open()));
    const sources = new Set<number>();
    const results = await Promise.all(
      clients.map((c, i) =>
        get(c, s.port, i % 2 ? "big.bin" : "small.bin", {
          options: i === 4 ? [["blksize", "1468"], ["windowsize", "8"]] : [],
          onPacket: (p) => sources.add(p.port),
        }),
      ),
    );
    results.forEach((r, i) => expect(r.data.equals(i % 2 ? big : small), `client ${i}`).toBe(true));
    expect([...sources]).toEqual([s.port]);
    for (const c of clients) expect((await s.sessionOf(c.port)).outcome).toBe("ok");
    const st = s.server.stats();
    expect(st.sessionsOk).toBe(5);
    expect(st.sessionsActive).toBe(0);
  });

  it("uploads work in single-port mode", async () => {
    const dir = makeRoot();
    try {
      const s = await startServer({ root: dir.root, singlePort: true, allowWrite: true });
      const c = await UdpClient.open();
      const data = bytes(5000);
      const r = await put(c, s.port, "sp.bin", data);
      expect(r.serverPort).toBe(s.port);
      expect(readFileSync(join(dir.root, "sp.bin")).equals(data)).toBe(true);
    } finally {
      dir.cleanup();
    }
  });

  it("an ACK or DATA from a client with no session gets ERROR 5", async () => {
    const s = await startServer({ root, singlePort: true });
    const c = await UdpClient.open();
    for (const p of [ackPacket(1), dataPacket(1, Buffer.from("x"))]) {
      const r = await c.request(p, s.port);
      expect(r.pkt).toMatchObject({ op: "ERROR", code: 5 });
    }
    expect(s.server.stats().unknownTidPackets).toBe(2);
  });
});

describe("session port range", () => {
  it("session sockets bind inside the range", async () => {
    const s = await startServer({ root, portRange: [47000, 47050] });
    for (let i = 0; i < 3; i++) {
      const c = await UdpClient.open();
      const ports = new Set<number>();
      const r = await get(c, s.port, "small.bin", { onPacket: (p) => ports.add(p.port) });
      expect(r.data.equals(small)).toBe(true);
      for (const p of ports) {
        expect(p).toBeGreaterThanOrEqual(47000);
        expect(p).toBeLessThanOrEqual(47050);
      }
    }
  });
});

describe("limits", () => {
  it("maxSessions: a request beyond the limit gets ERROR 0 'Server busy' and is counted", async () => {
    const s = await startServer({ root, maxSessions: 1, timeoutSeconds: 0.5 });
    const holder = await UdpClient.open();
    holder.send(rrq("big.bin"), s.port); // never ACKs: holds the only session
    await holder.recv();
    const c = await UdpClient.open();
    const r = await c.request(rrq("small.bin"), s.port);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 0 });
    expect((r.pkt as { message: string }).message).toMatch(/busy/i);
    expect(s.server.stats().refusedBusy).toBe(1);
  });

  it("maxSessionsPerClient: the same address is limited, the limit frees up when sessions end", async () => {
    const s = await startServer({ root, maxSessionsPerClient: 2, timeoutSeconds: 0.3, retries: 1 });
    const a = await UdpClient.open();
    const b = await UdpClient.open();
    a.send(rrq("big.bin"), s.port);
    b.send(rrq("big.bin"), s.port);
    await a.recv();
    await b.recv();
    const c = await UdpClient.open();
    const r = await c.request(rrq("small.bin"), s.port);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 0 });
    await s.sessionOf(a.port, 5000);
    await s.sessionOf(b.port, 5000);
    const d = await UdpClient.open();
    const ok = await get(d, s.port, "small.bin");
    expect(ok.data.equals(small)).toBe(true);
  });

  it("rateLimit: requests beyond the bucket are dropped unanswered (no amplification) and counted", async () => {
    const s = await startServer({ root, rateLimit: 1, rateBurst: 2 });
    const clients = await Promise.all([0, 1, 2, 3, 4].map(() => UdpClient.open()));
    clients.forEach((c) => c.send(rrq("small.bin"), s.port));
    const answers = await Promise.all(clients.map((c) => c.recvOrNull(400)));
    expect(answers.filter((a) => a !== null).length).toBe(2);
    expect(s.server.stats().rateLimited).toBe(3);
  });

  it("mtu caps blksize so DATA is never fragmented (IPv4: mtu - 32)", async () => {
    const s = await startServer({ root, mtu: 576 });
    const c = await UdpClient.open();
    const r = await get(c, s.port, "big.bin", { options: [["blksize", "1468"]] });
    expect(r.oack).toEqual([["blksize", "544"]]);
    expect(r.data.equals(big)).toBe(true);
  });

  it("maxFileBytes: a larger file gets ERROR 3", async () => {
    const s = await startServer({ root, maxFileBytes: 100_000 });
    const c = await UdpClient.open();
    const r = await c.request(rrq("big.bin"), s.port);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 3 });
    const ok = await get(await UdpClient.open(), s.port, "small.bin");
    expect(ok.data.equals(small)).toBe(true);
  });

  it("refuseOptions: a refused option is never in the OACK (like tftp-hpa -r)", async () => {
    const s = await startServer({ root, refuseOptions: ["blksize"] });
    const c = await UdpClient.open();
    const r = await get(c, s.port, "small.bin", { options: [["blksize", "1468"], ["tsize", "0"]] });
    expect(r.oack).toEqual([["tsize", "1000"]]);
    expect(r.data.equals(small)).toBe(true);
  });
});

describe("reconfigure", () => {
  it("a running transfer keeps its options; new requests see the new root", async () => {
    const s = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    let swapped = false;
    const r = await get(c, s.port, "big.bin", {
      onPacket: () => {
        if (!swapped) {
          swapped = true;
          s.server.reconfigure({ root: other.root, timeoutSeconds: 1 });
        }
      },
    });
    expect(swapped).toBe(true);
    expect(r.data.equals(big)).toBe(true);
    const after = await get(await UdpClient.open(), s.port, "v.txt");
    expect(after.data.toString()).toBe("two");
  });
});

describe("rewrite", () => {
  it("runs before the handler (reads and writes), sees the client address, and can refuse", async () => {
    const seen: Array<{ path: string; address: string; op: string }> = [];
    const s = await startServer({
      root,
      rewrite: (path, ctx) => {
        seen.push({ path, ...ctx });
        if (path.startsWith("secret")) return { refused: true, rule: 7 };
        return { path: path.replace(/^boot\//, "").replace(/^pxelinux\.0$/, "small.bin") };
      },
    });
    const r = await get(await UdpClient.open(), s.port, "pxelinux.0");
    expect(r.data.equals(small)).toBe(true);
    const c = await UdpClient.open();
    const refused = await c.request(rrq("secret.txt"), s.port);
    expect(refused.pkt).toMatchObject({ op: "ERROR", code: 2 });
    expect((refused.pkt as { message: string }).message).toMatch(/rule 7/);
    expect(seen[0]).toEqual({ path: "pxelinux.0", address: "127.0.0.1", op: "read" });
    const st = await s.sessionOf(c.port);
    expect(st.outcome).toBe("access-denied");
  });
});
