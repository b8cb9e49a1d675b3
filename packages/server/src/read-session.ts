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

import { Ack, Timeout, Opcode, TftpError, WireError } from "@tftpkit/wasm-core";
import { Session, codec } from "./base-session.js";
import { isSized, type ReadRequest } from "./handler.js";
import { toSource, type DataSource } from "./sources.js";
import type { SessionStats } from "./stats.js";

const RING_TARGET_BYTES = 64 * 1024; // read ahead at least this much per batch
const RING_MAX_BYTES = 1024 * 1024; // but hold at most this much per session
const IOV_MAX = 1024; // buffers per readv

function ringSlots(blksize: number, windowsize: number, blocks: number): number {
  let r = Math.max(2 * windowsize, Math.ceil(RING_TARGET_BYTES / blksize));
  r = Math.min(r, Math.floor(RING_MAX_BYTES / (blksize + 4)), IOV_MAX);
  r = Math.max(r, windowsize, 1);
  return Math.min(r, Math.max(blocks, 1));
}

export class ReadSession extends Session {
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
  // stats
  private bytesSent = 0;
  private duplicateAcks = 0;
  private blocksAcked = 0;
  private finalAckMissing = false;

  start(): void {
    if (!this.open()) return;
    const request: ReadRequest = this.requestBase();
    this.answerWith(
      () => this.host.handler(request),
      async (response) => {
        const sized = isSized(response);
        const source = await toSource(sized ? response.body : response, sized ? response.size : undefined, request.mode === "netascii", this.host.fileCache);
        if (this.done()) {
          source.close();
          return false;
        }
        this.source = source;
        return true;
      },
    );
  }

  /** Negotiates, sizes the ring and sends the OACK or the first window. */
  protected begin(): void {
    const source = this.source!;
    const o = this.opts;
    const size = source.size ?? -1;
    if (o.maxFileBytes > 0 && size > o.maxFileBytes) {
      return this.fail(new TftpError(WireError.DISK_FULL, "File too large for this server"));
    }
    const neg = codec.negotiate(this.req.asked, {
      maxBlksize: this.blksizeCap(),
      maxWindowsize: o.maxWindowsize,
      tsize: size,
      write: false,
      refuse: o.refuseOptions,
      maxTimeout: o.maxClientTimeout,
    });
    this.applyNegotiated(neg);
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
    if (s.txStart(this.slot, this.windowsize, this.retransmitTimeoutMs(neg.timeout), o.retries, this.oack !== null) < 0) {
      return this.fail(new TftpError(WireError.UNDEFINED, "Server busy"));
    }
    if (neg.timeout <= 0) s.adaptRto(this.slot, o.rtoFloorMs); // the client set none: adapt to the round trip
    if (this.last > 0) s.txSetLast(this.slot, this.last);
    this.phase = "transfer";
    this.fill();
    this.pump();
  }

  /** Sends whatever the scheduler allows and the ring holds. */
  private pump(): void {
    if (this.phase !== "transfer") return;
    const s = this.host.scheduler;
    const slot = this.slot;
    let can = s.txSendable(slot);
    if (can === 0) return;
    let n = s.txNext(slot);
    if (n === 0) {
      const oack = this.oack!;
      this.send(oack, 0, oack.length);
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
    while (can > 0 && n < this.filledTo) {
      const i = n % this.slots;
      const off = i * this.stride;
      this.ring[off + 2] = (n >>> 8) & 0xff;
      this.ring[off + 3] = n & 0xff;
      const len = this.lens[i];
      this.send(this.ring, off, len + 4);
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
    const s = this.host.scheduler;
    const base = Math.max(s.txBase(this.slot), 1);
    let end = base + this.slots; // exclusive
    if (this.last > 0) end = Math.min(end, this.last + 1);
    if (this.filledTo >= end) return;
    // Read in batches: wait for half the ring to be free unless the sender
    // is about to run dry (a read per ACK would cost a syscall per packet).
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
            this.host.scheduler.txSetLast(this.slot, b);
            b++;
            break;
          }
        }
        this.filledTo = b;
        const cap = this.opts.maxFileBytes;
        if (cap > 0 && (this.filledTo - 1) * this.blksize > cap) {
          return this.fail(new TftpError(WireError.DISK_FULL, "File too large for this server"));
        }
        this.pump();
      },
      (err: unknown) => {
        this.filling = false;
        this.fail(err);
      },
    );
  }

  protected handlePacket(msg: Buffer): void {
    if (this.phase !== "transfer") return;
    const block = codec.decodeAck(msg);
    if (block >= 0) return this.onAck(block);
    const p = codec.decode(msg);
    if (p.opcode === Opcode.ERROR) {
      const inOack = this.oack !== null && this.host.scheduler.txBase(this.slot) === 0;
      const err = { code: p.code, message: p.message };
      // UEFI size probe: tsize asked, OACK sent, client aborts before ACK 0.
      if (inOack && this.req.asked.tsize >= 0) return this.finish("probe", undefined, err);
      return this.finish("client-error", undefined, err);
    }
    this.host.countMalformed();
    this.fail(TftpError.illegalOperation("Illegal TFTP operation: expected ACK"));
  }

  private onAck(block: number): void {
    const s = this.host.scheduler;
    const r = s.txOnAck(this.slot, block);
    if (r === Ack.DONE) {
      this.blocksAcked = this.last;
      return this.finish("ok");
    }
    if (r === Ack.ADVANCED || r === Ack.GAP) {
      this.blocksAcked = s.txBase(this.slot) - 1;
      this.pump();
    } else if (r === Ack.DUPLICATE) {
      this.duplicateAcks++;
    }
  }

  onDeadline(): void {
    if (this.phase !== "transfer") return;
    const s = this.host.scheduler;
    const verdict = s.txOnTimeout(this.slot);
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
    if (this.filling && s.txBase(this.slot) >= this.filledTo) {
      // Every block produced was acknowledged and the source has not produced more.
      return this.fail(new TftpError(WireError.UNDEFINED, "Data source timed out", "TFTP_ERR_TIMEOUT"), "timeout");
    }
    if (this.last > 0 && this.highestSent >= this.last && s.txBase(this.slot) === this.last) {
      // Everything but the last block was acknowledged and the last was sent: some clients never ACK it.
      this.blocksAcked = this.last - 1;
      this.finalAckMissing = true;
      return this.finish("ok");
    }
    this.finish("timeout", new TftpError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT"));
  }

  protected kindStats(): Partial<SessionStats> {
    const k: Partial<SessionStats> = {
      bytesSent: this.bytesSent,
      blocksAcked: this.blocksAcked,
      duplicateAcks: this.duplicateAcks,
    };
    if (this.finalAckMissing) k.finalAckMissing = true;
    return k;
  }

  protected release(): void {
    this.source?.close();
  }
}
