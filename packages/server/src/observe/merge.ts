// Several servers' statistics as one: the counters of every worker of a
// cluster, or of every member of a fleet. Counters add up key by key
// (nested counts, such as outcomes, too); top lists are merged by key and
// cut again.

import { emptyServerStats, type ServerStats } from "./stats.js";
import type { SessionSummary } from "./live-tally.js";

/** Adds every numeric field of `from` into `into`, one level of nested counts (outcomes, errorsByCode) included. */
export function addCounts(into: Record<string, unknown>, from: Record<string, unknown> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) {
    if (typeof v === "number") into[k] = ((into[k] as number | undefined) ?? 0) + v;
    else if (v && typeof v === "object" && !Array.isArray(v)) {
      const inner = (into[k] ??= {}) as Record<string, number>;
      for (const [ik, iv] of Object.entries(v as Record<string, unknown>)) if (typeof iv === "number") inner[ik] = (inner[ik] ?? 0) + iv;
    }
  }
}

/** The counters of several servers summed (sessionsActive too; outcomes by key). */
export function mergeServerStats(list: readonly ServerStats[]): ServerStats {
  const out = emptyServerStats() as unknown as Record<string, unknown>;
  for (const s of list) addCounts(out, s as unknown as Record<string, unknown>);
  return out as unknown as ServerStats;
}

/** Summaries of several servers as one: counts by key added, the top lists merged by key and cut to `k` again. */
export function mergeSummaries(list: readonly SessionSummary[], k = 10): SessionSummary {
  const errorsByCode: Record<string, number> = {};
  const files = new Map<string, { sessions: number; bytes: number }>();
  const clients = new Map<string, number>();
  for (const s of list) {
    addCounts(errorsByCode, s.errorsByCode);
    for (const f of s.topFiles) {
      const r = files.get(f.path) ?? { sessions: 0, bytes: 0 };
      r.sessions += f.sessions;
      r.bytes += f.bytes;
      files.set(f.path, r);
    }
    for (const c of s.topFailingClients) clients.set(c.client, (clients.get(c.client) ?? 0) + c.failures);
  }
  return {
    errorsByCode,
    topFiles: [...files]
      .sort((a, b) => b[1].sessions - a[1].sessions || b[1].bytes - a[1].bytes)
      .slice(0, k)
      .map(([path, r]) => ({ path, sessions: r.sessions, bytes: r.bytes })),
    topFailingClients: [...clients].sort((a, b) => b[1] - a[1]).slice(0, k).map(([client, failures]) => ({ client, failures })),
  };
}
