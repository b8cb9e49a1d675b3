// The report: one JSON document (for scripts, and for `merge`, which reads
// its `raw` part back), a text summary (for a terminal) and a self-contained
// HTML page (inline SVG charts that fill the page width, no assets).

import { decodeHist, histogramBuckets, summarize, type Bucket, type LatencySummary } from "./hist.js";
import { encodePart, type LivePart, type WirePart } from "./part.js";
import type { RawRun } from "./run.js";
import type { Scenario } from "./scenario.js";
import { VERSION } from "./version.js";

/** Share of a thread's time busy above which the load generator counts as saturated. */
export const SATURATION_ELU = 0.9;

export interface CpuFigures {
  user_s: number;
  system_s: number;
  /** CPU time over wall time, in percent of one core. */
  percent: number;
  threads: number;
  cores: number;
  /** Event-loop utilization of each thread (main first when workers run). */
  elu: number[];
  saturated: boolean;
}

export interface ScenarioSummary {
  model: "closed" | "open";
  clients: number | null;
  rate: number | null;
  arrival: "constant" | "poisson" | null;
  stages: Array<{ duration_s: number; target: number }> | null;
  max_in_flight: number | null;
  sessions: number | null;
  duration_s: number | null;
  files: Array<{ name: string; weight: number }> | null;
  flow: string[] | null;
  think_ms: number;
  source: string | null;
  blksize: number | null;
  windowsize: number | null;
  tsize: boolean;
  mode: string;
  ramp_up_s: number;
  loss: { data: number; ack: number };
  seed: number;
  workers: number;
  /** Unmeasured sessions each thread ran before the clock started (--warmup); in no figure. */
  warmup: number;
  verify: "dir" | "sha256" | null;
  traceparent: boolean;
}

export interface ThresholdResult {
  threshold: string;
  ok: boolean;
  /** The measured value, in the unit of the threshold. */
  actual: number;
}

export interface TimelinePoint {
  /** Seconds since the start, at the end of the one-second bucket. */
  t: number;
  mbps: number;
  started: number;
  ok: number;
  failed: number;
  dropped: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

export interface Report {
  tool: "tftpkit-load";
  version: 2;
  tool_version: string;
  target: string;
  scenario: ScenarioSummary;
  started_at: string;
  elapsed_s: number;
  /** Runs merged into this report (1 for one run). */
  runs: number;
  /**
   * total = ok + failed; cut = stopped by the time limit (not in total);
   * started = sessions begun; dropped = open-model starts refused by
   * --max-in-flight; late = started more than 10 ms after their scheduled time.
   */
  sessions: { ok: number; failed: number; total: number; cut: number; started: number; dropped: number; late: number };
  /** Failed sessions by cause: TFTP error code ("0".."8") from the server, or timeout, verify, aborted, error. */
  errors: Record<string, number>;
  /** Per cause, the error messages seen (at most 10 distinct each) and their counts. */
  error_messages: Record<string, Record<string, number>>;
  /** Payload bytes delivered (after netascii translation). */
  bytes: number;
  wire_bytes: number;
  /** Megabytes (10^6 bytes) of payload per second. */
  mbps: number;
  sessions_per_s: number;
  /** Sessions that succeeded: request to last ACK; in the open model from the scheduled start (no coordinated omission). */
  latency_ms: LatencySummary;
  /** Open model: how late sessions started after their scheduled time (null in the closed model). */
  start_lag_ms: LatencySummary | null;
  /** Per file: sessions and latency. */
  files: Record<string, { ok: number; failed: number; latency_ms: LatencySummary }>;
  /** With a flow: whole flows (think time included) and each step. */
  flows: {
    ok: number;
    failed: number;
    latency_ms: LatencySummary;
    steps: Array<{ step: number; file: string; ok: number; failed: number; latency_ms: LatencySummary }>;
  } | null;
  packets: { sent: number; received: number };
  retransmits: number;
  timeouts: number;
  loss: { data_dropped: number; acks_dropped: number };
  cpu: CpuFigures;
  warnings: string[];
  thresholds: ThresholdResult[];
  timeline: TimelinePoint[];
  histogram: Bucket[];
  /** The mergeable figures (counters, HDR histograms as compressed base64, one-second buckets by epoch second). */
  raw: WirePart & { start_epoch_ms: number };
}

const round = (v: number, d = 3): number => (Number.isFinite(v) ? Number(v.toFixed(d)) : v);

export function summarizeScenario(s: Scenario): ScenarioSummary {
  const open = s.rate !== null;
  return {
    model: open ? "open" : "closed",
    clients: open ? null : s.clients,
    rate: s.rate,
    arrival: open ? s.arrival : null,
    stages: s.stages.length ? s.stages.map((st) => ({ duration_s: st.durationSeconds, target: st.target })) : null,
    max_in_flight: open ? s.maxInFlight : null,
    sessions: Number.isFinite(s.sessions) ? s.sessions : null,
    duration_s: Number.isFinite(s.durationSeconds) ? s.durationSeconds : null,
    files: s.flow ? null : s.files,
    flow: s.flow,
    think_ms: s.thinkMs,
    source: s.source,
    blksize: s.blksize ?? null,
    windowsize: s.windowsize ?? null,
    tsize: s.tsize,
    mode: s.mode,
    ramp_up_s: s.rampUpSeconds,
    loss: { data: s.lossData, ack: s.lossAck },
    seed: s.seed,
    workers: s.workers,
    warmup: s.warmup,
    verify: s.verifyDir ? "dir" : s.sha256 ? "sha256" : null,
    traceparent: s.traceparent,
  };
}

export function cpuFigures(r: RawRun): CpuFigures {
  const cpuS = r.cpu.userS + r.cpu.systemS;
  const percent = r.elapsedS > 0 ? (cpuS / r.elapsedS) * 100 : 0;
  // The threads that run sessions: the only one in-thread, the workers otherwise.
  const clientElu = r.cpu.threads === 1 ? r.cpu.elu : r.cpu.elu.slice(1);
  const maxElu = Math.max(0, ...clientElu);
  const usable = Math.min(r.cpu.cores, r.cpu.threads);
  return {
    user_s: round(r.cpu.userS),
    system_s: round(r.cpu.systemS),
    percent: round(percent, 1),
    threads: r.cpu.threads,
    cores: r.cpu.cores,
    elu: r.cpu.elu.map((e) => round(e)),
    saturated: maxElu >= SATURATION_ELU || percent >= SATURATION_ELU * 100 * usable,
  };
}

export interface RunMeta {
  target: string;
  scenario: ScenarioSummary;
  startEpochMs: number;
  elapsedS: number;
  runs: number;
  cpu: CpuFigures;
  timeLimitS: number | null;
  interrupted?: boolean;
}

/** The report of one run. */
export function buildReport(r: RawRun): Report {
  const s = r.scenario;
  return reportOf(
    {
      target: s.host.includes(":") ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`,
      scenario: summarizeScenario(s),
      startEpochMs: r.startEpochMs,
      elapsedS: r.elapsedS,
      runs: 1,
      cpu: cpuFigures(r),
      timeLimitS: s.timeLimitSeconds,
      interrupted: r.interrupted,
    },
    r.part,
  );
}

/** A report from its figures: one run's, or several runs' merged. */
export function reportOf(meta: RunMeta, part: LivePart): Report {
  const t = part.totals;
  const total = t.ok + t.failed;
  const warnings: string[] = [];
  const cpu = meta.cpu;
  if (cpu.saturated) {
    warnings.push(
      `the load generator itself was saturated (busiest client thread ${(Math.max(0, ...(cpu.threads === 1 ? cpu.elu : cpu.elu.slice(1))) * 100).toFixed(0)}% busy, ` +
        `${cpu.percent.toFixed(0)}% of one core over ${cpu.threads} thread(s) on ${cpu.cores} core(s)): ` +
        "the figures may measure it rather than the server; spread sessions with --workers or run it on more machines and merge",
    );
  }
  if (meta.interrupted) warnings.push("the run was interrupted: the figures cover the time until then; sessions running then are counted as cut");
  if (total === 0) warnings.push("no session ran");
  if (t.cut > 0) warnings.push(`the time limit${meta.timeLimitS ? ` (${meta.timeLimitS} s)` : ""} cut ${t.cut} session(s) short; rates count their bytes, latencies only finished sessions`);
  if (t.dropped > 0) warnings.push(`${t.dropped} scheduled start(s) were dropped: --max-in-flight was reached (the server could not keep up with the rate)`);
  if (t.late > 0) warnings.push(`${t.late} session(s) started more than 10 ms late; their latency counts from the scheduled time`);
  const runStart = meta.startEpochMs / 1000;
  const timeline: TimelinePoint[] = [];
  if (part.timeline.length) {
    const byT = new Map(part.timeline.map((b) => [b.t, b]));
    const first = part.timeline[0].t;
    const last = part.timeline[part.timeline.length - 1].t;
    for (let sec = first; sec <= last; sec++) {
      const b = byT.get(sec);
      const l = b && b.hdr.totalCount > 0 ? summarize(b.hdr) : null;
      timeline.push({
        t: round(sec + 1 - runStart),
        mbps: round((b?.bytes ?? 0) / 1e6),
        started: b?.started ?? 0,
        ok: b?.ok ?? 0,
        failed: b?.failed ?? 0,
        dropped: b?.dropped ?? 0,
        p50_ms: l ? l.p50 : null,
        p99_ms: l ? l.p99 : null,
      });
    }
  }
  const wire = encodePart(part);
  return {
    tool: "tftpkit-load",
    version: 2,
    tool_version: VERSION,
    target: meta.target,
    scenario: meta.scenario,
    started_at: new Date(meta.startEpochMs).toISOString(),
    elapsed_s: round(meta.elapsedS),
    runs: meta.runs,
    sessions: { ok: t.ok, failed: t.failed, total, cut: t.cut, started: t.started, dropped: t.dropped, late: t.late },
    errors: part.errors,
    error_messages: part.errorMessages,
    bytes: t.bytes,
    wire_bytes: t.wireBytes,
    mbps: round(meta.elapsedS > 0 ? t.bytes / meta.elapsedS / 1e6 : 0),
    sessions_per_s: round(meta.elapsedS > 0 ? total / meta.elapsedS : 0),
    latency_ms: summarize(part.latency),
    start_lag_ms: meta.scenario.model === "open" ? summarize(part.lag) : null,
    files: Object.fromEntries(Object.entries(part.files).map(([name, f]) => [name, { ok: f.ok, failed: f.failed, latency_ms: summarize(f.hdr) }])),
    flows: meta.scenario.flow
      ? {
          ok: t.flowsOk,
          failed: t.flowsFailed,
          latency_ms: summarize(part.flow),
          steps: part.steps.map((st, i) => ({ step: i + 1, file: st.file, ok: st.ok, failed: st.failed, latency_ms: summarize(st.hdr) })),
        }
      : null,
    packets: { sent: t.packetsSent, received: t.packetsReceived },
    retransmits: t.retransmits,
    timeouts: t.timeouts,
    loss: { data_dropped: t.dataDropped, acks_dropped: t.acksDropped },
    cpu,
    warnings,
    thresholds: [],
    timeline,
    histogram: histogramBuckets(part.latency),
    raw: { ...wire, start_epoch_ms: meta.startEpochMs },
  };
}

/** The mergeable figures of a report (checks that it is one). */
export function rawOf(rep: Report, name = "report"): WirePart & { start_epoch_ms: number } {
  if (!rep || rep.tool !== "tftpkit-load" || rep.version !== 2 || !rep.raw || typeof rep.raw.latency !== "string") {
    throw new Error(`${name}: not a tftpkit-load --json report of version 2`);
  }
  return rep.raw;
}

// ---- text ----

export const fmt = (v: number | null | undefined, d = 1): string => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "-");

const errName = (k: string): string => (/^\d$/.test(k) ? `TFTP ${k}` : k);

export function latencyLine(l: LatencySummary): string {
  return `p50 ${fmt(l.p50, 2)}  p90 ${fmt(l.p90, 2)}  p99 ${fmt(l.p99, 2)}  p99.9 ${fmt(l["p99.9"], 2)}  p99.99 ${fmt(l["p99.99"], 2)}  max ${fmt(l.max, 2)}`;
}

export function renderText(rep: Report): string {
  const sc = rep.scenario;
  const errs = Object.entries(rep.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${errName(k)}: ${v}`)
    .join(", ");
  const who =
    sc.model === "open"
      ? `open model, ${sc.rate ?? 0}/s ${sc.arrival}${sc.stages ? ` with stages ${sc.stages.map((s) => `${s.duration_s}s:${s.target}`).join(",")}` : ""}`
      : `${sc.clients} client(s)`;
  const lines = [
    `tftpkit-load ${rep.tool_version} -> ${rep.target}: ${who}, ${rep.elapsed_s.toFixed(2)} s${rep.runs > 1 ? `, ${rep.runs} runs merged` : ""}`,
    `  sessions    ${rep.sessions.ok} ok, ${rep.sessions.failed} failed${errs ? ` (${errs})` : ""}` +
      (rep.sessions.cut ? `, ${rep.sessions.cut} cut short by the time limit` : ""),
  ];
  if (sc.model === "open") {
    lines.push(`  starts      ${rep.sessions.started} started, ${rep.sessions.dropped} not started (max in flight), ${rep.sessions.late} late (> 10 ms)`);
  }
  lines.push(
    `  throughput  ${fmt(rep.mbps, 2)} MB/s, ${fmt(rep.sessions_per_s, 1)} sessions/s, ${rep.bytes} bytes`,
    `  latency ms  ${latencyLine(rep.latency_ms)}`,
  );
  if (rep.start_lag_ms && rep.start_lag_ms.count > 0) lines.push(`  start lag   p50 ${fmt(rep.start_lag_ms.p50, 2)}  p99 ${fmt(rep.start_lag_ms.p99, 2)}  max ${fmt(rep.start_lag_ms.max, 2)} ms`);
  if (rep.flows) {
    lines.push(`  flows       ${rep.flows.ok} ok, ${rep.flows.failed} failed; whole flow ms ${latencyLine(rep.flows.latency_ms)}`);
    for (const st of rep.flows.steps) lines.push(`    step ${st.step} ${st.file}: ${st.ok} ok, ${st.failed} failed, ${latencyLine(st.latency_ms)}`);
  } else if (Object.keys(rep.files).length > 1) {
    for (const [name, f] of Object.entries(rep.files)) lines.push(`    ${name}: ${f.ok} ok, ${f.failed} failed, p50 ${fmt(f.latency_ms.p50, 2)}  p99 ${fmt(f.latency_ms.p99, 2)} ms`);
  }
  for (const [k, msgs] of Object.entries(rep.error_messages)) for (const [m, v] of Object.entries(msgs)) lines.push(`    ${errName(k)} "${m}": ${v}`);
  lines.push(`  packets     ${rep.packets.sent} sent, ${rep.packets.received} received, ${rep.retransmits} retransmitted, ${rep.timeouts} timeouts`);
  if (sc.loss.data > 0 || sc.loss.ack > 0) {
    lines.push(`  loss        ${rep.loss.data_dropped} DATA and ${rep.loss.acks_dropped} ACK dropped on purpose (seed ${sc.seed})`);
  }
  lines.push(
    `  own cpu     ${fmt(rep.cpu.percent, 0)}% of one core (user ${fmt(rep.cpu.user_s, 2)} s, system ${fmt(rep.cpu.system_s, 2)} s), ` +
      `${rep.cpu.threads} thread(s), event loop busy ${rep.cpu.elu.map((e) => `${(e * 100).toFixed(0)}%`).join("/")}`,
  );
  for (const th of rep.thresholds) lines.push(`  threshold   ${th.ok ? "ok    " : "FAILED"} ${th.threshold} (measured ${Number(th.actual.toPrecision(6))})`);
  for (const w of rep.warnings) lines.push(`  WARNING: ${w}`);
  return lines.join("\n") + "\n";
}

// ---- HTML ----

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A 1-2-5 step that gives about `count` ticks up to `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const tickText = (v: number): string => String(Number(v.toPrecision(4)));

// One coordinate system for every chart: a 1000-unit-wide viewBox shown at the page's width.
const W = 1000;
const H = 340;
const PAD = { l: 86, r: 20, t: 34, b: 58 };
const COLORS = ["#1f6feb", "#d1242f", "#2da44e", "#bf8700", "#8250df"];

interface Series {
  name: string;
  values: Array<number | null>;
  color?: string;
}

function frame(title: string, xLabel: string, yLabel: string, yMax: number, xTicks: Array<[number, string]>, series: Series[]): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const parts: string[] = [];
  const step = niceStep(yMax);
  for (let v = 0; v <= yMax + step / 1e6; v += step) {
    const y = PAD.t + ih - (ih * v) / yMax;
    parts.push(`<line x1="${PAD.l}" y1="${y.toFixed(1)}" x2="${PAD.l + iw}" y2="${y.toFixed(1)}" stroke="#e1e4e8" />`);
    parts.push(`<text x="${PAD.l - 8}" y="${(y + 5).toFixed(1)}" text-anchor="end" font-size="14">${esc(tickText(v))}</text>`);
  }
  parts.push(`<line x1="${PAD.l}" y1="${PAD.t + ih}" x2="${PAD.l + iw}" y2="${PAD.t + ih}" stroke="#444" />`);
  parts.push(`<line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${PAD.t + ih}" stroke="#444" />`);
  for (const [x, label] of xTicks) {
    parts.push(`<line x1="${x.toFixed(1)}" y1="${PAD.t + ih}" x2="${x.toFixed(1)}" y2="${PAD.t + ih + 5}" stroke="#444" />`);
    parts.push(`<text x="${x.toFixed(1)}" y="${PAD.t + ih + 21}" text-anchor="middle" font-size="14">${esc(label)}</text>`);
  }
  parts.push(`<text x="${PAD.l}" y="20" font-size="16" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<text x="${PAD.l + iw / 2}" y="${H - 8}" text-anchor="middle" font-size="14">${esc(xLabel)}</text>`);
  parts.push(`<text x="16" y="${PAD.t + ih / 2}" text-anchor="middle" font-size="14" transform="rotate(-90 16 ${PAD.t + ih / 2})">${esc(yLabel)}</text>`);
  let lx = PAD.l + iw;
  for (let i = series.length - 1; i >= 0; i--) {
    const name = series[i].name;
    lx -= name.length * 8 + 34;
    parts.push(`<rect x="${lx}" y="10" width="14" height="14" fill="${series[i].color ?? COLORS[i % COLORS.length]}" />`);
    parts.push(`<text x="${lx + 19}" y="22" font-size="14">${esc(name)}</text>`);
  }
  return parts.join("");
}

function svg(label: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="${esc(label)}">${body}</svg>`;
}

/** A line chart over time (seconds since the start). */
export function lineChart(title: string, yLabel: string, ts: number[], series: Series[]): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const tMax = Math.max(ts.length ? ts[ts.length - 1] : 0, 1);
  const vMax = Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v))));
  const step = niceStep(vMax > 0 ? vMax : 1);
  const yMax = Math.max(step, Math.ceil((vMax > 0 ? vMax : 1) / step) * step);
  const x = (t: number): number => PAD.l + (iw * t) / tMax;
  const y = (v: number): number => PAD.t + ih - (ih * v) / yMax;
  const ticks: Array<[number, string]> = [];
  const tStep = niceStep(tMax, 10);
  for (let v = 0; v <= tMax + tStep / 1e6; v += tStep) ticks.push([x(v), `${tickText(v)} s`]);
  const lines = series.map((s, i) => {
    // A null (no session ended in that second) breaks the line.
    const runs: string[][] = [[]];
    s.values.forEach((v, k) => {
      if (v === null || !Number.isFinite(v)) runs.push([]);
      else runs[runs.length - 1].push(`${x(ts[k]).toFixed(1)},${y(v).toFixed(1)}`);
    });
    const color = s.color ?? COLORS[i % COLORS.length];
    return runs
      .filter((r) => r.length > 0)
      .map((r) => (r.length === 1 ? `<circle cx="${r[0].split(",")[0]}" cy="${r[0].split(",")[1]}" r="3" fill="${color}" />` : `<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${r.join(" ")}" />`))
      .join("");
  });
  return svg(title, frame(title, "time since the start", yLabel, yMax, ticks, series) + lines.join(""));
}

/** Bars per category, one bar per series side by side. */
export function barChart(title: string, xLabel: string, yLabel: string, labels: string[], series: Series[]): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const vMax = Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v))));
  const step = niceStep(vMax > 0 ? vMax : 1);
  const yMax = Math.max(step, Math.ceil((vMax > 0 ? vMax : 1) / step) * step);
  const gw = labels.length ? iw / labels.length : iw;
  const bw = Math.max(1, (gw * 0.8) / Math.max(1, series.length));
  const every = Math.max(1, Math.ceil(labels.length / 12));
  const ticks: Array<[number, string]> = [];
  const bars: string[] = [];
  labels.forEach((label, i) => {
    const g0 = PAD.l + i * gw + gw * 0.1;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || !Number.isFinite(v)) return;
      const h = (ih * v) / yMax;
      bars.push(
        `<rect x="${(g0 + j * bw).toFixed(1)}" y="${(PAD.t + ih - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color ?? COLORS[j % COLORS.length]}">` +
          `<title>${esc(`${label} ${s.name}: ${tickText(v)}`)}</title></rect>`,
      );
    });
    if (i % every === 0) ticks.push([PAD.l + i * gw + gw / 2, label.length > 18 ? `${label.slice(0, 17)}…` : label]);
  });
  return svg(title, frame(title, xLabel, yLabel, yMax, ticks, series) + bars.join(""));
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join("")}</tr>`)
    .join("")}</table>`;
}

const latencyHead = ["p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "p99.99 ms", "max ms"];
const latencyCells = (l: LatencySummary): string[] => [l.p50, l.p90, l.p99, l["p99.9"], l["p99.99"], l.max].map((v) => fmt(v, 2));

export const PAGE_STYLE =
  "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:none}table{border-collapse:collapse;margin:1em 0}" +
  "th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}th{background:#f4f4f4}.warn{color:#b35900;font-weight:bold}" +
  ".fail{color:#d1242f;font-weight:bold}.ok{color:#1a7f37}svg{display:block;width:100%;height:auto;margin:1em 0}.better{color:#1a7f37}.worse{color:#d1242f}";

export function page(title: string, body: string[]): string {
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8" />',
    '<meta name="viewport" content="width=device-width, initial-scale=1" />',
    `<title>${esc(title)}</title>`,
    `<style>${PAGE_STYLE}</style>`,
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** A self-contained page: inline CSS and SVG, no external assets. */
export function renderHtml(rep: Report): string {
  const l = rep.latency_ms;
  const sc = rep.scenario;
  const row = (k: string, v: string): string => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
  const errors = Object.entries(rep.errors);
  const what = sc.flow ? `flow ${sc.flow.join(" -> ")}` : (sc.files ?? []).map((f) => `${f.name}:${f.weight}`).join(", ");
  const who = sc.model === "open" ? `open model at ${sc.rate ?? 0}/s (${sc.arrival})` : `${sc.clients} client(s)`;
  const ts = rep.timeline.map((p) => p.t);
  const body = [
    `<h1>tftpkit-load: ${esc(rep.target)}</h1>`,
    `<p>Started ${esc(rep.started_at)}, ${esc(rep.elapsed_s.toFixed(2))} s; ${esc(who)}; ${esc(what)}${rep.runs > 1 ? `; ${rep.runs} runs merged` : ""}. tftpkit-load ${esc(rep.tool_version)}.</p>`,
    ...rep.warnings.map((w) => `<p class="warn">Warning: ${esc(w)}</p>`),
    ...rep.thresholds.map((t) => `<p class="${t.ok ? "ok" : "fail"}">Threshold ${esc(t.threshold)}: ${t.ok ? "ok" : "FAILED"} (measured ${esc(tickText(t.actual))})</p>`),
    "<h2>Summary</h2>",
    "<table>",
    row("sessions ok", String(rep.sessions.ok)),
    row("sessions failed", String(rep.sessions.failed)),
    ...(sc.model === "open"
      ? [row("sessions started", String(rep.sessions.started)), row("not started (max in flight)", String(rep.sessions.dropped)), row("started late (> 10 ms)", String(rep.sessions.late))]
      : []),
    ...(rep.sessions.cut ? [row("sessions cut by the time limit", String(rep.sessions.cut))] : []),
    row("throughput", `${fmt(rep.mbps, 2)} MB/s`),
    row("sessions per second", fmt(rep.sessions_per_s, 1)),
    row("latency p50 / p99 / p99.99 / max", `${fmt(l.p50, 2)} / ${fmt(l.p99, 2)} / ${fmt(l["p99.99"], 2)} / ${fmt(l.max, 2)} ms`),
    row("packets sent / received", `${rep.packets.sent} / ${rep.packets.received}`),
    row("retransmits", String(rep.retransmits)),
    row("injected loss (DATA / ACK dropped)", `${rep.loss.data_dropped} / ${rep.loss.acks_dropped}`),
    row("load generator CPU", `${fmt(rep.cpu.percent, 0)}% of one core, ${rep.cpu.threads} thread(s)${rep.cpu.saturated ? ", saturated" : ""}`),
    "</table>",
    "<h2>Latency</h2>",
    table(["sessions", ...latencyHead], [[l.count, ...latencyCells(l)]]),
    lineChart("Throughput over time", "MB/s", ts, [{ name: "MB/s", values: rep.timeline.map((p) => p.mbps) }]),
    lineChart("Sessions per second", "sessions/s", ts, [
      { name: "started", values: rep.timeline.map((p) => p.started) },
      { name: "ended ok", values: rep.timeline.map((p) => p.ok), color: COLORS[2] },
    ]),
    lineChart("Latency over time (sessions ending in each second)", "ms", ts, [
      { name: "p50", values: rep.timeline.map((p) => p.p50_ms) },
      { name: "p99", values: rep.timeline.map((p) => p.p99_ms), color: COLORS[1] },
    ]),
    lineChart("Errors over time", "per second", ts, [
      { name: "failed", values: rep.timeline.map((p) => p.failed), color: COLORS[1] },
      { name: "not started", values: rep.timeline.map((p) => p.dropped), color: COLORS[3] },
    ]),
    barChart(
      "Latency histogram",
      "session latency, ms (upper bound of each bucket)",
      "sessions",
      rep.histogram.map((b) => tickText(b.le_ms)),
      [{ name: "sessions", values: rep.histogram.map((b) => b.count), color: COLORS[2] }],
    ),
  ];
  if (rep.flows) {
    const f = rep.flows;
    body.push(
      "<h2>Boot flows</h2>",
      `<p>${f.ok} flow(s) ok, ${f.failed} failed${sc.think_ms ? `; ${sc.think_ms} ms think time between steps` : ""}.</p>`,
      table(["", "ok", "failed", ...latencyHead], [
        ["whole flow", f.ok, f.failed, ...latencyCells(f.latency_ms)],
        ...f.steps.map((st) => [`step ${st.step}: ${st.file}`, st.ok, st.failed, ...latencyCells(st.latency_ms)]),
      ]),
      barChart("Latency per flow step", "step", "ms", f.steps.map((st) => `${st.step}: ${st.file}`), [
        { name: "p50", values: f.steps.map((st) => st.latency_ms.p50) },
        { name: "p99", values: f.steps.map((st) => st.latency_ms.p99), color: COLORS[1] },
        { name: "max", values: f.steps.map((st) => st.latency_ms.max), color: COLORS[3] },
      ]),
    );
  }
  body.push(
    "<h2>Files</h2>",
    table(["file", "ok", "failed", ...latencyHead], Object.entries(rep.files).map(([name, f]) => [name, f.ok, f.failed, ...latencyCells(f.latency_ms)])),
    "<h2>Errors</h2>",
    errors.length
      ? table(
          ["cause", "sessions", "messages"],
          errors.map(([k, v]) => [/^\d$/.test(k) ? `TFTP error ${k}` : k, v, Object.entries(rep.error_messages[k] ?? {}).map(([m, n]) => `${m} (${n})`).join("; ")]),
        )
      : "<p>None.</p>",
  );
  return page(`tftpkit-load report: ${rep.target}`, body);
}

/** Decodes a report's overall latency histogram (for tests and tools). */
export function latencyHistOf(rep: Report): ReturnType<typeof decodeHist> {
  return decodeHist(rawOf(rep).latency);
}
