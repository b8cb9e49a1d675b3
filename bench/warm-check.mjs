#!/usr/bin/env node
// How fast `tftpkit serve` is from a cold start and after idle, and what the
// cluster primary costs per request. Real processes on loopback, an
// independent C client (bench/tftpbench.c).
//
//   cold   a fresh server's first round of small sessions (no warm-up by the
//          client) against the rounds after it: sessions/s and CPU per session
//   idle   after the warm rounds, nothing for --idle-seconds, then one round:
//          its sessions/s and CPU per session against the warm rounds'
//   primary  the primary's CPU per request against the workers' CPU per
//          session (warm rounds), and the projection for more cores
//
// A round: 2,000 x 1 KiB (`boot.cfg`) from 127.0.4.0/24 (--source), 32 at once. CPU is
// utime+stime from /proc of the primary and each worker (pids from the
// start-up line). On a shared machine compare ratios within one run.
//
// Usage: node bench/warm-check.mjs [--port 7250] [--rounds 6] [--idle-seconds 600]
//          [--only cold,idle] [--sessions 2000] [--client PATH] [--env K=V]... [--json]
//          [--node-args "--cpu-prof ..."] (node flags of the server, its workers inherit them)
//          [--source 127.0.4.0/24] (the client's source addresses: another /24 beside other runs)
//          [--fresh-sources] (each round from a /24 the server has not seen: 127.0.10.0/24, 127.0.11.0/24, ...)
//          [-- serve flags...]
// Without --client, bench/tftpbench.c is built into the OS temp directory.

import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildClient, runClient } from "./client.mjs";
import { procCpuSeconds, tftpkitNodeArgs } from "./servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const dash = process.argv.indexOf("--");
const argv = dash >= 0 ? process.argv.slice(2, dash) : process.argv.slice(2);
const serveExtra = dash >= 0 ? process.argv.slice(dash + 1) : [];
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const PORT = Number(opt("port", "7250"));
const ROUNDS = Math.max(2, Math.min(20, Number(opt("rounds", "6"))));
const IDLE_S = Math.max(0, Math.min(3600, Number(opt("idle-seconds", "600"))));
const SESSIONS = Math.max(100, Math.min(100_000, Number(opt("sessions", "2000"))));
const ONLY = opt("only", "cold,idle").split(",");
const JSON_OUT = argv.includes("--json");
const SOURCE = opt("source", "127.0.4.0/24");
const FRESH = argv.includes("--fresh-sources");
let roundNo = 0;
const NODE_ARGS = (opt("node-args", "") ?? "").split(" ").filter(Boolean);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const say = (line) => process.stderr.write(line + "\n");

const dir = mkdtempSync(join(tmpdir(), "tftpkit-warm-check-"));
writeFileSync(join(dir, "boot.cfg"), Buffer.alloc(1024, 0x61));

/** Starts the server (defaults: workers, log to a file, admin on loopback); resolves once it prints its serving line. */
async function start() {
  const logFile = join(dir, "sessions.log");
  const out = openSync(logFile, "a");
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OTEL_")) env[k] = v;
  for (const kv of argv.flatMap((a, i) => (a === "--env" ? [argv[i + 1]] : []))) env[kv.split("=")[0]] = kv.slice(kv.indexOf("=") + 1);
  const t0 = Date.now();
  const proc = spawn(process.execPath, [...tftpkitNodeArgs(repo, NODE_ARGS), "serve", "--root", dir, "--host", "127.0.0.1", "--port", String(PORT), "--admin", `127.0.0.1:${PORT + 1}`, ...serveExtra], {
    env,
    stdio: ["ignore", out, "pipe"],
  });
  let err = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const exit = new Promise((r) => proc.once("exit", r));
  for (let i = 0; i < 600 && !/tftpkit serving/.test(err) && proc.exitCode === null; i++) await sleep(10);
  if (!/tftpkit serving/.test(err)) throw new Error(`the server did not start:\n${err}`);
  const startMs = Date.now() - t0;
  const m = /workers: ([^)]*)\)/.exec(err);
  const workers = m ? [...m[1].matchAll(/pid (\d+)/g)].map((x) => Number(x[1])) : [];
  return {
    proc, startMs, workers, err: () => err,
    stop: async () => {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exit;
      clearTimeout(t);
    },
  };
}

/** CPU seconds of a process's main thread (the event loop; the rest are V8's and libuv's helper threads). */
function mainThreadSeconds(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e9;
  } catch {
    return NaN;
  }
}

async function round(bin, srv) {
  const pids = [srv.proc.pid, ...srv.workers];
  const before = pids.map((p) => procCpuSeconds(p));
  const mainBefore = mainThreadSeconds(srv.proc.pid);
  const t = process.hrtime.bigint();
  const source = FRESH ? `127.0.${10 + roundNo}.0/24` : SOURCE;
  roundNo++;
  const r = await runClient(bin, {
    port: PORT, root: dir, limitS: 120,
    args: ["--source", source, "--file", `boot.cfg:${SESSIONS}`, "--concurrency", "32", "--rto-ms", "200", "--rto-max-ms", "1000", "--retries", "20"],
  });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu = pids.map((p, i) => procCpuSeconds(p) - before[i]);
  const primaryMain = mainThreadSeconds(srv.proc.pid) - mainBefore;
  const ok = r.ok ?? 0;
  const primary = cpu[0];
  const workers = cpu.slice(1).reduce((a, b) => a + b, 0);
  return {
    ok, failed: r.failed ?? SESSIONS - ok, seconds: +s.toFixed(3), perSecond: Math.round(ok / s),
    cpuUsPerSession: ok ? Math.round(((primary + workers) / ok) * 1e6) : null,
    primaryUsPerSession: ok ? Math.round((primary / ok) * 1e6) : null,
    primaryMainUsPerSession: ok ? Math.round((primaryMain / ok) * 1e6) : null,
    workerUsPerSession: ok ? Math.round((workers / ok) * 1e6) : null,
  };
}

const bin = opt("client", undefined) ?? buildClient({ repo, cacheDir: join(repo, "bench-results", "cache") });
const report = { port: PORT, sessions: SESSIONS, serve: serveExtra, node: process.version };
let srv;
try {
  srv = await start();
  report.startMs = srv.startMs;
  report.workerPids = srv.workers.length;
  say(`server up in ${srv.startMs} ms (${srv.workers.length} workers)`);
  const pause = Number(opt("pause-ms", "0"));
  if (pause > 0) await sleep(Math.min(pause, 60_000));
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await round(bin, srv);
    rounds.push(r);
    say(`round ${i + 1}${i === 0 ? " (cold)" : ""}: ${r.ok} ok, ${r.perSecond}/s, CPU ${r.cpuUsPerSession} us/session (primary ${r.primaryUsPerSession} [main thread ${r.primaryMainUsPerSession}], workers ${r.workerUsPerSession})`);
  }
  // Warm: the later half of the rounds (the JIT keeps improving over the first few).
  const warm = rounds.slice(Math.max(1, Math.floor(ROUNDS / 2)));
  const warmRate = median(warm.map((r) => r.perSecond));
  const warmCpu = median(warm.map((r) => r.cpuUsPerSession));
  report.rounds = rounds;
  report.warm = { perSecond: warmRate, cpuUsPerSession: warmCpu };
  report.cold = { ratio: +(rounds[0].perSecond / warmRate).toFixed(2), cpuRatio: +(rounds[0].cpuUsPerSession / warmCpu).toFixed(2) };
  say(`cold: ${report.cold.ratio}x the warm rate (goal >= 0.7), CPU per session ${report.cold.cpuRatio}x warm`);
  // The primary's share: its CPU per request against a session's whole CPU (warm rounds, summed: ticks are coarse).
  if (srv.workers.length) {
    const p = warm.reduce((a, r) => a + r.primaryUsPerSession * r.ok, 0) / warm.reduce((a, r) => a + r.ok, 0);
    const w = warm.reduce((a, r) => a + r.workerUsPerSession * r.ok, 0) / warm.reduce((a, r) => a + r.ok, 0);
    const share = p / (p + w);
    // Projection: n cores give n / (p + w) sessions per CPU-second, until the primary's one core is the limit (1e6 / p).
    const one = 1e6 / (p + w);
    const project = (n) => Math.round(Math.min(n * one, 1e6 / p));
    report.primary = {
      usPerRequest: Math.round(p), workerUsPerSession: Math.round(w), share: +share.toFixed(3),
      projected: Object.fromEntries([4, 16, 64].map((n) => [n, { perSecond: project(n), xOneWorker: +(project(n) / one).toFixed(1) }])),
      primaryLimit: Math.round(1e6 / p),
    };
    say(`primary: ${report.primary.usPerRequest} us per request, workers ${report.primary.workerUsPerSession} us per session: share ${(share * 100).toFixed(1)}% (goal < 10%)`);
    say(`projection (not a measurement): ${[4, 16, 64].map((n) => `${n} cores ${report.primary.projected[n].perSecond}/s (${report.primary.projected[n].xOneWorker}x one worker)`).join(", ")}; the primary alone is the limit at ${report.primary.primaryLimit}/s`);
  }
  if (ONLY.includes("idle") && IDLE_S > 0) {
    say(`idle for ${IDLE_S} s ...`);
    await sleep(IDLE_S * 1000);
    const r = await round(bin, srv);
    report.idle = { seconds: IDLE_S, round: r, ratio: +(r.perSecond / warmRate).toFixed(2), cpuRatio: +(r.cpuUsPerSession / warmCpu).toFixed(2) };
    say(`after ${IDLE_S} s idle: ${r.perSecond}/s, CPU ${r.cpuUsPerSession} us/session: ${report.idle.ratio}x the warm rate (goal >= 0.9), CPU ${report.idle.cpuRatio}x warm`);
  }
} finally {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (JSON_OUT) process.stdout.write(JSON.stringify(report) + "\n");
