// A raw UDP TFTP test client on loopback. Packets are built and parsed here
// with plain Buffers (independent of the codec under test), and every wait is
// bounded by a timeout. `get()` runs a whole read transfer (lock-step or RFC
// 7440 windows) and lets a test decide the fate of every DATA and every ACK:
// drop, delay, duplicate, stale, gap, never send the last one.

import { createSocket, type Socket } from "node:dgram";

// ------------------------------------------------------------------ packets

export type Pkt =
  | { op: "RRQ" | "WRQ"; raw: Buffer }
  | { op: "DATA"; block: number; data: Buffer }
  | { op: "ACK"; block: number }
  | { op: "ERROR"; code: number; message: string }
  | { op: "OACK"; options: Array<[string, string]> }
  | { op: "OTHER"; opcode: number };

export type OptionList = Array<[string, string]>;

/** Parses a packet the way a client would see it (no validation beyond what is needed). */
export function parse(buf: Buffer): Pkt {
  const opcode = buf.length >= 2 ? buf.readUInt16BE(0) : -1;
  switch (opcode) {
    case 1:
    case 2:
      return { op: opcode === 1 ? "RRQ" : "WRQ", raw: buf };
    case 3:
      return { op: "DATA", block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case 4:
      return { op: "ACK", block: buf.readUInt16BE(2) };
    case 5: {
      const end = buf.indexOf(0, 4);
      return { op: "ERROR", code: buf.readUInt16BE(2), message: buf.toString("utf8", 4, end < 0 ? buf.length : end) };
    }
    case 6: {
      const parts = buf.toString("latin1", 2).split("\0");
      parts.pop(); // after the final NUL
      const options: OptionList = [];
      for (let i = 0; i + 1 < parts.length; i += 2) options.push([parts[i], parts[i + 1]]);
      return { op: "OACK", options };
    }
    default:
      return { op: "OTHER", opcode };
  }
}

function request(opcode: 1 | 2, filename: string | Buffer, mode: string, options: OptionList): Buffer {
  const parts: Buffer[] = [Buffer.from([0, opcode])];
  const z = Buffer.from([0]);
  parts.push(typeof filename === "string" ? Buffer.from(filename, "utf8") : filename, z, Buffer.from(mode, "latin1"), z);
  for (const [k, v] of options) parts.push(Buffer.from(k, "latin1"), z, Buffer.from(v, "latin1"), z);
  return Buffer.concat(parts);
}

export function rrq(filename: string | Buffer, mode = "octet", options: OptionList = []): Buffer {
  return request(1, filename, mode, options);
}

export function wrq(filename: string | Buffer, mode = "octet", options: OptionList = []): Buffer {
  return request(2, filename, mode, options);
}

/** ACK of `block` (masked to 16 bits); `extra` trailing bytes like WDS clients send. */
export function ackPacket(block: number, extra = 0): Buffer {
  const b = Buffer.alloc(4 + extra);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

export function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, (code >> 8) & 0xff, code & 0xff]), Buffer.from(message, "utf8"), Buffer.from([0])]);
}

export function dataPacket(block: number, data: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(3, 0);
  h.writeUInt16BE(block & 0xffff, 2);
  return Buffer.concat([h, data]);
}

// ------------------------------------------------------------------- socket

export interface Received {
  buf: Buffer;
  pkt: Pkt;
  address: string;
  port: number;
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = "TimeoutError";
  }
}

const open = new Set<UdpClient>();

/** Closes every client a test forgot to close (call from afterEach). */
export function closeAllClients(): void {
  for (const c of [...open]) c.close();
}

export class UdpClient {
  private readonly queue: Received[] = [];
  private waiter: ((r: Received) => void) | undefined;
  private closed = false;
  port = 0;

  private tap: ((r: Received) => void) | undefined;

  private constructor(private readonly socket: Socket, readonly host: string) {
    socket.on("message", (buf, rinfo) => {
      const r: Received = { buf, pkt: parse(buf), address: rinfo.address, port: rinfo.port };
      if (this.tap) return this.tap(r);
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        w(r);
      } else this.queue.push(r);
    });
    socket.on("error", () => {});
  }

  /**
   * A client socket on an ephemeral port of `host` (127.0.0.1 or ::1).
   * `keep`: not closed by closeAllClients() (for a client that spans tests).
   */
  static open(host = "127.0.0.1", keep = false): Promise<UdpClient> {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, host, () => {
        socket.off("error", reject);
        const c = new UdpClient(socket, host);
        c.port = socket.address().port;
        if (!keep) open.add(c);
        resolve(c);
      });
    });
  }

  private pending = 0;

  send(buf: Buffer, port: number, host = this.host): void {
    if (this.closed) return;
    this.pending++;
    this.socket.send(buf, port, host, () => {
      if (--this.pending === 0 && this.closed) this.destroy();
    });
  }

  /**
   * Hands every packet to `fn` (first those already queued) instead of
   * queueing it, until the returned function is called. Used by get(): no
   * promise or timer per packet.
   */
  divert(fn: (r: Received) => void): () => void {
    if (this.tap) throw new Error("divert: already diverted");
    this.tap = fn;
    for (const r of this.queue.splice(0)) fn(r);
    return () => {
      if (this.tap === fn) this.tap = undefined;
    };
  }

  /** The next packet from anyone; rejects with TimeoutError after `timeoutMs`. */
  recv(timeoutMs = 2000): Promise<Received> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.waiter) return Promise.reject(new Error("recv: already waiting"));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new TimeoutError("a packet", timeoutMs));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(t);
        resolve(r);
      };
    });
  }

  /** The next packet, or null when none comes within `timeoutMs` ("expect silence"). */
  async recvOrNull(timeoutMs: number): Promise<Received | null> {
    try {
      return await this.recv(timeoutMs);
    } catch (e) {
      if (e instanceof TimeoutError) return null;
      throw e;
    }
  }

  /** Sends a request and returns the first answer (from whatever port). */
  async request(buf: Buffer, port: number, timeoutMs = 2000): Promise<Received> {
    this.send(buf, port);
    return this.recv(timeoutMs);
  }

  /** Closes the socket once the packets already handed to send() are out. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    if (this.waiter) this.waiter = undefined;
    if (this.pending === 0) this.destroy();
  }

  private destroy(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

// ----------------------------------------------------------------- transfer

export interface AckInfo {
  /** How many times the client has wanted to ACK this block so far (1 the first time). */
  nth: number;
  /** The block acknowledged is the last one of the file. */
  last: boolean;
  /** The session's port (the server's TID). */
  sessionPort: number;
  /** Why the client ACKs: end of a window, last block, a gap, a duplicate seen (rescue), or the OACK. */
  reason: "window" | "last" | "gap" | "rescue" | "oack";
}

export interface GetOptions {
  /** Server host; defaults to the client's host. */
  host?: string;
  mode?: string;
  options?: OptionList;
  /** Return true to pretend DATA `block` (absolute, from 1) never arrived; nth counts arrivals of that block. */
  dropData?: (block: number, nth: number) => boolean;
  /**
   * Decides what happens to an ACK the client wants to send for absolute
   * block `block` (0 for the OACK). Default: `send(block)` at once. A test may
   * not call send (lost ACK), call it later (delay), several times
   * (duplicates), or with other numbers first (stale ACKs).
   */
  ack?: (block: number, send: (block: number, extraBytes?: number) => void, info: AckInfo) => void;
  /** ACK after this many in-order blocks instead of the negotiated windowsize. */
  ackEvery?: number;
  /** Longest wait for any packet during the transfer. */
  idleTimeoutMs?: number;
  /** Whole-transfer bound. */
  totalTimeoutMs?: number;
  /**
   * After the last block, keep answering duplicates (re-ACK through `ack`) until
   * this promise settles (typically the session's end), bounded by idleTimeoutMs.
   */
  until?: Promise<unknown>;
  /** Called for every packet from the session port, before the client acts on it. */
  onPacket?: (r: Received) => void;
}

export type Event = { t: "data"; block: number; dropped: boolean } | { t: "ack"; block: number } | { t: "oack" };

export interface GetResult {
  data: Buffer;
  oack?: OptionList;
  error?: { code: number; message: string };
  sessionPort: number;
  /** DATA packets received from the session, dropped ones and duplicates included. */
  dataPackets: number;
  /** OACK packets received (retransmissions included). */
  oackPackets: number;
  /** Absolute number of the last block (0 when the transfer did not finish). */
  lastBlock: number;
  /** Everything that happened, in order (wire block numbers of DATA are absolute here). */
  events: Event[];
  /** Packets from any other port than the session's. */
  strays: Received[];
}

/**
 * Reads `filename` from the server at `port`, ACKing the way an RFC 1350 /
 * RFC 7440 client does: at the end of each window, at the last (short)
 * block, once per gap (the last in-order block), and once when a duplicate
 * shows that an ACK went missing.
 */
export function get(client: UdpClient, port: number, filename: string | Buffer, o: GetOptions = {}): Promise<GetResult> {
  const host = o.host ?? client.host;
  const idle = o.idleTimeoutMs ?? 3000;
  const total = o.totalTimeoutMs ?? 60_000;
  const chunks: Buffer[] = [];
  const events: Event[] = [];
  const res: GetResult = { data: Buffer.alloc(0), sessionPort: 0, dataPackets: 0, oackPackets: 0, lastBlock: 0, events, strays: [] };
  let blksize = 512;
  let windowsize = 1;
  let expected = 1; // next absolute block wanted
  let sinceAck = 0;
  let gapAcked = false;
  let lastAckSent = -1;
  let done = false;
  const seen = o.dropData ? new Map<number, number>() : undefined;
  const wanted = new Map<number, number>();

  const sendAck = (b: number, extra = 0): void => {
    client.send(ackPacket(b, extra), res.sessionPort, host);
    events.push({ t: "ack", block: b });
    if (b > lastAckSent) lastAckSent = b;
  };
  const ack = (b: number, reason: AckInfo["reason"]): void => {
    const nth = (wanted.get(b) ?? 0) + 1;
    wanted.set(b, nth);
    sinceAck = 0;
    const info: AckInfo = { nth, last: done && b === res.lastBlock, sessionPort: res.sessionPort, reason };
    if (o.ack) o.ack(b, sendAck, info);
    else sendAck(b);
  };

  return new Promise<GetResult>((resolve, reject) => {
    let finished = false;
    let undivert: () => void = () => {};
    let untilSettled = false;
    const end = (err?: Error): void => {
      if (finished) return;
      finished = true;
      undivert();
      clearTimeout(idleTimer);
      clearTimeout(totalTimer);
      if (err) return reject(err);
      res.data = Buffer.concat(chunks);
      resolve(res);
    };
    // After the last block, keep answering duplicates until `until` settles.
    const maybeEnd = (): void => {
      if (done && (!o.until || untilSettled)) end();
    };
    const idleTimer = setTimeout(() => {
      end(new TimeoutError(done ? "the session to end after the last block" : "a packet", idle));
    }, idle);
    const totalTimer = setTimeout(() => end(new TimeoutError("the transfer to finish (totalTimeoutMs)", total)), total);

    const onPacket = (r: Received): void => {
      if (finished) return;
      if (res.sessionPort === 0) res.sessionPort = r.port;
      if (r.port !== res.sessionPort) {
        res.strays.push(r);
        return;
      }
      idleTimer.refresh();
      try {
        o.onPacket?.(r);
        const p = r.pkt;
        if (p.op === "ERROR") {
          res.error = { code: p.code, message: p.message };
          return end();
        }
        if (p.op === "OACK") {
          res.oackPackets++;
          events.push({ t: "oack" });
          if (expected !== 1) return; // a late OACK resend
          res.oack ??= p.options;
          for (const [k, v] of p.options) {
            if (k.toLowerCase() === "blksize") blksize = Number(v);
            if (k.toLowerCase() === "windowsize") windowsize = Number(v);
          }
          return ack(0, "oack");
        }
        if (p.op !== "DATA") return end(new Error(`unexpected ${p.op} from the session`));
        res.dataPackets++;
        // Absolute number: the wire block nearest to what is expected.
        const ahead = (p.block - expected) & 0xffff;
        const abs = ahead < 0x8000 ? expected + ahead : expected - (0x10000 - ahead);
        let dropped = false;
        if (seen && !done) {
          const nth = (seen.get(abs) ?? 0) + 1;
          seen.set(abs, nth);
          dropped = o.dropData!(abs, nth);
        }
        events.push({ t: "data", block: abs, dropped });
        if (dropped) return;
        if (abs === expected && !done) {
          chunks.push(p.data); // a view of the packet's own Buffer
          expected++;
          gapAcked = false;
          if (p.data.length < blksize) {
            done = true;
            res.lastBlock = abs;
            ack(abs, "last");
            return maybeEnd();
          }
          if (++sinceAck >= (o.ackEvery ?? windowsize)) ack(abs, "window");
        } else if (abs > expected && !done) {
          if (!gapAcked) {
            gapAcked = true;
            ack(expected - 1, "gap");
          }
        } else if (lastAckSent < expected - 1) {
          // A duplicate: the server did not get our ACK (or we never sent it).
          ack(expected - 1, "rescue");
        }
      } catch (e) {
        end(e as Error);
      }
    };

    o.until?.then(
      () => ((untilSettled = true), maybeEnd()),
      () => ((untilSettled = true), maybeEnd()),
    );
    undivert = client.divert(onPacket);
    if (finished) return undivert();
    client.send(rrq(filename, o.mode ?? "octet", o.options ?? []), port, host);
  });
}

/** Data packets of the events (blocks in arrival order, dropped ones included). */
export function dataBlocks(r: GetResult): number[] {
  return r.events.filter((e): e is Extract<Event, { t: "data" }> => e.t === "data").map((e) => e.block);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects after `ms` unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, what = "a promise"): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
