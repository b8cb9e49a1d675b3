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

/** A round-trip estimate (ms): smoothed RTT, its variation and the largest recent sample. */
export interface RttEstimate {
  srtt: number;
  rttvar: number;
  peak: number;
}

/**
 * Whoever owns a slot is told when one of its deadlines passes: the
 * retransmission deadline (onDeadline) or the session deadline
 * (onSessionDeadline: the handler's deadline, the no-progress limit).
 */
export interface DeadlineOwner {
  onDeadline(): void;
  onSessionDeadline?(): void;
}

const RES_EXPIRED = 16;
/** A stretch this long (ms) or longer in which the thread neither waited for I/O nor ran the scheduler is a stall (noteStall). */
const STALL_MS = 2;
/** When a scheduler of this thread last looked for a stall (answeredAt), and the event loop's idle time then. */
let watchAt = -1;
let watchIdle = 0;

/** Owner of each slot of this thread's core. */
const threadOwners: Array<DeadlineOwner | undefined> = [];
const RES_EXPIRED_MAX = 48;

/**
 * The core's slot table behind named methods, plus one Node timer armed at
 * the earliest deadline of all slots. Methods take and return plain numbers
 * (slots, block numbers, Ack/Timeout/Rx results, Status numbers): this is
 * the hot path. Clock values are this scheduler's `now()`.
 */
export class Scheduler {
  readonly #x: CoreExports;
  readonly #cap: number;
  // The slot table is the thread's (one core per thread), so its owners are too:
  // any Scheduler of this thread that expires a deadline tells the right owner.
  private readonly owners = threadOwners;
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private readonly resExpired: number;
  private readonly i32: () => Int32Array;

  constructor() {
    const c = core();
    this.#x = c.x;
    this.#cap = c.x.schedCapacity();
    this.resExpired = (c.RES >> 2) + RES_EXPIRED;
    this.i32 = () => c.i32;
  }

  now(): number {
    return performance.now();
  }

  // ------------------------------------------------------------ slots

  /**
   * Reserves a slot for a session that does not know yet what it will
   * transfer (its handler runs): only its session deadline runs until
   * txStart/rxStart. Returns the slot, or a negative status (table full).
   */
  reserve(owner: DeadlineOwner): number {
    const slot = this.#x.reserve();
    if (slot >= 0) this.owners[slot] = owner;
    return slot;
  }

  /** Opens a sender. withOack: block 0 (the OACK) must be acknowledged first. */
  txOpen(owner: DeadlineOwner, windowsize: number, timeoutMs: number, retries: number, withOack: boolean): number {
    const slot = this.#x.txOpen(windowsize, timeoutMs, retries, withOack ? 1 : 0);
    if (slot >= 0) this.owners[slot] = owner;
    return slot;
  }

  /** Opens a receiver. */
  rxOpen(owner: DeadlineOwner, windowsize: number, timeoutMs: number, retries: number): number {
    const slot = this.#x.rxOpen(windowsize, timeoutMs, retries);
    if (slot >= 0) this.owners[slot] = owner;
    return slot;
  }

  /** Makes a reserved slot a sender (as txOpen) and clears its session deadline. Status.OK or a status. */
  txStart(slot: number, windowsize: number, timeoutMs: number, retries: number, withOack: boolean): number {
    return this.#x.txStart(slot, windowsize, timeoutMs, retries, withOack ? 1 : 0);
  }

  /** Makes a reserved slot a receiver (as rxOpen) and clears its session deadline. Status.OK or a status. */
  rxStart(slot: number, windowsize: number, timeoutMs: number, retries: number): number {
    return this.#x.rxStart(slot, windowsize, timeoutMs, retries);
  }

  /** Frees a slot of any kind; its deadlines are dropped. */
  close(slot: number): void {
    if (this.#x.close(slot) === 0) this.owners[slot] = undefined;
  }

  /** Slots open in this thread. */
  slotsOpen(): number {
    return this.#x.slotsOpen();
  }

  // ------------------------------------------------------- deadlines

  /** Arms the retransmission deadline one timeout from now, without other changes (e.g. after sending a request). */
  touch(slot: number): void {
    this.#x.touch(slot, this.now());
    this.sync();
  }

  /** Sets a fixed retransmission timeout (ms) for the following deadlines (e.g. a dally period); ends adaptation. */
  setFixedTimeout(slot: number, timeoutMs: number): number {
    return this.#x.setTimeout(slot, timeoutMs);
  }

  /**
   * Adaptive retransmission (RFC 6298, Karn's rule) for a sender or
   * receiver whose peer set no timeout: RTO = max(SRTT + 4 RTTVAR, floorMs),
   * doubled on each timeout, never above the slot's timeout (the ceiling,
   * and the RTO until the first round trip is measured). When the RTO
   * passes, the slot resends at once only if another peer of this thread
   * answers meanwhile (then one RTO after that answer, no sooner than its
   * own PEAK after its send, or one RTO after the last late answer of other
   * held slots' peers, up to one guard); otherwise it
   * waits for the stall guard, floorMs + 2 PEAK (PEAK the largest recent
   * sample of the slot or the thread, halved every second): a stall of
   * every peer at once causes no spurious resend. Timeouts below the ceiling do not count
   * against the retries. A floor of 0 or at/above the timeout, or retries 0,
   * keeps the fixed timeout. Status.OK or a status.
   */
  adaptRto(slot: number, floorMs: number): number {
    return this.#x.adaptRto(slot, floorMs);
  }

  /** The slot's current retransmission timeout (ms), -1 if it is not sending or receiving. */
  rto(slot: number): number {
    return this.#x.rto(slot);
  }

  /** The slot's stall guard (ms): the longest a passed RTO waits before the resend (the timeout when fixed); -1 if it is not sending or receiving. */
  rtoGuard(slot: number): number {
    return this.#x.rtoGuard(slot);
  }

  /** The slot's smoothed round-trip time (ms), -1 before the first sample or with a fixed timeout. */
  srtt(slot: number): number {
    return this.#x.srttOf(slot);
  }

  /**
   * The slot's round-trip estimate (ms): SRTT, RTTVAR and PEAK (the largest
   * recent sample), or undefined before the first sample or with a fixed
   * timeout. What a later session with the same peer may start from (seedRtt).
   */
  rttEstimate(slot: number): RttEstimate | undefined {
    const srtt = this.#x.srttOf(slot);
    if (!(srtt >= 0)) return undefined;
    return { srtt, rttvar: this.#x.rttvarOf(slot), peak: this.#x.rttPeakOf(slot) };
  }

  /**
   * Starts an adaptive slot from an earlier estimate of the same peer: the
   * first RTO is the learnt one instead of the ceiling. Ignored on a slot
   * with a fixed timeout. Status.OK or a status.
   */
  seedRtt(slot: number, estimate: RttEstimate): number {
    const r = this.#x.seedRtt(slot, estimate.srtt, estimate.rttvar, estimate.peak, this.now());
    return r;
  }

  /**
   * Block 0 was answered by something other than ACK 0 (e.g. a size probe's
   * ERROR): its round trip becomes a sample. Returns the RTT (ms) or -1.
   */
  txFirstAnswered(slot: number): number {
    const r = this.#x.txFirstAnswered(slot, this.answeredAt());
    this.sync(); // an answer may release held slots (see adaptRto)
    return r;
  }

  /** Calls the owner's onSessionDeadline `ms` from now, once, unless cleared or re-armed first. */
  setSessionDeadline(slot: number, ms: number): number {
    const r = this.#x.sessionDeadline(slot, this.now() + ms);
    this.sync();
    return r;
  }

  clearSessionDeadline(slot: number): number {
    return this.#x.clearSessionDeadline(slot);
  }

  /**
   * No-progress limit: the session deadline is armed `ms` from now and moved
   * again whenever the transfer progresses (an ACK moves the sender's base,
   * an in-order block reaches the receiver). 0 removes the limit.
   */
  setProgressLimit(slot: number, ms: number): number {
    const r = this.#x.setProgressLimit(slot, ms, this.now());
    this.sync();
    return r;
  }

  // ---------------------------------------------------------- sender

  /** The last block's absolute number, once known. */
  txSetLast(slot: number, last: number): number {
    return this.#x.txSetLast(slot, last);
  }

  txSetWindow(slot: number, windowsize: number): number {
    return this.#x.txSetWindow(slot, windowsize);
  }

  /** How many blocks may be sent now, from txNext (block 0 is the OACK or request). */
  txSendable(slot: number): number {
    return this.#x.txSendable(slot);
  }

  /** Absolute number of the next block to send. */
  txNext(slot: number): number {
    return this.#x.txNext(slot);
  }

  /** Absolute number of the lowest block not yet acknowledged (0: the OACK). */
  txBase(slot: number): number {
    return this.#x.txBase(slot);
  }

  /** Records `count` blocks sent from txNext and makes sure the Node timer fires by the new deadline. */
  txSent(slot: number, count: number): void {
    this.#x.txSent(slot, count, this.now());
    this.sync();
  }

  /** An ACK of 16-bit `block`: an Ack result. Duplicates change nothing. */
  txOnAck(slot: number, block: number): number {
    const r = this.#x.txOnAck(slot, block, this.answeredAt());
    this.sync();
    return r;
  }

  /** After onDeadline: Timeout.RETRANSMIT (txNext went back to the base) or GIVE_UP. */
  txOnTimeout(slot: number): number {
    return this.#x.txOnTimeout(slot);
  }

  // -------------------------------------------------------- receiver

  /** A DATA block arrived: Rx flags. */
  rxOnData(slot: number, block: number, len: number, blksize: number): number {
    const r = this.#x.rxOnData(slot, block, len, blksize, this.answeredAt());
    this.sync();
    return r;
  }

  /** The 16-bit block number to acknowledge (the last in-order block). */
  rxAckBlock(slot: number): number {
    return this.#x.rxAckBlock(slot);
  }

  /** Blocks received in order so far. */
  rxReceived(slot: number): number {
    return this.#x.rxReceived(slot);
  }

  /** An ACK (or the request/OACK) was sent: the window count and the deadline restart. */
  rxAcked(slot: number): void {
    this.#x.rxAcked(slot, this.now());
    this.sync();
  }

  /** After onDeadline: Timeout.RETRANSMIT (resend the last ACK) or GIVE_UP. */
  rxOnTimeout(slot: number): number {
    return this.#x.rxOnTimeout(slot);
  }

  /** Changes a receiver's window (once an OACK granted one). */
  rxSetWindow(slot: number, windowsize: number): number {
    return this.#x.rxSetWindow(slot, windowsize);
  }

  // ------------------------------------------------------- the timer

  /** Re-arms the Node timer if the earliest deadline moved before it. */
  private sync(): void {
    const next = this.#x.nextDeadline();
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

  /**
   * The time of an answer a sample may come from (now()), after noting a
   * stall before it: if the thread was busy for STALL_MS or more since the
   * last answer without waiting for I/O (the event loop's idle time did not
   * grow by that much: a long task, a garbage collection, the process
   * descheduled), the core leaves that stretch out of round-trip samples
   * across it (noteStall). A server's own stall then does not stretch every
   * session's stall guard for seconds; answers that arrived during it are
   * read before a deadline resends (fire).
   */
  private answeredAt(): number {
    const now = this.now();
    const idle = performance.eventLoopUtilization().idle;
    if (watchAt >= 0) {
      const busy = now - watchAt - (idle - watchIdle);
      if (busy >= STALL_MS) this.#x.noteStall(now - busy, now);
    }
    watchAt = now;
    watchIdle = idle;
    return now;
  }

  // When the Node timer fires, deadlines are judged only after the I/O that
  // is already waiting has been read (setImmediate runs after the poll
  // phase): if this thread was busy, the answers that arrived meanwhile
  // count before a retransmission, so a short RTO does not resend what was
  // answered in time.
  private readonly fire = (): void => {
    this.timer = undefined;
    setImmediate(this.expireDue);
  };

  private readonly expireDue = (): void => {
    this.armedAt = Infinity;
    const now = this.now();
    const cap = this.#cap;
    for (;;) {
      const n = this.#x.expire(now);
      const res = this.i32();
      // Copy first: owners call back into the core, which reuses RES.
      const expired = Array.from(res.subarray(this.resExpired, this.resExpired + n));
      for (const id of expired) {
        // A retransmission deadline may be held back for the stall guard (see adaptRto).
        if (id < cap) {
          if (this.#x.holdBack(id, now) === 0) this.owners[id]?.onDeadline();
        }
        else this.owners[id - cap]?.onSessionDeadline?.();
      }
      if (n < RES_EXPIRED_MAX) break;
    }
    this.arm(this.#x.nextDeadline());
  };
}

let shared: Scheduler | undefined;

/** The scheduler of this thread. */
export function scheduler(): Scheduler {
  shared ??= new Scheduler();
  return shared;
}
