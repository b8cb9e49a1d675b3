// What the primary knows of its workers' counters and lists: each live
// worker's newest report or answer, and what is kept of the workers that
// died (their counters as of their last report, added into those of the
// workers gone before; their sessions and flows marked lost for a while).

import {
  mergeServerStats, mergeSummaries,
  type BootFlow, type FlowQuery, type LiveSession, type ServerStats, type SessionSummary,
} from "@tftpkit/server";
import { mergePrometheus, withoutGauges } from "./prometheus.js";
import type { Report } from "./protocol.js";

/** A live session or boot flow of a worker that died, as of its last report. */
export type Lost<T> = T & { worker: number; lost: true };

interface Latest {
  stats?: ServerStats;
  metrics?: string;
  summary?: SessionSummary;
  /** LiveSession[] as JSON (read only when the worker dies). */
  sessionsJson?: string;
  /** BootFlow[] as JSON (likewise). */
  flowsJson?: string;
}

/** A list a worker sent as JSON; empty when it sent none (or, never expected, text that is not a list). */
function listOf<T>(json: string | undefined): T[] {
  if (json === undefined) return [];
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

/** How long the sessions and flows of a dead worker are listed. */
const LOST_KEEP_MS = 10 * 60_000;
/** Deaths whose sessions and flows are listed at most. */
const LOST_MAX = 16;

export class WorkerRecords {
  /** Per worker slot id: the newest it sent (IPC keeps reports and answers in order). */
  private readonly latest = new Map<number, Latest>();
  private retiredStats: ServerStats | undefined;
  private retiredMetrics: string | undefined;
  private retiredSummary: SessionSummary | undefined;
  private lost: Array<{ at: number; sessions: Array<Lost<LiveSession>>; flows: Array<Lost<BootFlow>> }> = [];

  private of(slot: number): Latest {
    let l = this.latest.get(slot);
    if (!l) this.latest.set(slot, (l = {}));
    return l;
  }

  /** A worker's periodic (or last) report. */
  report(slot: number, r: Report): void {
    const l = this.of(slot);
    l.stats = r.stats as ServerStats;
    if (r.metrics !== undefined) l.metrics = r.metrics;
    if (r.summary !== undefined) l.summary = r.summary as SessionSummary;
    if (r.sessionsJson !== undefined) l.sessionsJson = r.sessionsJson;
    if (r.flowsJson !== undefined) l.flowsJson = r.flowsJson;
  }

  /** A live worker's answer to "stats". */
  answeredStats(slot: number, s: ServerStats): void {
    this.of(slot).stats = s;
  }

  /** A live worker's answer to "metrics". */
  answeredMetrics(slot: number, text: string): void {
    this.of(slot).metrics = text;
  }

  /** The worker of `slot` died or exited: what it last sent joins what the workers gone before left. */
  retire(slot: number): void {
    const l = this.latest.get(slot);
    this.latest.delete(slot);
    if (!l) return;
    if (l.stats) {
      const s = { ...l.stats, sessionsActive: 0, sessionBufferBytes: 0 };
      this.retiredStats = this.retiredStats ? mergeServerStats([this.retiredStats, s]) : s;
    }
    if (l.metrics) {
      const kept = withoutGauges(l.metrics);
      this.retiredMetrics = this.retiredMetrics ? mergePrometheus([this.retiredMetrics, kept]) : kept;
    }
    if (l.summary) this.retiredSummary = this.retiredSummary ? mergeSummaries([this.retiredSummary, l.summary], 50) : l.summary;
    const sessions = listOf<LiveSession>(l.sessionsJson);
    const flows = listOf<BootFlow>(l.flowsJson);
    if (sessions.length || flows.length) {
      const mark = <T extends object>(rows: T[]): Array<Lost<T>> => rows.map((r) => ({ ...r, worker: slot, lost: true as const }));
      this.lost.push({ at: Date.now(), sessions: mark(sessions), flows: mark(flows) });
      if (this.lost.length > LOST_MAX) this.lost.shift();
    }
  }

  /** Forgets the lists of workers that died more than LOST_KEEP_MS ago. */
  sweep(now: number): void {
    this.lost = this.lost.filter((l) => now - l.at < LOST_KEEP_MS);
  }

  /** Every worker's counters: the live ones' newest, plus those of the workers that died. */
  stats(): ServerStats {
    const parts: ServerStats[] = this.retiredStats ? [this.retiredStats] : [];
    for (const l of this.latest.values()) if (l.stats) parts.push(l.stats);
    return mergeServerStats(parts);
  }

  /** One Prometheus exposition (undefined when no worker has metrics). */
  metrics(): string | undefined {
    const texts: string[] = this.retiredMetrics ? [this.retiredMetrics] : [];
    for (const l of this.latest.values()) if (l.metrics) texts.push(l.metrics);
    return texts.length ? mergePrometheus(texts) : undefined;
  }

  /** The live workers' summaries and those of the workers that died, as one. */
  summary(live: SessionSummary[]): SessionSummary {
    return mergeSummaries(this.retiredSummary ? [...live, this.retiredSummary] : live);
  }

  /** Sessions of workers that died, as of their last report. */
  lostSessions(): Array<Lost<LiveSession>> {
    return this.lost.flatMap((l) => l.sessions);
  }

  /** Boot flows of workers that died, as of their last report (of `q.client` only, if given). */
  lostFlows(q: FlowQuery = {}): Array<Lost<BootFlow>> {
    return this.lost.flatMap((l) => (q.client === undefined ? l.flows : l.flows.filter((f) => f.client === q.client)));
  }
}
