// A get (RRQ): this side receives, through the one windowed receiver
// (BlockReceiver, shared with the server's write sessions). It decides, for
// each DATA block, whether it is the next one in order, a duplicate or past
// a gap, and when to ACK: at the end of each window, at the last (short)
// block, once per gap with the last in-order block (RFC 7440), once per
// window's worth of duplicates. Its deadline resends the request or the last
// ACK. A sink that asks to wait holds the next ACK back.
//
//   RRQ   | 01 | filename | 0 | mode | 0 | opt | 0 | value | 0 | ...
//   DATA  | 03 | block (2) | 0..blksize bytes      (short block = the last)
//   ACK   | 04 | block (2) |
//   OACK  | 06 | opt | 0 | value | 0 | ...          (answered with ACK 0)
//   ERROR | 05 | code (2) | message | 0 |

import { BlockReceiver, Opcode, WireError } from "@tftpkit/wasm-core";
import { TftpTransferError } from "./errors.js";
import type { ResolvedTransferOptions } from "./options.js";
import type { Sink } from "./sink.js";
import { askedOptions, checkOack, codec, Transfer, type Target } from "./transfer.js";

export class GetTransfer extends Transfer {
  private readonly request: Uint8Array;
  protected readonly flow: BlockReceiver;

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
    const consumer = {
      write: (chunk: Uint8Array): void | Promise<void> => {
        try {
          if (!sink.write(chunk)) return new Promise<void>((resolve) => sink.onDrain(resolve));
        } catch (err) {
          throw new TftpTransferError(WireError.DISK_FULL, `cannot write: ${(err as Error).message}`, false, "TFTP_ERR_DISK_FULL");
        }
      },
    };
    // Until the server answers options: blksize 512, lock-step (RFC 1350).
    // Unless the user set a timeout, the retransmission timeout adapts to the round trip (rtoFloorMs > 0).
    this.flow = new BlockReceiver(this.s, this, {
      send: this.send,
      failed: this.flowFailed,
      received: () => this.complete(),
    }, consumer, { blksize: 512, windowsize: 1, timeoutMs: o.timeoutMs, retries: o.retries, netascii: o.mode === "netascii", rtoFloorMs: o.rtoFloorMs });
  }

  start(): Promise<unknown> {
    if (!this.flow.start(this.request)) {
      this.fail(new TftpTransferError(WireError.UNDEFINED, "client session table full", false, "TFTP_ERR_CORE"));
    }
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

  /** ... and the ACKs this side sends. */
  protected dropsOutgoing(opcode: number): boolean {
    return opcode === Opcode.ACK && this.loss!.dropAck();
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
    // DATA without an OACK: the server took none of the options.
    if (this.phase === "request") this.phase = "transfer";
    this.flow.onData((msg[2] << 8) | msg[3], msg.subarray(4));
  }

  private onOack(msg: Buffer): void {
    if (this.phase !== "request") {
      // The server resent its OACK: our ACK 0 was lost.
      if (this.phase === "transfer" && !this.flow.started) this.flow.reack();
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
    if (!this.flow.reshape(g.blksize, g.windowsize)) {
      return this.failWithError(WireError.UNDEFINED, "client session table full", "TFTP_ERR_CORE");
    }
    this.phase = "transfer";
    this.flow.ack(); // ACK 0
  }

  protected deadlinePassed(): void {
    const verdict = this.flow.onTimeout();
    if (verdict === "waiting") return; // the consumer holds the transfer back: no retry counted
    this.timeouts++;
    if (verdict === "give-up") return this.failWithError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT");
    if (this.phase === "request") this.requestResent = true;
  }

  /** The final ACK went out: resolve once the sink has everything. */
  private complete(): void {
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

  protected localBytes(): number {
    return this.flow.bytes;
  }
}
