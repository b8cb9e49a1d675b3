// What the one sender and the one receiver share: a slot of the scheduler
// (whose deadline goes to the owner), the transfer's shape, the counters,
// buffers reserved from a shared budget, the dally and the end.

import type { DeadlineOwner, RttEstimate, Scheduler } from "./scheduler.js";
import { TftpError, WireError } from "./errors.js";

/** Where a sender's or receiver's packets go: the peer, behind some socket. */
export interface PacketLink {
  send(buf: Uint8Array, offset: number, length: number): void;
}

/** Accounting of session buffers against a budget shared by many sessions. */
export interface BufferBudget {
  /** Reserves `bytes`; false when the budget has no room. */
  take(bytes: number): boolean;
  give(bytes: number): void;
  /** A session gave up for want of room (counted). */
  refuse?(): void;
}

/** The budget of session buffers has no room left. */
export function busyError(): TftpError {
  return new TftpError(WireError.UNDEFINED, "Server busy: session buffers exhausted, try again later");
}

export interface FlowConfig {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  /** Adaptive retransmission (SRTT/RTTVAR) with this floor, timeoutMs the ceiling; 0/absent: fixed timeoutMs. */
  rtoFloorMs?: number;
  /** With rtoFloorMs: start from this estimate of the peer (e.g. its previous session's) instead of the ceiling. */
  rttSeed?: RttEstimate;
  /** More data than this is refused with ERROR 3 (0: no limit). */
  limitBytes?: number;
  budget?: BufferBudget;
}

export abstract class Flow {
  slot = -1;
  blksize: number;
  windowsize: number;
  // counters
  /** Packets sent, resends included. */
  packets = 0;
  retransmits = 0;
  /** Payload bytes on the wire and blocks, moved once (resends not counted again). */
  wireBytes = 0;
  blocks = 0;
  gaps = 0;
  /** Duplicates seen: ACKs for a sender, DATA blocks for a receiver. */
  duplicates = 0;
  private reserved = 0;
  /** The slot was opened here (not handed over by the owner, who then closes it). */
  private ownSlot = false;

  constructor(
    protected readonly s: Scheduler,
    protected readonly owner: DeadlineOwner,
    protected readonly cfg: FlowConfig,
  ) {
    this.blksize = cfg.blksize;
    this.windowsize = cfg.windowsize;
  }

  /**
   * Takes the owner's reserved slot (>= 0; the owner closes it) or opens one
   * of its own (-1). False when the scheduler has no slot or refuses.
   */
  protected claim(reserved: number, open: () => number, begin: (slot: number) => number): boolean {
    if (reserved >= 0) {
      if (begin(reserved) < 0) return false;
      this.slot = reserved;
    } else {
      this.slot = open();
      this.ownSlot = this.slot >= 0;
      if (!this.ownSlot) return false;
    }
    const floor = this.cfg.rtoFloorMs ?? 0;
    if (floor > 0) {
      this.s.adaptRto(this.slot, floor);
      if (this.cfg.rttSeed) this.s.seedRtt(this.slot, this.cfg.rttSeed);
    }
    return true;
  }

  /** Reserves buffer bytes from the budget; false (counted as a refusal) without room. */
  protected reserve(bytes: number, final = true): boolean {
    const budget = this.cfg.budget;
    if (!budget) return true;
    if (!budget.take(bytes)) {
      if (final) budget.refuse?.();
      return false;
    }
    this.reserved += bytes;
    return true;
  }

  /** Whether `bytes` in all go past the configured limit. */
  protected tooLarge(bytes: number): boolean {
    const limit = this.cfg.limitBytes ?? 0;
    return limit > 0 && bytes > limit;
  }

  /** Keeps the slot `ms` longer after the end (dally): its deadline then tells the owner. */
  dally(ms: number): void {
    this.s.setFixedTimeout(this.slot, ms);
    this.s.touch(this.slot);
  }

  /** Gives the slot (if its own) and the buffers back. */
  close(): void {
    if (this.ownSlot) this.s.close(this.slot);
    this.ownSlot = false;
    this.slot = -1;
    if (this.reserved > 0) this.cfg.budget?.give(this.reserved);
    this.reserved = 0;
  }
}
