// The block scheduler of the WebAssembly core, shared by every session of a
// thread, and the single Node timer that drives all of its deadlines.

import { performance } from "node:perf_hooks";
import { core, type CoreExports } from "./core.js";

/** txOnAck results. */
export const Ack = { ADVANCED: 1, DONE: 2, DUPLICATE: 3, STALE: 4, GAP: 5 } as const;
/** onTimeout results. */
export const Timeout = { RETRANSMIT: 1, GIVE_UP: 2 } as const;
/** rxOnData result flags. */
export const Rx = { DELIVER: 1, ACK: 2, DONE: 4, DUPLICATE: 8, GAP: 16 } as const;

/** Whoever owns a slot is told when its deadline passes. */
export interface DeadlineOwner {
  onDeadline(): void;
}

const RES_EXPIRED = 16;

/**
 * Thin typed access to the core's slot table plus one Node timer armed at the
 * earliest deadline of all slots. Methods take and return plain numbers: this
 * is the hot path.
 */
export class Scheduler {
  readonly x: CoreExports;
  private readonly owners: Array<DeadlineOwner | undefined> = [];
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private readonly resExpired: number;
  private readonly i32: () => Int32Array;

  constructor() {
    const c = core();
    this.x = c.x;
    this.resExpired = (c.RES >> 2) + RES_EXPIRED;
    this.i32 = () => c.i32;
  }

  now(): number {
    return performance.now();
  }

  txOpen(owner: DeadlineOwner, windowsize: number, timeoutMs: number, retries: number, withOack: boolean): number {
    const slot = this.x.txOpen(windowsize, timeoutMs, retries, withOack ? 1 : 0);
    if (slot >= 0) this.owners[slot] = owner;
    return slot;
  }

  rxOpen(owner: DeadlineOwner, windowsize: number, timeoutMs: number, retries: number): number {
    const slot = this.x.rxOpen(windowsize, timeoutMs, retries);
    if (slot >= 0) this.owners[slot] = owner;
    return slot;
  }

  close(slot: number): void {
    if (this.x.close(slot) === 0) this.owners[slot] = undefined;
  }

  /** Records sent blocks and makes sure the Node timer fires by the new deadline. */
  txSent(slot: number, count: number): void {
    this.x.txSent(slot, count, this.now());
    this.sync();
  }

  rxAcked(slot: number): void {
    this.x.rxAcked(slot, this.now());
    this.sync();
  }

  touch(slot: number): void {
    this.x.touch(slot, this.now());
    this.sync();
  }

  rxOnData(slot: number, block: number, len: number, blksize: number): number {
    const r = this.x.rxOnData(slot, block, len, blksize, this.now());
    this.sync();
    return r;
  }

  /** Slots open in this thread. */
  open(): number {
    return this.x.slotsOpen();
  }

  /** Re-arms the Node timer if the earliest deadline moved before it. */
  sync(): void {
    const next = this.x.nextDeadline();
    if (next < this.armedAt) this.arm(next);
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = at;
    if (at === Infinity) return;
    const delay = Math.max(0, Math.ceil(at - this.now()));
    this.timer = setTimeout(this.fire, delay);
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.now();
    for (;;) {
      const n = this.x.expire(now);
      const res = this.i32();
      // Copy first: owners call back into the core, which reuses RES.
      const expired = Array.from(res.subarray(this.resExpired, this.resExpired + n));
      for (const slot of expired) this.owners[slot]?.onDeadline();
      if (n < 48) break;
    }
    this.arm(this.x.nextDeadline());
  };
}

let shared: Scheduler | undefined;

/** The scheduler of this thread. */
export function scheduler(): Scheduler {
  shared ??= new Scheduler();
  return shared;
}
