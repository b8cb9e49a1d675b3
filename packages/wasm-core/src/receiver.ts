// The one windowed receiver: a server's write session (WRQ) and a client's
// get (RRQ) both take blocks through it. It owns an rx slot of the scheduler,
// which decides for each DATA block whether it is the next in order, a
// duplicate or past a gap, and when to ACK: at the end of each window, at the
// last (short) block, once per gap with the last in-order block (RFC 7440).
// Duplicates are re-ACKed once per window's worth (every one in lock-step, as
// RFC 1350 receivers do), so a lost ACK costs no deadline; duplicate DATA
// never makes more than that (no Sorcerer's Apprentice).
//
// In-order payloads go to a consumer. A consumer that returns a promise holds
// the next ACK back until it settles (a slow disk or a slow reader slows the
// sender down); meanwhile a deadline resends nothing and costs no retry.
// After the last block: the writes settle, the owner commits, the final ACK
// goes out, and a repeated last block is ACKed again (dally).

import { Flow, busyError, type FlowConfig, type PacketLink } from "./flow.js";
import { NetasciiDecoder } from "./netascii.js";
import { Rx, Timeout, type DeadlineOwner, type Scheduler } from "./scheduler.js";
import { TftpError, WireError } from "./errors.js";
import { Opcode } from "./types.js";

export interface BlockConsumer {
  /** Takes the next in-order payload (a view into the packet). A promise holds the next ACK until it settles. */
  write(chunk: Uint8Array): void | Promise<void>;
}

export interface ReceiverHooks extends PacketLink {
  /** The consumer failed or the data went past `limitBytes`: the receiver stops. */
  failed(err: unknown): void;
  /** After the last block, once every write settled, before the final ACK (e.g. move the upload into place). */
  commit?(): void | Promise<void>;
  /** The final ACK went out. */
  received(): void;
}

/** `budget`: a window of payloads (what a slow consumer may hold) is reserved from it. */
export interface ReceiverConfig extends FlowConfig {
  netascii?: boolean;
}

/** What a DATA block did. */
export type ReceiveResult = "more" | "last" | "ignored";

/** What a passed deadline comes to. */
export type ReceiveTimeout = "retransmit" | "waiting" | "give-up";

type State = "open" | "finishing" | "dally" | "closed";

export class BlockReceiver extends Flow {
  private state: State = "open";
  /** The packet resent on a deadline: the opening packet (request, OACK, ACK 0) or the last ACK. */
  private reply: Uint8Array;
  private readonly ackBuf = Buffer.from([0, Opcode.ACK, 0, 0]);
  private readonly decoder: NetasciiDecoder | undefined;
  /** Writes in flight (undefined: none). */
  private writing: Promise<void> | undefined;
  private ackHeld = false;
  private dupsSinceAck = 0;
  private lastBlock = -1;
  /** Bytes handed to the consumer (after netascii translation). */
  bytes = 0;

  constructor(
    s: Scheduler,
    owner: DeadlineOwner,
    private readonly hooks: ReceiverHooks,
    private readonly consumer: BlockConsumer,
    protected override readonly cfg: ReceiverConfig,
  ) {
    super(s, owner, cfg);
    this.reply = this.ackBuf;
    if (cfg.netascii) this.decoder = new NetasciiDecoder();
  }

  /**
   * Takes the owner's reserved slot (or opens one: -1; false when the
   * scheduler is full) and sends the opening packet (or ACK 0 when null). With no room in the budget the owner is
   * told `failed` (ERROR 0, server busy) instead.
   */
  start(opening: Uint8Array | null, reserved = -1): boolean {
    const c = this.cfg;
    const s = this.s;
    const ok = this.claim(
      reserved,
      () => s.rxOpen(this.owner, this.windowsize, c.timeoutMs, c.retries),
      (slot) => s.rxStart(slot, this.windowsize, c.timeoutMs, c.retries),
    );
    if (!ok) return false;
    if (!this.reserve(this.windowsize * this.blksize)) {
      this.stop(busyError());
      return true;
    }
    if (opening) {
      this.reply = opening;
      this.sendReply();
    } else {
      this.ack();
    }
    return true;
  }

  /** The opening packet was answered with other options (a server's OACK to a client's RRQ). */
  reshape(blksize: number, windowsize: number): boolean {
    this.blksize = blksize;
    if (windowsize === this.windowsize) return true;
    this.windowsize = windowsize;
    return this.s.rxSetWindow(this.slot, windowsize) >= 0;
  }

  /** True once a DATA block was taken. */
  get started(): boolean {
    return this.blocks > 0;
  }

  /** True after the final ACK (dallying). */
  get dallying(): boolean {
    return this.state === "dally";
  }

  private sendReply(): void {
    this.hooks.send(this.reply, 0, this.reply.length);
    this.packets++;
    this.s.rxAcked(this.slot);
  }

  /** ACKs the last in-order block and restarts the window and deadline. */
  ack(): void {
    this.dupsSinceAck = 0;
    const block = this.s.rxAckBlock(this.slot);
    this.ackBuf[2] = block >>> 8;
    this.ackBuf[3] = block & 0xff;
    this.reply = this.ackBuf;
    this.sendReply();
  }

  /** ACKs again what was ACKed (the peer repeated an answer: our ACK was lost). */
  reack(): void {
    this.retransmits++;
    this.ack();
  }

  /** A DATA block arrived (its payload a view of the packet). */
  onData(block: number, data: Uint8Array): ReceiveResult {
    if (this.state === "dally") {
      // The peer did not get the final ACK and repeats its last block.
      if (block === this.lastBlock) {
        this.duplicates++;
        this.retransmits++;
        this.hooks.send(this.reply, 0, this.reply.length);
        this.packets++;
      }
      return "ignored";
    }
    if (this.state !== "open") return "ignored";
    if (data.length > this.blksize) {
      this.stop(new TftpError(WireError.ILLEGAL_OPERATION, `DATA of ${data.length} bytes exceeds blksize ${this.blksize}`, "TFTP_ERR_ILLEGAL_OPERATION"));
      return "ignored";
    }
    const r = this.s.rxOnData(this.slot, block, data.length, this.blksize);
    if (r < 0) return "ignored";
    if (r & Rx.DELIVER) {
      this.blocks++;
      this.wireBytes += data.length;
      if (this.tooLarge(this.wireBytes)) {
        this.stop(new TftpError(WireError.DISK_FULL, "File too large for this server"));
        return "ignored";
      }
      if (data.length > 0) this.deliver(this.decoder ? this.decoder.push(data) : data);
    }
    let ackNow = (r & Rx.ACK) !== 0;
    if (r & Rx.DUPLICATE) {
      this.duplicates++;
      // The core re-ACKs the first duplicate of a run. If that ACK is lost too,
      // the sender resends its window again: re-ACK once per window's worth.
      if (++this.dupsSinceAck >= this.windowsize) ackNow = true;
    }
    if (r & Rx.GAP) this.gaps++;
    if (r & Rx.DONE) {
      this.lastBlock = block;
      this.finishing();
      return "last";
    }
    if (ackNow && this.state === "open") {
      if (r & Rx.DUPLICATE || !(r & Rx.DELIVER)) this.retransmits++;
      if (this.writing) this.holdAck();
      else this.ack();
    }
    return "more";
  }

  /** Hands a chunk on; writes in flight are chained so the consumer sees them in order. */
  private deliver(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    const c = this.consumer;
    if (this.writing) {
      this.watch(this.writing.then(() => c.write(chunk)));
      return;
    }
    let r: void | Promise<void>;
    try {
      r = c.write(chunk);
    } catch (err) {
      return this.stop(err);
    }
    if (r) this.watch(r);
  }

  /** Tracks the write chain; clears it once the last link settles. */
  private watch(p: Promise<void>): void {
    const chain = p.then(
      () => {
        if (this.writing === chain) this.writing = undefined;
      },
      (err: unknown) => {
        if (this.writing === chain) this.writing = undefined;
        this.stop(err);
        throw err;
      },
    );
    chain.catch(() => {});
    this.writing = chain;
  }

  /** Sends the due ACK once the writes in flight settle. */
  private holdAck(): void {
    if (this.ackHeld) return;
    this.ackHeld = true;
    void this.writing!.then(
      () => {
        this.ackHeld = false;
        if (this.state === "open") this.ack();
      },
      () => {},
    );
  }

  /** The last block is in: writes settle, the tail of a netascii translation, the owner commits, then the final ACK. */
  private finishing(): void {
    this.state = "finishing";
    const tail = this.decoder?.end();
    const run = async (): Promise<void> => {
      if (this.writing) await this.writing;
      if (tail && tail.length > 0) {
        this.bytes += tail.length;
        await this.consumer.write(tail);
      }
      await this.hooks.commit?.();
    };
    run().then(
      () => {
        if (this.state !== "finishing") return;
        this.state = "dally";
        this.ack();
        this.hooks.received();
      },
      (err: unknown) => this.stop(err),
    );
  }

  private stop(err: unknown): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.hooks.failed(err);
  }

  /** The slot's deadline passed: resend the opening packet or the last ACK, or give up. */
  onTimeout(): ReceiveTimeout {
    if (this.state === "finishing" || this.writing) {
      // The consumer (or the commit) holds the transfer back: wait without counting a retry.
      this.s.touch(this.slot);
      return "waiting";
    }
    if (this.s.rxOnTimeout(this.slot) === Timeout.GIVE_UP) return "give-up";
    this.retransmits++;
    this.sendReply();
    return "retransmit";
  }

  /** Stops and gives the slot back. */
  override close(): void {
    this.state = "closed";
    super.close();
  }
}
