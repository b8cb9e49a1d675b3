// A worker thread of the load generator: runs its share of the sessions and
// posts its totals every PROGRESS_MS, then its result (histograms encoded).

import { parentPort, workerData } from "node:worker_threads";
import { Engine, type EngineConfig } from "./engine.js";

export const PROGRESS_MS = 250;

interface WorkerInput {
  cfg: EngineConfig;
  shared: SharedArrayBuffer;
}

if (parentPort) {
  const port = parentPort;
  const { cfg, shared } = workerData as WorkerInput;
  const engine = new Engine(cfg, new Int32Array(shared));
  port.on("message", (m: { type?: string }) => {
    if (m?.type === "stop") engine.stop();
  });
  port.unref(); // listening for "stop" does not keep the thread alive
  const timer = setInterval(() => port.postMessage({ type: "progress", totals: engine.totals }), PROGRESS_MS);
  engine.run().then(
    (result) => {
      clearInterval(timer);
      port.postMessage({ type: "done", totals: engine.totals, result });
    },
    (err: Error) => {
      clearInterval(timer);
      port.postMessage({ type: "error", message: err.stack ?? err.message });
    },
  );
}
