// A put (WRQ): this side sends, through the one windowed sender (BlockSender,
// shared with the server's read sessions). The request is its block 0,
// acknowledged by ACK 0 or by an OACK; then it sends each window, moves on
// with each cumulative ACK, goes back to the block after the one ACKed on a
// gap, and back to the base on a timeout. Duplicate ACKs change nothing (no
// Sorcerer's Apprentice resends).
//
//   WRQ  | 02 | filename | 0 | mode | 0 | opt | 0 | value | 0 | ...
//   DATA | 03 | block (2) | 0..blksize bytes
//   ACK  | 04 | block (2) |      (ACK 0 or an OACK answers the WRQ)

import { BlockSender, Opcode, WireError } from "@tftpkit/wasm-core";
import type { ResolvedTransferOptions } from "./options.js";
import type { Chunker } from "./put-body.js";
import { askedOptions, checkOack, codec, Transfer, type Target } from "./transfer.js";

export class PutTransfer extends Transfer {
  protected readonly flow: BlockSender;

  constructor(target: Target, remote: string, o: ResolvedTransferOptions, private readonly chunker: Chunker, size: number) {
    super("put", target, remote, o);
    const tsize = o.tsize && size >= 0 ? size : -1;
    this.tsize = tsize;
    this.optionsAsked = askedOptions(o, tsize);
    const request = codec.encodeRequest({
      opcode: Opcode.WRQ,
      filename: remote,
      mode: o.mode,
      blksize: o.blksize > 0 ? o.blksize : undefined,
      tsize: tsize >= 0 ? tsize : undefined,
      timeout: o.timeoutOption > 0 ? o.timeoutOption : undefined,
      windowsize: o.windowsize > 0 ? o.windowsize : undefined,
    });
    // Until the server answers options: blksize 512, lock-step (RFC 1350).
    // Unless the user set a timeout, the retransmission timeout adapts to the round trip (rtoFloorMs > 0).
    this.flow = new BlockSender(this.s, this, {
      send: this.send,
      failed: (err) => this.failWithError(WireError.UNDEFINED, `cannot read the source: ${(err as Error).message}`, "TFTP_ERR_UNDEFINED"),
    }, chunker, { blksize: 512, windowsize: 1, timeoutMs: o.timeoutMs, retries: o.retries, first: request, rtoFloorMs: o.rtoFloorMs });
  }

  start(): Promise<unknown> {
    if (!this.flow.start()) this.failWithError(WireError.UNDEFINED, "client session table full", "TFTP_ERR_CORE");
    return this.done;
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

  /** ... and the DATA this side sends. */
  protected dropsOutgoing(opcode: number): boolean {
    return opcode === Opcode.DATA && this.loss!.dropData();
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
    if (this.phase === "request") {
      if (block !== 0) return;
      // ACK 0 without an OACK: the server took none of the options.
      this.phase = "transfer";
    } else if (this.phase !== "transfer") return;
    if (this.flow.onAck(block) === "done") this.complete();
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
    this.flow.reshape(g.blksize, g.windowsize);
    this.phase = "transfer";
    this.flow.onAck(0);
  }

  protected deadlinePassed(): void {
    this.timeouts++;
    const verdict = this.flow.onTimeout();
    if (verdict !== "retransmit") return this.failWithError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT");
    if (this.phase === "request") this.requestResent = true;
  }

  private complete(): void {
    this.chunker.close();
    this.succeed();
    this.resolveWith();
  }

  protected override fail(err: Parameters<Transfer["fail"]>[0]): void {
    if (this.settled) return;
    this.chunker.close();
    super.fail(err);
  }

  protected localBytes(): number {
    return this.chunker.bytesIn;
  }
}
