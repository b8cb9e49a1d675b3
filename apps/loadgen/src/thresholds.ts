// --threshold: pass/fail conditions on a report, as in CI load tests
// ('p99<200ms', 'errors<0.1%', 'mbps>50'). The run exits 1 when one fails.
//
//   METRIC OP VALUE[UNIT]      OP: < <= > >=
//   latency  p50 p90 p95 p99 p99.9 p99.99 max mean min   (ms; units us ms s)
//            flow.p99 ... (whole boot flows), lag.p99 ... (open model start lag)
//   errors   failed sessions: a count, or with % a share of ok + failed
//   dropped  open-model starts refused by --max-in-flight (count or % of scheduled)
//   late     sessions started more than 10 ms late (count or % of started)
//   mbps     MB/s of payload     sessions_per_s (or rps)

import { ConfigErrorCode, TftpConfigError } from "@tftpkit/options";
import type { LatencySummary } from "./hist.js";
import type { Report, ThresholdResult } from "./report.js";

/** A threshold that does not parse: a TftpConfigError (reason TFTP_ERR_CONFIG_VALUE) naming --threshold. */
const thresholdError = (message: string): TftpConfigError => new TftpConfigError({ code: ConfigErrorCode.VALUE, key: "--threshold", message });

export interface Threshold {
  text: string;
  metric: string;
  op: "<" | "<=" | ">" | ">=";
  /** Limit in the metric's base unit: ms for latency, percent when `percent`. */
  limit: number;
  percent: boolean;
}

const LATENCY = new Set(["p50", "p90", "p95", "p99", "p99.9", "p99.99", "max", "mean", "min"]);
const COUNTS = new Set(["errors", "dropped", "late"]);
const RATES = new Set(["mbps", "sessions_per_s", "rps"]);

export function parseThreshold(text: string): Threshold {
  const m = /^\s*([a-z_.0-9]+)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(us|ms|s|%)?\s*$/i.exec(text);
  if (!m) throw thresholdError(`--threshold ${JSON.stringify(text)}: use METRIC<VALUE, e.g. 'p99<200ms', 'errors<0.1%', 'mbps>50'`);
  const metric = m[1].toLowerCase();
  const op = m[2] as Threshold["op"];
  const value = Number(m[3]);
  const unit = m[4]?.toLowerCase();
  const lat = metric.replace(/^(flow|lag)\./, "");
  if (LATENCY.has(lat) && (metric === lat || /^(flow|lag)\./.test(metric))) {
    if (unit === "%") throw thresholdError(`--threshold ${JSON.stringify(text)}: a latency takes us, ms or s, not %`);
    const limit = unit === "s" ? value * 1000 : unit === "us" ? value / 1000 : value;
    return { text: text.trim(), metric, op, limit, percent: false };
  }
  if (COUNTS.has(metric)) {
    if (unit && unit !== "%") throw thresholdError(`--threshold ${JSON.stringify(text)}: ${metric} is a count or a percentage`);
    return { text: text.trim(), metric, op, limit: value, percent: unit === "%" };
  }
  if (RATES.has(metric)) {
    if (unit) throw thresholdError(`--threshold ${JSON.stringify(text)}: ${metric} takes a plain number`);
    return { text: text.trim(), metric: metric === "rps" ? "sessions_per_s" : metric, op, limit: value, percent: false };
  }
  throw thresholdError(
    `--threshold ${JSON.stringify(text)}: unknown metric ${JSON.stringify(m[1])} (p50 p90 p95 p99 p99.9 p99.99 max mean min, flow.*, lag.*, errors, dropped, late, mbps, sessions_per_s)`,
  );
}

function measured(t: Threshold, rep: Report): number {
  const s = rep.sessions;
  const share = (n: number, of: number): number => (of > 0 ? (n / of) * 100 : 0);
  switch (t.metric) {
    case "errors":
      return t.percent ? share(s.failed, s.total) : s.failed;
    case "dropped":
      return t.percent ? share(s.dropped, s.started + s.dropped) : s.dropped;
    case "late":
      return t.percent ? share(s.late, s.started) : s.late;
    case "mbps":
      return rep.mbps;
    case "sessions_per_s":
      return rep.sessions_per_s;
  }
  let l: LatencySummary | null = rep.latency_ms;
  let key = t.metric;
  if (key.startsWith("flow.")) {
    l = rep.flows?.latency_ms ?? null;
    key = key.slice(5);
  } else if (key.startsWith("lag.")) {
    l = rep.start_lag_ms;
    key = key.slice(4);
  }
  const v = l ? (l as unknown as Record<string, number>)[key] : NaN;
  return typeof v === "number" ? v : NaN;
}

/** Evaluates each threshold; a latency with no sessions to measure fails. */
export function checkThresholds(list: Threshold[], rep: Report): ThresholdResult[] {
  return list.map((t) => {
    const actual = measured(t, rep);
    let ok = Number.isFinite(actual);
    if (ok) {
      if (t.op === "<") ok = actual < t.limit;
      else if (t.op === "<=") ok = actual <= t.limit;
      else if (t.op === ">") ok = actual > t.limit;
      else ok = actual >= t.limit;
    }
    return { threshold: t.text, ok, actual };
  });
}
