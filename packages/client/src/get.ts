// A get (RRQ): this side receives. The core's rx slot decides, for each DATA
// block, whether it is the next one in order, a duplicate or past a gap, and
// when to ACK: at the end of each window, at the last (short) block, once
// per gap with the last in-order block (RFC 7440), once per run of
// duplicates. Its deadline resends the request or the last ACK.
//
//   RRQ   | 01 | filename | 0 | mode | 0 | opt | 0 | value | 0 | ...
//   DATA  | 03 | block (2) | 0..blksize bytes      (short block = the last)
//   ACK   | 04 | block (2) |
//   OACK  | 06 | opt | 0 | value | 0 | ...          (answered with ACK 0)
//   ERROR | 05 | code (2) | message | 0 |

import { NetasciiDecoder, Opcode, Rx, Timeout, WireError } from "@tftpkit/wasm-core";
import { TftpTransferError } from "./errors.js";
import type { ResolvedTransferOptions } from "./options.js";
import type { Sink } from "./sink.js";
import { askedOptions, checkOack, codec, Transfer, type Target } from "./transfer.js";

export class GetTransfer extends Transfer {
  private readonly request: Uint8Array;
  /** One ACK packet, its block number rewritten for each send. */
  private readonly ackBuf = Buffer.from([0, Opcode.ACK, 0, 0]);
  private gotData = false;
  private paused = false;
  private pendingAck = false;
  private lastBlock = -1;
  private dupsSinceAck = 0;
  private readonly decoder: NetasciiDecoder | undefined;

  constructor(target: Target, remote: string, o: ResolvedTransferOptions, private readonly sink: Sink) {
    super("get", target, remote, o);
    this.optionsAsked = askedOptions(o, o.tsize ? 0 : -1);
    this.request = codec.encodeRequest({
      opcode: Opcode.RRQ,
      filename: remote,
      mode: o.mode,
      blksize: o.blksize > 0 ? o.blksize : undefined,
      tsize: o.tsize ? 0 : undefined,
      timeout: o.timeoutOption > 0 ? o.timeoutOption : undefined,
      windowsize: o.windowsize > 0 ? o.windowsize : undefined,
    });
    if (o.mode === "netascii") this.decoder = new NetasciiDecoder(codec);
  }

  start(): Promise<unknown> {
    // Until the server answers options, the window is 1 (RFC 1350 lock-step).
    this.slot = this.s.rxOpen(this, 1, this.o.timeoutMs, this.o.retries);
    if (this.slot < 0) {
      this.fail(new TftpTransferError(WireError.UNDEFINED, "client session table full", false, "TFTP_ERR_CORE"));
      return this.done;
    }
    this.adaptRto();
    this.sendRaw(this.request, 0, this.request.length);
    this.s.touch(this.slot);
    return this.done;
  }

  /** An RRQ is answered by an OACK, DATA block 1 or an ERROR. */
  protected opensTransfer(msg: Buffer): boolean {
    if (msg.length < 4 || msg[0] !== 0) return false;
    const op = msg[1];
    return op === Opcode.OACK || op === Opcode.ERROR || (op === Opcode.DATA && msg[2] === 0 && msg[3] === 1);
  }

  /** Injected loss takes DATA and the OACK (the server's side of a get) while the transfer runs. */
  protected dropsIncoming(msg: Buffer): boolean {
    if (this.phase !== "request" && this.phase !== "transfer") return false;
    if (msg.length < 2 || msg[0] !== 0 || (msg[1] !== Opcode.DATA && msg[1] !== Opcode.OACK)) return false;
    return this.loss!.dropData();
  }

  protected onPacket(msg: Buffer): void {
    if (msg.length < 4 || msg[0] !== 0) return;
    switch (msg[1]) {
      case Opcode.DATA:
        return this.onData(msg);
      case Opcode.OACK:
        return this.onOack(msg);
      case Opcode.ERROR:
        return this.onRemoteError(msg);
      default:
        // A get never expects RRQ/WRQ/ACK from the server.
        return this.failWithError(WireError.ILLEGAL_OPERATION, "Illegal TFTP operation: expected DATA", "TFTP_ERR_ILLEGAL_OPERATION");
    }
  }

  private onData(msg: Buffer): void {
    const block = (msg[2] << 8) | msg[3];
    if (this.phase === "dally") {
      // The server did not get the last ACK: ACK its last block again.
      if (block === this.lastBlock) {
        this.retransmits++;
        this.sendAck(block);
      }
      return;
    }
    if (this.phase === "request") {
      // DATA without an OACK: the server took none of the options.
      this.phase = "transfer";
    }
    const len = msg.length - 4;
    if (len > this.blksize) {
      return this.failWithError(WireError.ILLEGAL_OPERATION, `DATA of ${len} bytes exceeds blksize ${this.blksize}`, "TFTP_ERR_ILLEGAL_OPERATION");
    }
    const r = this.s.rxOnData(this.slot, block, len, this.blksize);
    if (r < 0) return;
    if (r & Rx.DELIVER) {
      this.gotData = true;
      this.blocks++;
      this.wireBytes += len;
      if (len > 0) {
        const payload = msg.subarray(4);
        const chunk = this.decoder ? this.decoder.push(payload) : payload;
        this.bytes += chunk.length;
        try {
          if (!this.sink.write(chunk) && !this.paused) {
            this.paused = true;
            this.sink.onDrain(this.resume);
          }
        } catch (err) {
          return this.failWithError(WireError.DISK_FULL, `cannot write: ${(err as Error).message}`, "TFTP_ERR_DISK_FULL");
        }
      }
    }
    let ackNow = (r & Rx.ACK) !== 0;
    if (r & Rx.DUPLICATE) {
      this.duplicates++;
      // The core re-ACKs the first duplicate of a run. If that ACK is lost too,
      // the sender resends its window again: re-ACK once per window's worth of
      // duplicates (every duplicate in lock-step, as RFC 1350 receivers do), so
      // recovery does not wait for this side's own deadline.
      if (++this.dupsSinceAck >= this.windowsize) ackNow = true;
    }
    if (r & Rx.GAP) this.gaps++;
    if (r & Rx.DONE) {
      this.ackNow();
      this.lastBlock = block;
      return this.complete();
    }
    if (ackNow) {
      if (r & Rx.DUPLICATE) this.retransmits++;
      if (this.paused) this.pendingAck = true;
      else this.ackNow();
    }
  }

  private readonly resume = (): void => {
    this.paused = false;
    if (this.pendingAck && this.phase === "transfer") {
      this.pendingAck = false;
      this.ackNow();
    }
  };

  private onOack(msg: Buffer): void {
    if (this.phase !== "request") {
      // The server resent its OACK: our ACK 0 was lost.
      if (this.phase === "transfer" && !this.gotData) {
        this.retransmits++;
        this.ackNow();
      }
      return;
    }
    const p = codec.decode(msg);
    if (p.opcode !== Opcode.OACK) {
      return this.failWithError(WireError.ILLEGAL_OPERATION, "malformed OACK", "TFTP_ERR_MALFORMED");
    }
    const g = checkOack(p.options, this.optionsAsked);
    if (typeof g === "string") return this.failWithError(WireError.OPTION_REFUSED, `Bad OACK: ${g}`, "TFTP_ERR_OPTION_REFUSED");
    this.optionsAcked = Object.fromEntries(p.options);
    this.blksize = g.blksize;
    this.windowsize = g.windowsize;
    this.tsize = g.tsize;
    if (g.windowsize !== 1) {
      this.s.close(this.slot);
      this.slot = this.s.rxOpen(this, g.windowsize, this.o.timeoutMs, this.o.retries);
      if (this.slot < 0) return this.failWithError(WireError.UNDEFINED, "client session table full", "TFTP_ERR_CORE");
      this.adaptRto();
    }
    this.phase = "transfer";
    this.ackNow(); // ACK 0
  }

  /** ACKs the last in-order block and restarts the window and deadline. */
  private ackNow(): void {
    this.dupsSinceAck = 0;
    this.sendAck(this.s.rxAckBlock(this.slot));
    this.s.rxAcked(this.slot);
  }

  private sendAck(block: number): void {
    if (this.loss?.dropAck()) return;
    this.ackBuf[2] = block >>> 8;
    this.ackBuf[3] = block & 0xff;
    this.sendRaw(this.ackBuf, 0, 4);
  }

  onDeadline(): void {
    if (this.phase === "dally") return this.close(this.requestResent ? this.lingerMs() : 0);
    if (this.phase !== "request" && this.phase !== "transfer") return;
    if (this.paused) {
      // The consumer holds the transfer back: wait without counting a retry.
      this.s.touch(this.slot);
      return;
    }
    this.timeouts++;
    if (this.s.rxOnTimeout(this.slot) === Timeout.GIVE_UP) {
      return this.failWithError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT");
    }
    this.retransmits++;
    if (this.phase === "request") {
      this.requestResent = true;
      this.sendRaw(this.request, 0, this.request.length);
      this.s.touch(this.slot);
    } else {
      this.ackNow();
    }
  }

  private complete(): void {
    if (this.decoder) {
      const tail = this.decoder.end();
      if (tail.length > 0) {
        this.bytes += tail.length;
        this.sink.write(tail);
      }
    }
    this.succeed();
    this.sink.end().then(
      () => this.resolveWith(),
      (err: Error) => this.fail(new TftpTransferError(WireError.DISK_FULL, `cannot write: ${err.message}`, false, "TFTP_ERR_DISK_FULL", { cause: err })),
    );
  }

  protected override fail(err: TftpTransferError): void {
    if (this.settled) return;
    this.sink.destroy(err);
    super.fail(err);
  }
}
