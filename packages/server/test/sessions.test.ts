// Session-level client behaviour: the UEFI size probe, unknown TIDs, repeated
// RRQs, bursts of RRQs from two ports, a client that aborts mid-transfer.

import { execFileSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UdpClient, ackPacket, closeAllClients, dataPacket, errorPacket, get, rrq, sleep } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

const data = bytes(10_000);
const { root, cleanup } = makeRoot({ "boot.efi": data });
let srv: TestServer;

beforeAll(async () => {
  // rtoFloorMs = timeout: a fixed retransmission timeout, as these exact packet counts assume
  srv = await startServer({ root, timeoutSeconds: 0.1, retries: 3, rtoFloorMs: 100, connectSessionSockets: false });
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

describe("UEFI size probe", () => {
  it("tsize 0 + blksize, ERROR 8 after the OACK: outcome probe, then a fresh RRQ from a new port works", async () => {
    const before = srv.server.stats();
    const probe = await UdpClient.open();
    probe.send(rrq("boot.efi", "octet", [["tsize", "0"], ["blksize", "1468"]]), srv.port);
    const oack = await probe.recv(2000);
    expect(oack.pkt).toEqual({ op: "OACK", options: [["tsize", "10000"], ["blksize", "1468"]] });
    expect(oack.port).not.toBe(srv.port);
    probe.send(errorPacket(8, "User aborted the transfer"), oack.port);
    const ps = await srv.sessionOf(probe.port);
    expect(ps.outcome).toBe("probe");
    expect(ps.error).toEqual({ code: 8, message: "User aborted the transfer" });
    expect(ps.tsize).toBe(10_000);
    expect(ps.optionsAcked).toEqual({ tsize: "10000", blksize: "1468" });
    // Nothing more is sent to the probing port (a resend would come after 0.1 s).
    expect(await probe.recvOrNull(300)).toBeNull();

    const c = await UdpClient.open();
    const r = await get(c, srv.port, "boot.efi", { options: [["blksize", "1468"]] });
    expect(r.oack).toEqual([["blksize", "1468"]]);
    expect(r.data.equals(data)).toBe(true);
    const cs = await srv.sessionOf(c.port);
    expect(cs.outcome).toBe("ok");

    const after = srv.server.stats();
    expect(after.probes - before.probes).toBe(1);
    expect(after.sessionsFailed - before.sessionsFailed).toBe(0);
    expect(after.sessionsOk - before.sessionsOk).toBe(1);
    expect(after.sessionsStarted - before.sessionsStarted).toBe(2);
    expect(after.outcomes.probe - before.outcomes.probe).toBe(1);
  });

  it("an ERROR after the OACK without tsize asked is a client error, not a probe", async () => {
    const before = srv.server.stats();
    const c = await UdpClient.open();
    c.send(rrq("boot.efi", "octet", [["blksize", "1468"]]), srv.port);
    const oack = await c.recv(2000);
    expect(oack.pkt.op).toBe("OACK");
    c.send(errorPacket(8, "nope"), oack.port);
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).toBe("client-error");
    const after = srv.server.stats();
    expect(after.probes - before.probes).toBe(0);
    expect(after.sessionsFailed - before.sessionsFailed).toBe(1);
  });

  it("an ERROR in the middle of a transfer ends the session as client-error, no more DATA", async () => {
    const c = await UdpClient.open();
    c.send(rrq("boot.efi"), srv.port);
    const d1 = await c.recv(2000);
    expect(d1.pkt).toMatchObject({ op: "DATA", block: 1 });
    c.send(ackPacket(1), d1.port);
    const d2 = await c.recv(2000);
    expect(d2.pkt).toMatchObject({ op: "DATA", block: 2 });
    c.send(errorPacket(0, "disk full here"), d2.port);
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).toBe("client-error");
    expect(s.error).toEqual({ code: 0, message: "disk full here" });
    expect(await c.recvOrNull(300)).toBeNull();
  });
});

describe("transfer IDs", () => {
  it("a packet from an unknown port gets ERROR 5 from the session port; the transfer completes", async () => {
    const before = srv.server.stats();
    const c = await UdpClient.open();
    const intruder = await UdpClient.open();
    const ended = srv.sessionOf(c.port);
    const r = await get(c, srv.port, "boot.efi", {
      until: ended,
      ack: (b, send, i) => {
        if (b === 3 && i.nth === 1) {
          intruder.send(ackPacket(3), i.sessionPort);
          intruder.send(dataPacket(1, Buffer.from("junk")), i.sessionPort);
        }
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    const e1 = await intruder.recv(2000);
    const e2 = await intruder.recv(2000);
    for (const e of [e1, e2]) {
      expect(e.pkt).toMatchObject({ op: "ERROR", code: 5 });
      expect(e.port).toBe(r.sessionPort);
    }
    const s = await ended;
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBe(0);
    expect(srv.server.stats().unknownTidPackets - before.unknownTidPackets).toBe(2);
  });

  // Regression: a session used to answer ERROR 5 to every packet from an
  // unknown TID, ERROR packets included; two sessions then bounced ERROR 5
  // between them forever once one spoofed ERROR arrived (see the next test).
  // An ERROR from an unknown TID is counted and dropped, never answered.
  it("an ERROR packet from an unknown port is not answered", async () => {
    const c = await UdpClient.open();
    const other = await UdpClient.open();
    c.send(rrq("boot.efi"), srv.port);
    const d1 = await c.recv(2000);
    other.send(errorPacket(0, "stray"), d1.port);
    const answer = await other.recvOrNull(300);
    c.send(errorPacket(0, "done"), d1.port);
    await srv.sessionOf(c.port);
    expect(answer).toBeNull();
  });

  const canSpoof = (() => {
    try {
      return process.getuid?.() === 0 && execFileSync("python3", ["-c", "print(1)"]).toString().trim() === "1";
    } catch {
      return false;
    }
  })();
  // The loop itself, with one spoofed packet (needs root for a raw socket; skipped otherwise).
  it.skipIf(!canSpoof)("one spoofed ERROR between two sessions does not start an endless ERROR 5 ping-pong", async () => {
    const a = await UdpClient.open();
    const b = await UdpClient.open();
    a.send(rrq("boot.efi"), srv.port);
    b.send(rrq("boot.efi"), srv.port);
    const pa = (await a.recv(2000)).port;
    const pb = (await b.recv(2000)).port;
    const before = srv.server.stats().unknownTidPackets;
    // An ERROR from 127.0.0.1:pb (session B) to 127.0.0.1:pa (session A), through a raw socket.
    const script = [
      "import socket,struct,sys",
      "sp,dp=int(sys.argv[1]),int(sys.argv[2])",
      "pl=b'\\x00\\x05\\x00\\x00spoofed\\x00'",
      "udp=struct.pack('!HHHH',sp,dp,8+len(pl),0)+pl",
      "ip=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(udp),0,0,64,17,0,socket.inet_aton('127.0.0.1'),socket.inet_aton('127.0.0.1'))",
      "socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW).sendto(ip+udp,('127.0.0.1',0))",
    ].join("\n");
    let bounced: number;
    try {
      execFileSync("python3", ["-c", script, String(pb), String(pa)]);
      await sleep(200);
      bounced = srv.server.stats().unknownTidPackets - before;
    } finally {
      a.send(errorPacket(0, "done"), pa);
      b.send(errorPacket(0, "done"), pb);
      await srv.sessionOf(a.port);
      await srv.sessionOf(b.port);
      await sleep(50); // the last bounces in flight
    }
    // Expected: at most the one spoofed packet counted; with the bug, hundreds.
    expect(bounced).toBeLessThanOrEqual(2);
  });

  it("DATA or ACK sent to the listening port gets ERROR 5", async () => {
    const before = srv.server.stats();
    const c = await UdpClient.open();
    for (const p of [ackPacket(1), dataPacket(1, Buffer.from("x"))]) {
      const r = await c.request(p, srv.port);
      expect(r.pkt).toMatchObject({ op: "ERROR", code: 5 });
      expect(r.port).toBe(srv.port);
    }
    expect(srv.server.stats().unknownTidPackets - before.unknownTidPackets).toBe(2);
  });

  it("an ERROR sent to the listening port is not answered (no error ping-pong)", async () => {
    const c = await UdpClient.open();
    c.send(errorPacket(0, "hello"), srv.port);
    expect(await c.recvOrNull(200)).toBeNull();
  });

  it("the same RRQ sent twice from one port makes one session", async () => {
    const before = srv.server.stats();
    const c = await UdpClient.open();
    const req = rrq("boot.efi");
    c.send(req, srv.port);
    c.send(req, srv.port);
    const r = await get(c, srv.port, "boot.efi", {}).catch((e) => e as Error); // a third copy, then the transfer
    expect(r).not.toBeInstanceOf(Error);
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).toBe("ok");
    const after = srv.server.stats();
    expect(after.sessionsStarted - before.sessionsStarted).toBe(1);
    expect(after.duplicateRequests - before.duplicateRequests).toBe(2);
  });

  it("two RRQs in a burst from two ports (Raspberry Pi boot ROM): two sessions, both complete", async () => {
    const a = await UdpClient.open();
    const b = await UdpClient.open();
    const [ra, rb] = await Promise.all([get(a, srv.port, "boot.efi"), get(b, srv.port, "boot.efi")]);
    expect(ra.data.equals(data)).toBe(true);
    expect(rb.data.equals(data)).toBe(true);
    expect(ra.sessionPort).not.toBe(rb.sessionPort);
  });

  it("40 concurrent sessions with mixed options all complete byte for byte", async () => {
    const many = await startServer({ root, timeoutSeconds: 1, retries: 5 });
    const opts: Array<Array<[string, string]>> = [
      [],
      [["blksize", "1428"]],
      [["blksize", "1024"], ["windowsize", "4"]],
      [["blksize", "512"], ["windowsize", "16"], ["tsize", "0"]],
      [["blksize", "8"], ["windowsize", "16"]],
    ];
    const clients = await Promise.all(Array.from({ length: 40 }, () => UdpClient.open()));
    const results = await Promise.all(clients.map((c, i) => get(c, many.port, "boot.efi", { options: opts[i % opts.length] })));
    for (const r of results) expect(r.data.equals(data)).toBe(true);
    await many.session(() => many.ended.length === 40);
    expect(many.server.stats()).toMatchObject({ sessionsStarted: 40, sessionsOk: 40, sessionsActive: 0 });
    expect(new Set(results.map((r) => r.sessionPort)).size).toBe(40);
  });

  it("a client that goes away after the RRQ: the session times out and frees its slot", async () => {
    const c = await UdpClient.open();
    c.send(rrq("boot.efi"), srv.port);
    await c.recv(2000);
    c.close();
    const s = await srv.session((x) => x.peer.port === c.port);
    expect(s.outcome).toBe("timeout");
    expect(srv.server.stats().sessionsActive).toBe(0);
  });
});
