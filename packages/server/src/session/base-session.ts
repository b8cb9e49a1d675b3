// What read and write sessions share: the connection (a socket of the
// session's own on an ephemeral port, or the listening socket in single-port
// mode: see connection.ts), the TID check, error replies, the no-progress
// bound, the telemetry observer and the stats record written when the
// session ends.

import type { Socket, RemoteInfo } from "node:dgram";
import { performance } from "node:perf_hooks";
import {
  Opcode, TftpError, WireError, toTftpError, wasmCodec,
  type BufferBudget, type DeadlineOwner, type RequestPacket, type RttEstimate, type Scheduler,
} from "@tftpkit/wasm-core";
import { connect, type Connection } from "../net/connection.js";
import { isPortUnreachable, isUnreachable } from "../net/udp.js";
import type { FileCache } from "../files/file-cache.js";
import type { SocketPool } from "../net/socket-pool.js";
import type { FileReadCounters } from "./data-source.js";
import type { ReadHandler, ReadRequest } from "../handler.js";
import { splitTraceparent, type SessionObserver } from "../observe/instrument.js";
import type { SessionProgress } from "../observe/live.js";
import type { ResolvedOptions } from "../options.js";
import { describeError, type Outcome, type SessionStats } from "../observe/stats.js";
import type { WriteHandler } from "../files/write.js";
import type { RttMemory } from "./rtt-memory.js";

export const codec = wasmCodec;

/** What a session needs from its server. */
export interface SessionHost {
  readonly options: ResolvedOptions;
  readonly handler: ReadHandler;
  /** Runs the read handler for `request` (its answer as the handler gives it). */
  read(request: ReadRequest): ReturnType<ReadHandler>;
  readonly writeHandler: WriteHandler | undefined;
  readonly scheduler: Scheduler;
  /** Small files' contents, shared by every session (undefined: off). */
  readonly fileCache: FileCache | undefined;
  /** The budget every session's buffers are reserved from. */
  readonly buffers: BufferBudget;
  /** Bound session sockets, used again by the next sessions (undefined: one bound and closed per session). */
  readonly socketPool?: SocketPool;
  /** The server's file read counters. */
  readonly fileReads: FileReadCounters;
  /** Each client's round-trip estimate from its earlier sessions (undefined: none kept). */
  readonly rttMemory?: RttMemory;
  sessionEnded(session: Session, stats: SessionStats): void;
  countUnknownTid(): void;
  countMalformed(): void;
}

export type Phase = "handler" | "transfer" | "commit" | "dally" | "done";

/** Options as a record; a repeated option keeps its first value, as negotiation does. */
function firstValues(options: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of options) {
    if (Object.prototype.hasOwnProperty.call(out, k)) continue;
    // "__proto__" as a plain assignment would set the prototype, not an option.
    if (k === "__proto__") Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

/** The session behind a handler's request (a hidden own property, see requestBase). */
const SESSION_OF_REQUEST = Symbol("tftpkit.session");

/** The `signal` of every handler request: one getter for all (see requestBase). */
const SIGNAL_OF_REQUEST: PropertyDescriptor = Object.freeze({
  get(this: { [SESSION_OF_REQUEST]: Session }): AbortSignal {
    return this[SESSION_OF_REQUEST].signal;
  },
  enumerable: true,
  configurable: true,
});

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null && typeof (v as PromiseLike<unknown>).then === "function";
}

/**
 * When a session socket is connected to its client (connectSessionSockets).
 * A connected socket's sends skip the kernel's route lookup, the kernel
 * keeps strangers' packets away, and an ICMP port unreachable reaches the
 * session (its client has gone). But connect() and the disconnect() that
 * gives a pooled socket back (which releases its port: the next session
 * binds a fresh one) cost more than a small read's few sends save, about a
 * tenth of such a session's CPU. So a read connects when it needs to: at
 * its first resend (is the client still there?), from its
 * CONNECT_AFTER_PACKETS-th packet on (a long transfer, where cheaper sends
 * add up), or at once when its one packet is all it sends (a DATA block that is
 * the last, with no OACK): the client then never speaks, and only a
 * connected socket tells whether that packet met a closed port (a late copy
 * of a request already served) or reached it. A read whose size is not
 * known connects at once too. A write connects at once.
 */
const CONNECT_AFTER_PACKETS = 16;

export abstract class Session implements DeadlineOwner {
  readonly id: number;
  readonly key: string;
  protected phase: Phase = "handler";
  protected slot = -1;
  // Made on first use: most handlers never look at the signal, and an abort
  // costs a DOMException with a stack.
  private abortController: AbortController | undefined;
  get signal(): AbortSignal {
    // After the end, a signal asked for for the first time is already aborted.
    if (!this.abortController && this.phase === "done") return AbortSignal.abort();
    this.abortController ??= new AbortController();
    return this.abortController.signal;
  }
  protected readonly opts: ResolvedOptions;
  private conn: Connection | undefined;
  protected ready: Promise<void> = Promise.resolve();
  // negotiated
  protected blksize = 512;
  protected windowsize = 1;
  protected tsize = -1;
  protected optionsAcked: Record<string, string> = {};
  protected readonly asked: Record<string, string>;
  readonly path: string;
  protected readonly traceparent: string | undefined;
  protected obs: SessionObserver | undefined;
  // stats
  protected readonly t0 = performance.now();
  protected readonly startedAt = Date.now();
  protected handlerMs = 0;
  protected packetsSent = 0;
  protected retransmits = 0;
  protected timeouts = 0;

  readonly kind: "read" | "write";

  constructor(
    protected readonly host: SessionHost,
    id: number,
    protected readonly req: RequestPacket,
    protected readonly peer: RemoteInfo,
    protected readonly local: { address: string | undefined; port: number },
    /** Single-port mode: the listening socket carries the session. */
    private readonly shared: Socket | undefined,
  ) {
    this.id = id;
    this.kind = req.opcode === Opcode.WRQ ? "write" : "read";
    this.key = `${peer.address}|${peer.port}`;
    this.opts = host.options;
    this.asked = firstValues(req.options);
    const split = this.opts.traceparentInFilename ? splitTraceparent(req.filename) : { path: req.filename };
    this.traceparent = split.traceparent;
    const rewritten = this.opts.rewrite?.(split.path, { address: peer.address, op: this.kind });
    if (rewritten && "refused" in rewritten) {
      this.refused = rewritten.rule;
      this.path = split.path;
    } else {
      this.path = rewritten ? rewritten.path : split.path;
    }
  }

  /** Set when a rewrite rule refused the request (its rule number, 0 if unknown). */
  private refused: number | undefined;

  /**
   * Opens the transport and the observer, and arms the handler deadline.
   * False when the session has already been answered (session table full,
   * or a rewrite rule refused the name): the caller stops there.
   */
  protected open(): boolean {
    this.conn = connect(this.shared, this.peer, this.local.address, this.opts.portRange, {
      onPacket: this.onPacket,
      onError: (err) => {
        // A connected session socket hears of an ICMP error for a packet it
        // sent. Port unreachable: see portUnreachable(). Host or network
        // unreachable (a neighbour not resolved yet, a route flapping) may
        // pass: treated like a lost packet.
        if (isPortUnreachable(err)) return this.portUnreachable();
        if (isUnreachable(err)) return;
        this.finish("error", new TftpError(WireError.UNDEFINED, "socket error"));
      },
    }, this.host.socketPool);
    // A write's client speaks at every block, and its end (dally) is told by its closed port.
    if (this.kind === "write") this.connectNow();
    this.ready = this.conn.ready;
    this.obs = this.opts.instrumentation?.session({
      id: this.id,
      kind: this.kind,
      path: this.path,
      mode: this.req.mode,
      peer: { address: this.peer.address, port: this.peer.port },
      local: { address: this.local.address ?? "", port: this.local.port },
      optionsAsked: this.asked,
      traceparent: this.traceparent,
      progress: this.progress,
    });
    // The session's slot, held from now to the end; while the handler runs
    // only its session deadline (the handler's deadline) is armed.
    const s = this.host.scheduler;
    this.slot = s.reserve(this);
    if (this.slot < 0) {
      this.failWhenReady(new TftpError(WireError.UNDEFINED, "Server busy"));
      return false;
    }
    s.setSessionDeadline(this.slot, this.opts.handlerTimeoutMs);
    if (this.refused !== undefined) {
      const rule = this.refused;
      this.failWhenReady(TftpError.accessViolation(`Access violation: refused by rewrite rule${rule ? ` ${rule}` : ""}`));
      return false;
    }
    return true;
  }

  /** Answers an error once the socket is bound (errors leave from the session's port). */
  protected failWhenReady(err: unknown, forced?: Outcome): void {
    void this.ready.then(
      () => this.fail(err, forced),
      () => this.fail(err, forced),
    );
  }

  /**
   * Builds the request a handler sees (the fields reads and writes share).
   * `signal` is an own enumerable accessor, made with one getter shared by
   * every request: a getter written in the object literal would be a new
   * function per request, and V8 then gives each request a hidden class of
   * its own, kept in the old generation, which held the session (through
   * the getter's closure) until the next major collection. Measured on
   * sessions built without a server: about 1 KB per finished session
   * survived the minor collections with the getter in the literal, about
   * 100 B with the shared one. (In the server the session tables held them
   * too: see short-lived-map.ts.)
   */
  protected requestBase(): ReadRequest {
    const r = {
      path: this.path,
      mode: this.req.mode === "netascii" ? "netascii" : "octet",
      options: this.asked,
      peer: { address: this.peer.address, port: this.peer.port, family: this.peer.family === "IPv6" ? "IPv6" : "IPv4" },
      local: this.local,
      sessionId: this.id,
      flow: this.obs?.flow,
    } as ReadRequest;
    Object.defineProperty(r, SESSION_OF_REQUEST, { value: this });
    Object.defineProperty(r, "signal", SIGNAL_OF_REQUEST);
    return r;
  }

  /** Bytes so far and the negotiated sizes, for live views (read on demand, never per packet). */
  private readonly progress = (): SessionProgress => {
    const k = this.kindStats();
    return {
      bytes: (this.kind === "write" ? k.bytesReceived : k.bytesSent) ?? 0,
      blksize: this.blksize,
      windowsize: this.windowsize,
      tsize: this.tsize,
      retransmits: k.retransmits ?? this.retransmits,
    };
  };

  /** Starts the transfer once the handler's answer is kept and the socket is bound. */
  protected abstract begin(): void;

  /**
   * Runs the handler (in the observer's context, timed), lets `accept` keep
   * its answer (false: the session ended meanwhile and the answer was let
   * go), then begins once the socket is bound. A failure anywhere is
   * answered with an ERROR.
   *
   * A handler that answers at once (e.g. a file whose stat is trusted, see
   * RootResolver.fileNow) with a source made at once, on a socket already
   * bound (a pooled one), begins before this returns: no promise, no turn
   * of the microtask queue. Anything else goes the asynchronous way.
   */
  protected answerWith<A>(call: () => A | PromiseLike<A>, accept: (answer: A) => boolean | Promise<boolean>): void {
    const h0 = performance.now();
    let answer: A | PromiseLike<A>;
    try {
      answer = this.runHandler(call);
    } catch (err) {
      this.failAfterHandler(err, h0);
      return;
    }
    if (isThenable(answer)) {
      Promise.resolve(answer)
        .then((a) => this.acceptAnswer(a, accept, h0))
        .catch((err: unknown) => this.failAfterHandler(err, h0));
      return;
    }
    let kept: boolean | Promise<boolean>;
    try {
      kept = this.acceptAnswer(answer, accept, h0);
    } catch (err) {
      this.failAfterHandler(err, h0);
      return;
    }
    if (kept instanceof Promise) kept.catch((err: unknown) => this.failAfterHandler(err, h0));
  }

  /** Keeps the handler's answer and begins (at once when the socket is bound and the source made). */
  private acceptAnswer<A>(answer: A, accept: (answer: A) => boolean | Promise<boolean>, h0: number): Promise<boolean> | boolean {
    this.handlerMs = performance.now() - h0;
    const kept = accept(answer);
    if (typeof kept !== "boolean") return kept.then((k) => this.beginWhenReady(k));
    if (!kept) return false;
    if (this.conn?.readyNow()) {
      if (!this.done()) this.begin();
      return true;
    }
    return this.beginWhenReady(true);
  }

  /** The handler (or what followed it up to begin()) failed: an ERROR once the socket is bound. */
  private failAfterHandler(err: unknown, h0: number): void {
    if (this.done()) return;
    this.handlerMs ||= performance.now() - h0;
    this.ready.then(
      () => this.fail(err),
      () => this.fail(err),
    );
  }

  /** Begins once the socket is bound, if the answer was kept. */
  private beginWhenReady(kept: boolean): Promise<boolean> {
    if (!kept) return Promise.resolve(false);
    return this.ready.then(() => {
      if (!this.done()) this.begin();
      return true;
    });
  }

  /** Runs a handler inside the observer's context. */
  protected runHandler<T>(fn: () => T): T {
    return this.obs ? this.obs.runHandler(fn) : fn();
  }

  /** Packets sent to the peer so far (connectNow() at CONNECT_AFTER_PACKETS). */
  private sent = 0;

  /** Sends to the peer (the sender's and receiver's link). */
  readonly send = (buf: Uint8Array, offset: number, length: number): void => {
    if (++this.sent === CONNECT_AFTER_PACKETS) this.connectNow();
    this.conn?.sendTo(buf, offset, length, this.peer.port, this.peer.address);
  };

  /**
   * With connectSessionSockets, the session's socket is connected to its
   * client from the next packet on (see CONNECT_AFTER_PACKETS for when).
   */
  protected connectNow(): void {
    if (this.opts.connectSessionSockets) this.conn?.connectNow();
  }

  protected done(): boolean {
    return this.phase === "done";
  }

  /** Every packet for this session: from its own socket, or routed by the server in single-port mode. */
  readonly onPacket = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.port !== this.peer.port || rinfo.address !== this.peer.address) {
      // RFC 1350: a packet from an unknown TID gets ERROR 5; the session carries on.
      this.host.countUnknownTid();
      this.obs?.unknownTid({ address: rinfo.address, port: rinfo.port });
      // Never answer an ERROR: two sessions would bounce ERROR 5 at each other forever.
      const isError = msg.length >= 2 && msg[0] === 0 && msg[1] === 5;
      if (!isError) {
        const e = codec.encodeError(WireError.UNKNOWN_TID, "Unknown transfer ID");
        this.conn?.sendTo(e, 0, e.length, rinfo.port, rinfo.address);
      }
      return;
    }
    this.refusals = 0;
    this.handlePacket(msg);
  };

  /** ICMP port unreachable reports since the client's last packet. */
  protected refusals = 0;

  /**
   * The client's port answered ICMP port unreachable. Once may be late news
   * of a packet sent before the socket came to this session (a pooled
   * socket); twice with no packet from the client between means nobody
   * listens there any more (the client finished or gave up and closed its
   * port, or the request was a late duplicate of one already served): the
   * session ends at once instead of resending until its retries run out.
   */
  private portUnreachable(): void {
    if (++this.refusals >= 2) this.clientGone();
  }

  /** The client closed its port (portUnreachable): aborted, unless a subclass knows the transfer is whole. */
  protected clientGone(): void {
    this.finish("aborted", new TftpError(WireError.UNDEFINED, "Client gone (port unreachable)", "TFTP_ERR_ABORTED"));
  }

  protected abstract handlePacket(msg: Buffer): void;
  /** The retransmission deadline passed. */
  abstract onDeadline(): void;

  /**
   * The transfer runs (call once the sender or receiver started): from now
   * the session deadline is the no-progress bound, moved on whenever an ACK
   * moves the window or an in-order block arrives.
   */
  protected watchProgress(): void {
    const stall = this.opts.stallTimeoutMs;
    if (stall > 0 && !this.done()) this.host.scheduler.setProgressLimit(this.slot, stall);
  }

  /** The session deadline passed: while the handler runs, the handler's deadline; then the no-progress bound. */
  onSessionDeadline(): void {
    if (this.phase === "handler") return this.handlerTimedOut();
    if (this.phase === "transfer" || this.phase === "commit") {
      this.fail(new TftpError(WireError.UNDEFINED, "Transfer timed out: no progress", "TFTP_ERR_TIMEOUT"), "timeout");
    }
  }
  abstract start(): void;
  /** Fields of the stats record that only one kind has, written into `into` (a new object without it). */
  protected abstract kindStats(into?: Partial<SessionStats>): Partial<SessionStats>;
  /** Releases what the kind holds (a source, an unfinished upload). */
  protected abstract release(): void;

  /** The handler did not answer in time. */
  protected handlerTimedOut(): void {
    this.fail(new TftpError(WireError.UNDEFINED, "Handler timed out", "TFTP_ERR_TIMEOUT"));
  }

  /** Sends a last packet (an ERROR), then lets go of the connection. */
  private sendLast(packet: Uint8Array): void {
    const conn = this.conn;
    this.conn = undefined;
    conn?.closeAfter(packet, this.peer.port, this.peer.address);
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
    this.sendLast(codec.encodeError(e.wireCode, e.message));
    this.finish(outcome, e, undefined, outcome === "handler-error" ? { handlerError: describeError(err) } : undefined);
  }

  /** Ends the session from the server (shutdown). */
  shutdown(message = "Server shutting down"): void {
    if (this.phase === "done") return;
    this.sendLast(codec.encodeError(WireError.UNDEFINED, message));
    this.finish("aborted", new TftpError(WireError.UNDEFINED, message, "TFTP_ERR_ABORTED"));
  }

  protected finish(outcome: Outcome, err?: TftpError, clientError?: { code: number; message: string }, extra?: Partial<SessionStats>): void {
    if (this.phase === "done") return;
    this.phase = "done";
    this.rememberRtt();
    if (this.slot >= 0) this.host.scheduler.close(this.slot);
    this.slot = -1;
    this.conn?.close();
    this.conn = undefined;
    this.release();
    this.abortController?.abort();
    const stats: SessionStats = {
      id: this.id,
      kind: this.kind,
      peer: { address: this.peer.address, port: this.peer.port },
      local: { address: this.local.address ?? "", port: this.local.port },
      path: this.path,
      mode: this.req.mode,
      optionsAsked: this.asked,
      optionsAcked: this.optionsAcked,
      blksize: this.blksize,
      windowsize: this.windowsize,
      tsize: this.tsize,
      bytesSent: 0,
      packetsSent: this.packetsSent,
      blocksAcked: 0,
      retransmits: this.retransmits,
      duplicateAcks: 0,
      startedAt: this.startedAt,
      durationMs: performance.now() - this.t0,
      handlerMs: this.handlerMs,
      outcome,
    };
    // Written into the record (no spread: a spread after known keys copies
    // property by property in the runtime, and the key order is the same).
    this.kindStats(stats);
    if (extra) Object.assign(stats, extra);
    if (err) stats.error = { code: err.wireCode, message: err.message };
    if (clientError) stats.error = clientError;
    if (this.traceparent) stats.traceparent = this.traceparent;
    this.obs?.end(stats);
    this.host.sessionEnded(this, stats);
    this.forget();
  }

  /**
   * The session has ended and been reported: it lets go of what it holds at
   * once, so that whatever may still reach the finished session for a while
   * (a minor garbage collection takes an old object's stale pointer as a
   * root: see requestBase and short-lived-map.ts) does not keep its sender,
   * ring and source too. Subclasses drop their sender or receiver.
   */
  protected forget(): void {
    this.obs = undefined;
  }

  /** Sets the negotiated values from the core's answer. */
  protected applyNegotiated(neg: { blksize: number; tsize: number; timeout: number; windowsize: number }): void {
    if (neg.blksize > 0) { this.blksize = neg.blksize; this.optionsAcked.blksize = String(neg.blksize); }
    if (neg.tsize >= 0) this.optionsAcked.tsize = String(neg.tsize);
    if (neg.timeout > 0) this.optionsAcked.timeout = String(neg.timeout);
    if (neg.windowsize > 0) { this.windowsize = neg.windowsize; this.optionsAcked.windowsize = String(neg.windowsize); }
  }

  /** blksize cap for this peer: the configured maximum, lowered by the MTU when one is set. */
  protected blksizeCap(): number {
    const mtu = this.opts.mtu;
    if (!mtu) return this.opts.maxBlksize;
    const overhead = (this.peer.family === "IPv6" ? 40 : 20) + 8 + 4;
    return Math.max(8, Math.min(this.opts.maxBlksize, mtu - overhead));
  }

  /** The client's estimate from its earlier sessions (or a neighbour's), for a transfer that adapts its RTO (the client set no timeout). */
  protected rttSeed(negotiatedTimeout: number): RttEstimate | undefined {
    return negotiatedTimeout > 0 ? undefined : this.host.rttMemory?.seedFor(this.peer.address);
  }

  /** Keeps this session's round-trip estimate (if it measured one) for the client's next session. */
  protected rememberRtt(): void {
    const memory = this.host.rttMemory;
    if (!memory || this.slot < 0) return;
    const estimate = this.host.scheduler.rttEstimate(this.slot);
    if (estimate) memory.record(this.peer.address, estimate);
  }

  protected retransmitTimeoutMs(negotiatedSeconds: number): number {
    return negotiatedSeconds > 0 ? negotiatedSeconds * 1000 : this.opts.timeoutMs;
  }
}
