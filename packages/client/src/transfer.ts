// What a get and a put share: the socket, the server's transfer ID, the
// flow (the one windowed sender or receiver, shared with the server, which
// holds the slot in the core's scheduler), the abort signal, option checks,
// stats and the end.

import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { performance } from "node:perf_hooks";
import {
  Opcode, TftpError, WireError, scheduler, wasmCodec, type DeadlineOwner, type Scheduler, type TftpErrorCode,
} from "@tftpkit/wasm-core";
import { TftpTransferError } from "./errors.js";
import { toLossInjector, type LossInjector } from "./loss.js";
import type { ResolvedTransferOptions } from "./options.js";
import type { TransferOutcome, TransferStats } from "./stats.js";

export const codec = wasmCodec;

/** A resolved server address. */
export interface Target {
  host: string;
  address: string;
  port: number;
  family: 4 | 6;
}

/** The options a request asks for, as (name, value) strings. */
export function askedOptions(o: ResolvedTransferOptions, tsize: number): Record<string, string> {
  const asked: Record<string, string> = {};
  if (o.blksize > 0) asked.blksize = String(o.blksize);
  if (tsize >= 0) asked.tsize = String(tsize);
  if (o.timeoutOption > 0) asked.timeout = String(o.timeoutOption);
  if (o.windowsize > 0) asked.windowsize = String(o.windowsize);
  return asked;
}

export interface Granted {
  blksize: number;
  windowsize: number;
  tsize: number;
  timeout: number;
}

/**
 * Checks an OACK against what was asked (RFC 2347: a server may only answer
 * options the client asked, blksize and windowsize no larger than asked, and
 * timeout as asked). Returns what was granted, or an error message.
 */
export function checkOack(options: Array<[string, string]>, asked: Record<string, string>): Granted | string {
  const g: Granted = { blksize: 512, windowsize: 1, tsize: -1, timeout: -1 };
  for (const [name, value] of options) {
    const want = asked[name];
    if (want === undefined) return `option ${name} was not asked`;
    if (!/^\d{1,10}$/.test(value)) return `option ${name} has a bad value ${JSON.stringify(value)}`;
    const v = Number(value);
    switch (name) {
      case "blksize":
        if (v < 8 || v > Number(want)) return `blksize ${v} outside 8..${want}`;
        g.blksize = v;
        break;
      case "windowsize":
        if (v < 1 || v > Number(want)) return `windowsize ${v} outside 1..${want}`;
        g.windowsize = v;
        break;
      case "timeout":
        if (v !== Number(want)) return `timeout ${v} differs from the ${want} asked`;
        g.timeout = v;
        break;
      case "tsize":
        g.tsize = v;
        break;
    }
  }
  return g;
}

function closeSocket(s: Socket): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}

type Phase = "request" | "transfer" | "dally" | "done";

/** What a transfer needs of its sender or receiver: its counters, the dally and the end. */
interface Flow {
  readonly slot: number;
  readonly wireBytes: number;
  readonly blocks: number;
  readonly retransmits: number;
  readonly duplicates: number;
  readonly gaps: number;
  dally(ms: number): void;
  close(): void;
}

export abstract class Transfer implements DeadlineOwner {
  protected readonly s: Scheduler = scheduler();
  protected readonly socket: Socket;
  protected abstract readonly flow: Flow;
  protected phase: Phase = "request";
  protected readonly loss: LossInjector | undefined;
  protected peerPort = 0;
  /** The socket is connected to the server's transfer port (opts.connect). */
  private connected = false;
  /** While connecting: the packets to send once connected. */
  private pending: Buffer[] | undefined;
  /** The request went out more than once: a slow server may answer each copy. */
  protected requestResent = false;
  private localPort = 0;
  private readonly t0 = performance.now();
  private readonly startedAt = Date.now();
  private resolveRun!: (stats: TransferStats) => void;
  private rejectRun!: (err: TftpTransferError) => void;
  readonly done: Promise<TransferStats>;
  // stats
  protected packetsSent = 0;
  protected packetsReceived = 0;
  protected timeouts = 0;
  protected optionsAsked: Record<string, string> = {};
  protected optionsAcked: Record<string, string> = {};
  protected blksize = 512;
  protected windowsize = 1;
  protected tsize = -1;
  private durationMs = -1;
  protected settled = false;

  constructor(
    protected readonly kind: "get" | "put",
    protected readonly target: Target,
    protected readonly remote: string,
    protected readonly o: ResolvedTransferOptions,
  ) {
    this.loss = toLossInjector(o.loss);
    this.done = new Promise((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
    });
    this.socket = createSocket({ type: target.family === 6 ? "udp6" : "udp4" });
    this.socket.on("message", this.onMessage);
    this.socket.once("listening", () => {
      this.localPort = this.socket.address().port;
    });
    this.socket.on("error", this.onSocketError);
    if (o.localAddress) this.socket.bind({ port: 0, address: o.localAddress });
    if (o.signal) {
      if (o.signal.aborted) queueMicrotask(() => this.abort());
      else o.signal.addEventListener("abort", this.abort, { once: true });
    }
  }

  /** Local bytes moved: read from the put's source, or handed to the get's sink. */
  protected abstract localBytes(): number;

  /** Called for each packet from the server's transfer port. */
  protected abstract onPacket(msg: Buffer): void;
  /** The flow's deadline passed while the transfer runs. */
  protected abstract deadlinePassed(): void;

  onDeadline(): void {
    if (this.phase === "dally") return this.close(this.requestResent ? this.lingerMs() : 0);
    if (this.phase === "request" || this.phase === "transfer") this.deadlinePassed();
  }

  /**
   * Whether a packet can be the server's first answer (its port becomes the
   * transfer ID). Anything else is stale: a server still sending to a port
   * that an earlier, finished transfer had (ports are reused).
   */
  protected abstract opensTransfer(msg: Buffer): boolean;

  /**
   * Whether injected loss drops this packet from the server. Decided before
   * anything else looks at it, so a dropped packet leaves no trace: the
   * server's transfer ID is never learned from a packet the network "lost".
   */
  protected abstract dropsIncoming(msg: Buffer): boolean;

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (rinfo.address !== this.target.address) return; // not the server we asked
    if (this.phase === "done") {
      // Lingering after a failure: whoever still sends here is told the transfer is gone.
      this.reply(codec.encodeError(WireError.UNKNOWN_TID, "Unknown transfer ID"), rinfo.port);
      return;
    }
    if (this.loss !== undefined && this.dropsIncoming(msg)) return;
    if (this.peerPort !== rinfo.port) {
      if (this.peerPort === 0 && this.phase === "request" && this.opensTransfer(msg)) {
        this.peerPort = rinfo.port; // the server's transfer ID
        if (this.o.connect) this.connectPeer();
      } else {
        // RFC 1350: a packet from another port gets ERROR 5; the transfer carries on.
        this.reply(codec.encodeError(WireError.UNKNOWN_TID, "Unknown transfer ID"), rinfo.port);
        return;
      }
    }
    this.packetsReceived++;
    this.onPacket(msg);
  };

  /**
   * Connects the socket to the server's transfer port (opts.connect): a send
   * then skips Node's per-send address lookup and the kernel's route lookup,
   * and the kernel delivers nothing from other ports. Node connects a tick
   * later; an addressed send still waiting for its lookup when the connect
   * lands would be refused (EISCONN) and lost, so until then this side's
   * packets wait here (copied: the ACK buffer is reused) and go out once
   * connected. Sends made before this call are already ahead in Node's queue.
   */
  private connectPeer(): void {
    this.pending = [];
    this.socket.connect(this.peerPort, this.target.address, (err?: Error) => {
      const queued = this.pending ?? [];
      this.pending = undefined;
      if (!err) this.connected = true;
      for (const b of queued) this.transmit(b, 0, b.length);
    });
  }

  private readonly onSocketError = (err: NodeJS.ErrnoException): void => {
    if (this.connected && err.code === "ECONNREFUSED") {
      // ICMP port unreachable on the connected socket: the server's transfer port is gone.
      // After the transfer (a late resend of ours met a closed port) that is no failure.
      if (this.phase !== "request" && this.phase !== "transfer") return;
      return this.fail(new TftpTransferError(WireError.UNDEFINED, "the server's transfer port is closed (ICMP port unreachable)", false, undefined, { cause: err }));
    }
    this.fail(new TftpTransferError(WireError.UNDEFINED, `socket error: ${err.message}`, false, undefined, { cause: err }));
  };

  /** Sends a packet to the server's address at `port` (an ERROR to a stale or lingering peer). */
  private reply(buf: Uint8Array, port: number): void {
    if (this.connected || this.pending) {
      if (port === this.peerPort) this.sendRaw(buf, 0, buf.length);
      return; // connected: the kernel took no packet from another port; connecting: dropped
    }
    this.socket.send(buf, port, this.target.address);
  }

  /** Sends bytes to the server's transfer port (or the request port before it answered). */
  protected sendRaw(buf: Uint8Array, offset: number, length: number): void {
    this.packetsSent++;
    if (this.pending) this.pending.push(Buffer.from(buf.subarray(offset, offset + length)));
    else this.transmit(buf, offset, length);
  }

  private transmit(buf: Uint8Array, offset: number, length: number): void {
    if (!this.connected) this.socket.send(buf, offset, length, this.peerPort || this.target.port, this.target.address);
    // The whole buffer as it is: no slice, no lookup.
    else if (offset === 0 && length === buf.length) this.socket.send(buf);
    else this.socket.send(buf, offset, length);
  }

  /** The flow's link: sends, unless injected loss drops this kind of packet. */
  protected readonly send = (buf: Uint8Array, offset: number, length: number): void => {
    if (this.loss && this.dropsOutgoing(buf[offset + 1])) return;
    this.sendRaw(buf, offset, length);
  };

  /** Whether injected loss drops an outgoing packet of this opcode. */
  protected abstract dropsOutgoing(opcode: number): boolean;

  /** The flow stopped on an error of this side (the source, the sink, a bad packet, the buffers). */
  protected readonly flowFailed = (err: unknown): void => {
    if (err instanceof TftpError) return this.failWithError(err.wireCode, err.message, err.code);
    this.failWithError(WireError.UNDEFINED, (err as Error).message ?? String(err), "TFTP_ERR_UNDEFINED");
  };

  /** Sends an ERROR to the server (when it has answered) and fails with `err`. */
  protected failWithError(wireCode: number, message: string, code?: TftpErrorCode): void {
    if (this.peerPort !== 0 && this.phase !== "done") {
      const e = codec.encodeError(wireCode, message);
      this.sendRaw(e, 0, e.length);
    }
    this.fail(new TftpTransferError(wireCode, message, false, code));
  }

  private readonly abort = (): void => {
    if (this.settled) return;
    this.failWithError(WireError.UNDEFINED, "Transfer aborted", "TFTP_ERR_ABORTED");
  };

  protected fail(err: TftpTransferError): void {
    if (this.settled) return;
    this.settled = true;
    // After a local failure the server may still send (a late OACK, a resent
    // block): keep the port a while, answering ERROR 5, so that it ends there
    // and no new transfer on a reused port takes its packets for its own.
    this.close(err.remote && !this.requestResent ? 0 : this.lingerMs());
    err.stats = this.stats(this.outcomeOf(err), err);
    this.rejectRun(err);
  }

  private outcomeOf(err: TftpTransferError): TransferOutcome {
    if (err.remote) return "remote-error";
    if (err.code === "TFTP_ERR_TIMEOUT") return "timeout";
    if (err.code === "TFTP_ERR_ABORTED") return "aborted";
    return "error";
  }

  /**
   * How long a port lingers after the end: long enough for a server that got
   * several copies of the request (servers that fork per request answer each
   * copy, from its own port) or that still resends, to be told ERROR 5.
   */
  protected lingerMs(): number {
    return Math.min((this.o.retries + 1) * this.o.timeoutMs, 30_000);
  }

  /** The transfer is complete: resolve now; keep the socket `dallyMs` longer if asked (or longer if the request was resent). */
  protected succeed(): void {
    this.durationMs = performance.now() - this.t0;
    if (this.o.dallyMs > 0 && this.flow.slot >= 0) {
      this.phase = "dally";
      this.socket.unref(); // the transfer is complete: the dally does not hold the process
      this.flow.dally(this.o.dallyMs);
    } else {
      this.close(this.requestResent ? this.lingerMs() : 0);
    }
    this.o.signal?.removeEventListener("abort", this.abort);
  }

  protected resolveWith(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveRun(this.stats("ok"));
  }

  protected close(lingerMs = 0): void {
    if (this.phase === "done") return;
    this.phase = "done";
    this.flow.close();
    if (lingerMs > 0) {
      this.socket.unref();
      setTimeout(closeSocket, lingerMs, this.socket).unref();
    }
    // Not at once: a send just made still waits for its (immediate) address lookup.
    else setImmediate(closeSocket, this.socket);
    this.o.signal?.removeEventListener("abort", this.abort);
  }

  protected timeoutError(): TftpTransferError {
    return new TftpTransferError(WireError.UNDEFINED, "Transfer timed out", false, "TFTP_ERR_TIMEOUT");
  }

  /** The server sent an ERROR: the transfer fails with its code and message. */
  protected onRemoteError(msg: Buffer): void {
    const p = codec.decode(msg);
    if (p.opcode === Opcode.ERROR) this.fail(this.remoteError(p.code, p.message));
    else this.fail(this.remoteError(WireError.UNDEFINED, "malformed ERROR packet"));
  }

  protected remoteError(code: number, message: string): TftpTransferError {
    return new TftpTransferError(code, message, true, code === WireError.UNDEFINED ? "TFTP_ERR_REMOTE" : undefined);
  }

  stats(outcome: TransferOutcome, err?: TftpTransferError): TransferStats {
    const s: TransferStats = {
      kind: this.kind,
      remote: this.remote,
      mode: this.o.mode,
      host: this.target.address,
      port: this.target.port,
      peerPort: this.peerPort,
      localPort: this.localPort,
      bytes: this.localBytes(),
      wireBytes: this.flow.wireBytes,
      blocks: this.flow.blocks,
      packetsSent: this.packetsSent,
      packetsReceived: this.packetsReceived,
      retransmits: this.flow.retransmits,
      timeouts: this.timeouts,
      duplicates: this.flow.duplicates,
      gaps: this.flow.gaps,
      dataDropped: this.loss?.dataDropped ?? 0,
      acksDropped: this.loss?.acksDropped ?? 0,
      optionsAsked: this.optionsAsked,
      optionsAcked: this.optionsAcked,
      blksize: this.blksize,
      windowsize: this.windowsize,
      tsize: this.tsize,
      startedAt: this.startedAt,
      durationMs: this.durationMs >= 0 ? this.durationMs : performance.now() - this.t0,
      outcome,
    };
    if (err) s.error = { code: err.code, wireCode: err.wireCode, message: err.message };
    return s;
  }
}
