// A worker thread of the load generator: runs its share of the virtual
// clients and posts progress every PROGRESS_MS, then its result.

import { parentPort, workerData } from "node:worker_threads";
import { Engine, type EngineConfig } from "./engine.js";

export const PROGRESS_MS = 250;

interface WorkerInput {
  cfg: EngineConfig;
  tickets: SharedArrayBuffer;
}

if (parentPort) {
  const port = parentPort;
  const { cfg, tickets } = workerData as WorkerInput;
  const engine = new Engine(cfg, new Int32Array(tickets));
  const timer = setInterval(() => port.postMessage({ type: "progress", totals: engine.totals }), PROGRESS_MS);
  engine.run().then(
    (result) => {
      clearInterval(timer);
      port.postMessage({ type: "done", totals: engine.totals, result }, [result.latencies.buffer as ArrayBuffer]);
    },
    (err: Error) => {
      clearInterval(timer);
      port.postMessage({ type: "error", message: err.stack ?? err.message });
    },
  );
}
