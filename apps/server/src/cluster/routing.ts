// Which worker serves a machine: the primary's flow table.
//
// A machine (a client IP address) is given a worker when its first datagram
// arrives: its home slot, by a hash of the address. It stays on that worker
// while its flow is open (a datagram at least every `idleMs`), so its boot
// flow and its tftp.boot trace stay in one worker:
//
// - A datagram for a worker that is not ready (starting, or started again
//   after it died) waits for it, at most `waitMs` and `waitMax` datagrams per
//   worker; past either bound the machine moves to a live worker and stays
//   there for the rest of its flow.
// - When a worker dies, each of its machines moves to one live worker (spread
//   by the address hash) and stays there.
//
// The table holds at most `max` machines (the oldest entry goes first) and
// forgets a machine after `idleMs` without a datagram.

/** FNV-1a over the address: the same client always lands on the same slot. */
export function addressHash(address: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What the flow table needs of a worker slot. */
export interface RouteSlot {
  /** Index in the slot list. */
  readonly index: number;
  /** Ready to take datagrams. */
  readonly ready: boolean;
}

export interface FlowTableOptions {
  /** A machine without a datagram for this long is forgotten (its flow has ended). */
  idleMs: number;
  /** Machines kept at most. */
  max: number;
  /** How long a datagram waits for its machine's worker to be ready. */
  waitMs: number;
  /** Datagrams waiting per worker at most. */
  waitMax: number;
}

interface Entry {
  slot: number;
  seen: number;
}

/** Where a datagram goes: a ready slot, or wait for this (not ready) slot, or nowhere (no worker at all). */
export type Route = { deliver: number } | { wait: number } | undefined;

/** FlowTable.place(): the datagram goes nowhere (no live worker, too many waiting). */
export const NOWHERE = -0x80000000;

export class FlowTable {
  private readonly table = new Map<string, Entry>();
  /** Machines moved to another worker (waited too long, or their worker died). */
  moved = 0;

  constructor(
    private readonly slots: readonly RouteSlot[],
    private o: FlowTableOptions,
  ) {}

  configure(o: Partial<FlowTableOptions>): void {
    this.o = { ...this.o, ...o };
  }

  get options(): Readonly<FlowTableOptions> {
    return this.o;
  }

  get size(): number {
    return this.table.size;
  }

  /** The slot a machine is on now (undefined: not in the table). */
  slotOf(address: string): number | undefined {
    return this.table.get(address)?.slot;
  }

  /** The home slot of an address. */
  home(address: string): number {
    const n = this.slots.length;
    return n === 1 ? 0 : addressHash(address) % n;
  }

  /**
   * The route of one datagram from `address` at `now`; `waiting`: datagrams
   * already waiting for the machine's slot (at waitMax the machine moves).
   */
  route(address: string, now: number, waiting: (slot: number) => number): Route {
    const c = this.place(address, now, waiting);
    return c === NOWHERE ? undefined : c >= 0 ? { deliver: c } : { wait: -1 - c };
  }

  /**
   * route() as a number, for the primary's per-datagram path (no object per
   * datagram): the slot index to deliver to (>= 0), -1 - slot to wait for a
   * slot that is not ready, or NOWHERE. `waiting` is read only when the
   * machine's slot is not ready.
   */
  place(address: string, now: number, waiting: (slot: number) => number): number {
    let e = this.table.get(address);
    if (!e) {
      if (this.table.size >= this.o.max) {
        const oldest = this.table.keys().next().value;
        if (oldest !== undefined) this.table.delete(oldest);
      }
      e = { slot: this.home(address), seen: now };
      this.table.set(address, e);
    } else {
      e.seen = now;
    }
    if (this.slots[e.slot].ready) return e.slot;
    if (waiting(e.slot) < this.o.waitMax) return -1 - e.slot;
    const r = this.move(address, e);
    return r === undefined ? NOWHERE : "deliver" in r ? r.deliver : -1 - r.wait;
  }

  /** A datagram that waited `waitMs` for `slot`: its machine moves to a live slot (if it is still on that one). */
  expire(address: string, slot: number): Route {
    const e = this.table.get(address);
    if (!e) return this.route(address, Date.now(), () => 0);
    if (e.slot !== slot) return this.slots[e.slot].ready ? { deliver: e.slot } : { wait: e.slot };
    return this.move(address, e);
  }

  /** Every machine of a slot whose worker died moves to one live slot. */
  evacuate(slot: number): void {
    for (const [address, e] of this.table) if (e.slot === slot) this.move(address, e);
  }

  /** Forgets machines idle for idleMs. */
  sweep(now: number): void {
    const before = now - this.o.idleMs;
    for (const [address, e] of this.table) if (e.seen < before) this.table.delete(address);
  }

  private move(address: string, e: Entry): Route {
    const live = this.slots.filter((s) => s.ready && s.index !== e.slot);
    if (live.length === 0) return this.slots[e.slot].ready ? { deliver: e.slot } : undefined;
    e.slot = live[addressHash(address) % live.length].index;
    this.moved++;
    return { deliver: e.slot };
  }
}

/** The sender of a datagram (node:dgram's RemoteInfo has more). */
export interface Sender {
  address: string;
  port: number;
}

/** What the primary keeps of a datagram while it waits: the bytes, the sender and the socket it came in on. */
export type Waiting<R extends Sender, L> = [msg: Buffer, rinfo: R, listener: L];

/**
 * The datagrams waiting for one worker, oldest first. A datagram sent again
 * while a copy waits (firmware resends a request every second or faster; a
 * client started before the server, every few ms) waits once: the worker
 * drops a repeated request only while the first one's session runs, so a
 * copy reaching it after that session ended would start a session for a
 * client that has its file and is gone.
 */
export class WaitQueue<R extends Sender, L> {
  private items: Array<Waiting<R, L>> = [];
  /** Sender and bytes of each waiting datagram. */
  private readonly keys = new Set<string>();

  get length(): number {
    return this.items.length;
  }

  /** Holds a datagram; false when the same sender's same bytes already wait (it is not held again). */
  add(msg: Buffer, rinfo: R, listener: L): boolean {
    const key = `${rinfo.address}|${rinfo.port}|${msg.toString("latin1")}`;
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    this.items.push([msg, rinfo, listener]);
    return true;
  }

  /** Everything waiting, oldest first; the queue is empty after. */
  take(): Array<Waiting<R, L>> {
    const items = this.items;
    this.items = [];
    this.keys.clear();
    return items;
  }
}
