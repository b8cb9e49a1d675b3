#!/usr/bin/env node
// What boot flows hold at their bound: a server's monitor fed sessions
// (through the instrumentation seam, no network; each with a 64 KiB buffer
// behind its progress accessor, as a session's packet ring is) until every budget is full
// (maxFlows open + maxFlows ended flows of maxFlowSteps steps, plus the
// one-step-failure budget), then the heap growth per flow and per step.
//
//   npm run build && node --expose-gc packages/server/bench/flows-memory.mjs [--flows-max 1000] [--steps-max 64]

import { parseArgs } from "node:util";
import { tmpdir } from "node:os";
import { createServer } from "@tftpkit/server";

const { values } = parseArgs({ options: { "flows-max": { type: "string", default: "1000" }, "steps-max": { type: "string", default: "64" } } });
const flowsMax = Number(values["flows-max"]);
const stepsMax = Number(values["steps-max"]);
if (typeof globalThis.gc !== "function") {
  console.error("run with node --expose-gc");
  process.exit(1);
}

const server = createServer({ root: tmpdir(), maxFlows: flowsMax, maxFlowSteps: stepsMax });
const monitor = server.options.instrumentation;
let id = 0;
function session(address, path, outcome) {
  // A session's progress accessor holds the session (its packet ring): 64 KiB here, to show it is let go of at the end.
  const ring = Buffer.alloc(65536);
  const info = {
    id: ++id, kind: "read", path, mode: "octet",
    peer: { address, port: 1024 + (id % 60000) }, local: { address: "192.0.2.1", port: 69 }, optionsAsked: { tsize: "0", blksize: "1468" },
    progress: () => ({ bytes: ring.length, blksize: 1468, windowsize: 1, tsize: -1, retransmits: 0 }),
  };
  const obs = monitor.session(info);
  obs.end({
    ...info, optionsAcked: {}, blksize: 1468, windowsize: 1, tsize: 1000, bytesSent: 1000, packetsSent: 1, blocksAcked: 1,
    retransmits: 0, duplicateAcks: 0, startedAt: Date.now(), durationMs: 1, handlerMs: 0.1, outcome,
    ...(outcome === "ok" ? {} : { error: { code: 1, message: "File not found" } }),
  });
}
const heap = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers; // the JS heap and the buffers outside it
};

const before = heap();
// 2 x flowsMax machines of stepsMax + 10 steps: flowsMax stay open, flowsMax ended (the rest evicted).
const machines = 2 * flowsMax + 50;
for (let m = 0; m < machines; m++) {
  const address = `10.${(m >> 16) & 255}.${(m >> 8) & 255}.${m & 255}`;
  for (let s = 0; s < stepsMax + 10; s++) session(address, s === 1 ? `pxelinux.cfg/01-52-54-00-${(m >> 8 & 255).toString(16).padStart(2, "0")}-${(m & 255).toString(16).padStart(2, "0")}-01` : `boot/file-${s}.img`, s === 1 ? "not-found" : "ok");
}
const full = heap();
// A flood of one-packet failures from new addresses: only the small budget churns.
for (let i = 0; i < 20 * flowsMax; i++) session(`172.16.${(i >> 8) & 255}.${i & 255}`, `missing-${i}`, "not-found");
const flooded = heap();
const counts = server.flows({ limit: 1e9 }).length;
const steps = server.flows({ limit: 1e9 }).reduce((n, f) => n + f.steps.length, 0);
console.log(`boot flows at their bound: maxFlows ${flowsMax}, maxFlowSteps ${stepsMax}, Node ${process.version}`);
console.log(`flows held ${counts} (steps ${steps}) after ${machines} machines x ${stepsMax + 10} sessions and ${20 * flowsMax} one-packet failures`);
console.log(`heap growth: ${((full - before) / 1048576).toFixed(1)} MiB full; ${((flooded - before) / 1048576).toFixed(1)} MiB after the flood`);
console.log(`per flow of ${stepsMax} steps: ${((full - before) / (2 * flowsMax) / 1024).toFixed(1)} KiB; per step: ${((full - before) / (2 * flowsMax * stepsMax)).toFixed(0)} bytes`);
await server.close();
