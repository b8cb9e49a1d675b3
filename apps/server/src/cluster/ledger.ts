// Server-wide session limits across workers: the primary's ledger.
//
// Every worker asks the primary before a session starts (its requests of one
// event-loop turn in one message) and tells it when an admitted session
// ends. The primary counts the sessions running in every worker, so
// --max-sessions and --max-sessions-per-client hold exactly as in one
// process. Packets of running sessions never ask. A worker that dies gives
// back every session it held.

export interface SessionLimits {
  /** Sessions at once across every worker (0: no limit). */
  maxSessions: number;
  /** Sessions at once from one client address across every worker (0: no limit). */
  maxSessionsPerClient: number;
}

export class SessionLedger {
  private active = 0;
  private readonly perClient = new Map<string, number>();
  /** Per worker slot: its admitted sessions by client. */
  private readonly bySlot = new Map<number, Map<string, number>>();
  /** Session starts refused here. */
  refused = 0;

  constructor(private limits: SessionLimits) {}

  configure(limits: SessionLimits): void {
    this.limits = limits;
  }

  /** Whether any limit is set (without one, workers need not ask). */
  get limiting(): boolean {
    return this.limits.maxSessions > 0 || this.limits.maxSessionsPerClient > 0;
  }

  /** Sessions admitted and not yet ended. */
  get running(): number {
    return this.active;
  }

  /** Admits a session of `client` in `slot` if the limits allow it. */
  acquire(slot: number, client: string): boolean {
    const { maxSessions, maxSessionsPerClient } = this.limits;
    const fromClient = this.perClient.get(client) ?? 0;
    if ((maxSessions > 0 && this.active >= maxSessions) || (maxSessionsPerClient > 0 && fromClient >= maxSessionsPerClient)) {
      this.refused++;
      return false;
    }
    this.active++;
    this.perClient.set(client, fromClient + 1);
    let mine = this.bySlot.get(slot);
    if (!mine) this.bySlot.set(slot, (mine = new Map()));
    mine.set(client, (mine.get(client) ?? 0) + 1);
    return true;
  }

  /** An admitted session of `client` in `slot` ended. */
  release(slot: number, client: string): void {
    const mine = this.bySlot.get(slot);
    const n = mine?.get(client) ?? 0;
    if (!mine || n <= 0) return; // not ours (the slot was already cleared)
    if (n === 1) mine.delete(client);
    else mine.set(client, n - 1);
    this.drop(client, 1);
  }

  /** The worker of `slot` is gone: every session it held ends. */
  clear(slot: number): void {
    const mine = this.bySlot.get(slot);
    if (!mine) return;
    this.bySlot.delete(slot);
    for (const [client, n] of mine) this.drop(client, n);
  }

  private drop(client: string, n: number): void {
    this.active -= n;
    const left = (this.perClient.get(client) ?? 0) - n;
    if (left > 0) this.perClient.set(client, left);
    else this.perClient.delete(client);
  }
}
