// Server-wide session limits across workers: the primary's ledger.
//
// A worker asks the primary before a session starts (the starts of one
// event-loop turn in one message) and tells it when an admitted session
// ends; packets of running sessions never ask. The primary counts the
// sessions of every worker, so --max-sessions and --max-sessions-per-client
// hold exactly as in one process.
//
// Credits keep session starts off the IPC channel while the server is far
// from its limit: with only --max-sessions set, a worker that asks may be
// granted credits (session starts it admits by itself; a credit comes back
// to it when its session ends). Invariant: sessions admitted on request plus
// credits held by workers never exceed maxSessions. When a request would be
// refused while workers hold credits granted since their last reclaim, the
// ledger reclaims them first (each worker gives back its unused credits and
// stops reusing the others), and answers the waiting requests once every
// worker has answered: the limit admits exactly maxSessions when that many
// clients ask. A worker that dies gives back everything it held.

export interface SessionLimits {
  /** Sessions at once across every worker (0: no limit). */
  maxSessions: number;
  /** Sessions at once from one client address across every worker (0: no limit). */
  maxSessionsPerClient: number;
}

/** Credits granted to a worker at most at once. */
const GRANT_MAX = 64;

/** What the ledger sends a worker. */
export interface LedgerOut {
  /** Answers to requests (ok[i] for ids[i]) and new credits. */
  admit(slot: number, ids: number[], ok: boolean[], credit: number): void;
  /** Give back unused credits; stop reusing the others. */
  reclaim(slot: number): void;
}

/** A worker's report of what its credits did (with its releases). */
export interface CreditReport {
  /** Unused credits given back after a reclaim. */
  returned?: number;
  /** Sessions admitted on credit that ended and were not reused (after a reclaim). */
  freed?: number;
  /** The answer to a reclaim. */
  reclaimed?: boolean;
}

interface Waiting {
  slot: number;
  id: number;
  client: string;
}

export class SessionLedger {
  /** Sessions admitted on request, not yet ended. */
  private active = 0;
  private readonly perClient = new Map<string, number>();
  /** Per worker slot: its sessions admitted on request, by client. */
  private readonly bySlot = new Map<number, Map<string, number>>();
  /** Per worker slot: credits it holds (unused, or in use by a running session). */
  private readonly held = new Map<number, number>();
  private outstanding = 0;
  /** Slots granted credits since their last reclaim. */
  private readonly fresh = new Set<number>();
  /** Slots asked to give credits back that have not answered. */
  private readonly reclaiming = new Set<number>();
  private waiting: Waiting[] = [];
  /** Session starts refused here. */
  refused = 0;

  constructor(
    private limits: SessionLimits,
    private readonly workers: number,
    private readonly out: LedgerOut,
  ) {}

  configure(limits: SessionLimits): void {
    this.limits = limits;
    this.reclaimAll(); // credits follow the new limits
  }

  /** Whether any limit is set (without one, workers need not ask). */
  get limiting(): boolean {
    return this.limits.maxSessions > 0 || this.limits.maxSessionsPerClient > 0;
  }

  /** Sessions admitted on request plus credits held: never above maxSessions. */
  get running(): number {
    return this.active + this.outstanding;
  }

  /** Requests of one message from `slot`: answered now, or once reclaimed credits are back. */
  request(slot: number, ids: number[], clients: string[]): void {
    const okIds: number[] = [];
    const ok: boolean[] = [];
    for (let i = 0; i < ids.length; i++) {
      const d = this.waiting.length ? "wait" : this.decide(slot, clients[i]);
      if (d === "wait") this.waiting.push({ slot, id: ids[i], client: clients[i] });
      else {
        okIds.push(ids[i]);
        ok.push(d === "yes");
      }
    }
    if (this.waiting.length) this.reclaimAll();
    if (okIds.length || !this.waiting.length) this.out.admit(slot, okIds, ok, this.waiting.length ? 0 : this.grant(slot));
  }

  /** Sessions admitted on request from `slot` ended (clients), and what its credits did. */
  release(slot: number, clients: readonly string[], c: CreditReport = {}): void {
    const mine = this.bySlot.get(slot);
    for (const client of clients) {
      const n = mine?.get(client) ?? 0;
      if (!mine || n <= 0) continue; // not ours (the slot was already cleared)
      if (n === 1) mine.delete(client);
      else mine.set(client, n - 1);
      this.drop(client, 1);
    }
    const back = Math.min(this.held.get(slot) ?? 0, (c.returned ?? 0) + (c.freed ?? 0));
    if (back > 0) {
      this.held.set(slot, (this.held.get(slot) ?? 0) - back);
      this.outstanding -= back;
    }
    if (c.reclaimed && this.reclaiming.delete(slot)) this.answerWaiting();
  }

  /** The worker of `slot` is gone: every session and credit it held ends. */
  clear(slot: number): void {
    const mine = this.bySlot.get(slot);
    this.bySlot.delete(slot);
    for (const [client, n] of mine ?? []) this.drop(client, n);
    this.outstanding -= this.held.get(slot) ?? 0;
    this.held.delete(slot);
    this.fresh.delete(slot);
    this.waiting = this.waiting.filter((w) => w.slot !== slot);
    this.reclaiming.delete(slot);
    this.answerWaiting();
  }

  private decide(slot: number, client: string): "yes" | "no" | "wait" {
    const { maxSessions, maxSessionsPerClient } = this.limits;
    const fromClient = this.perClient.get(client) ?? 0;
    if (maxSessionsPerClient > 0 && fromClient >= maxSessionsPerClient) {
      this.refused++;
      return "no";
    }
    if (maxSessions > 0 && this.active + this.outstanding >= maxSessions) {
      if (this.fresh.size || this.reclaiming.size) return "wait"; // credits may come back
      this.refused++;
      return "no";
    }
    this.active++;
    this.perClient.set(client, fromClient + 1);
    let mine = this.bySlot.get(slot);
    if (!mine) this.bySlot.set(slot, (mine = new Map()));
    mine.set(client, (mine.get(client) ?? 0) + 1);
    return "yes";
  }

  /** Credits for `slot` while the server is far from its limit (only --max-sessions set). */
  private grant(slot: number): number {
    const { maxSessions, maxSessionsPerClient } = this.limits;
    if (maxSessions <= 0 || maxSessionsPerClient > 0 || this.reclaiming.size) return 0;
    const headroom = maxSessions - this.active - this.outstanding;
    if (headroom * 2 < maxSessions) return 0;
    const g = Math.min(GRANT_MAX, Math.floor(headroom / (4 * this.workers)));
    if (g <= 0) return 0;
    this.held.set(slot, (this.held.get(slot) ?? 0) + g);
    this.outstanding += g;
    this.fresh.add(slot);
    return g;
  }

  private reclaimAll(): void {
    for (const slot of this.fresh) {
      this.fresh.delete(slot);
      if (this.reclaiming.has(slot)) continue;
      this.reclaiming.add(slot);
      this.out.reclaim(slot);
    }
  }

  /** Once every reclaim is answered: the waiting requests, in order. */
  private answerWaiting(): void {
    if (this.reclaiming.size || !this.waiting.length) return;
    const waiting = this.waiting;
    this.waiting = [];
    const bySlot = new Map<number, { ids: number[]; ok: boolean[] }>();
    for (const w of waiting) {
      const d = this.decide(w.slot, w.client);
      let a = bySlot.get(w.slot);
      if (!a) bySlot.set(w.slot, (a = { ids: [], ok: [] }));
      a.ids.push(w.id);
      a.ok.push(d === "yes"); // no fresh credits are left: never "wait" here
    }
    for (const [slot, a] of bySlot) this.out.admit(slot, a.ids, a.ok, 0);
  }

  private drop(client: string, n: number): void {
    this.active -= n;
    const left = (this.perClient.get(client) ?? 0) - n;
    if (left > 0) this.perClient.set(client, left);
    else this.perClient.delete(client);
  }
}
