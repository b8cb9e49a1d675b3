// `tftpkit-load merge` and `tftpkit-load compare`: reports from several load
// machines add up (counters summed, HDR histograms and the one-second
// timeline buckets merged without loss, the span from the first start to the
// last end); two reports side by side show what changed.

import { mergeParts } from "./part.js";
import { rawOf, reportOf, type CpuFigures, type Report } from "./report.js";
import { esc, fmt, page } from "./render.js";

export function mergeReports(reports: Report[], names: string[] = reports.map((_, i) => `report ${i + 1}`)): Report {
  if (reports.length === 0) throw new Error("merge needs at least one report");
  const raws = reports.map((r, i) => rawOf(r, names[i]));
  const part = mergeParts(raws);
  const start = Math.min(...raws.map((r) => r.start_epoch_ms));
  const end = Math.max(...reports.map((r, i) => raws[i].start_epoch_ms + r.elapsed_s * 1000));
  const targets = [...new Set(reports.map((r) => r.target))];
  const first = reports[0].scenario;
  const sum = (f: (r: Report) => number | null): number | null => (reports.every((r) => f(r) !== null) ? reports.reduce((a, r) => a + (f(r) ?? 0), 0) : null);
  const cpu: CpuFigures = {
    user_s: reports.reduce((a, r) => a + r.cpu.user_s, 0),
    system_s: reports.reduce((a, r) => a + r.cpu.system_s, 0),
    percent: reports.reduce((a, r) => a + r.cpu.percent, 0),
    threads: reports.reduce((a, r) => a + r.cpu.threads, 0),
    cores: reports.reduce((a, r) => a + r.cpu.cores, 0),
    elu: reports.flatMap((r) => r.cpu.elu),
    saturated: reports.some((r) => r.cpu.saturated),
  };
  const rep = reportOf(
    {
      target: targets.join(", "),
      scenario: {
        ...first,
        clients: sum((r) => r.scenario.clients),
        rate: sum((r) => r.scenario.rate),
        sessions: sum((r) => r.scenario.sessions),
        workers: reports.reduce((a, r) => a + r.scenario.workers, 0),
      },
      startEpochMs: start,
      elapsedS: (end - start) / 1000,
      runs: reports.reduce((a, r) => a + (r.runs ?? 1), 0),
      cpu,
      timeLimitS: null,
    },
    part,
  );
  const saturated = reports.map((r, i) => (r.cpu.saturated ? names[i] : null)).filter(Boolean);
  if (saturated.length) rep.warnings.push(`saturated load generator in: ${saturated.join(", ")}`);
  return rep;
}

export interface CompareRow {
  metric: string;
  base: number;
  next: number;
  /** next - base */
  delta: number;
  /** Percent change from base (NaN when base is 0). */
  percent: number;
  /** Which way is better: "lower" (latency, errors) or "higher" (throughput). */
  better: "lower" | "higher";
  verdict: "better" | "worse" | "same";
}

export function compareReports(base: Report, next: Report): CompareRow[] {
  const rows: CompareRow[] = [];
  const add = (metric: string, b: number | null | undefined, n: number | null | undefined, better: "lower" | "higher"): void => {
    if (typeof b !== "number" || typeof n !== "number" || !Number.isFinite(b) || !Number.isFinite(n)) return;
    const delta = n - b;
    const percent = b !== 0 ? (delta / b) * 100 : NaN;
    // Within 1 % (or both zero) counts as the same.
    const same = delta === 0 || (Number.isFinite(percent) && Math.abs(percent) < 1);
    const verdict = same ? "same" : (delta < 0) === (better === "lower") ? "better" : "worse";
    rows.push({ metric, base: b, next: n, delta, percent, better, verdict });
  };
  const errPct = (r: Report): number => (r.sessions.total > 0 ? (r.sessions.failed / r.sessions.total) * 100 : 0);
  add("throughput MB/s", base.mbps, next.mbps, "higher");
  add("sessions/s", base.sessions_per_s, next.sessions_per_s, "higher");
  add("sessions ok", base.sessions.ok, next.sessions.ok, "higher");
  add("sessions failed", base.sessions.failed, next.sessions.failed, "lower");
  add("errors %", errPct(base), errPct(next), "lower");
  for (const k of ["p50", "p90", "p99", "p99.9", "p99.99", "max"] as const) add(`latency ${k} ms`, base.latency_ms[k], next.latency_ms[k], "lower");
  if (base.flows && next.flows) {
    for (const k of ["p50", "p99", "max"] as const) add(`flow ${k} ms`, base.flows.latency_ms[k], next.flows.latency_ms[k], "lower");
    base.flows.steps.forEach((st, i) => {
      const other = next.flows!.steps[i];
      if (other && other.file === st.file) add(`step ${st.step} ${st.file} p99 ms`, st.latency_ms.p99, other.latency_ms.p99, "lower");
    });
  }
  add("not started (max in flight)", base.sessions.dropped, next.sessions.dropped, "lower");
  add("started late", base.sessions.late, next.sessions.late, "lower");
  add("retransmits", base.retransmits, next.retransmits, "lower");
  return rows;
}

const num = (v: number): string => (Number.isInteger(v) ? String(v) : fmt(v, 2));
const pct = (r: CompareRow): string => (Number.isFinite(r.percent) ? `${r.percent >= 0 ? "+" : ""}${r.percent.toFixed(1)}%` : r.delta === 0 ? "0%" : "new");

export function renderCompareText(base: Report, next: Report, rows: CompareRow[]): string {
  const w = Math.max(...rows.map((r) => r.metric.length), 6);
  const lines = [
    `tftpkit-load compare: ${base.target} (${base.started_at}) -> ${next.target} (${next.started_at})`,
    `  ${"metric".padEnd(w)}  ${"base".padStart(12)}  ${"new".padStart(12)}  ${"change".padStart(9)}`,
    ...rows.map((r) => `  ${r.metric.padEnd(w)}  ${num(r.base).padStart(12)}  ${num(r.next).padStart(12)}  ${pct(r).padStart(9)}  ${r.verdict === "same" ? "" : r.verdict}`),
  ];
  return lines.join("\n") + "\n";
}

export function renderCompareHtml(base: Report, next: Report, rows: CompareRow[]): string {
  return page("tftpkit-load compare", [
    "<h1>tftpkit-load compare</h1>",
    `<p>Base: ${esc(base.target)}, ${esc(base.started_at)}. New: ${esc(next.target)}, ${esc(next.started_at)}.</p>`,
    "<table><tr><th>metric</th><th>base</th><th>new</th><th>change</th><th></th></tr>" +
      rows
        .map((r) => `<tr><td>${esc(r.metric)}</td><td>${esc(num(r.base))}</td><td>${esc(num(r.next))}</td><td>${esc(pct(r))}</td><td class="${r.verdict}">${r.verdict === "same" ? "" : esc(r.verdict)}</td></tr>`)
        .join("") +
      "</table>",
  ]);
}
