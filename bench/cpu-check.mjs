#!/usr/bin/env node
// CPU per small-file session: tftpkit against node-floor (bench/node-floor.mjs)
// in the same run. Each server is started, warmed (one unmeasured round),
// then measured for a few rounds of the C client (bench/tftpbench.c):
// 2,000 x 1 KiB (boot.cfg, cached after the first read) from 254 loopback
// addresses, 32 at once. CPU is utime+stime from /proc of the server's whole
// process tree (the primary and its workers), read before and after each
// round; the kernel's part (stime) of it and, with workers, the primary's
// share are printed apart. On a shared machine CPU time is the figure to
// compare, not wall time (sessions/s is printed too, and is noisy there).
//
// Variants (every feature on: session log lines to a file, admin HTTP with
// /metrics, flows and live sessions):
//   floor     node bench/node-floor.mjs
//   answer    node bench/answer-floor.mjs: receives each request and answers
//             it with one datagram (an ERROR, so every session fails): the
//             least node:dgram needs per request for one datagram in and one
//             out, the floor of the cluster primary's job (compare its
//             "primary us" with this one's us/session)
//   w1        tftpkit serve --workers 1 --log json (stdout to a file) --admin
//   defaults  tftpkit serve (one worker per core) --log json --admin
//   w1@DIR, defaults@DIR  the same, run from another built checkout (a git
//             worktree of another commit): a change measured against its parent
//             in one run
//   w1~FLAG~FLAG  the same with node flags of its own (w1~--max-semi-space-size=32)
//   "w1 --flag=V"  the same with tftpkit serve flags of its own ("w1 --max-flows=0")
//
// Usage: node bench/cpu-check.mjs [--rounds 3] [--sessions 2000]
//          [--variants floor,w1,defaults,w1@../other-checkout] [--port-base 7200] [--source 127.0.3.0/24]
//          [--warm 1] (unmeasured rounds first, up to 20)
//          [--client PATH] (default: builds bench/tftpbench.c into the temp folder)
//          [--node-args="--cpu-prof ..."] (extra node flags for tftpkit and node-floor, e.g. to profile)
//          [--server-args="--max-flows 0"] (extra flags of tftpkit serve, to see what a feature costs)

import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildClient, runClient } from "./client.mjs";
import { descendants, tftpkitNodeArgs } from "./servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    sessions: { type: "string", default: "2000" },
    variants: { type: "string", default: "floor,w1,defaults" },
    "port-base": { type: "string", default: "7200" },
    source: { type: "string", default: "127.0.3.0/24" },
    client: { type: "string" },
    "node-args": { type: "string", default: "" },
    "server-args": { type: "string", default: "" },
    warm: { type: "string", default: "1" },
    keep: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const SESSIONS = Number(values.sessions);
const WARM = Math.max(0, Math.min(20, Number(values.warm)));
const VARIANTS = values.variants.split(",");
let nextPort = Number(values["port-base"]);
const NODE_ARGS = values["node-args"].split(" ").filter(Boolean);
const SERVER_ARGS = values["server-args"].split(" ").filter(Boolean);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** [utime, stime] in seconds of one process, all its threads (zeros when gone). */
function cpuOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return [Number(f[11]) / TICK, Number(f[12]) / TICK];
  } catch {
    return [0, 0];
  }
}

/** CPU of a tree in seconds: root (the pid itself), rest (its descendants), sys (kernel time of all). */
function treeCpu(pid) {
  const [ru, rs] = cpuOf(pid);
  let rest = 0;
  let sys = rs;
  for (const p of descendants(pid)) {
    const [u, k] = cpuOf(p);
    rest += u + k;
    sys += k;
  }
  return { root: ru + rs, rest, sys };
}

const dir = mkdtempSync(join(tmpdir(), "tftpkit-cpu-check-"));
const root = join(dir, "root");
spawnSync("mkdir", ["-p", root]);
writeFileSync(join(root, "boot.cfg"), Buffer.alloc(1024, 0x61));

/** The answer floor: every session ends with its one answer (an ERROR). */
const answers = (variant) => variant.split(/[@~ ]/)[0] === "answer";

function start(variant) {
  const port = nextPort++;
  const admin = nextPort++;
  const logPath = join(dir, `${variant.split(/[@~ ]/)[0]}-${port}.log`);
  const out = openSync(logPath, "w");
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OTEL_")) env[k] = v;
  const [spec, ...serveArgs] = variant.split(" ").filter(Boolean);
  const [name, ...flags] = spec.split("~");
  const [kind, other] = name.split("@");
  let argv;
  if (kind === "floor") argv = [...NODE_ARGS, join(here, "node-floor.mjs"), "--root", root, "--port", String(port), "--host", "127.0.0.1"];
  else if (kind === "answer") argv = [...NODE_ARGS, join(here, "answer-floor.mjs"), "--port", String(port), "--host", "127.0.0.1"];
  else {
    argv = [...tftpkitNodeArgs(other ?? repo, [...NODE_ARGS, ...flags]), "serve", "--root", root, "--host", "127.0.0.1", "--port", String(port),
      "--log", "json", "--admin", `127.0.0.1:${admin}`];
    if (kind === "w1") argv.push("--workers", "1");
    argv.push(...SERVER_ARGS, ...serveArgs);
  }
  const proc = spawn(process.execPath, argv, { env, stdio: ["ignore", out, "pipe"], cwd: dir });
  closeSync(out);
  let err = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const exit = new Promise((r) => proc.once("exit", r));
  return {
    proc, port, admin, logPath, err: () => err,
    stop: async () => {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exit;
      clearTimeout(t);
    },
  };
}

const client = values.client ?? buildClient({ repo, cacheDir: join(repo, "bench-results", "cache") });
const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const args = ["--source", values.source, "--file", `boot.cfg:${SESSIONS}`, "--concurrency", "32"];
// Every variant's server is started and warmed first; the measured rounds then
// take the variants in turn (the order rotated each round), so a change in the
// machine's speed (on a shared host it comes and goes over seconds) meets every
// variant alike, and each round gives a ratio to the floor's round next to it.
const servers = [];
for (const variant of VARIANTS) {
  const srv = start(variant);
  // Serving: small transfers until one round of 14 goes through (bounded).
  let up = false;
  for (let i = 0; i < 60 && !up; i++) {
    await sleep(250);
    const r = await runClient(client, { port: srv.port, root, args: ["--source", values.source.replace(/\/\d+$/, "/28"), "--file", "boot.cfg:14", "--concurrency", "14", "--rto-ms", "200", "--retries", "5"], limitS: 120 });
    up = answers(variant) ? r.failed === 14 : r.ok === 14;
  }
  if (!up) {
    console.error(`${variant}: not serving\n${srv.err()}`);
    await srv.stop();
    continue;
  }
  for (let i = 0; i < WARM; i++) await runClient(client, { port: srv.port, root, args: args, limitS: 120 }); // warm rounds, unmeasured
  servers.push({ variant, srv, rounds: [] });
}
for (let i = 0; i < ROUNDS; i++) {
  const k = i % servers.length;
  for (const s of [...servers.slice(k), ...servers.slice(0, k)]) {
    const { variant, srv } = s;
    const a = treeCpu(srv.proc.pid);
    const r = await runClient(client, { port: srv.port, root, args: args, limitS: 120 });
    const b = treeCpu(srv.proc.pid);
    if (r.error || (answers(variant) ? r.failed : r.ok) !== SESSIONS) console.error(`${variant} round ${i}: ${r.error ?? `${r.ok}/${SESSIONS} ok`}`);
    const total = b.root - a.root + (b.rest - a.rest);
    s.rounds[i] = {
      us: (total / SESSIONS) * 1e6,
      sysUs: ((b.sys - a.sys) / SESSIONS) * 1e6,
      primaryUs: variant.startsWith("defaults") ? ((b.root - a.root) / SESSIONS) * 1e6 : null,
      rate: r.sessions_per_s ?? 0,
      ok: r.ok,
    };
  }
}
const results = {};
for (const { variant, srv, rounds } of servers) {
  await srv.stop();
  results[variant] = {
    us: med(rounds.map((r) => r.us)),
    sysUs: med(rounds.map((r) => r.sysUs)),
    primaryUs: rounds[0].primaryUs === null ? null : med(rounds.map((r) => r.primaryUs)),
    rate: med(rounds.map((r) => r.rate)),
    rounds,
    logLines: variant === "floor" || answers(variant) ? null : readFileSync(srv.logPath, "utf8").split("\n").filter((l) => l.startsWith("{")).length,
  };
}
// The ratio of each round to the floor's round of the same turn, then their median.
const paired = (r, f, key) => med(r.rounds.map((x, i) => x[key] / f.rounds[i][key]));

const floor = results.floor;
console.log(`CPU per small-file session (1 KiB, ${SESSIONS} sessions x ${ROUNDS} rounds after ${WARM} warm round(s), 32 at once, ${values.source}); medians; ratios: median of each round's ratio to the floor's round of the same turn; CPU = utime+stime of the process tree`);
console.log("variant    us/session  (rounds)                 kernel us  primary us  sessions/s  CPU ratio  rate ratio  log lines");
for (const [v, r] of Object.entries(results)) {
  const ratio = floor ? paired(r, floor, "us").toFixed(2) + "x" : "-";
  const rateRatio = floor && !answers(v) ? paired(r, floor, "rate").toFixed(2) + "x" : "-";
  console.log(`${v.padEnd(10)} ${r.us.toFixed(1).padStart(10)}  ${("(" + r.rounds.map((x) => x.us.toFixed(0)).join(", ") + ")").padEnd(24)} ${r.sysUs.toFixed(1).padStart(9)} ${(r.primaryUs === null ? "-" : r.primaryUs.toFixed(1)).padStart(10)}  ${(answers(v) ? "-" : r.rate.toFixed(0)).padStart(10)}  ${ratio.padStart(9)}  ${rateRatio.padStart(10)}  ${String(r.logLines ?? "-").padStart(9)}`);
}
if (process.env.CPU_CHECK_JSON) writeFileSync(process.env.CPU_CHECK_JSON, JSON.stringify(results, null, 2));
if (!values.keep) rmSync(dir, { recursive: true, force: true });
else console.log(`kept ${dir}`);
