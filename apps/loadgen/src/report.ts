// The report model: one JSON document (for scripts, and for `merge`, which
// reads its `raw` part back) built from a run's raw figures. `render.ts`
// turns it into a text summary and an HTML page.

import { histogramBuckets, summarize, type Bucket, type LatencySummary } from "./hist.js";
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
