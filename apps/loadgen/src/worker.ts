// A worker thread of the load generator: runs its share of the sessions and
// posts its totals every PROGRESS_MS, then its result (histograms encoded).
// It says "ready" once loaded (and its --warmup sessions ran) and starts on the primary's "start".

import { parentPort, workerData } from "node:worker_threads";
import { Engine, warmUp, type EngineConfig } from "./engine.js";

export const PROGRESS_MS = 250;

interface WorkerInput {
  cfg: EngineConfig;
  shared: SharedArrayBuffer;
}

if (parentPort) {
  const port = parentPort;
  const { cfg, shared } = workerData as WorkerInput;
  let engine: Engine | undefined;
  let stopped = false;
  port.on("message", (m: { type?: string; startEpochMs?: number }) => {
    if (m?.type === "stop") {
      stopped = true;
      engine?.stop();
    } else if (m?.type === "start" && !engine) start(m.startEpochMs!);
  });
  // Loaded (and warmed up, with --warmup): the run starts when every thread is (the primary's "start" gives the common start time).
  warmUp(cfg).then(
    () => port.postMessage({ type: "ready" }),
    (err: Error) => port.postMessage({ type: "error", message: `warm-up: ${err.stack ?? err.message}` }),
  );

  function start(startEpochMs: number): void {
    port.unref(); // listening for "stop" does not keep the thread alive once it runs
    const e = (engine = new Engine({ ...cfg, startEpochMs }, new Int32Array(shared)));
    if (stopped) e.stop();
    const timer = setInterval(() => port.postMessage({ type: "progress", totals: e.totals }), PROGRESS_MS);
    e.run().then(
      (result) => {
        clearInterval(timer);
        port.postMessage({ type: "done", totals: e.totals, result });
      },
      (err: Error) => {
        clearInterval(timer);
        port.postMessage({ type: "error", message: err.stack ?? err.message });
      },
    );
  }
}
