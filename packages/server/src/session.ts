// One read session (RRQ): its own socket on an ephemeral port, bound to the
// address the request arrived on; the handler's answer as a DataSource; a ring
// of packet buffers that file data is read straight into; the WebAssembly
// scheduler deciding what to send, and its shared timer deciding when to
// retransmit.
//
// Ring: `slots` packet buffers of 4 + blksize bytes. Block b (absolute, from
// 1) lives in slot b % slots. Blocks [base, filledTo) hold data; everything
// the client has not acknowledged is in the ring, so a retransmission never
// reads the source again and a stream is read exactly once.

import { createSocket, type Socket, type RemoteInfo } from "node:dgram";
import { performance } from "node:perf_hooks";
import {
  Ack, Timeout, Opcode, TftpError, WireError, toTftpError, wasmCodec,
  type DeadlineOwner, type RequestPacket, type Scheduler,
} from "@tftpkit/wasm-core";
import { isSized, type ReadHandler, type ReadRequest } from "./handler.js";
import { splitTraceparent, type SessionObserver } from "./instrument.js";
import type { ResolvedOptions } from "./options.js";
import { toSource, type DataSource } from "./sources.js";
import type { Outcome, SessionStats } from "./stats.js";

const codec = wasmCodec;

/** What a session needs from its server. */
export interface SessionHost {
  readonly options: ResolvedOptions;
  readonly handler: ReadHandler;
  readonly scheduler: Scheduler;
  sessionEnded(session: ReadSession, stats: SessionStats): void;
  countUnknownTid(): void;
  countMalformed(): void;
}

type Phase = "handler" | "transfer" | "done";

const RING_TARGET_BYTES = 64 * 1024; // read ahead at least this much per batch
const RING_MAX_BYTES = 1024 * 1024; // but hold at most this much per session
const IOV_MAX = 1024; // buffers per readv

/** Options as a record; a repeated option keeps its first value, as negotiation does. */
function firstValues(options: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of options) if (!Object.prototype.hasOwnProperty.call(out, k)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

function ringSlots(blksize: number, windowsize: number, blocks: number): number {
  let r = Math.max(2 * windowsize, Math.ceil(RING_TARGET_BYTES / blksize));
  r = Math.min(r, Math.floor(RING_MAX_BYTES / (blksize + 4)), IOV_MAX);
  r = Math.max(r, windowsize, 1);
  return Math.min(r, Math.max(blocks, 1));
}

export class ReadSession implements DeadlineOwner {
  readonly id: number;
  readonly key: string;
  private phase: Phase = "handler";
  private socket: Socket | undefined;
  private slot = -1;
  private readonly abort = new AbortController();
  private source: DataSource | undefined;
  // ring
  private ring: Buffer = Buffer.alloc(0);
  private views: Buffer[] = [];
  private lens: Int32Array = new Int32Array(0);
  private slots = 0;
  private stride = 0;
  private filledTo = 1; // next block to read from the source
  private filling = false;
  private last = -1; // last block number, -1 until known
  private lastLen = 0; // its length when the size is known up front
  private highestSent = 0;
  private afterTimeout = false;
  private oack: Uint8Array | null = null;
  // negotiated
  private blksize = 512;
  private windowsize = 1;
  private tsize = -1;
  private optionsAcked: Record<string, string> = {};
  private readonly asked: Record<string, string>;
  private readonly path: string;
  private readonly traceparent: string | undefined;
  private obs: SessionObserver | undefined;
  // stats
  private readonly t0 = performance.now();
  private readonly startedAt = Date.now();
  private handlerMs = 0;
  private bytesSent = 0;
  private packetsSent = 0;
  private retransmits = 0;
  private duplicateAcks = 0;
  private timeouts = 0;
  private blocksAcked = 0;

  constructor(
    private readonly host: SessionHost,
    id: number,
    private readonly req: RequestPacket,
    private readonly peer: RemoteInfo,
    private readonly local: { address: string | undefined; port: number },
  ) {
    this.id = id;
    this.key = `${peer.address}|${peer.port}`;
    this.asked = firstValues(req.options);
    const split = host.options.traceparentInFilename ? splitTraceparent(req.filename) : { path: req.filename };
    this.path = split.path;
    this.traceparent = split.traceparent;
  }

  start(): void {
    const family = this.peer.family === "IPv6" ? "udp6" : "udp4";
    const socket = createSocket({ type: family });
    this.socket = socket;
    socket.on("message", this.onMessage);
    socket.on("error", () => this.finish("error", new TftpError(WireError.UNDEFINED, "socket error")));
    const bound = new Promise<void>((resolve) => socket.bind({ port: 0, address: this.local.address, exclusive: true }, resolve));
    // The handler's deadline lives in the shared timer structure too.
    const s = this.host.scheduler;
    this.slot = s.txOpen(this, 1, this.host.options.handlerTimeoutMs, 0, false);
    if (this.slot < 0) {
      void bound.then(() => this.fail(new TftpError(WireError.UNDEFINED, "Server busy")));
      return;
    }
    s.touch(this.slot);
    this.obs = this.host.options.instrumentation?.session({
      id: this.id,
      kind: "read",
      path: this.path,
      mode: this.req.mode,
      peer: { address: this.peer.address, port: this.peer.port },
      local: { address: this.local.address ?? "", port: this.local.port },
      optionsAsked: this.asked,
      traceparent: this.traceparent,
    });
    const request: ReadRequest = {
      path: this.path,
      mode: this.req.mode === "netascii" ? "netascii" : "octet",
      options: this.asked,
      peer: { address: this.peer.address, port: this.peer.port, family: this.peer.family === "IPv6" ? "IPv6" : "IPv4" },
      local: this.local,
      signal: this.abort.signal,
      sessionId: this.id,
    };
    const h0 = performance.now();
    Promise.resolve()
      .then(() => (this.obs ? this.obs.runHandler(() => this.host.handler(request)) : this.host.handler(request)))
      .then(async (response) => {
        this.handlerMs = performance.now() - h0;
        const sized = isSized(response);
        const source = await toSource(sized ? response.body : response, sized ? response.size : undefined, request.mode === "netascii");
        if (this.done()) return source.close();
        this.source = source;
        await bound;
        if (this.done()) return;
        this.begin(source);
      })
      .catch(async (err: unknown) => {
        if (this.done()) return;
        this.handlerMs ||= performance.now() - h0;
        await bound;
        this.fail(err);
      });
  }

  private done(): boolean {
    return this.phase === "done";
  }

  /** Negotiates, sizes the ring and sends the OACK or the first window. */
  private begin(source: DataSource): void {
    const o = this.host.options;
    const size = source.size ?? -1;
    const neg = codec.negotiate(this.req.asked, {
      maxBlksize: o.maxBlksize,
      maxWindowsize: o.maxWindowsize,
      tsize: size,
      write: false,
      refuse: o.refuseOptions,
    });
    if (neg.blksize > 0) { this.blksize = neg.blksize; this.optionsAcked.blksize = String(neg.blksize); }
    if (neg.tsize >= 0) this.optionsAcked.tsize = String(neg.tsize);
    if (neg.timeout > 0) this.optionsAcked.timeout = String(neg.timeout);
    if (neg.windowsize > 0) { this.windowsize = neg.windowsize; this.optionsAcked.windowsize = String(neg.windowsize); }
    this.tsize = size;
    this.oack = neg.oack;
    this.obs?.negotiated(this.optionsAcked, this.blksize, this.windowsize, size);
    const blocks = size >= 0 ? Math.floor(size / this.blksize) + 1 : Infinity;
    if (size >= 0) {
      this.last = blocks;
      this.lastLen = size - (blocks - 1) * this.blksize;
    }
    this.slots = ringSlots(this.blksize, this.windowsize, blocks);
    this.stride = this.blksize + 4;
    this.ring = Buffer.allocUnsafe(this.slots * this.stride);
    this.lens = new Int32Array(this.slots);
    this.views = new Array(this.slots);
    for (let i = 0; i < this.slots; i++) {
      const off = i * this.stride;
      this.ring[off] = 0;
      this.ring[off + 1] = Opcode.DATA;
      this.views[i] = this.ring.subarray(off + 4, off + this.stride);
    }
    const s = this.host.scheduler;
    s.close(this.slot);
    const timeoutMs = neg.timeout > 0 ? neg.timeout * 1000 : o.timeoutMs;
    this.slot = s.txOpen(this, this.windowsize, timeoutMs, o.retries, this.oack !== null);
    if (this.slot < 0) return this.fail(new TftpError(WireError.UNDEFINED, "Server busy"));
    if (this.last > 0) s.x.txSetLast(this.slot, this.last);
    this.phase = "transfer";
    this.fill();
    this.pump();
  }

  /** Sends whatever the scheduler allows and the ring holds. */
  private pump(): void {
    if (this.phase !== "transfer") return;
    const s = this.host.scheduler;
    const x = s.x;
    const slot = this.slot;
    let can = x.txSendable(slot);
    if (can === 0) return;
    let n = x.txNext(slot);
    const socket = this.socket!;
    if (n === 0) {
      const oack = this.oack!;
      socket.send(oack, 0, oack.length, this.peer.port, this.peer.address);
      if (this.packetsSent > 0) {
        this.retransmits++;
        this.obs?.retransmit(0, 1, "timeout");
      }
      this.packetsSent++;
      s.txSent(slot, 1);
      return;
    }
    let sent = 0;
    const resentBefore = this.retransmits;
    const first = n;
    const port = this.peer.port;
    const address = this.peer.address;
    while (can > 0 && n < this.filledTo) {
      const i = n % this.slots;
      const off = i * this.stride;
      this.ring[off + 2] = (n >>> 8) & 0xff;
      this.ring[off + 3] = n & 0xff;
      const len = this.lens[i];
      socket.send(this.ring, off, len + 4, port, address);
      if (n <= this.highestSent) this.retransmits++;
      else {
        this.highestSent = n;
        this.bytesSent += len;
      }
      n++;
      can--;
      sent++;
    }
    this.packetsSent += sent;
    if (sent > 0) s.txSent(slot, sent);
    if (this.obs && this.retransmits > resentBefore) {
      this.obs.retransmit(first, this.retransmits - resentBefore, this.afterTimeout ? "timeout" : "gap");
    }
    this.afterTimeout = false;
    if (!this.filling) this.fill();
  }

  /** Reads the next blocks into free ring slots, then pumps. */
  private fill(): void {
    if (this.filling || this.phase !== "transfer" || !this.source) return;
    const x = this.host.scheduler.x;
    const base = Math.max(x.txBase(this.slot), 1);
    let end = base + this.slots; // exclusive
    if (this.last > 0) end = Math.min(end, this.last + 1);
    if (this.filledTo >= end) return;
    const from = this.filledTo;
    const count = Math.min(end - from, IOV_MAX);
    const targets: Buffer[] = new Array(count);
    for (let k = 0; k < count; k++) {
      const b = from + k;
      const v = this.views[b % this.slots];
      targets[k] = b === this.last ? v.subarray(0, this.lastLen) : v;
    }
    this.filling = true;
    const source = this.source;
    source.read(targets).then(
      (got) => {
        this.filling = false;
        if (this.phase !== "transfer") return;
        // Whole targets are blocks ready to send; a short one (or an empty
        // one once the source has ended) is the last block.
        let rem = got;
        let b = from;
        for (let k = 0; k < count; k++, b++) {
          const cap = targets[k].length;
          if (rem === 0 && cap > 0 && !source.ended) break; // not produced yet
          const len = Math.min(rem, cap);
          this.lens[b % this.slots] = len;
          rem -= len;
          if (len < this.blksize) {
            this.last = b;
            this.host.scheduler.x.txSetLast(this.slot, b);
            b++;
            break;
          }
        }
        this.filledTo = b;
        this.pump();
      },
      (err: unknown) => {
        this.filling = false;
        this.fail(err);
      },
    );
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.port !== this.peer.port || rinfo.address !== this.peer.address) {
      // RFC 1350: a packet from an unknown TID gets ERROR 5; the session carries on.
      this.host.countUnknownTid();
      this.obs?.unknownTid({ address: rinfo.address, port: rinfo.port });
      const e = codec.encodeError(WireError.UNKNOWN_TID, "Unknown transfer ID");
      this.socket?.send(e, rinfo.port, rinfo.address);
      return;
    }
    if (this.phase !== "transfer") return;
    const block = codec.decodeAck(msg);
    if (block >= 0) return this.onAck(block);
    const p = codec.decode(msg);
    if (p.opcode === Opcode.ERROR) {
      const inOack = this.oack !== null && this.host.scheduler.x.txBase(this.slot) === 0;
      const err = { code: p.code, message: p.message };
      // UEFI size probe: tsize asked, OACK sent, client aborts before ACK 0.
      if (inOack && this.req.asked.tsize >= 0) return this.finish("probe", undefined, err);
      return this.finish("client-error", undefined, err);
    }
    this.host.countMalformed();
    this.fail(TftpError.illegalOperation("Illegal TFTP operation: expected ACK"));
  };

  private onAck(block: number): void {
    const x = this.host.scheduler.x;
    const r = x.txOnAck(this.slot, block);
    if (r === Ack.DONE) {
      this.blocksAcked = this.last;
      return this.finish("ok");
    }
    if (r === Ack.ADVANCED || r === Ack.GAP) {
      this.blocksAcked = x.txBase(this.slot) - 1;
      this.pump();
    } else if (r === Ack.DUPLICATE) {
      this.duplicateAcks++;
    }
  }

  onDeadline(): void {
    if (this.phase === "handler") {
      return this.fail(new TftpError(WireError.UNDEFINED, "Handler timed out", "TFTP_ERR_TIMEOUT"));
    }
    if (this.phase !== "transfer") return;
    const s = this.host.scheduler;
    const x = s.x;
    const verdict = x.txOnTimeout(this.slot);
    this.obs?.timeout(this.timeouts + 1);
    this.timeouts++;
    if (verdict === Timeout.RETRANSMIT) {
      this.afterTimeout = true;
      const before = this.packetsSent;
      this.pump();
      // Nothing in flight to resend: waiting for the source. Keep counting retries against it.
      if (this.packetsSent === before) s.touch(this.slot);
      return;
    }
    if (this.filling && x.txBase(this.slot) >= this.filledTo) {
      // Every block produced was acknowledged and the source has not produced more.
      return this.fail(new TftpError(WireError.UNDEFINED, "Data source timed out", "TFTP_ERR_TIMEOUT"), "timeout");
    }
    if (this.last > 0 && this.highestSent >= this.last && x.txBase(this.slot) === this.last) {
      // Everything but the last block was acknowledged and the last was sent: some clients never ACK it.
      this.blocksAcked = this.last - 1;
      return this.finish("ok", undefined, undefined, true);
    }
    this.finish("timeout", new TftpError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT"));
  }

  /** Answers an error to the client and ends the session. */
  fail(err: unknown, forced?: Outcome): void {
    if (this.phase === "done") return;
    const e = toTftpError(err);
    const outcome: Outcome = forced ??
      (!(err instanceof TftpError) && e.wireCode === WireError.UNDEFINED ? "handler-error"
      : e.wireCode === WireError.NOT_FOUND ? "not-found"
      : e.wireCode === WireError.ACCESS_VIOLATION ? "access-denied"
      : "error");
    const packet = codec.encodeError(e.wireCode, e.message);
    const socket = this.socket;
    if (socket) {
      socket.send(packet, this.peer.port, this.peer.address, () => socket.close());
      this.socket = undefined;
    }
    this.finish(outcome, e);
  }

  /** Ends the session from the server (shutdown). */
  shutdown(message = "Server shutting down"): void {
    if (this.phase === "done") return;
    const socket = this.socket;
    if (socket) {
      socket.send(codec.encodeError(WireError.UNDEFINED, message), this.peer.port, this.peer.address, () => socket.close());
      this.socket = undefined;
    }
    this.finish("aborted", new TftpError(WireError.UNDEFINED, message, "TFTP_ERR_ABORTED"));
  }

  private finish(outcome: Outcome, err?: TftpError, clientError?: { code: number; message: string }, finalAckMissing = false): void {
    if (this.phase === "done") return;
    this.phase = "done";
    if (this.slot >= 0) this.host.scheduler.close(this.slot);
    this.slot = -1;
    this.socket?.close();
    this.socket = undefined;
    this.source?.close();
    this.abort.abort();
    const stats: SessionStats = {
      id: this.id,
      kind: "read",
      peer: { address: this.peer.address, port: this.peer.port },
      local: { address: this.local.address ?? "", port: this.local.port },
      path: this.path,
      mode: this.req.mode,
      optionsAsked: this.asked,
      optionsAcked: this.optionsAcked,
      blksize: this.blksize,
      windowsize: this.windowsize,
      tsize: this.tsize,
      bytesSent: this.bytesSent,
      packetsSent: this.packetsSent,
      blocksAcked: this.blocksAcked,
      retransmits: this.retransmits,
      duplicateAcks: this.duplicateAcks,
      startedAt: this.startedAt,
      durationMs: performance.now() - this.t0,
      handlerMs: this.handlerMs,
      outcome,
    };
    if (err) stats.error = { code: err.wireCode, message: err.message };
    if (clientError) stats.error = clientError;
    if (finalAckMissing) stats.finalAckMissing = true;
    if (this.traceparent) stats.traceparent = this.traceparent;
    this.obs?.end(stats);
    this.host.sessionEnded(this, stats);
  }
}
