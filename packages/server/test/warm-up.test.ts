// The warm-up self-check (src/session/warm-up.ts): it runs real sessions on
// a private server of its own, is counted nowhere, never answers a real
// client, stops at its bound, can be turned off, and ends with close().

import { createSocket } from "node:dgram";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createServer, TftpConfigError, type RelayListener, type SessionStats } from "../src/index.js";
import { UdpListeners } from "../src/internal.js";
import { WARM_UP_MAX_MS, warmUp, type WarmUpServer } from "../src/session/warm-up.js";
import { UdpClient, closeAllClients, get } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot } from "./helpers/server.js";

const data = bytes(3000);
const { root, cleanup } = makeRoot({ "boot.cfg": data });
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

describe("warm-up", () => {
  it("runs real sessions on a private server on 127.0.0.1, counted nowhere in the server's stats, flows, sessions or log", async () => {
    const ended: SessionStats[] = [];
    const server = createServer({ root, timeoutSeconds: 0.2, onSessionEnd: (s) => ended.push(s), warmUpMs: 200 });
    const report = await server.warmUp();
    try {
      expect(report).toBeDefined();
      expect(report!.sessions).toBeGreaterThan(0);
      expect(report!.address).toBe("127.0.0.1");
      expect(report!.port).toBeGreaterThan(0);
      expect(ended).toEqual([]);
      const st = server.stats();
      expect(st.sessionsStarted).toBe(0);
      expect(st.sessionsOk + st.sessionsFailed + st.probes).toBe(0);
      expect(st.packetsSent).toBe(0);
      expect(st.fileCacheHits + st.fileCacheMisses).toBe(0);
      expect(server.flows()).toEqual([]);
      expect(server.liveSessions()).toEqual([]);
      expect(server.summary().topFiles).toEqual([]);
      // Then a real client: the one session counted is its own.
      const bound = await server.listen({ host: "127.0.0.1", port: 0 });
      expect(bound.port).not.toBe(report!.port);
      const c = await UdpClient.open();
      const r = await get(c, bound.port, "boot.cfg");
      expect(r.error).toBeUndefined();
      expect(r.data.equals(data)).toBe(true);
      await new Promise((res) => setTimeout(res, 50));
      expect(server.stats().sessionsStarted).toBe(1);
      expect(ended.map((s) => s.peer.port)).toEqual([c.port]);
      expect(server.flows()).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("a real request while a warm-up runs is served by the real server as usual, and only its own packets reach the client", async () => {
    const ended: SessionStats[] = [];
    const server = createServer({ root, timeoutSeconds: 0.2, onSessionEnd: (s) => ended.push(s), warmUpMs: 300 });
    const bound = await server.listen({ host: "127.0.0.1", port: 0 });
    try {
      const warming = server.warmUp();
      const c = await UdpClient.open();
      const r = await get(c, bound.port, "boot.cfg", { options: [["blksize", "1024"]] });
      const report = await warming;
      expect(r.error).toBeUndefined();
      expect(r.data.equals(data)).toBe(true);
      expect(r.strays).toEqual([]);
      expect(report!.sessions).toBeGreaterThan(0);
      expect(report!.port).not.toBe(bound.port);
      await new Promise((res) => setTimeout(res, 50));
      expect(server.stats().sessionsStarted).toBe(1);
      expect(ended).toHaveLength(1);
      expect(ended[0].peer.port).toBe(c.port);
    } finally {
      await server.close();
    }
  });

  it("a relayed server (a cluster worker's): requests during its warm-up are served; the relay carries none of the warm-up's traffic", async () => {
    const server = createServer({ root, timeoutSeconds: 0.2, warmUpMs: 300 });
    let relayed = 0;
    let sentBack = 0;
    let via: RelayListener | undefined;
    const listeners = new UdpListeners({
      bindInterfaces: false,
      rescanIntervalMs: 5000,
      recvBufferBytes: 0,
      onMessage: (msg, rinfo, l) => {
        relayed++;
        via ??= {
          local: l.local,
          port: l.port,
          send: (packet, port, address) => {
            sentBack++;
            l.socket.send(Buffer.from(packet), port, address);
          },
        };
        server.receive(Buffer.from(msg), { ...rinfo }, via);
      },
    });
    const relay = await listeners.listen({ host: "127.0.0.1", port: 0 });
    try {
      const warming = server.warmUp();
      server.serveRelayed();
      const c = await UdpClient.open();
      const r = await get(c, relay.port, "boot.cfg");
      const report = await warming;
      expect(r.error).toBeUndefined();
      expect(r.data.equals(data)).toBe(true);
      expect(report!.sessions).toBeGreaterThan(0);
      expect(relayed).toBe(1); // the real request only
      expect(sentBack).toBe(0);
      expect(server.stats().sessionsStarted).toBe(1);
    } finally {
      await server.close();
      await listeners.close();
    }
  });

  it("a relayed server warmed through a front (a cluster worker's way in): every warm-up request reaches the private server through it, none the real one; each front (one per private server) is closed after", async () => {
    const server = createServer({ root, timeoutSeconds: 0.2, warmUpMs: 500 });
    let requests = 0;
    let opened = 0;
    let closed = 0;
    let fedTo: unknown;
    const report = await server.warmUp(async (priv) => {
      opened++;
      fedTo = priv;
      const sock = createSocket("udp4");
      await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
      const via: RelayListener = { local: "127.0.0.1", port: sock.address().port, send: (packet, port, address) => sock.send(Buffer.from(packet), port, address) };
      sock.on("message", (msg, rinfo) => {
        if (msg.readUInt16BE(0) === 1) requests++;
        priv.receive(Buffer.from(msg), { ...rinfo }, via);
      });
      return {
        port: via.port,
        close: () => {
          closed++;
          return new Promise<void>((r) => sock.close(() => r()));
        },
      };
    });
    try {
      expect(fedTo).toBeDefined();
      expect(fedTo).not.toBe(server);
      expect(report!.sessions).toBeGreaterThan(0);
      expect(requests).toBeGreaterThanOrEqual(report!.sessions); // every session run began with a request through the front
      expect(opened).toBe(2); // the warm-up's two private servers in turn
      expect(closed).toBe(opened);
      expect(server.stats().sessionsStarted).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("never sends a request from the port of a session the server still runs (taken for a retransmission, dropped)", async () => {
    // A read's last ACK (to the session's socket) may reach the server after
    // the next request (to the listening socket): a lane that asked again
    // from the same port at once lost that request and waited out its timeout.
    const made: ReturnType<typeof createServer>[] = [];
    const make = (files: { root: string } | { handler: unknown }): WarmUpServer => {
      const server = createServer({ ...(files as { root: string }), warmUpMs: 0 });
      made.push(server);
      return server;
    };
    const report = await warmUp(make, 400);
    expect(report.sessions).toBeGreaterThan(16);
    expect(made.reduce((n, m) => n + m.stats().sessionsStarted, 0)).toBeGreaterThan(16);
    for (const m of made) expect(m.stats().duplicateRequests).toBe(0);
  });

  it("runs two private servers in turn: the first is let run dry (its flows ended by their idle gap) before it closes, then `between`, then the second", async () => {
    const events: string[] = [];
    const made: ReturnType<typeof createServer>[] = [];
    const atClose: { running: number; openFlows: number }[] = [];
    const make = (files: { root: string } | { handler: unknown }): WarmUpServer => {
      const server = createServer({ ...(files as { root: string }), warmUpMs: 0, flowIdleSeconds: 0.02 });
      const n = made.push(server);
      return {
        listen: async (o) => {
          events.push(`listen ${n}`);
          return server.listen(o);
        },
        close: async (o) => {
          const st = server.stats();
          atClose.push({ running: st.sessionsStarted - st.sessionsOk - st.sessionsFailed - st.probes, openFlows: server.flows().filter((f) => f.endedAt === null).length });
          await server.close(o);
          events.push(`closed ${n}`);
        },
      };
    };
    const report = await warmUp(make, 600, { between: () => events.push("between"), settleMs: 60 });
    expect(events).toEqual(["listen 1", "closed 1", "between", "listen 2", "closed 2"]);
    expect(report.sessions).toBeGreaterThan(16);
    for (const m of made) expect(m.stats().sessionsStarted).toBeGreaterThan(0);
    // The first one closed with nothing running and every flow ended; the second is closed at the deadline.
    expect(atClose[0]).toEqual({ running: 0, openFlows: 0 });
  });

  it("asks small files it has not asked before (a name looked up and read for the first time), from machines in several subnets", async () => {
    const paths: string[] = [];
    const peers: string[] = [];
    const make = (files: { root: string } | { handler: unknown }): WarmUpServer =>
      createServer({
        ...(files as { root: string }), timeoutSeconds: 0.2, warmUpMs: 0,
        onSessionEnd: (s) => {
          paths.push(s.path);
          peers.push(s.peer.address);
        },
      });
    await warmUp(make, 300);
    const fresh = paths.filter((p) => /^\d+\.fresh\.warm-up\.cfg$/.test(p));
    expect(fresh.length).toBeGreaterThan(1);
    expect(new Set(fresh).size).toBe(fresh.length); // each asked once
    if (process.platform === "linux") expect(new Set(peers.map((a) => a.split(".").slice(0, 3).join("."))).size).toBeGreaterThan(1);
  });

  it("is bounded by warmUpMs (and never more than 1 s): a fake clock past the budget stops it", async () => {
    // A clock that jumps past the budget after a few readings: the warm-up stops starting sessions then.
    let readings = 0;
    const fakeNow = (): number => (readings++ < 30 ? 0 : 10 * WARM_UP_MAX_MS);
    const made: string[] = [];
    const make = (files: { root: string } | { handler: unknown }): WarmUpServer => {
      made.push("root" in files ? "folder" : "memory");
      return createServer({ ...(files as { root: string }), timeoutSeconds: 0.2, warmUpMs: 0 });
    };
    const report = await warmUp(make, 500, { now: fakeNow });
    expect(made).toHaveLength(1);
    expect(report.started).toBeGreaterThan(0);
    expect(report.started).toBeLessThan(30);
    // Real time, as a behaviour limit (not a benchmark): the option's largest value still ends within a second and a bit.
    const server = createServer({ root, warmUpMs: WARM_UP_MAX_MS });
    const t = Date.now();
    const r = await server.warmUp();
    expect(Date.now() - t).toBeLessThan(WARM_UP_MAX_MS + 500);
    expect(r!.ms).toBeLessThan(WARM_UP_MAX_MS + 500);
    await server.close();
    expect(() => createServer({ root, warmUpMs: WARM_UP_MAX_MS + 1 })).toThrow(TftpConfigError);
    expect(() => createServer({ root, warmUpMs: -1 })).toThrow(TftpConfigError);
  });

  it("warmUpMs 0 turns it off", async () => {
    const server = createServer({ root, warmUpMs: 0 });
    expect(await server.warmUp()).toBeUndefined();
    await server.close();
  });

  it("close() during a warm-up ends it: its private server and sockets close, and nothing is left running", async () => {
    const server = createServer({ root, warmUpMs: WARM_UP_MAX_MS });
    const warming = server.warmUp();
    await new Promise((res) => setTimeout(res, 50));
    await server.close();
    expect(await warming).toBeUndefined();
    expect(server.stats().sessionsStarted).toBe(0);
    // A closed server does not warm up again.
    expect(await server.warmUp()).toBeUndefined();
  });

  it("without a writable folder it serves the same bytes from memory", async () => {
    const make = (files: { root: string } | { handler: unknown }): WarmUpServer =>
      // The folder is refused here: the factory falls back as warmUp does when mkdtemp fails.
      createServer({ ...(files as object), timeoutSeconds: 0.2, warmUpMs: 0 });
    const prev = process.env.TMPDIR;
    process.env.TMPDIR = "/nonexistent/tftpkit-warm-up-test";
    try {
      const report = await warmUp(make, 150);
      expect(report.files).toBe("memory");
      expect(report.sessions).toBeGreaterThan(0);
    } finally {
      if (prev === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = prev;
    }
  });

  it("its clients are many machines, each a few reads from two sockets used in turn: several loopback addresses (on Linux), fewer ports than reads", async () => {
    const peers: SessionStats["peer"][] = [];
    const make = (files: { root: string } | { handler: unknown }): WarmUpServer =>
      createServer({ ...(files as { root: string }), timeoutSeconds: 0.2, warmUpMs: 0, onSessionEnd: (s) => peers.push(s.peer) });
    const report = await warmUp(make, 300);
    expect(report.sessions).toBeGreaterThan(16);
    expect(peers.length).toBeGreaterThanOrEqual(report.sessions);
    const addresses = new Set(peers.map((p) => p.address));
    for (const a of addresses) expect(a).toMatch(/^127\.0\.\d+\.\d+$/);
    if (process.platform === "linux") expect(addresses.size).toBeGreaterThan(1);
    // A lane keeps its two sockets for several reads: fewer client ports than half the sessions.
    const sockets = new Set(peers.map((p) => `${p.address}:${p.port}`));
    expect(sockets.size).toBeLessThan(peers.length / 2);
  });

  it("calls the hooks' ended() once the warm-up is over, after the last of its sessions ended", async () => {
    const calls: string[] = [];
    const server = createServer({
      root, timeoutSeconds: 0.2, warmUpMs: 150,
      warmUpHooks: () => ({ onSessionEnd: () => void calls.push("session"), ended: () => void calls.push("ended") }),
    });
    const report = await server.warmUp();
    await new Promise((res) => setTimeout(res, 10));
    expect(report!.sessions).toBeGreaterThan(0);
    expect(calls.filter((c) => c === "ended")).toHaveLength(1);
    expect(calls.at(-1)).toBe("ended");
    expect(calls.filter((c) => c === "session").length).toBeGreaterThanOrEqual(report!.sessions);
    await server.close();
  });
});
