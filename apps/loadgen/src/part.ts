// The figures of a run, or of one thread of it, in a form that adds up:
// counters, errors, HDR histograms (overall, per file, per flow step, whole
// flows, start lag) and a timeline of one-second buckets keyed by epoch
// second. Threads of one run and runs of several load machines merge with
// the same function, so a merged report is as exact as a single run's.

import { addHist, encodeHist, newHist, type Histogram } from "./hist.js";

export interface Totals {
  ok: number;
  failed: number;
  /** Sessions cut short by the time limit (neither ok nor failed). */
  cut: number;
  /** Sessions started. */
  started: number;
  /** Open model: scheduled sessions (or flows) not started because --max-in-flight were running. */
  dropped: number;
  /** Open model: sessions started more than LATE_MS after their scheduled time. */
  late: number;
  flowsOk: number;
  flowsFailed: number;
  bytes: number;
  wireBytes: number;
  packetsSent: number;
  packetsReceived: number;
  retransmits: number;
  timeouts: number;
  dataDropped: number;
  acksDropped: number;
}

export function emptyTotals(): Totals {
  return {
    ok: 0, failed: 0, cut: 0, started: 0, dropped: 0, late: 0, flowsOk: 0, flowsFailed: 0, bytes: 0, wireBytes: 0,
    packetsSent: 0, packetsReceived: 0, retransmits: 0, timeouts: 0, dataDropped: 0, acksDropped: 0,
  };
}

export function addTotals(into: Totals, t: Totals): void {
  for (const k of Object.keys(into) as Array<keyof Totals>) into[k] += t[k] ?? 0;
}

export interface Tally<H> {
  ok: number;
  failed: number;
  /** Latency of the sessions that succeeded. */
  hdr: H;
}

export interface TimeBucket<H> {
  /** Epoch second the bucket starts at. */
  t: number;
  started: number;
  ok: number;
  failed: number;
  dropped: number;
  /** Payload bytes received within the second. */
  bytes: number;
  /** Latency of the sessions that ended within the second. */
  hdr: H;
}

export interface Part<H> {
  totals: Totals;
  errors: Record<string, number>;
  /** Per error key, the messages seen and how often (at most 10 distinct per key). */
  errorMessages: Record<string, Record<string, number>>;
  /** Sessions that succeeded; in the open model from their scheduled start. */
  latency: H;
  /** Open model: how late sessions started after their scheduled time. */
  lag: H;
  /** Whole flows (first step's start to the last step's end, think time included). */
  flow: H;
  files: Record<string, Tally<H>>;
  /** Flow steps in order (empty without a flow). */
  steps: Array<Tally<H> & { file: string }>;
  timeline: Array<TimeBucket<H>>;
}

export type LivePart = Part<Histogram>;
export type WirePart = Part<string>;

export function emptyPart(steps: string[] = []): LivePart {
  return {
    totals: emptyTotals(),
    errors: {},
    errorMessages: {},
    latency: newHist(),
    lag: newHist(),
    flow: newHist(),
    files: {},
    steps: steps.map((file) => ({ file, ok: 0, failed: 0, hdr: newHist() })),
    timeline: [],
  };
}

export function addMessage(into: Record<string, Record<string, number>>, key: string, message: string, n = 1): void {
  const msgs = (into[key] ??= {});
  if (msgs[message] !== undefined || Object.keys(msgs).length < 10) msgs[message] = (msgs[message] ?? 0) + n;
}

/** Adds parts (live or encoded) into one live part. */
export function mergeParts(parts: Array<Part<Histogram | string>>): LivePart {
  const out = emptyPart();
  const buckets = new Map<number, TimeBucket<Histogram>>();
  for (const p of parts) {
    addTotals(out.totals, p.totals);
    for (const [k, v] of Object.entries(p.errors)) out.errors[k] = (out.errors[k] ?? 0) + v;
    for (const [k, msgs] of Object.entries(p.errorMessages)) for (const [m, v] of Object.entries(msgs)) addMessage(out.errorMessages, k, m, v);
    addHist(out.latency, p.latency);
    addHist(out.lag, p.lag);
    addHist(out.flow, p.flow);
    for (const [name, f] of Object.entries(p.files)) {
      const into = (out.files[name] ??= { ok: 0, failed: 0, hdr: newHist() });
      into.ok += f.ok;
      into.failed += f.failed;
      addHist(into.hdr, f.hdr);
    }
    p.steps.forEach((st, i) => {
      const into = (out.steps[i] ??= { file: st.file, ok: 0, failed: 0, hdr: newHist() });
      into.ok += st.ok;
      into.failed += st.failed;
      addHist(into.hdr, st.hdr);
    });
    for (const b of p.timeline) {
      let into = buckets.get(b.t);
      if (!into) buckets.set(b.t, (into = { t: b.t, started: 0, ok: 0, failed: 0, dropped: 0, bytes: 0, hdr: newHist() }));
      into.started += b.started;
      into.ok += b.ok;
      into.failed += b.failed;
      into.dropped += b.dropped;
      into.bytes += b.bytes;
      addHist(into.hdr, b.hdr);
    }
  }
  out.timeline = [...buckets.values()].sort((a, b) => a.t - b.t);
  return out;
}

export function encodePart(p: LivePart): WirePart {
  return {
    ...p,
    totals: { ...p.totals },
    latency: encodeHist(p.latency),
    lag: encodeHist(p.lag),
    flow: encodeHist(p.flow),
    files: Object.fromEntries(Object.entries(p.files).map(([k, f]) => [k, { ok: f.ok, failed: f.failed, hdr: encodeHist(f.hdr) }])),
    steps: p.steps.map((s) => ({ file: s.file, ok: s.ok, failed: s.failed, hdr: encodeHist(s.hdr) })),
    timeline: p.timeline.map((b) => ({ ...b, hdr: encodeHist(b.hdr) })),
  };
}
