// The one windowed sender: a server's read session (RRQ) and a client's put
// (WRQ) both send blocks through it. It owns a tx slot of the scheduler and a
// ring of packet buffers; it knows nothing of sockets: packets leave through
// `link.send`, and the owner is told when the slot's deadline passes (it
// calls `onTimeout`).
//
// Block 0 is the packet that opens the transfer (a server's OACK, a client's
// WRQ), sent until acknowledged (ACK 0, or an OACK for a WRQ). The ring is
// allocated and read into only once block 0 is acknowledged, so a request
// that never answers costs no buffer.
//
// Ring: `slots` packet buffers of 4 + blksize bytes. Block b (absolute, from
// 1) lives in slot b % slots; blocks [base, filledTo) hold data, so a
// retransmission never reads the source again and a stream is read once.
// Until the first DATA block is acknowledged only the first window is read.

import { Flow, busyError, type FlowConfig, type PacketLink } from "./flow.js";
import { Ack, Timeout, type DeadlineOwner, type Scheduler } from "./scheduler.js";
import { TftpError, WireError } from "./errors.js";
import { Opcode } from "./types.js";

/**
 * Fills packet payloads in order: `read(targets)` resolves the number of
 * bytes written. Every target filled is full, except a short one at the end
 * of the data (then `ended` is true). A source may resolve early after one or
 * more whole targets (its data is not ready yet).
 */
export interface BlockSource {
  readonly ended: boolean;
  read(targets: Buffer[]): Promise<number>;
  /**
   * The same as `read`, at once, for a source whose data is in memory: the
   * sender then fills and sends in the same turn, with no promise per read.
   */
  readNow?(targets: Buffer[]): number;
}


export type RetransmitReason = "timeout" | "gap";

export interface SenderHooks extends PacketLink {
  /** The source failed, or the data went past `limitBytes`. The sender stops. */
  failed(err: unknown): void;
  /** Blocks sent again (block 0 included). */
  retransmitted?(first: number, count: number, reason: RetransmitReason): void;
}

export interface SenderConfig extends FlowConfig {
  /** Block 0 (OACK or WRQ); null: data from block 1 at once. */
  first: Uint8Array | null;
  /** Bytes the source will give, when known (-1: unknown). */
  size?: number;
}

/** What an ACK did. */
export type SendProgress = "done" | "moved" | "duplicate" | "stale";

/** What a passed deadline comes to. */
export type SendTimeout = "retransmit" | "source-stalled" | "final-ack-missing" | "give-up";

const RING_TARGET_BYTES = 16 * 1024; // read ahead at least this much per session
const RING_MAX_BYTES = 1024 * 1024; // but hold at most this much, unless the window needs more
const IOV_MAX = 1024; // buffers per read

// A sender before its ring is sized, and after close: nothing per session
// (these are only ever replaced, never written).
const NO_RING: Buffer = Buffer.alloc(0);
const NO_VIEWS: readonly Buffer[] = Object.freeze([]);
const NO_LENS = new Int32Array(0);

/** Ring slots for a transfer: twice the window, at least RING_TARGET_BYTES, never more blocks than the data has. */
export function ringSlots(blksize: number, windowsize: number, blocks: number): number {
  let r = Math.max(2 * windowsize, Math.ceil(RING_TARGET_BYTES / blksize));
  r = Math.min(r, Math.floor(RING_MAX_BYTES / (blksize + 4)), IOV_MAX);
  r = Math.max(r, windowsize, 1);
  return Math.min(r, Math.max(blocks, 1));
}

export class BlockSender extends Flow {
  // ring
  private ring: Buffer = NO_RING;
  private views: readonly Buffer[] = NO_VIEWS;
  private lens: Int32Array = NO_LENS;
  private slots = 0;
  private stride = 0;
  private filledTo = 1; // next block to read from the source
  private filling = false;
  private stopped = false;
  /** Last block number, -1 until known. */
  last = -1;
  private lastLen = 0;
  private highestSent = 0;
  private afterTimeout = false;
  /** Times block 0 was sent. */
  firstSends = 0;
  /** Blocks the peer acknowledged. */
  blocksAcked = 0;

  constructor(
    s: Scheduler,
    owner: DeadlineOwner,
    private readonly hooks: SenderHooks,
    private readonly source: BlockSource,
    protected override readonly cfg: SenderConfig,
  ) {
    super(s, owner, cfg);
    const size = cfg.size ?? -1;
    if (size >= 0) this.setSize(size);
  }

  private setSize(size: number): void {
    this.last = Math.floor(size / this.blksize) + 1;
    this.lastLen = size - (this.last - 1) * this.blksize;
  }

  /**
   * Takes the owner's reserved slot (or opens one: -1; false when the
   * scheduler is full) and sends block 0 or the first window.
   */
  start(reserved = -1): boolean {
    const c = this.cfg;
    const s = this.s;
    const withFirst = c.first !== null;
    const ok = this.claim(
      reserved,
      () => s.txOpen(this.owner, this.windowsize, c.timeoutMs, c.retries, withFirst),
      (slot) => s.txStart(slot, this.windowsize, c.timeoutMs, c.retries, withFirst),
    );
    if (!ok) return false;
    if (this.last > 0) this.s.txSetLast(this.slot, this.last);
    if (c.first === null) this.beginData();
    else this.pump();
    return true;
  }

  /** Block 0 was answered with other options than planned (a client's OACK): sets them before the data. */
  reshape(blksize: number, windowsize: number): void {
    this.blksize = blksize;
    this.windowsize = windowsize;
    this.s.txSetWindow(this.slot, windowsize);
  }

  /** True while block 0 waits for its answer. */
  get opening(): boolean {
    return this.cfg.first !== null && this.s.txBase(this.slot) === 0;
  }


  /** Everything produced was acknowledged and the source has not produced more. */
  private starved(): boolean {
    return this.filling && this.s.txBase(this.slot) >= this.filledTo;
  }

  /** Sizes the ring (reserving it from the budget) and reads the first window. */
  private beginData(): void {
    const blocks = this.last > 0 ? this.last : Infinity;
    this.stride = this.blksize + 4;
    let slots = ringSlots(this.blksize, this.windowsize, blocks);
    if (!this.reserve(slots * this.stride, false)) {
      // No room for read-ahead: try with no more than the window itself.
      slots = Math.min(slots, Math.max(this.windowsize, 1));
      if (!this.reserve(slots * this.stride)) {
        this.stopped = true;
        return this.hooks.failed(busyError());
      }
    }
    this.slots = slots;
    this.ring = Buffer.allocUnsafe(slots * this.stride);
    this.lens = new Int32Array(slots);
    const views: Buffer[] = new Array<Buffer>(slots);
    this.views = views;
    for (let i = 0; i < slots; i++) {
      const off = i * this.stride;
      this.ring[off] = 0;
      this.ring[off + 1] = Opcode.DATA;
      views[i] = this.ring.subarray(off + 4, off + this.stride);
    }
    this.fill();
    this.pump();
  }

  /** Sends whatever the scheduler allows and the ring holds. */
  private pump(): void {
    if (this.stopped) return;
    const s = this.s;
    const slot = this.slot;
    let can = s.txSendable(slot);
    if (can === 0) return;
    let n = s.txNext(slot);
    if (n === 0) {
      const first = this.cfg.first!;
      this.hooks.send(first, 0, first.length);
      if (this.firstSends > 0) {
        this.retransmits++;
        this.hooks.retransmitted?.(0, 1, "timeout");
      }
      this.firstSends++;
      this.packets++;
      this.s.txSent(slot, 1);
      return;
    }
    let sent = 0;
    const resentBefore = this.retransmits;
    const from = n;
    const ring = this.ring;
    while (can > 0 && n < this.filledTo) {
      const i = n % this.slots;
      const off = i * this.stride;
      ring[off + 2] = (n >>> 8) & 0xff;
      ring[off + 3] = n & 0xff;
      const len = this.lens[i];
      this.hooks.send(ring, off, len + 4);
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
    this.packets += sent;
    if (sent > 0) this.s.txSent(slot, sent);
    if (this.retransmits > resentBefore) {
      this.hooks.retransmitted?.(from, this.retransmits - resentBefore, this.afterTimeout ? "timeout" : "gap");
    }
    this.afterTimeout = false;
    if (!this.filling) this.fill();
  }

  /** Reads the next blocks into free ring slots, then pumps. */
  private fill(): void {
    if (this.filling || this.stopped || this.slots === 0) return;
    const s = this.s;
    const base = Math.max(s.txBase(this.slot), 1);
    let end = base + this.slots; // exclusive
    // Until the peer acknowledged a DATA block, read only the first window.
    if (base === 1) end = Math.min(end, 1 + this.windowsize);
    if (this.last > 0) end = Math.min(end, this.last + 1);
    if (this.filledTo >= end) return;
    // Read in batches: wait for half the ring to be free unless the sender
    // is about to run dry (a read per ACK would cost a call per packet).
    const ahead = this.filledTo - Math.max(s.txNext(this.slot), base);
    if (end - this.filledTo < this.slots / 2 && ahead > this.windowsize) return;
    const from = this.filledTo;
    const count = Math.min(end - from, IOV_MAX);
    const targets: Buffer[] = new Array(count);
    for (let k = 0; k < count; k++) {
      const b = from + k;
      const v = this.views[b % this.slots];
      targets[k] = b === this.last ? v.subarray(0, this.lastLen) : v;
    }
    const source = this.source;
    if (source.readNow) {
      let got: number;
      try {
        got = source.readNow(targets);
      } catch (err) {
        this.stopped = true;
        return this.hooks.failed(err);
      }
      // Nothing now and not at the end: a source with nothing in memory after all; wait for it.
      if (got > 0 || source.ended) return this.filled(from, targets, got);
    }
    this.filling = true;
    source.read(targets).then(
      (got) => {
        this.filling = false;
        if (!this.stopped) this.filled(from, targets, got);
      },
      (err: unknown) => {
        this.filling = false;
        if (this.stopped) return;
        this.stopped = true;
        this.hooks.failed(err);
      },
    );
  }

  /** `got` bytes were read into `targets` (blocks from `from` on): records them, then pumps. */
  private filled(from: number, targets: Buffer[], got: number): void {
    const ended = this.source.ended;
    // Whole targets are blocks ready to send; a short one (or an empty
    // one once the source has ended) is the last block.
    let rem = got;
    let b = from;
    for (let k = 0; k < targets.length; k++, b++) {
      const cap = targets[k].length;
      if (rem === 0 && cap > 0 && !ended) break; // not produced yet
      const len = Math.min(rem, cap);
      this.lens[b % this.slots] = len;
      rem -= len;
      if (len < this.blksize) {
        this.last = b;
        this.s.txSetLast(this.slot, b);
        b++;
        break;
      }
    }
    this.filledTo = b;
    if (this.tooLarge((this.filledTo - 1) * this.blksize)) {
      this.stopped = true;
      return this.hooks.failed(new TftpError(WireError.DISK_FULL, "File too large for this server"));
    }
    this.pump();
  }

  /** An ACK arrived. "done": every block is acknowledged (the slot's deadline is off). */
  onAck(block: number): SendProgress {
    if (this.stopped) return "stale";
    const s = this.s;
    const wasOpening = this.opening;
    const r = s.txOnAck(this.slot, block);
    if (r === Ack.DONE) {
      this.blocksAcked = this.last;
      return "done";
    }
    if (r === Ack.ADVANCED || r === Ack.GAP) {
      this.blocksAcked = Math.max(s.txBase(this.slot) - 1, 0);
      if (r === Ack.GAP) this.gaps++;
      if (wasOpening) this.beginData();
      else {
        this.fill();
        this.pump();
      }
      return "moved";
    }
    if (r === Ack.DUPLICATE) {
      this.duplicates++;
      return "duplicate";
    }
    return "stale";
  }

  /** The slot's deadline passed: resend from the base, or say why not. */
  onTimeout(): SendTimeout {
    const s = this.s;
    const verdict = s.txOnTimeout(this.slot);
    if (verdict === Timeout.RETRANSMIT) {
      this.afterTimeout = true;
      const before = this.packets;
      this.pump();
      // Nothing in flight to resend: waiting for the source. Keep counting retries against it.
      if (this.packets === before) this.s.touch(this.slot);
      return "retransmit";
    }
    if (this.starved()) return "source-stalled";
    if (this.onlyFinalAckMissing()) return "final-ack-missing";
    return "give-up";
  }

  /**
   * True when everything but the last block was acknowledged and the last
   * was sent: the transfer is whole but for the final ACK, which some peers
   * never send (blocksAcked then counts every block but the last).
   */
  onlyFinalAckMissing(): boolean {
    if (this.last > 0 && this.highestSent >= this.last && this.s.txBase(this.slot) === this.last) {
      this.blocksAcked = this.last - 1;
      return true;
    }
    return false;
  }

  /** Stops sending and gives the slot and the buffers back. */
  override close(): void {
    this.stopped = true;
    super.close();
    this.ring = NO_RING;
    this.views = NO_VIEWS;
  }
}
