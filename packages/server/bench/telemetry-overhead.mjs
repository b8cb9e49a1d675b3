#!/usr/bin/env node
// What OpenTelemetry costs the server: the same transfers against a server
// (a child process) with no instrumentation, with createOtelInstrumentation()
// and no SDK (the API's no-ops), and with the SDK recording everything (a
// span per session through a BatchSpanProcessor, metrics collected by a
// reader, as the Prometheus endpoint would).
//
//   npm run build && node packages/server/bench/telemetry-overhead.mjs [--rounds 3] [--big-mib 16] [--big-n 5] [--small-n 2000]
//
// Workloads, run in interleaved rounds (median reported):
//   big    fetch a 16 MiB file N times, one after the other (blksize 1468,
//          windowsize 16): MB/s; telemetry work is per session, so it should vanish here
//   small  N sessions of a 1 KiB file, 16 at a time: sessions/s, where the
//          per-session span and metric updates weigh the most
// Server CPU (user+system) per session is measured in the server process.
//   hooks  the observer calls alone, in-process, N times (session, negotiated,
//          end; no network), through what a server really calls: its monitor
//          (live sessions, boot flows, tallies) in front of the instrumentation:
//          CPU microseconds per session. Steadier than the end-to-end figures
//          on a busy machine.
// A mode ending in "+noflows" runs the server with maxFlows 0 (no boot flows),
// e.g. --modes none,none+noflows to see what flows cost.
//
// The client is @tftpkit/client, resolved from the workspace root (it is not
// a dependency of @tftpkit/server: the client's tests depend on the server).

import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);
// sdk-traces and sdk-metrics (one signal with the SDK, the other on the API's no-ops) with --modes.
let MODES = ["none", "api-noop", "sdk"];

// ------------------------------------------------------------- server side

const flowsMaxOf = (mode) => (mode.endsWith("+noflows") ? 0 : undefined);

async function instrumentationFor(mode) {
  mode = mode.replace(/\+noflows$/, "");
  const { createOtelInstrumentation } = await import("@tftpkit/server");
  let instrumentation;
  let flush = async () => {};
  if (mode === "api-noop") instrumentation = createOtelInstrumentation();
  if (mode.startsWith("sdk")) {
    const { BasicTracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
    const { MeterProvider, MetricReader } = await import("@opentelemetry/sdk-metrics");
    let spans = 0;
    // An exporter that takes the batches and drops them (the cost of
    // recording and batching is measured, not that of a network).
    const exporter = {
      export(batch, done) {
        spans += batch.length;
        done({ code: 0 });
      },
      shutdown: async () => {},
      forceFlush: async () => {},
    };
    class Reader extends MetricReader {
      async onShutdown() {}
      async onForceFlush() {}
    }
    const reader = new Reader();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
    const meterProvider = new MeterProvider({ readers: [reader] });
    instrumentation = createOtelInstrumentation({
      tracerProvider: mode === "sdk-metrics" ? undefined : tracerProvider,
      meterProvider: mode === "sdk-traces" ? undefined : meterProvider,
    });
    // Collect metrics every second, as a scrape would.
    const scrape = setInterval(() => void reader.collect(), 1000);
    flush = async () => {
      clearInterval(scrape);
      await tracerProvider.forceFlush();
      const { resourceMetrics } = await reader.collect();
      return { spans, metrics: resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).length };
    };
  }
  return { instrumentation, flush };
}

async function runServer(mode, root) {
  const { createServer } = await import("@tftpkit/server");
  const { instrumentation, flush } = await instrumentationFor(mode);
  const server = createServer({ root, instrumentation, onSessionEnd: undefined, maxFlows: flowsMaxOf(mode) });
  const addr = await server.listen({ host: "127.0.0.1", port: 0 });
  process.on("message", async (m) => {
    if (m === "cpu") process.send({ cpu: process.cpuUsage(), stats: server.stats() });
    if (m === "stop") {
      const extra = await flush();
      await server.close();
      process.send({ stopped: true, extra: extra ?? null });
      process.disconnect();
    }
  });
  process.send({ port: addr.port });
}

// ------------------------------------------------------------- client side

function ask(child, msg, key) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m && key in m) {
        child.off("message", on);
        resolve(m);
      }
    };
    child.on("message", on);
    if (msg) child.send(msg);
  });
}

async function startServer(mode, root) {
  const child = fork(self, ["--server", mode, "--root", root], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const { port } = await ask(child, undefined, "port");
  return { child, port };
}

const cpuMs = (u) => (u.user + u.system) / 1000;

async function measure(mode, root, o, createClient) {
  const { child, port } = await startServer(mode, root);
  const client = createClient({ host: "127.0.0.1", port, blksize: 1468, windowsize: 16, timeoutSeconds: 1, retries: 5 });
  // warm-up: JIT, WASM, file cache
  await client.get("big.bin");
  for (let i = 0; i < 50; i++) await client.get("small.bin");

  const c0 = (await ask(child, "cpu", "cpu")).cpu;
  let t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < o.bigN; i++) bytes += (await client.get("big.bin")).data.length;
  const bigSec = (performance.now() - t0) / 1000;
  const c1 = (await ask(child, "cpu", "cpu")).cpu;

  t0 = performance.now();
  let next = 0;
  let resent = 0;
  const worker = async () => {
    while (next < o.smallN) {
      next++;
      const { stats } = await client.get("small.bin");
      resent += stats.retransmits;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const smallSec = (performance.now() - t0) / 1000;
  const c2 = (await ask(child, "cpu", "cpu")).cpu;
  const last = await ask(child, "cpu", "cpu");
  const { extra } = await ask(child, "stop", "stopped");
  return {
    mode,
    bigMBps: bytes / 1e6 / bigSec,
    bigCpuMsPerMiB: (cpuMs(c1) - cpuMs(c0)) / (bytes / 1048576),
    sessionsPerSec: o.smallN / smallSec,
    cpuUsPerSession: ((cpuMs(c2) - cpuMs(c1)) * 1000) / o.smallN,
    clientRetransmits: resent,
    serverRetransmits: last.stats.retransmits,
    extra,
  };
}

/** The hooks one read session calls, N times, in this process: CPU us per session. */
async function hooks(mode, n) {
  const { createServer } = await import("@tftpkit/server");
  const { instrumentation: inner, flush } = await instrumentationFor(mode);
  // What a session of a server calls: the server's monitor in front of `inner`.
  const instrumentation = createServer({ root: tmpdir(), instrumentation: inner, maxFlows: flowsMaxOf(mode) }).options.instrumentation;
  const info = {
    id: 1, kind: "read", path: "boot/vmlinuz", mode: "octet",
    peer: { address: "192.0.2.10", port: 40000 }, local: { address: "192.0.2.1", port: 69 },
    optionsAsked: { blksize: "1468", tsize: "0", windowsize: "16" },
  };
  const acked = { blksize: "1468", tsize: "1024", windowsize: "16" };
  const stats = {
    ...info, kind: "read", optionsAcked: acked, blksize: 1468, windowsize: 16, tsize: 1024, bytesSent: 1024, packetsSent: 2,
    blocksAcked: 1, retransmits: 0, duplicateAcks: 0, startedAt: Date.now(), durationMs: 3, handlerMs: 0.2, outcome: "ok",
  };
  const handler = () => 1;
  const once = (i) => {
    info.id = i;
    info.peer.address = `192.0.${(i >> 8) & 255}.${i & 255}`; // machines of a few sessions each
    const obs = instrumentation?.session(info);
    if (obs) {
      obs.runHandler(handler);
      obs.negotiated(acked, 1468, 16, 1024);
      obs.end(stats);
    } else handler();
  };
  for (let i = 0; i < 2000; i++) once(i); // warm-up
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) once(i);
  const c = process.cpuUsage(c0);
  await flush();
  return (cpuMs(c) * 1000) / n;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const { values } = parseArgs({
    options: {
      server: { type: "string" },
      root: { type: "string" },
      rounds: { type: "string", default: "3" },
      "big-mib": { type: "string", default: "16" },
      "big-n": { type: "string", default: "5" },
      "small-n": { type: "string", default: "2000" },
      "hooks-n": { type: "string", default: "100000" },
      hooks: { type: "string" },
      modes: { type: "string" },
    },
  });
  if (values.server) return runServer(values.server, values.root);
  if (values.modes) MODES = values.modes.split(",");
  if (values.hooks) return void process.send({ us: await hooks(values.hooks, Number(values["hooks-n"])) });

  let createClient;
  try {
    ({ createClient } = await import("@tftpkit/client"));
  } catch {
    console.error("bench: @tftpkit/client is not built (npm run build at the repo root)");
    process.exit(1);
  }
  const o = { rounds: Number(values.rounds), bigN: Number(values["big-n"]), smallN: Number(values["small-n"]) };
  const root = mkdtempSync(join(tmpdir(), "tftpkit-otel-bench-"));
  writeFileSync(join(root, "big.bin"), Buffer.alloc(Number(values["big-mib"]) * 1048576, 0x5a));
  writeFileSync(join(root, "small.bin"), Buffer.alloc(1024, 0x33));
  const results = Object.fromEntries(MODES.map((m) => [m, []]));
  try {
    for (let r = 0; r < o.rounds; r++) {
      for (const mode of MODES) {
        const res = await measure(mode, root, o, createClient);
        results[mode].push(res);
        console.error(`round ${r + 1} ${mode.padEnd(8)} ${res.bigMBps.toFixed(1)} MB/s  ${res.sessionsPerSec.toFixed(0)} sessions/s  ${res.cpuUsPerSession.toFixed(0)} us CPU/session  retransmits client ${res.clientRetransmits} server ${res.serverRetransmits}${res.extra ? `  (${res.extra.spans} spans exported)` : ""}`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  // Each mode of the hooks measure in a fresh process (the global tracer and meter stay per process).
  const hookUs = {};
  for (const mode of MODES) {
    const xs = [];
    for (let r = 0; r < o.rounds; r++) {
      const child = fork(self, ["--hooks", mode, "--hooks-n", values["hooks-n"]], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      xs.push((await ask(child, undefined, "us")).us);
    }
    hookUs[mode] = median(xs);
  }
  const base = {
    big: median(results[MODES[0]].map((x) => x.bigMBps)),
    small: median(results[MODES[0]].map((x) => x.sessionsPerSec)),
    cpu: median(results[MODES[0]].map((x) => x.cpuUsPerSession)),
  };
  console.log(`\ntelemetry overhead, Node ${process.version}, median of ${o.rounds} rounds`);
  console.log(`big: ${values["big-n"]} x ${values["big-mib"]} MiB (blksize 1468, windowsize 16); small: ${o.smallN} x 1 KiB, 16 concurrent\n`);
  console.log(`(vs: against ${MODES[0]})`);
  console.log("mode       big MB/s   vs none   server CPU ms/MiB   small sessions/s   vs none   server CPU us/session   vs none");
  for (const mode of MODES) {
    const big = median(results[mode].map((x) => x.bigMBps));
    const cpuMiB = median(results[mode].map((x) => x.bigCpuMsPerMiB));
    const small = median(results[mode].map((x) => x.sessionsPerSec));
    const cpu = median(results[mode].map((x) => x.cpuUsPerSession));
    const pct = (v, b) => `${v >= b ? "+" : ""}${(((v - b) / b) * 100).toFixed(1)}%`;
    console.log(
      `${mode.padEnd(9)} ${big.toFixed(1).padStart(9)} ${pct(big, base.big).padStart(9)} ${cpuMiB.toFixed(2).padStart(19)} ${small.toFixed(0).padStart(18)} ${pct(small, base.small).padStart(9)} ${cpu.toFixed(0).padStart(23)} ${pct(cpu, base.cpu).padStart(9)}`,
    );
  }
  console.log(`\nhooks alone (session + runHandler + negotiated + end, in-process, ${values["hooks-n"]} sessions): CPU us per session`);
  for (const mode of MODES) console.log(`${mode.padEnd(9)} ${hookUs[mode].toFixed(2).padStart(8)}`);
}

await main();
