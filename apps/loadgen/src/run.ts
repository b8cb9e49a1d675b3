// Runs a scenario: its clients in this thread, or spread over worker threads
// that share one session counter. Samples progress every 250 ms for the live
// line and the throughput timeline, and measures its own CPU use.

import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { Engine, emptyTotals, type EngineConfig, type EngineResult, type EngineTotals, type FileTally, type SessionRecord } from "./engine.js";
import type { Scenario } from "./scenario.js";

export const SAMPLE_MS = 250;

export interface Progress {
  elapsedS: number;
  totals: EngineTotals;
  /** MB/s over the last sample. */
  mbps: number;
}

export interface TimelinePoint {
  t: number; // seconds since start
  bytes: number; // cumulative payload bytes
  ok: number;
  failed: number;
}

export interface RawRun {
  scenario: Scenario;
  startedAt: string;
  elapsedS: number;
  totals: EngineTotals;
  errors: Record<string, number>;
  errorMessages: Record<string, Record<string, number>>;
  files: Record<string, FileTally>;
  latencies: Float64Array;
  sessions?: SessionRecord[];
  timeline: TimelinePoint[];
  cpu: { userS: number; systemS: number; threads: number; cores: number; elu: number[] };
}

export interface RunOptions {
  onProgress?: (p: Progress) => void;
  /** Keep a record per session (tests, small runs). */
  keepSessions?: boolean;
}

function addTotals(into: EngineTotals, t: EngineTotals): void {
  for (const k of Object.keys(into) as Array<keyof EngineTotals>) into[k] += t[k];
}

function workerUrl(): URL {
  // From dist/ the worker is beside this file; from src/ (tests) use the built one.
  const here = import.meta.url;
  return here.endsWith(".ts") ? new URL("../dist/worker.js", here) : new URL("./worker.js", here);
}

export async function runLoad(scenario: Scenario, opts: RunOptions = {}): Promise<RawRun> {
  const tickets = new SharedArrayBuffer(4);
  const startEpochMs = Date.now() + 20;
  const startedAt = new Date(startEpochMs).toISOString();
  const threads = Math.min(scenario.workers, scenario.clients);
  const keepSessions = opts.keepSessions ?? false;
  const cpu0 = process.cpuUsage();
  const mainElu0 = performance.eventLoopUtilization();
  const t0 = performance.now() + 20;

  const live: Array<() => EngineTotals> = [];
  const results: Array<Promise<EngineResult>> = [];
  const share = (k: number): number[] => {
    const ids: number[] = [];
    for (let id = k; id < scenario.clients; id += threads) ids.push(id);
    return ids;
  };
  if (threads <= 1) {
    const cfg: EngineConfig = { scenario, clients: share(0), startEpochMs, keepSessions };
    const engine = new Engine(cfg, new Int32Array(tickets));
    live.push(() => engine.totals);
    results.push(engine.run());
  } else {
    for (let k = 0; k < threads; k++) {
      const cfg: EngineConfig = { scenario, clients: share(k), startEpochMs, keepSessions };
      const w = new Worker(workerUrl(), { workerData: { cfg, tickets } });
      let latest = emptyTotals();
      live.push(() => latest);
      results.push(
        new Promise<EngineResult>((resolve, reject) => {
          w.on("message", (m: { type: string; totals?: EngineTotals; result?: EngineResult; message?: string }) => {
            if (m.totals) latest = m.totals;
            if (m.type === "done") resolve(m.result!);
            else if (m.type === "error") reject(new Error(`worker ${k}: ${m.message}`));
          });
          w.on("error", reject);
          w.on("exit", (code) => {
            if (code !== 0) reject(new Error(`worker ${k} exited with code ${code}`));
          });
        }),
      );
    }
  }

  const timeline: TimelinePoint[] = [{ t: 0, bytes: 0, ok: 0, failed: 0 }];
  const sum = (): EngineTotals => {
    const t = emptyTotals();
    for (const f of live) addTotals(t, f());
    return t;
  };
  const sample = (): void => {
    const t = sum();
    const elapsedS = Math.max(0, (performance.now() - t0) / 1000);
    const prev = timeline[timeline.length - 1];
    timeline.push({ t: elapsedS, bytes: t.bytes, ok: t.ok, failed: t.failed });
    const dt = elapsedS - prev.t;
    opts.onProgress?.({ elapsedS, totals: t, mbps: dt > 0 ? (t.bytes - prev.bytes) / dt / 1e6 : 0 });
  };
  const timer = setInterval(sample, SAMPLE_MS);
  let done: EngineResult[];
  try {
    done = await Promise.all(results);
  } finally {
    clearInterval(timer);
  }
  sample(); // a last progress line with the final counts
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainElu = performance.eventLoopUtilization(mainElu0).utilization;

  const totals = emptyTotals();
  const errors: Record<string, number> = {};
  const errorMessages: Record<string, Record<string, number>> = {};
  const files: Record<string, FileTally> = {};
  let n = 0;
  for (const r of done) {
    addTotals(totals, r);
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const [k, msgs] of Object.entries(r.errorMessages)) {
      const into = (errorMessages[k] ??= {});
      for (const [m, v] of Object.entries(msgs)) into[m] = (into[m] ?? 0) + v;
    }
    for (const [name, f] of Object.entries(r.files)) {
      const into = (files[name] ??= { ok: 0, failed: 0, latencies: [] });
      into.ok += f.ok;
      into.failed += f.failed;
      for (const l of f.latencies) into.latencies.push(l);
    }
    n += r.latencies.length;
  }
  const latencies = new Float64Array(n);
  let at = 0;
  for (const r of done) {
    latencies.set(r.latencies, at);
    at += r.latencies.length;
  }
  if (elapsedS - timeline[timeline.length - 1].t > 0.01) timeline.push({ t: elapsedS, bytes: totals.bytes, ok: totals.ok, failed: totals.failed });
  const sessions = keepSessions ? done.flatMap((r) => r.sessions ?? []).sort((a, b) => a.index - b.index) : undefined;
  return {
    scenario,
    startedAt,
    elapsedS,
    totals,
    errors,
    errorMessages,
    files,
    latencies,
    sessions,
    timeline,
    cpu: {
      userS: cpu.user / 1e6,
      systemS: cpu.system / 1e6,
      threads: threads <= 1 ? 1 : threads + 1,
      cores: availableParallelism(),
      elu: threads <= 1 ? [done[0].elu] : [mainElu, ...done.map((r) => r.elu)],
    },
  };
}
