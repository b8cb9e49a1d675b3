// Pure merging of admin API answers from several servers (the fleet view).
// Counters add up, lists are concatenated with each row tagged by its
// server, and ranked lists are re-ranked over the whole fleet.

import { addCounts } from "@tftpkit/server";
import type { BootFlow, ServerCounters, StatsBody, Tagged } from "./wire.js";

/** `rows` with `server` set on each (a copy; the input is left alone). */
export function tag<T extends object>(rows: readonly T[], server: string): Array<T & Tagged> {
  return rows.map((r) => ({ ...r, server }));
}

/** The fleet's top N: every member's rows tagged, ranked by `score`, cut to the longest member list. */
function rank<T extends object>(parts: Array<{ server: string; rows: readonly T[] | undefined }>, score: (r: T) => number): Array<T & Tagged> {
  const n = Math.max(0, ...parts.map((p) => p.rows?.length ?? 0));
  return parts
    .flatMap((p) => tag(p.rows ?? [], p.server))
    .sort((a, b) => score(b) - score(a))
    .slice(0, n);
}

export interface MemberStats {
  server: string;
  body?: StatsBody;
  error?: string;
}

/** One /api/v1/stats body for the fleet: sums, maxima of uptimes, fleet-wide tops, and a per-member list. */
export function mergeStats(members: readonly MemberStats[]): StatsBody {
  const stats: Record<string, unknown> = {};
  const outcomes: Record<string, number> = {};
  const errorsByCode: Record<string, number> = {};
  let uptimeSeconds = 0;
  const ok = members.flatMap((m) => (m.body ? [{ server: m.server, body: m.body }] : []));
  for (const { body } of ok) {
    addCounts(stats, body.stats as unknown as Record<string, unknown>);
    addCounts(outcomes, body.outcomes);
    addCounts(errorsByCode, body.errorsByCode);
    uptimeSeconds = Math.max(uptimeSeconds, body.uptimeSeconds ?? 0);
  }
  return {
    stats: stats as unknown as ServerCounters, // every numeric counter of the members, summed
    uptimeSeconds,
    outcomes,
    errorsByCode,
    topFiles: rank(ok.map((m) => ({ server: m.server, rows: m.body.topFiles })), (r) => r.sessions),
    topFailingClients: rank(ok.map((m) => ({ server: m.server, rows: m.body.topFailingClients })), (r) => r.failures),
    servers: members.map((m) =>
      m.body
        ? { server: m.server, ok: true, uptimeSeconds: m.body.uptimeSeconds, sessionsActive: m.body.stats?.sessionsActive }
        : { server: m.server, ok: false, error: m.error ?? "no answer" },
    ),
  };
}

/** Flows of every member, tagged, newest first, at most `limit` when given. */
export function mergeFlows(members: ReadonlyArray<{ server: string; flows: readonly BootFlow[] }>, limit?: number): BootFlow[] {
  const all = members.flatMap((m) => tag(m.flows, m.server)).sort((a, b) => b.startedAt - a.startedAt);
  return limit !== undefined ? all.slice(0, limit) : all;
}
