// The final report: one JSON document (for scripts), a text summary (for a
// terminal) and a self-contained HTML page (inline SVG charts, no assets).

import { histogram, summarize, type Bucket, type LatencySummary } from "./stats.js";
import type { RawRun } from "./run.js";

/** Share of a thread's time busy above which the load generator counts as saturated. */
export const SATURATION_ELU = 0.9;

export interface Report {
  tool: "tftpkit-load";
  version: 1;
  target: string;
  scenario: {
    clients: number;
    sessions: number | null;
    duration_s: number | null;
    files: Array<{ name: string; weight: number }> | null;
    flow: string[] | null;
    blksize: number | null;
    windowsize: number | null;
    tsize: boolean;
    mode: string;
    ramp_up_s: number;
    loss: { data: number; ack: number };
    seed: number;
    workers: number;
    verify: "dir" | "sha256" | null;
  };
  started_at: string;
  elapsed_s: number;
  /** total = ok + failed; cut = sessions stopped by the time limit (not counted in total). */
  sessions: { ok: number; failed: number; total: number; cut: number };
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
  /** Durations of the sessions that succeeded, request to last ACK. */
  latency_ms: LatencySummary;
  /** Per file: sessions and latency (a boot flow's steps apart). */
  files: Record<string, { ok: number; failed: number; latency_ms: LatencySummary }>;
  packets: { sent: number; received: number };
  retransmits: number;
  timeouts: number;
  loss: { data_dropped: number; acks_dropped: number };
  cpu: {
    user_s: number;
    system_s: number;
    /** CPU time over wall time, in percent of one core. */
    percent: number;
    threads: number;
    cores: number;
    /** Event-loop utilization of each thread (main first when workers run). */
    elu: number[];
    saturated: boolean;
  };
  warnings: string[];
  timeline: Array<{ t: number; mbps: number; sessions_per_s: number; ok: number; failed: number }>;
  histogram: Bucket[];
}

const round = (v: number, d = 3): number => (Number.isFinite(v) ? Number(v.toFixed(d)) : v);

function roundSummary(l: LatencySummary): LatencySummary {
  return { count: l.count, min: round(l.min), mean: round(l.mean), p50: round(l.p50), p90: round(l.p90), p99: round(l.p99), max: round(l.max) };
}

export function buildReport(r: RawRun): Report {
  const s = r.scenario;
  const total = r.totals.ok + r.totals.failed;
  const lat = summarize(r.latencies);
  const cpuS = r.cpu.userS + r.cpu.systemS;
  const percent = r.elapsedS > 0 ? (cpuS / r.elapsedS) * 100 : 0;
  // The threads that run clients: all of them in-thread, the workers otherwise.
  const clientElu = r.cpu.threads === 1 ? r.cpu.elu : r.cpu.elu.slice(1);
  const maxElu = Math.max(0, ...clientElu);
  const usable = Math.min(r.cpu.cores, r.cpu.threads);
  const saturated = maxElu >= SATURATION_ELU || percent >= SATURATION_ELU * 100 * usable;
  const warnings: string[] = [];
  if (saturated) {
    warnings.push(
      `the load generator itself was saturated (busiest client thread ${(maxElu * 100).toFixed(0)}% busy, ` +
        `${percent.toFixed(0)}% of one core over ${r.cpu.threads} thread(s) on ${r.cpu.cores} core(s)): ` +
        "the figures may measure it rather than the server; spread clients with --workers or run it on another machine",
    );
  }
  if (total === 0) warnings.push("no session ran");
  if (r.totals.cut > 0) warnings.push(`the time limit (${s.timeLimit} s) cut ${r.totals.cut} session(s) short; rates count their bytes, latencies only finished sessions`);
  const timeline: Report["timeline"] = [];
  for (let i = 1; i < r.timeline.length; i++) {
    const a = r.timeline[i - 1];
    const b = r.timeline[i];
    const dt = b.t - a.t;
    if (dt <= 0.01) continue;
    timeline.push({
      t: round(b.t),
      mbps: round((b.bytes - a.bytes) / dt / 1e6),
      sessions_per_s: round((b.ok + b.failed - a.ok - a.failed) / dt),
      ok: b.ok,
      failed: b.failed,
    });
  }
  const verify = s.verifyDir ? "dir" : s.sha256 ? "sha256" : null;
  return {
    tool: "tftpkit-load",
    version: 1,
    target: s.host.includes(":") ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`,
    scenario: {
      clients: s.clients,
      sessions: Number.isFinite(s.sessions) ? s.sessions : null,
      duration_s: Number.isFinite(s.duration) ? s.duration : null,
      files: s.flow ? null : s.files,
      flow: s.flow,
      blksize: s.blksize ?? null,
      windowsize: s.windowsize ?? null,
      tsize: s.tsize,
      mode: s.mode,
      ramp_up_s: s.rampUp,
      loss: { data: s.lossData, ack: s.lossAck },
      seed: s.seed,
      workers: s.workers,
      verify,
    },
    started_at: r.startedAt,
    elapsed_s: round(r.elapsedS),
    sessions: { ok: r.totals.ok, failed: r.totals.failed, total, cut: r.totals.cut },
    errors: r.errors,
    error_messages: r.errorMessages,
    bytes: r.totals.bytes,
    wire_bytes: r.totals.wireBytes,
    mbps: round(r.elapsedS > 0 ? r.totals.bytes / r.elapsedS / 1e6 : 0),
    sessions_per_s: round(r.elapsedS > 0 ? total / r.elapsedS : 0),
    latency_ms: roundSummary(lat),
    files: Object.fromEntries(
      Object.entries(r.files).map(([name, f]) => [name, { ok: f.ok, failed: f.failed, latency_ms: roundSummary(summarize(Float64Array.from(f.latencies))) }]),
    ),
    packets: { sent: r.totals.packetsSent, received: r.totals.packetsReceived },
    retransmits: r.totals.retransmits,
    timeouts: r.totals.timeouts,
    loss: { data_dropped: r.totals.dataDropped, acks_dropped: r.totals.acksDropped },
    cpu: {
      user_s: round(r.cpu.userS),
      system_s: round(r.cpu.systemS),
      percent: round(percent, 1),
      threads: r.cpu.threads,
      cores: r.cpu.cores,
      elu: r.cpu.elu.map((e) => round(e)),
      saturated,
    },
    warnings,
    timeline,
    histogram: histogram(r.latencies),
  };
}

const fmt = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : "-");

export function renderText(rep: Report): string {
  const l = rep.latency_ms;
  const errs = Object.entries(rep.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${/^\d$/.test(k) ? `TFTP ${k}` : k}: ${v}`)
    .join(", ");
  const lines = [
    `tftpkit-load -> ${rep.target}: ${rep.scenario.clients} client(s), ${rep.elapsed_s.toFixed(2)} s`,
    `  sessions    ${rep.sessions.ok} ok, ${rep.sessions.failed} failed${errs ? ` (${errs})` : ""}` +
      (rep.sessions.cut ? `, ${rep.sessions.cut} cut short by the time limit` : ""),
    `  throughput  ${fmt(rep.mbps, 2)} MB/s, ${fmt(rep.sessions_per_s, 1)} sessions/s, ${rep.bytes} bytes`,
    `  latency ms  p50 ${fmt(l.p50, 2)}  p90 ${fmt(l.p90, 2)}  p99 ${fmt(l.p99, 2)}  max ${fmt(l.max, 2)}`,
    ...(Object.keys(rep.files).length > 1
      ? Object.entries(rep.files).map(
          ([name, f]) => `    ${name}: ${f.ok} ok, ${f.failed} failed, p50 ${fmt(f.latency_ms.p50, 2)}  p99 ${fmt(f.latency_ms.p99, 2)} ms`,
        )
      : []),
    ...Object.entries(rep.error_messages).flatMap(([k, msgs]) =>
      Object.entries(msgs).map(([m, v]) => `    ${/^\d$/.test(k) ? `TFTP ${k}` : k} "${m}": ${v}`),
    ),
    `  packets     ${rep.packets.sent} sent, ${rep.packets.received} received, ${rep.retransmits} retransmitted, ${rep.timeouts} timeouts`,
  ];
  if (rep.scenario.loss.data > 0 || rep.scenario.loss.ack > 0) {
    lines.push(`  loss        ${rep.loss.data_dropped} DATA and ${rep.loss.acks_dropped} ACK dropped on purpose (seed ${rep.scenario.seed})`);
  }
  lines.push(
    `  own cpu     ${fmt(rep.cpu.percent, 0)}% of one core (user ${fmt(rep.cpu.user_s, 2)} s, system ${fmt(rep.cpu.system_s, 2)} s), ` +
      `${rep.cpu.threads} thread(s), event loop busy ${rep.cpu.elu.map((e) => `${(e * 100).toFixed(0)}%`).join("/")}`,
  );
  for (const w of rep.warnings) lines.push(`  WARNING: ${w}`);
  return lines.join("\n") + "\n";
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const W = 720;
const H = 260;
const PAD = { l: 56, r: 16, t: 16, b: 40 };

function axes(xLabel: string, yLabel: string, yMax: number, xTicks: Array<[number, string]>): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const parts: string[] = [];
  parts.push(`<line x1="${PAD.l}" y1="${PAD.t + ih}" x2="${PAD.l + iw}" y2="${PAD.t + ih}" stroke="#444" />`);
  parts.push(`<line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${PAD.t + ih}" stroke="#444" />`);
  for (let i = 0; i <= 4; i++) {
    const y = PAD.t + ih - (ih * i) / 4;
    parts.push(`<line x1="${PAD.l}" y1="${y.toFixed(1)}" x2="${PAD.l + iw}" y2="${y.toFixed(1)}" stroke="#ddd" />`);
    parts.push(`<text x="${PAD.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${esc(String(Number(((yMax * i) / 4).toPrecision(3))))}</text>`);
  }
  for (const [x, label] of xTicks) {
    parts.push(`<text x="${x.toFixed(1)}" y="${PAD.t + ih + 16}" text-anchor="middle" font-size="11">${esc(label)}</text>`);
  }
  parts.push(`<text x="${PAD.l + iw / 2}" y="${H - 6}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  parts.push(`<text x="14" y="${PAD.t + ih / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${PAD.t + ih / 2})">${esc(yLabel)}</text>`);
  return parts.join("");
}

export function throughputSvg(rep: Report): string {
  const pts = rep.timeline;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const tMax = Math.max(pts.length ? pts[pts.length - 1].t : 0, 0.001);
  const yMax = niceMax(Math.max(0, ...pts.map((p) => p.mbps)));
  const x = (t: number): number => PAD.l + (iw * t) / tMax;
  const y = (v: number): number => PAD.t + ih - (ih * v) / yMax;
  const ticks: Array<[number, string]> = [];
  for (let i = 0; i <= 5; i++) ticks.push([x((tMax * i) / 5), `${Number(((tMax * i) / 5).toPrecision(3))}`]);
  const line = pts.map((p) => `${x(p.t).toFixed(1)},${y(p.mbps).toFixed(1)}`).join(" ");
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="Throughput over time">` +
    axes("seconds", "MB/s", yMax, ticks) +
    (pts.length ? `<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="${line}" />` : "") +
    `</svg>`
  );
}

export function histogramSvg(rep: Report): string {
  const b = rep.histogram;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const yMax = niceMax(Math.max(0, ...b.map((x) => x.count)));
  const bw = b.length ? iw / b.length : iw;
  const bars: string[] = [];
  const ticks: Array<[number, string]> = [];
  const every = Math.max(1, Math.ceil(b.length / 10));
  b.forEach((bucket, i) => {
    const h = (ih * bucket.count) / yMax;
    const x0 = PAD.l + i * bw;
    bars.push(
      `<rect x="${(x0 + 1).toFixed(1)}" y="${(PAD.t + ih - h).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#2da44e">` +
        `<title>&lt;= ${esc(String(bucket.le_ms))} ms: ${bucket.count}</title></rect>`,
    );
    if (i % every === 0) ticks.push([x0 + bw / 2, `${bucket.le_ms}`]);
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="Latency histogram">` +
    axes("session latency, ms (upper bound of each bucket)", "sessions", yMax, ticks) +
    bars.join("") +
    `</svg>`
  );
}

/** A self-contained page: well-formed XHTML-style markup, inline CSS and SVG, no external assets. */
export function renderHtml(rep: Report): string {
  const l = rep.latency_ms;
  const row = (k: string, v: string): string => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
  const errors = Object.entries(rep.errors);
  const what = rep.scenario.flow ? `flow ${rep.scenario.flow.join(" -> ")}` : (rep.scenario.files ?? []).map((f) => `${f.name}:${f.weight}`).join(", ");
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8" />',
    `<title>tftpkit-load report: ${esc(rep.target)}</title>`,
    "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}" +
      "th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}th{background:#f4f4f4}.warn{color:#b35900;font-weight:bold}</style>",
    "</head>",
    "<body>",
    `<h1>tftpkit-load: ${esc(rep.target)}</h1>`,
    `<p>Started ${esc(rep.started_at)}, ${esc(rep.elapsed_s.toFixed(2))} s; ${rep.scenario.clients} client(s); ${esc(what)}.</p>`,
    ...rep.warnings.map((w) => `<p class="warn">Warning: ${esc(w)}</p>`),
    "<h2>Summary</h2>",
    "<table>",
    row("sessions ok", String(rep.sessions.ok)),
    row("sessions failed", String(rep.sessions.failed)),
    ...(rep.sessions.cut ? [row("sessions cut by the time limit", String(rep.sessions.cut))] : []),
    row("throughput", `${fmt(rep.mbps, 2)} MB/s`),
    row("sessions per second", fmt(rep.sessions_per_s, 1)),
    row("latency p50 / p90 / p99 / max", `${fmt(l.p50, 2)} / ${fmt(l.p90, 2)} / ${fmt(l.p99, 2)} / ${fmt(l.max, 2)} ms`),
    row("packets sent / received", `${rep.packets.sent} / ${rep.packets.received}`),
    row("retransmits", String(rep.retransmits)),
    row("injected loss (DATA / ACK dropped)", `${rep.loss.data_dropped} / ${rep.loss.acks_dropped}`),
    row("load generator CPU", `${fmt(rep.cpu.percent, 0)}% of one core, ${rep.cpu.threads} thread(s)${rep.cpu.saturated ? ", saturated" : ""}`),
    "</table>",
    "<h2>Files</h2>",
    `<table><tr><th>file</th><th>ok</th><th>failed</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>${Object.entries(rep.files)
      .map(([name, f]) => `<tr><td>${esc(name)}</td><td>${f.ok}</td><td>${f.failed}</td><td>${fmt(f.latency_ms.p50, 2)}</td><td>${fmt(f.latency_ms.p99, 2)}</td><td>${fmt(f.latency_ms.max, 2)}</td></tr>`)
      .join("")}</table>`,
    "<h2>Errors</h2>",
    errors.length
      ? `<table><tr><th>cause</th><th>sessions</th><th>messages</th></tr>${errors
          .map(([k, v]) => {
            const msgs = Object.entries(rep.error_messages[k] ?? {}).map(([m, n]) => `${m} (${n})`).join("; ");
            return `<tr><td>${esc(/^\d$/.test(k) ? `TFTP error ${k}` : k)}</td><td>${v}</td><td>${esc(msgs)}</td></tr>`;
          })
          .join("")}</table>`
      : "<p>None.</p>",
    "<h2>Throughput over time</h2>",
    throughputSvg(rep),
    "<h2>Latency histogram</h2>",
    histogramSvg(rep),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
