// Per-session stats (onSessionEnd) and server-wide counters (stats(), onStats).

import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ServerStats } from "../src/index.js";
import { UdpClient, ackPacket, closeAllClients, errorPacket, get, rrq, sleep, within, wrq } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const data = bytes(10 * 1024 + 5);
const { root, cleanup } = makeRoot({ "f.bin": data });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});
afterAll(() => cleanup());

describe("per-session stats", () => {
  it("every field of a clean windowed transfer", async () => {
    // rtoFloorMs = timeout: a fixed retransmission timeout, as these exact packet counts assume
    const srv = await startServer({ root, timeoutSeconds: 1, rtoFloorMs: 1000 });
    const c = await UdpClient.open();
    const t0 = Date.now();
    const r = await get(c, srv.port, "/f.bin", { options: [["blksize", "1024"], ["tsize", "0"], ["windowsize", "4"], ["x-foo", "bar"]] });
    expect(r.data.equals(data)).toBe(true);
    const s = await srv.sessionOf(c.port);
    expect(s).toMatchObject({
      kind: "read",
      peer: { address: "127.0.0.1", port: c.port },
      local: { address: "127.0.0.1", port: srv.port },
      path: "/f.bin",
      mode: "octet",
      optionsAsked: { blksize: "1024", tsize: "0", windowsize: "4", "x-foo": "bar" },
      optionsAcked: { blksize: "1024", tsize: String(data.length), windowsize: "4" },
      blksize: 1024,
      windowsize: 4,
      tsize: data.length,
      bytesSent: data.length,
      packetsSent: 1 + 11, // OACK + 11 DATA
      blocksAcked: 11,
      retransmits: 0,
      duplicateAcks: 0,
      outcome: "ok",
    });
    expect(s.error).toBeUndefined();
    expect(s.finalAckMissing).toBeUndefined();
    expect(typeof s.id).toBe("number");
    expect(s.startedAt).toBeGreaterThanOrEqual(t0 - 1000);
    expect(s.startedAt).toBeLessThanOrEqual(Date.now());
    expect(s.durationMs).toBeGreaterThanOrEqual(0);
    expect(s.handlerMs).toBeGreaterThanOrEqual(0);
    expect(s.handlerMs).toBeLessThanOrEqual(s.durationMs);
  });

  it("session ids are unique", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    for (let i = 0; i < 3; i++) {
      const c = await UdpClient.open();
      await get(c, srv.port, "f.bin");
    }
    await srv.session(() => srv.ended.length === 3);
    expect(new Set(srv.ended.map((s) => s.id)).size).toBe(3);
  });

  it("retransmits, duplicate ACKs and blocksAcked under loss", async () => {
    const srv = await startServer({ root, timeoutSeconds: 0.1, retries: 5 });
    const c = await UdpClient.open();
    const ended = srv.sessionOf(c.port);
    const r = await get(c, srv.port, "f.bin", {
      until: ended,
      dropData: (b, nth) => b === 3 && nth === 1,
      ack: (b, send) => {
        send(b);
        if (b === 5) send(b); // one duplicate
      },
    });
    expect(r.data.equals(data)).toBe(true);
    const s = await ended;
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBeGreaterThanOrEqual(1);
    expect(s.packetsSent).toBe(21 + s.retransmits);
    expect(s.bytesSent).toBe(data.length);
    expect(s.blocksAcked).toBe(21);
    expect(s.duplicateAcks).toBeGreaterThanOrEqual(1);
  });

  it("a failed session carries its error", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "missing.bin", { options: [["blksize", "1024"]] });
    expect(r.error?.code).toBe(1);
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).toBe("not-found");
    expect(s.error).toEqual({ code: 1, message: "File not found" });
    expect(s.optionsAsked).toEqual({ blksize: "1024" });
    expect(s.optionsAcked).toEqual({});
    expect(s.bytesSent).toBe(0);
    expect(s.packetsSent).toBe(0);
  });

  it("a throwing onSessionEnd hook does not take the server down", async () => {
    const srv = await startServer({
      root,
      timeoutSeconds: 1,
      onSessionEnd: () => {
        throw new Error("hook bug");
      },
    });
    for (let i = 0; i < 2; i++) {
      const c = await UdpClient.open();
      const r = await get(c, srv.port, "f.bin");
      expect(r.data.equals(data)).toBe(true);
    }
    await srv.session(() => srv.ended.length === 2);
    expect(srv.server.stats().sessionsOk).toBe(2);
  });
});

describe("server stats", () => {
  it("counters after a scripted mix of sessions", async () => {
    // rttMemoryEntries 0: every session starts at the timeout (a remembered client would
    // start at its learnt RTO, and its quick resends below the ceiling would add to the count below)
    const srv = await startServer({ root, timeoutSeconds: 0.1, retries: 2, connectSessionSockets: false, rttMemoryEntries: 0 });
    expect(srv.server.stats()).toMatchObject({
      sessionsStarted: 0, sessionsActive: 0, sessionsOk: 0, sessionsFailed: 0, probes: 0,
      bytesSent: 0, packetsSent: 0, retransmits: 0, malformedPackets: 0, unknownTidPackets: 0,
    });
    // 2 ok
    for (let i = 0; i < 2; i++) {
      const c = await UdpClient.open();
      await get(c, srv.port, "f.bin");
    }
    // 1 not found
    await get(await UdpClient.open(), srv.port, "nope");
    // 1 probe
    const p = await UdpClient.open();
    p.send(rrq("f.bin", "octet", [["tsize", "0"], ["blksize", "1432"]]), srv.port);
    const oack = await p.recv(2000);
    p.send(errorPacket(8, "User aborted the transfer"), oack.port);
    // 2 malformed, 1 unknown TID at the listener, 1 WRQ, 1 unknown TID at a session
    const m = await UdpClient.open();
    expect((await m.request(Buffer.from([0, 1, 0x41]), srv.port)).pkt).toMatchObject({ op: "ERROR", code: 4 });
    expect((await m.request(rrq("f.bin", "mail"), srv.port)).pkt).toMatchObject({ op: "ERROR", code: 4 });
    expect((await m.request(ackPacket(1), srv.port)).pkt).toMatchObject({ op: "ERROR", code: 5 });
    expect((await m.request(wrq("f.bin"), srv.port)).pkt).toMatchObject({ op: "ERROR", code: 2 });
    const h = await UdpClient.open();
    const ended = srv.sessionOf(h.port);
    await get(h, srv.port, "f.bin", {
      until: ended,
      ack: (b, send, i) => {
        if (b === 2 && i.nth === 1) m.send(ackPacket(2), i.sessionPort);
        send(b);
      },
    });
    expect((await m.recv(2000)).pkt).toMatchObject({ op: "ERROR", code: 5 });
    // 1 timeout: a client that leaves after the first block
    const t = await UdpClient.open();
    t.send(rrq("f.bin"), srv.port);
    await t.recv(2000);
    await srv.session(() => srv.ended.length === 6, 5000);

    const st = srv.server.stats();
    expect(st).toMatchObject({
      sessionsStarted: 6,
      sessionsActive: 0,
      sessionsOk: 3,
      sessionsFailed: 2,
      probes: 1,
      malformedPackets: 2,
      unknownTidPackets: 2,
      writeRequestsRefused: 1,
    });
    expect(st.outcomes).toMatchObject({ ok: 3, probe: 1, "not-found": 1, timeout: 1 });
    const sum = (k: "bytesSent" | "packetsSent" | "retransmits"): number => srv.ended.reduce((a, s) => a + s[k], 0);
    expect(st.bytesSent).toBe(sum("bytesSent"));
    expect(st.packetsSent).toBe(sum("packetsSent"));
    expect(st.retransmits).toBe(sum("retransmits"));
    const timedOut = srv.ended.find((x) => x.outcome === "timeout")!;
    expect(timedOut.retransmits).toBe(2); // its two retries
    expect(timedOut.peer.port).toBe(t.port);
    expect(st.bytesSent).toBe(3 * data.length + 512);
  });

  it("sessionsActive counts a running session; stats() is a snapshot", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    c.send(rrq("f.bin"), srv.port);
    const d1 = await c.recv(2000);
    const snap = srv.server.stats();
    expect(snap.sessionsActive).toBe(1);
    snap.outcomes.ok = 999;
    snap.sessionsOk = 999;
    expect(srv.server.stats().outcomes.ok).toBe(0);
    expect(srv.server.stats().sessionsOk).toBe(0);
    c.send(errorPacket(0, "bye"), d1.port);
    await srv.sessionOf(c.port);
    expect(srv.server.stats().sessionsActive).toBe(0);
  });

  it("onStats is called periodically with the counters, and stops after close()", async () => {
    const calls: ServerStats[] = [];
    let wake: (() => void) | undefined;
    const srv = await startServer({
      root,
      timeoutSeconds: 1,
      statsIntervalMs: 20,
      onStats: (s) => {
        calls.push(s);
        wake?.();
      },
    });
    const c = await UdpClient.open();
    await get(c, srv.port, "f.bin");
    await srv.sessionOf(c.port);
    const n0 = calls.length;
    await within(
      new Promise<void>((resolve) => {
        wake = () => {
          if (calls.length >= n0 + 3) resolve();
        };
      }),
      3000,
      "three onStats calls",
    );
    const last = calls[calls.length - 1];
    expect(last.sessionsStarted).toBe(1);
    expect(last.sessionsOk).toBe(1);
    expect(last.bytesSent).toBe(data.length);
    await srv.close();
    const n = calls.length;
    await sleep(100);
    expect(calls.length).toBe(n);
  });
});
