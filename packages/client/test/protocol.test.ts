// The client against a scripted peer on loopback: exact packets for requests,
// windows and gaps (RFC 7440), OACK checks, unknown TIDs, errors, retries,
// abort, dallying, backpressure, and no Sorcerer's Apprentice resends.

import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClient, TftpTransferError, type TftpClient } from "../src/index.js";
import { Peer, ack, data, errorPacket, hex, oack } from "./helpers.js";

let listener: Peer; // the server's well-known port
let tid: Peer; // the server's transfer port
let client: TftpClient;

beforeEach(async () => {
  listener = await Peer.open();
  tid = await Peer.open();
  client = createClient({ host: "127.0.0.1", port: listener.port, timeoutSeconds: 0.2, retries: 3 });
});
afterEach(() => {
  listener.close();
  tid.close();
});

const opcode = (m: Buffer): number => m.readUInt16BE(0);
const blockOf = (m: Buffer): number => m.readUInt16BE(2);

describe("requests", () => {
  it("RRQ carries the options in order, tsize 0 when asked", async () => {
    const p = client.get("boot/ipxe.efi", { blksize: 1468, tsize: true, timeoutOptionSeconds: 2, windowsize: 16 }).catch((e) => e);
    const { msg, rinfo } = await listener.next();
    expect(msg.toString("hex")).toBe(
      hex("0001") .toString("hex") +
        Buffer.from("boot/ipxe.efi\0octet\0blksize\x001468\0tsize\x000\0timeout\x002\0windowsize\x0016\0", "latin1").toString("hex"),
    );
    tid.send(errorPacket(1, "File not found"), rinfo);
    const err = await p;
    expect(err).toBeInstanceOf(TftpTransferError);
    expect(err).toMatchObject({ code: "TFTP_ERR_NOT_FOUND", wireCode: 1, remote: true, message: "File not found" });
    expect(err.stats).toMatchObject({ outcome: "remote-error", kind: "get", peerPort: tid.port, packetsSent: 1, packetsReceived: 1 });
  });

  it("a plain RRQ has no options; netascii is named in the mode", async () => {
    const p = client.get("a.txt", { mode: "netascii" });
    const { msg, rinfo } = await listener.next();
    expect(msg).toEqual(Buffer.from("\0\x01a.txt\0netascii\0", "latin1"));
    tid.send(data(1, Buffer.from("x\r\ny\r\0", "latin1")), rinfo);
    expect(blockOf((await tid.next()).msg)).toBe(1);
    const r = await p;
    expect(r.data.toString("latin1")).toBe("x\ny\r");
    expect(r.stats).toMatchObject({ bytes: 4, wireBytes: 6, blocks: 1, optionsAcked: {} });
  });

  it("the traceparent is appended to the file name", async () => {
    const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const p = client.get("pxelinux.cfg/default", { traceparent: tp }).catch((e) => e);
    const { msg, rinfo } = await listener.next();
    expect(msg.toString("latin1")).toBe(`\0\x01pxelinux.cfg/default-${tp}\0octet\0`);
    tid.send(errorPacket(1, "nope"), rinfo);
    expect((await p).stats.remote).toBe(`pxelinux.cfg/default-${tp}`);
  });
});

describe("get", () => {
  it("ACKs at window end, and once per gap with the last in-order block (RFC 7440)", async () => {
    const p = client.get("f", { blksize: 8, windowsize: 4 });
    const { rinfo } = await listener.next();
    tid.send(oack({ blksize: "8", windowsize: "4" }), rinfo);
    expect((await tid.next()).msg).toEqual(ack(0));
    const payload = (b: number): Buffer => Buffer.alloc(8, b);
    tid.send(data(1, payload(1)), rinfo);
    tid.send(data(2, payload(2)), rinfo);
    tid.send(data(4, payload(4)), rinfo); // 3 lost
    tid.send(data(5, payload(5)), rinfo); // still past the gap: no second ACK
    expect((await tid.next()).msg).toEqual(ack(2));
    tid.send(data(3, payload(3)), rinfo);
    tid.send(data(4, payload(4)), rinfo);
    tid.send(data(5, payload(5)), rinfo);
    tid.send(data(6, payload(6)), rinfo); // 4 blocks since the ACK: window end
    expect((await tid.next()).msg).toEqual(ack(6));
    tid.send(data(7, Buffer.from("end")), rinfo); // short: the last
    expect((await tid.next()).msg).toEqual(ack(7));
    const r = await p;
    expect(r.data).toEqual(Buffer.concat([1, 2, 3, 4, 5, 6].map(payload).concat(Buffer.from("end"))));
    expect(r.stats).toMatchObject({ blksize: 8, windowsize: 4, blocks: 7, gaps: 2, optionsAcked: { blksize: "8", windowsize: "4" } });
    expect(await tid.drain(50)).toEqual([]);
  });

  it("in lock-step, re-ACKs every duplicate block (the server missed the ACK)", async () => {
    const p = client.get("f");
    const { rinfo } = await listener.next();
    tid.send(data(1, Buffer.alloc(512, 1)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    tid.send(data(1, Buffer.alloc(512, 1)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    tid.send(data(1, Buffer.alloc(512, 1)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    tid.send(data(2, Buffer.alloc(0)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(2));
    const r = await p;
    expect(r.data.length).toBe(512);
    expect(r.stats).toMatchObject({ duplicates: 2, retransmits: 2 });
    expect(await tid.drain(50)).toEqual([]);
  });

  it("in a window, re-ACKs once per window of duplicates", async () => {
    const p = client.get("f", { blksize: 8, windowsize: 4 });
    const { rinfo } = await listener.next();
    tid.send(oack({ blksize: "8", windowsize: "4" }), rinfo);
    expect((await tid.next()).msg).toEqual(ack(0));
    const win = (): void => {
      for (let b = 1; b <= 4; b++) tid.send(data(b, Buffer.alloc(8, b)), rinfo);
    };
    win();
    expect((await tid.next()).msg).toEqual(ack(4));
    win(); // the server missed ACK 4 and resends its window
    expect((await tid.next()).msg).toEqual(ack(4));
    expect(await tid.drain(50)).toEqual([]);
    win(); // and again: one more ACK
    expect((await tid.next()).msg).toEqual(ack(4));
    expect(await tid.drain(50)).toEqual([]);
    tid.send(data(5, Buffer.alloc(0)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(5));
    expect((await p).stats).toMatchObject({ duplicates: 8, retransmits: 2, blocks: 5 });
  });

  it("an OACK larger than asked is answered with ERROR 8", async () => {
    const p = client.get("f", { blksize: 1024 }).catch((e) => e);
    const { rinfo } = await listener.next();
    tid.send(oack({ blksize: "2048" }), rinfo);
    const { msg } = await tid.next();
    expect(opcode(msg)).toBe(5);
    expect(msg.readUInt16BE(2)).toBe(8);
    const err = await p;
    expect(err).toMatchObject({ code: "TFTP_ERR_OPTION_REFUSED", remote: false });
  });

  it("a packet from another port gets ERROR 5 and the transfer carries on", async () => {
    const stranger = await Peer.open();
    try {
      const p = client.get("f");
      const { rinfo } = await listener.next();
      tid.send(data(1, Buffer.alloc(512, 7)), rinfo);
      expect((await tid.next()).msg).toEqual(ack(1));
      stranger.send(data(2, Buffer.alloc(3)), rinfo);
      const e = (await stranger.next()).msg;
      expect(opcode(e)).toBe(5);
      expect(e.readUInt16BE(2)).toBe(5);
      tid.send(data(2, Buffer.from("ok")), rinfo);
      expect((await tid.next()).msg).toEqual(ack(2));
      expect((await p).data).toEqual(Buffer.concat([Buffer.alloc(512, 7), Buffer.from("ok")]));
    } finally {
      stranger.close();
    }
  });

  it("connected socket: ACK 0 and every ACK reach the server's port; a stranger's packet is not delivered and the transfer carries on", async () => {
    const stranger = await Peer.open();
    try {
      const p = client.get("f", { blksize: 1024, connect: true });
      const { rinfo } = await listener.next();
      tid.send(oack({ blksize: "1024" }), rinfo);
      // The ACK answering the first packet goes out while the socket connects: it must not be lost.
      expect((await tid.next()).msg).toEqual(ack(0));
      tid.send(data(1, Buffer.alloc(1024, 7)), rinfo);
      expect((await tid.next()).msg).toEqual(ack(1));
      stranger.send(data(2, Buffer.alloc(3)), rinfo);
      expect(await stranger.drain(100)).toEqual([]); // the kernel does not deliver it: no ERROR 5
      tid.send(data(2, Buffer.from("ok")), rinfo);
      expect((await tid.next()).msg).toEqual(ack(2));
      const r = await p;
      expect(r.data).toEqual(Buffer.concat([Buffer.alloc(1024, 7), Buffer.from("ok")]));
      expect(r.stats).toMatchObject({ outcome: "ok", peerPort: tid.port, packetsSent: 4, packetsReceived: 3 });
    } finally {
      stranger.close();
    }
  });

  it("connected socket: the server's transfer port closing mid-transfer fails the get at once (ICMP port unreachable)", async () => {
    const c = createClient({ host: "127.0.0.1", port: listener.port, timeoutSeconds: 0.2, retries: 50 });
    const session = await Peer.open();
    const p = c.get("f", { connect: true }).catch((e) => e);
    const { rinfo } = await listener.next();
    session.send(data(1, Buffer.alloc(512)), rinfo);
    expect((await session.next()).msg).toEqual(ack(1));
    session.close(); // the session is gone: the client's resent ACK 1 meets a closed port
    const err = await p;
    expect(err).toBeInstanceOf(TftpTransferError);
    expect(err.message).toMatch(/transfer port is closed/);
    expect(err.stats.timeouts).toBeLessThan(50); // not after every retry
  });

  it("connected socket: a put's DATA and the request resend behave as unconnected", async () => {
    const p = client.put("up", Buffer.from("abc"), { connect: true });
    const first = await listener.next();
    expect(opcode(first.msg)).toBe(2);
    const again = await listener.next(); // no answer within 0.2 s: the WRQ again, to the request port
    expect(again.msg).toEqual(first.msg);
    tid.send(ack(0), again.rinfo);
    expect((await tid.next()).msg).toEqual(data(1, Buffer.from("abc")));
    tid.send(ack(1), again.rinfo);
    expect((await p).stats).toMatchObject({ outcome: "ok", peerPort: tid.port });
  });

  it("a stale packet before the answer (a reused port) is refused with ERROR 5, not taken as the server", async () => {
    const stale = await Peer.open();
    try {
      const p = client.get("f", { blksize: 1024 });
      const { rinfo } = await listener.next();
      stale.send(data(7, Buffer.alloc(1024)), rinfo); // a block of some earlier transfer
      const e = (await stale.next()).msg;
      expect([opcode(e), e.readUInt16BE(2)]).toEqual([5, 5]);
      tid.send(oack({ blksize: "1024" }), rinfo);
      expect((await tid.next()).msg).toEqual(ack(0));
      tid.send(data(1, Buffer.from("real")), rinfo);
      expect((await tid.next()).msg).toEqual(ack(1));
      const r = await p;
      expect(r.data.toString()).toBe("real");
      expect(r.stats.peerPort).toBe(tid.port);
    } finally {
      stale.close();
    }
  });

  it("after a failure the port lingers, answering a late server with ERROR 5", async () => {
    const c = createClient({ host: "127.0.0.1", port: listener.port, timeoutSeconds: 0.05, retries: 1 });
    const err = await c.get("f").catch((e) => e);
    expect(err.code).toBe("TFTP_ERR_TIMEOUT");
    const [first] = await listener.drain(20);
    expect(first).toEqual(Buffer.from("\0\x01f\0octet\0", "latin1"));
    // The server's answer arrives late, at the port the client used.
    expect(err.stats.localPort).toBeGreaterThan(0);
    tid.send(oack({ blksize: "512" }), { port: err.stats.localPort, address: "127.0.0.1" });
    const e = (await tid.next()).msg;
    expect([opcode(e), e.readUInt16BE(2)]).toEqual([5, 5]);
  });

  it("resends the request `retries` times, then fails with TFTP_ERR_TIMEOUT", async () => {
    const c = createClient({ host: "127.0.0.1", port: listener.port, timeoutSeconds: 0.02, retries: 3 });
    const err = await c.get("f").catch((e) => e);
    expect(err).toMatchObject({ code: "TFTP_ERR_TIMEOUT" });
    expect(err.stats).toMatchObject({ outcome: "timeout", timeouts: 4, retransmits: 3, packetsSent: 4 });
    const got = await listener.drain(30);
    expect(got).toHaveLength(4);
    for (const m of got) expect(m).toEqual(Buffer.from("\0\x01f\0octet\0", "latin1"));
  });

  it("resends the last ACK when the server goes quiet", async () => {
    const p = client.get("f");
    const { rinfo } = await listener.next();
    tid.send(data(1, Buffer.alloc(512)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    expect((await tid.next()).msg).toEqual(ack(1)); // after the 0.2 s deadline
    tid.send(data(2, Buffer.alloc(1)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(2));
    const r = await p;
    expect(r.stats.timeouts).toBeGreaterThanOrEqual(1);
  });

  it("an AbortSignal ends the transfer with ERROR 0 to the server", async () => {
    const ac = new AbortController();
    const p = client.get("f", { signal: ac.signal }).catch((e) => e);
    const { rinfo } = await listener.next();
    tid.send(data(1, Buffer.alloc(512)), rinfo);
    await tid.next();
    ac.abort();
    const e = (await tid.next()).msg;
    expect(opcode(e)).toBe(5);
    expect(e.readUInt16BE(2)).toBe(0);
    expect(await p).toMatchObject({ code: "TFTP_ERR_ABORTED" });
  });

  it("while dallying, re-ACKs a repeated last block", async () => {
    const p = client.get("f", { dallyMs: 500 });
    const { rinfo } = await listener.next();
    tid.send(data(1, Buffer.from("tiny")), rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    const r = await p; // resolved before the dally ends
    expect(r.data.toString()).toBe("tiny");
    tid.send(data(1, Buffer.from("tiny")), rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
  });

  it("a slow Writable holds the ACK back until it drains", async () => {
    const events: string[] = [];
    const w = new Writable({
      highWaterMark: 1,
      write(chunk, _enc, cb) {
        setTimeout(() => {
          events.push(`wrote ${chunk.length}`);
          cb();
        }, 100);
      },
    });
    const p = client.getTo("f", w);
    const { rinfo } = await listener.next();
    tid.send(data(1, Buffer.alloc(512)), rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    events.push("ack 1");
    tid.send(data(2, Buffer.alloc(5)), rinfo);
    await p;
    expect(events.slice(0, 2)).toEqual(["wrote 512", "ack 1"]);
  });
});

describe("put", () => {
  it("sends nothing more on a duplicate ACK (no Sorcerer's Apprentice)", async () => {
    const body = Buffer.alloc(1100, 9);
    const p = client.put("up", body);
    const { msg, rinfo } = await listener.next();
    expect(msg).toEqual(Buffer.from("\0\x02up\0octet\0", "latin1"));
    tid.send(ack(0), rinfo);
    let m = (await tid.next()).msg;
    expect(blockOf(m)).toBe(1);
    expect(m.length).toBe(516);
    tid.send(ack(0), rinfo); // duplicate: must not trigger a resend
    tid.send(ack(1), rinfo);
    m = (await tid.next()).msg;
    expect(blockOf(m)).toBe(2);
    tid.send(ack(2), rinfo);
    m = (await tid.next()).msg;
    expect([blockOf(m), m.length - 4]).toEqual([3, 76]);
    tid.send(ack(3), rinfo);
    const r = await p;
    expect(r.stats).toMatchObject({ kind: "put", bytes: 1100, blocks: 3, retransmits: 0, duplicates: 1 });
    expect(await tid.drain(50)).toEqual([]);
  });

  it("announces tsize, sends windows, resumes after the block ACKed on a gap", async () => {
    const body = Buffer.alloc(8 * 6 + 3);
    for (let i = 0; i < body.length; i++) body[i] = i;
    const p = client.put("up", body, { blksize: 8, windowsize: 4, tsize: true });
    const { msg, rinfo } = await listener.next();
    expect(msg.toString("latin1")).toBe("\0\x02up\0octet\0blksize\x008\0tsize\x0051\0windowsize\x004\0");
    tid.send(oack({ blksize: "8", tsize: "51", windowsize: "4" }), rinfo);
    const w1 = await Promise.all([tid.next(), tid.next(), tid.next(), tid.next()]);
    expect(w1.map((x) => blockOf(x.msg))).toEqual([1, 2, 3, 4]);
    tid.send(ack(2), rinfo); // the receiver lost 3: resume at 3
    const w2 = await Promise.all([tid.next(), tid.next(), tid.next(), tid.next()]);
    expect(w2.map((x) => blockOf(x.msg))).toEqual([3, 4, 5, 6]);
    expect(w2[0].msg.subarray(4)).toEqual(body.subarray(16, 24));
    tid.send(ack(6), rinfo);
    const last = (await tid.next()).msg;
    expect([blockOf(last), last.subarray(4)]).toEqual([7, body.subarray(48)]);
    tid.send(ack(7), rinfo);
    const r = await p;
    expect(r.stats).toMatchObject({ blocks: 7, retransmits: 2, gaps: 1, tsize: 51, windowsize: 4 });
  });

  it("resends the WRQ, then the window, on timeouts", async () => {
    const p = client.put("up", Buffer.from("abc"));
    const first = await listener.next();
    const again = await listener.next();
    expect(again.msg).toEqual(first.msg);
    tid.send(ack(0), first.rinfo);
    const d1 = (await tid.next()).msg;
    const d1again = (await tid.next()).msg;
    expect(d1again).toEqual(d1);
    tid.send(ack(1), first.rinfo);
    const r = await p;
    expect(r.stats).toMatchObject({ retransmits: 2, timeouts: 2, bytes: 3 });
  });
});
