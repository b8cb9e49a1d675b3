// Whole read transfers by a raw UDP peer: get() lets a test decide the fate of
// every DATA and every ACK (drop, delay, duplicate, stale, gap, never send the
// last one), lock-step or RFC 7440 windows; tftpGet() is a plain lock-step
// read on a socket of its own.

import { TimeoutError } from "./fixtures.js";
import { ackPacket, errorPacket, rrq, type OptionList } from "./packets.js";
import { UdpPeer, type Received } from "./udp-peer.js";

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
  /**
   * Re-send the last packet sent (the RRQ or the last ACK) when nothing comes
   * for this many ms, at most `resends` times in a row; then the get fails.
   * Off by default (a test decides about every packet).
   */
  resendMs?: number;
  resends?: number;
  /** After this many in-order DATA blocks, send ERROR 0 and end the transfer (the client gives up). */
  abortAfterBlocks?: number;
  /** Called after each in-order DATA block with the payload bytes received so far. */
  onData?: (bytes: number) => void;
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
  /** In-order DATA blocks received. */
  blocks: number;
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
export function get(client: UdpPeer, port: number, filename: string | Buffer, o: GetOptions = {}): Promise<GetResult> {
  const host = o.host ?? client.host;
  const idle = o.idleTimeoutMs ?? 3000;
  const total = o.totalTimeoutMs ?? 60_000;
  const chunks: Buffer[] = [];
  const events: Event[] = [];
  const res: GetResult = { data: Buffer.alloc(0), sessionPort: 0, dataPackets: 0, oackPackets: 0, blocks: 0, lastBlock: 0, events, strays: [] };
  let blksize = 512;
  let windowsize = 1;
  let expected = 1; // next absolute block wanted
  let sinceAck = 0;
  let gapAcked = false;
  let lastAckSent = -1;
  let done = false;
  const seen = o.dropData ? new Map<number, number>() : undefined;
  const wanted = new Map<number, number>();

  let received = 0;
  let resent = 0;
  let lastSent: { buf: Buffer; port: number } | undefined;
  const send = (buf: Buffer, to: number): void => {
    lastSent = { buf, port: to };
    client.send(buf, to, host);
  };
  const sendAck = (b: number, extra = 0): void => {
    send(ackPacket(b, extra), res.sessionPort);
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
      clearTimeout(resendTimer);
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
    const resendTimer: NodeJS.Timeout | undefined = o.resendMs === undefined ? undefined : setTimeout(function resend() {
      if (finished || !lastSent) return;
      if (++resent > (o.resends ?? 5)) return end(new Error(`get ${String(filename)}: no answer after ${o.resends ?? 5} re-sends (got ${res.blocks} blocks)`));
      client.send(lastSent.buf, lastSent.port, host);
      resendTimer?.refresh();
    }, o.resendMs);

    const onPacket = (r: Received): void => {
      if (finished) return;
      if (res.sessionPort === 0) res.sessionPort = r.port;
      if (r.port !== res.sessionPort) {
        res.strays.push(r);
        return;
      }
      idleTimer.refresh();
      resendTimer?.refresh();
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
          resent = 0;
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
          resent = 0;
          res.blocks++;
          received += p.data.length;
          o.onData?.(received);
          if (o.abortAfterBlocks !== undefined && res.blocks >= o.abortAfterBlocks) {
            client.send(errorPacket(0, "client gives up"), res.sessionPort, host);
            return end();
          }
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
    send(rrq(filename, o.mode ?? "octet", o.options ?? []), port);
  });
}

/** Data packets of the events (blocks in arrival order, dropped ones included). */
export function dataBlocks(r: GetResult): number[] {
  return r.events.filter((e): e is Extract<Event, { t: "data" }> => e.t === "data").map((e) => e.block);
}



export interface TftpGetOptions {
  blksize?: number;
  /** Ask tsize (0): the OACK then carries the size the server announces. */
  tsize?: boolean;
  /** ms to wait for one packet before re-sending the last one. */
  packetTimeoutMs?: number;
  /** Re-sends before giving up. */
  retries?: number;
  /** Stop after this many DATA blocks and send an ERROR (the client gives up). */
  abortAfterBlocks?: number;
  /** Called after each DATA block with the bytes received so far. */
  onData?: (bytes: number) => void;
}

export interface TftpGetResult {
  data: Buffer;
  /** Options of the OACK (names in lower case), when the server sent one. */
  oack: Record<string, string> | undefined;
  /** The ERROR packet that ended the transfer, if any. */
  error: { code: number; message: string } | undefined;
  /** DATA blocks received before the end (or the error). */
  blocks: number;
}

/**
 * A plain lock-step read of `file` from `host`:`port` on a socket of its own,
 * re-sending the last packet when the server goes quiet (RFC 1350 client).
 */
export async function tftpGet(port: number, file: string, o: TftpGetOptions = {}, host = "127.0.0.1"): Promise<TftpGetResult> {
  const options: OptionList = [];
  if (o.blksize) options.push(["blksize", String(o.blksize)]);
  if (o.tsize) options.push(["tsize", "0"]);
  const packetTimeoutMs = o.packetTimeoutMs ?? 3000;
  const retries = o.retries ?? 5;
  const peer = await UdpPeer.open(host);
  try {
    const r = await get(peer, port, file, {
      options,
      resendMs: packetTimeoutMs,
      resends: retries,
      idleTimeoutMs: packetTimeoutMs * (retries + 2),
      totalTimeoutMs: 10 * 60_000,
      abortAfterBlocks: o.abortAfterBlocks,
      onData: o.onData,
    });
    const oack = r.oack && Object.fromEntries(r.oack.map(([k, v]) => [k.toLowerCase(), v]));
    return { data: r.data, oack, error: r.error, blocks: r.blocks };
  } finally {
    peer.close();
  }
}
