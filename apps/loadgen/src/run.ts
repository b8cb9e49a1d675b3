// Runs a scenario: its sessions in this thread, or spread over worker threads
// that share the session counter and the in-flight count. Samples the totals
// every 250 ms for the live line, measures its own CPU use, and merges the
// threads' parts (counters, HDR histograms, timeline) into one.

import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { Engine, loadCopies, SHARED_SLOTS, warmUp, type EngineConfig, type EngineResult, type SessionRecord } from "./engine.js";
import { addTotals, emptyTotals, mergeParts, type LivePart, type Totals } from "./part.js";
import type { Scenario } from "./scenario.js";
import { checkBindable, parseAddressPool } from "./address-pool.js";

export const SAMPLE_MS = 250;

export interface Progress {
  elapsedS: number;
  totals: Totals;
  /** MB/s over the last sample. */
  mbps: number;
}

export interface RawRun {
  scenario: Scenario;
  startedAt: string;
  startEpochMs: number;
  elapsedS: number;
  part: LivePart;
  sessions?: SessionRecord[];
  /** The run was stopped early by RunOptions.signal. */
  interrupted: boolean;
  cpu: { userS: number; systemS: number; threads: number; cores: number; elu: number[] };
}

export interface RunOptions {
  onProgress?: (p: Progress) => void;
  /** Keep a record per session (tests, small runs). */
  keepSessions?: boolean;
  /** Stops the run early (Ctrl-C): no new session, running ones cut short; the figures so far are returned. */
  signal?: AbortSignal;
}

function workerUrl(): URL {
  // From dist/ the worker is beside this file; from src/ (tests) use the built one.
  const here = import.meta.url;
  return here.endsWith(".ts") ? new URL("../dist/worker.js", here) : new URL("./worker.js", here);
}

export async function runLoad(scenario: Scenario, opts: RunOptions = {}): Promise<RawRun> {
  if (scenario.source) await checkBindable(parseAddressPool(scenario.source));
  const shared = new SharedArrayBuffer(4 * SHARED_SLOTS);
  const copies = loadCopies(scenario);
  const open = scenario.rate !== null;
  const threads = Math.max(1, open ? scenario.workers : Math.min(scenario.workers, scenario.clients));
  const keepSessions = opts.keepSessions ?? false;
  const config = (k: number, startEpochMs: number): EngineConfig => {
    const clients: number[] = [];
    if (!open) for (let id = k; id < scenario.clients; id += threads) clients.push(id);
    return { scenario, thread: k, threads, clients, startEpochMs, keepSessions, copies };
  };

  const live: Array<() => Totals> = [];
  const stops: Array<() => void> = [];
  const results: Array<Promise<EngineResult>> = [];
  // Worker threads first load their modules (~0.2 s each here) and run their
  // --warmup sessions: the run's clock starts once every thread is ready, so
  // that neither is part of the figures, and all threads start together.
  const workers: Worker[] = [];
  if (threads > 1) {
    const ready: Array<Promise<void>> = [];
    for (let k = 0; k < threads; k++) {
      const w = new Worker(workerUrl(), { workerData: { cfg: config(k, 0), shared } });
      workers.push(w);
      let latest = emptyTotals();
      live.push(() => latest);
      stops.push(() => w.postMessage({ type: "stop" }));
      let isReady!: () => void;
      ready.push(new Promise<void>((resolve) => (isReady = resolve)));
      results.push(
        new Promise<EngineResult>((resolve, reject) => {
          w.on("message", (m: { type: string; totals?: Totals; result?: EngineResult; message?: string }) => {
            if (m.totals) latest = m.totals;
            if (m.type === "ready") isReady();
            else if (m.type === "done") resolve(m.result!);
            else if (m.type === "error") reject(new Error(`worker ${k}: ${m.message}`));
          });
          w.on("error", reject);
          w.on("exit", (code) => {
            if (code !== 0) reject(new Error(`worker ${k} exited with code ${code}`));
          });
        }),
      );
    }
    // A worker that fails before it is ready ends the wait too (its error comes from `results`).
    await Promise.race([Promise.all(ready), Promise.all(results)]).catch(() => {});
  }
  // --warmup: each worker ran its warm-up before it said ready; the main thread runs its own now.
  if (threads <= 1) await warmUp(config(0, 0));
  const startEpochMs = Date.now() + (threads > 1 ? 5 : 0);
  const startedAt = new Date(startEpochMs).toISOString();
  const cpu0 = process.cpuUsage();
  const mainElu0 = performance.eventLoopUtilization();
  const t0 = performance.now() + (startEpochMs - Date.now());
  if (threads <= 1) {
    const engine = new Engine(config(0, startEpochMs), new Int32Array(shared));
    live.push(() => engine.totals);
    stops.push(() => engine.stop());
    results.push(engine.run());
  } else {
    for (const w of workers) w.postMessage({ type: "start", startEpochMs });
  }

  let prev = { t: 0, bytes: 0 };
  const sample = (): void => {
    const t = emptyTotals();
    for (const f of live) addTotals(t, f());
    const elapsedS = Math.max(0, (performance.now() - t0) / 1000);
    const dt = elapsedS - prev.t;
    opts.onProgress?.({ elapsedS, totals: t, mbps: dt > 0 ? (t.bytes - prev.bytes) / dt / 1e6 : 0 });
    prev = { t: elapsedS, bytes: t.bytes };
  };
  const timer = opts.onProgress ? setInterval(sample, SAMPLE_MS) : undefined;
  const stopAll = (): void => stops.forEach((f) => f());
  if (opts.signal?.aborted) stopAll();
  opts.signal?.addEventListener("abort", stopAll, { once: true });
  let done: EngineResult[];
  try {
    done = await Promise.all(results);
  } finally {
    clearInterval(timer);
    opts.signal?.removeEventListener("abort", stopAll);
  }
  if (opts.onProgress) sample(); // a last progress line with the final counts
  // Until the last session ended (not until the threads' figures arrived).
  const endEpochMs = Math.max(...done.map((r) => r.endEpochMs));
  const elapsedS = Math.max(0, Math.min(performance.now() - t0, endEpochMs - startEpochMs) / 1000);
  const cpu = process.cpuUsage(cpu0);
  const mainElu = performance.eventLoopUtilization(mainElu0).utilization;
  const part = mergeParts(done.map((r) => r.part));
  const sessions = keepSessions ? done.flatMap((r) => r.sessions ?? []).sort((a, b) => a.index - b.index) : undefined;
  return {
    scenario,
    startedAt,
    startEpochMs,
    elapsedS,
    part,
    sessions,
    interrupted: opts.signal?.aborted ?? false,
    cpu: {
      userS: cpu.user / 1e6,
      systemS: cpu.system / 1e6,
      threads: threads <= 1 ? 1 : threads + 1,
      cores: availableParallelism(),
      elu: threads <= 1 ? [done[0].elu] : [mainElu, ...done.map((r) => r.elu)],
    },
  };
}
