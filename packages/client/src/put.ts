// A put (WRQ): this side sends. The core's tx slot treats the request as
// block 0, acknowledged by ACK 0 or by an OACK; then it says how many blocks
// of the window may go now (txSendable from txNext), moves the base on each
// cumulative ACK, goes back to the block after the one ACKed on a gap, and
// back to the base on a timeout. Duplicate ACKs change nothing (no Sorcerer's
// Apprentice resends).
//
// Ring: `slots` packet buffers of 4 + blksize bytes. Block b (absolute, from
// 1) lives in slot b % slots; blocks [base, filledTo) hold data, so a resend
// never reads the source again.
//
//   WRQ  | 02 | filename | 0 | mode | 0 | opt | 0 | value | 0 | ...
//   DATA | 03 | block (2) | 0..blksize bytes
//   ACK  | 04 | block (2) |      (ACK 0 or an OACK answers the WRQ)

import { Ack, Opcode, Timeout, WireError } from "@tftpkit/wasm-core";
import type { ResolvedTransferOptions } from "./options.js";
import type { Chunker } from "./source.js";
import { askedOptions, checkOack, codec, Transfer, type Target } from "./transfer.js";

const RING_MIN_SLOTS = 8;

export class PutTransfer extends Transfer {
  private readonly request: Uint8Array;
  private requestSent = false;
  private ring: Buffer = Buffer.alloc(0);
  private lens: Int32Array = new Int32Array(0);
  private slots = 0;
  private stride = 0;
  private filledTo = 1;
  private partial = 0;
  private filling = false;
  private last = -1;
  private highestSent = 0;

  constructor(target: Target, remote: string, o: ResolvedTransferOptions, private readonly chunker: Chunker, size: number) {
    super("put", target, remote, o);
    const tsize = o.tsize && size >= 0 ? size : -1;
    this.tsize = tsize;
    this.optionsAsked = askedOptions(o, tsize);
    this.request = codec.encodeRequest({
      opcode: Opcode.WRQ,
      filename: remote,
      mode: o.mode,
      blksize: o.blksize > 0 ? o.blksize : undefined,
      tsize: tsize >= 0 ? tsize : undefined,
      timeout: o.timeoutOption > 0 ? o.timeoutOption : undefined,
      windowsize: o.windowsize > 0 ? o.windowsize : undefined,
    });
  }

  start(): Promise<unknown> {
    this.slot = this.s.txOpen(this, 1, this.o.timeoutMs, this.o.retries, true);
    if (this.slot < 0) {
      this.failWithError(WireError.UNDEFINED, "client session table full", "TFTP_ERR_CORE");
      return this.done;
    }
    this.adaptRto();
    this.pump();
    return this.done;
  }

  /** Sends whatever the scheduler allows and the ring holds. */
  private pump(): void {
    if (this.phase === "done") return;
    const s = this.s;
    const slot = this.slot;
    let can = s.txSendable(slot);
    if (can === 0) return;
    let n = s.txNext(slot);
    if (n === 0) {
      if (this.requestSent) {
        this.retransmits++;
        this.requestResent = true;
      }
      this.requestSent = true;
      this.sendRaw(this.request, 0, this.request.length);
      s.txSent(slot, 1);
      return;
    }
    let sent = 0;
    const ring = this.ring;
    while (can > 0 && n < this.filledTo) {
      const i = n % this.slots;
      const off = i * this.stride;
      ring[off + 2] = (n >>> 8) & 0xff;
      ring[off + 3] = n & 0xff;
      const len = this.lens[i];
      if (!this.loss?.dropData()) this.sendRaw(ring, off, len + 4);
      if (n <= this.highestSent) this.retransmits++;
      else {
        this.highestSent = n;
        this.wireBytes += len;
        this.blocks++;
      }
      n++;
      can--;
      sent++;
    }
    if (sent > 0) s.txSent(slot, sent);
    if (!this.filling) this.fill();
  }

  /** Copies source bytes into free ring slots; waits for the source only when its chunk is used up. */
  private fill(): void {
    if (this.phase !== "transfer" || this.filling) return;
    const base = Math.max(this.s.txBase(this.slot), 1);
    let end = base + this.slots;
    if (this.last > 0) end = Math.min(end, this.last + 1);
    const c = this.chunker;
    let grew = false;
    while (this.filledTo < end) {
      const b = this.filledTo;
      const i = b % this.slots;
      const at = i * this.stride + 4;
      while (this.partial < this.blksize) {
        if (c.available() > 0) {
          this.partial += c.take(this.ring, at + this.partial, this.blksize - this.partial);
        } else if (c.ended) {
          break;
        } else {
          this.filling = true;
          c.pull().then(
            () => {
              this.filling = false;
              this.fill();
              this.pump();
            },
            (err: Error) => {
              this.filling = false;
              this.failWithError(WireError.UNDEFINED, `cannot read the source: ${err.message}`, "TFTP_ERR_UNDEFINED");
            },
          );
          if (grew) this.pump();
          return;
        }
      }
      this.lens[i] = this.partial;
      this.filledTo = b + 1;
      grew = true;
      if (this.partial < this.blksize) {
        // A short (maybe empty) block: the end of the data.
        this.last = b;
        this.s.txSetLast(this.slot, b);
        this.partial = 0;
        break;
      }
      this.partial = 0;
    }
  }

  /** A WRQ is answered by ACK 0, an OACK or an ERROR. */
  protected opensTransfer(msg: Buffer): boolean {
    if (msg.length < 4 || msg[0] !== 0) return false;
    const op = msg[1];
    return op === Opcode.OACK || op === Opcode.ERROR || (op === Opcode.ACK && msg[2] === 0 && msg[3] === 0);
  }

  /** Injected loss takes ACKs and the OACK (the server's side of a put). */
  protected dropsIncoming(msg: Buffer): boolean {
    if (msg.length < 2 || msg[0] !== 0 || (msg[1] !== Opcode.ACK && msg[1] !== Opcode.OACK)) return false;
    return this.loss!.dropAck();
  }

  protected onPacket(msg: Buffer): void {
    if (msg.length < 4 || msg[0] !== 0) return;
    switch (msg[1]) {
      case Opcode.ACK:
        return this.onAck((msg[2] << 8) | msg[3]);
      case Opcode.OACK:
        return this.onOack(msg);
      case Opcode.ERROR:
        return this.onRemoteError(msg);
      default:
        return this.failWithError(WireError.ILLEGAL_OPERATION, "Illegal TFTP operation: expected ACK", "TFTP_ERR_ILLEGAL_OPERATION");
    }
  }

  private onAck(block: number): void {
    const s = this.s;
    if (this.phase === "request") {
      if (block !== 0) return;
      // ACK 0 without an OACK: the server took none of the options.
      s.txOnAck(this.slot, 0);
      return this.begin();
    }
    if (this.phase !== "transfer") return;
    const r = s.txOnAck(this.slot, block);
    if (r === Ack.DONE) return this.complete();
    if (r === Ack.ADVANCED || r === Ack.GAP) {
      if (r === Ack.GAP) this.gaps++;
      this.fill();
      this.pump();
    } else if (r === Ack.DUPLICATE) {
      this.duplicates++;
    }
  }

  private onOack(msg: Buffer): void {
    if (this.phase !== "request") return; // a resent OACK: our first block answers it
    const p = codec.decode(msg);
    if (p.opcode !== Opcode.OACK) return this.failWithError(WireError.ILLEGAL_OPERATION, "malformed OACK", "TFTP_ERR_MALFORMED");
    const g = checkOack(p.options, this.optionsAsked);
    if (typeof g === "string") return this.failWithError(WireError.OPTION_REFUSED, `Bad OACK: ${g}`, "TFTP_ERR_OPTION_REFUSED");
    this.optionsAcked = Object.fromEntries(p.options);
    this.blksize = g.blksize;
    this.windowsize = g.windowsize;
    this.s.txOnAck(this.slot, 0);
    if (g.windowsize !== 1) this.s.txSetWindow(this.slot, g.windowsize);
    this.begin();
  }

  /** Options settled: size the ring and send the first window. */
  private begin(): void {
    this.phase = "transfer";
    this.slots = Math.max(2 * this.windowsize, RING_MIN_SLOTS);
    this.stride = this.blksize + 4;
    this.ring = Buffer.allocUnsafe(this.slots * this.stride);
    this.lens = new Int32Array(this.slots);
    for (let i = 0; i < this.slots; i++) {
      this.ring[i * this.stride] = 0;
      this.ring[i * this.stride + 1] = Opcode.DATA;
    }
    this.fill();
    this.pump();
  }

  onDeadline(): void {
    if (this.phase !== "request" && this.phase !== "transfer") return;
    this.timeouts++;
    if (this.s.txOnTimeout(this.slot) === Timeout.GIVE_UP) {
      return this.failWithError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT");
    }
    this.pump();
  }

  private complete(): void {
    this.bytes = this.chunker.bytesIn;
    this.chunker.close();
    this.succeed();
    this.resolveWith();
  }

  protected override fail(err: Parameters<Transfer["fail"]>[0]): void {
    if (this.settled) return;
    this.bytes = this.chunker.bytesIn;
    this.chunker.close();
    super.fail(err);
  }
}
