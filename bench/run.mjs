#!/usr/bin/env node
// npm run bench: tftpkit beside the servers users would pick instead.
//
// Starts each server on loopback (tftpkit, tftpd-hpa, atftpd, dnsmasq), runs
// the same scenarios against each with tftpkit-load, servers alternating
// (a fresh server process per run, the order rotated per scenario), and
// prints one table with each server's ratio to tftpkit. Per run: MB/s,
// sessions/s, p50/p99 latency, failures, the server's peak RSS and CPU
// seconds (its process tree, from /proc). Results go to bench-results/ as JSON.
//
//   node bench/run.mjs [--quick] [--servers a,b] [--scenarios id,id] [--rounds N]

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, closeSync, statSync, writeSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cpuMeter, rssSampler, serverDefs } from "./servers.mjs";

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean" },
    exact: { type: "boolean" },
    servers: { type: "string" },
    scenarios: { type: "string" },
    rounds: { type: "string" },
    "no-build": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
if (opt.help) {
  process.stdout.write(
    "Usage: npm run bench [-- --quick | --exact] [-- --servers tftpkit,tftpd-hpa,atftpd,dnsmasq] [-- --scenarios id,...] [-- --rounds N] [-- --no-build]\n" +
      "  (default) the issue's scenarios, each run time-boxed (about 9 minutes on 2 cores)\n" +
      "  --quick   smaller files and counts (about 2 minutes)\n" +
      "  --exact   no time box: every session of every scenario runs (about 25 minutes on 2 cores)\n",
  );
  process.exit(0);
}

const repo = fileURLToPath(new URL("..", import.meta.url));
const resultsDir = join(repo, "bench-results");
const dataDir = join(resultsDir, "data");
const cacheDir = join(resultsDir, "cache");
const loadgen = join(repo, "apps/loadgen/bin/tftpkit-load.js");
const quick = opt.quick ?? false;
const exact = opt.exact ?? false;
const rounds = Math.max(1, Math.min(10, Number(opt.rounds ?? 1) || 1));
const MiB = 1024 * 1024;

// ------------------------------------------------------------- scenarios

const sizes = quick
  ? { "big.bin": 8 * MiB, "image.bin": 2 * MiB, "f4m.bin": MiB / 2, "boot.cfg": 1024 }
  : { "big.bin": 64 * MiB, "image.bin": 16 * MiB, "f4m.bin": 4 * MiB, "boot.cfg": 1024 };
const mib = (n) => `${sizes[n] / MiB} MiB`;

const SCENARIOS = [
  {
    id: "lockstep",
    title: `one ${mib("big.bin")} file, blksize 1468, lock-step`,
    args: ["--clients", "1", "--sessions", "1", "--file", "big.bin", "--blksize", "1468", "--tsize"],
    metric: "mbps",
    capS: 60,
  },
  {
    id: "window16",
    title: `one ${mib("big.bin")} file, blksize 1468, windowsize 16`,
    args: ["--clients", "1", "--sessions", "1", "--file", "big.bin", "--blksize", "1468", "--windowsize", "16", "--tsize"],
    metric: "mbps",
    needs: "windowsize",
    capS: 60,
  },
  {
    id: "boot-storm",
    title: quick
      ? `boot storm: 50 clients, 1 KiB config then ${mib("image.bin")} image, 100 sessions`
      : `boot storm: 200 clients, 1 KiB config then ${mib("image.bin")} image, 1000 sessions`,
    args: ["--clients", quick ? "50" : "200", "--sessions", quick ? "100" : "1000", "--flow", "boot.cfg,image.bin", "--blksize", "1468", "--tsize"],
    metric: "mbps",
    // 500 x 16 MiB is 8 GiB per server: time-boxed unless --exact.
    capS: 40,
  },
  {
    id: "small",
    title: quick ? "1,000 sessions of 1 KiB at concurrency 16" : "10,000 sessions of 1 KiB at concurrency 64",
    args: ["--clients", quick ? "16" : "64", "--sessions", quick ? "1000" : "10000", "--file", "boot.cfg"],
    metric: "sessions_per_s",
    capS: 40,
  },
  {
    id: "loss",
    title: quick ? `20 clients fetching ${mib("f4m.bin")}, 1% loss` : `100 clients fetching ${mib("f4m.bin")}, 1% loss`,
    // 1% of DATA received and of ACKs to send dropped (seeded); every server is asked to retransmit after 1 s.
    args: ["--clients", quick ? "20" : "100", "--sessions", quick ? "20" : "100", "--file", "f4m.bin", "--blksize", "1468", "--loss", "0.01", "--seed", "42", "--timeout-option", "1"],
    metric: "mbps",
    // Each session waits out the servers' 1 s retransmission timeout about 57 times: let them finish.
    capS: 150,
  },
];

// ------------------------------------------------------------- helpers

function ensureData() {
  mkdirSync(dataDir, { recursive: true });
  for (const [name, size] of Object.entries(sizes)) {
    const p = join(dataDir, name);
    if (existsSync(p) && statSync(p).size === size) continue;
    const fd = openSync(p, "w");
    for (let left = size; left > 0; left -= 4 * MiB) writeSync(fd, randomBytes(Math.min(left, 4 * MiB)));
    closeSync(fd);
  }
}

function runLoadgen(target, args, limitS) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [loadgen, "--target", target, ...args, "--verify", dataDir, "--json", "--quiet", "--time-limit", String(limitS)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    // Bounded: sessions stop starting at the time limit; each session is bounded by its retries.
    const kill = setTimeout(() => child.kill("SIGKILL"), (limitS + 90) * 1000);
    child.on("exit", (code) => {
      clearTimeout(kill);
      try {
        resolve({ report: JSON.parse(out), code });
      } catch {
        resolve({ report: null, code, error: err.trim() || `tftpkit-load exited with ${code}` });
      }
    });
  });
}

async function probe(port) {
  // Which options does this server grant? (a get asking all of them)
  const { createClient } = await import("@tftpkit/client");
  const c = createClient({ host: "127.0.0.1", port, timeout: 1, retries: 3 });
  try {
    const r = await c.get("boot.cfg", { blksize: 1468, windowsize: 16, tsize: true, timeoutOption: 1 });
    return r.stats.optionsAcked;
  } catch (e) {
    return { error: e.message };
  }
}

const fmt = (v, d = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "-");
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

// ------------------------------------------------------------- main

// Build what the bench runs: the load generator and the server library are
// required; the tftpkit command is optional (without it, the API stands in).
function turbo(filters) {
  const bin = join(repo, "node_modules/.bin/turbo");
  const r = spawnSync(bin, ["run", "build", ...filters.map((f) => `--filter=${f}`), "--output-logs=errors-only"], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  return r.status === 0;
}
let cliBuilt = true;
if (!opt["no-build"]) {
  if (!turbo(["@tftpkit/loadgen...", "@tftpkit/server..."])) {
    process.stderr.write("bench: the build of the load generator or of @tftpkit/server failed\n");
    process.exit(2);
  }
  cliBuilt = turbo(["@tftpkit/app-server"]);
  if (!cliBuilt) process.stderr.write("bench: the tftpkit command (apps/server) did not build: running tftpkit through its API (bench/tftpkit-server.mjs)\n");
}

const allDefs = serverDefs({ repo, cacheDir, useCli: cliBuilt });
const wanted = opt.servers ? opt.servers.split(",") : allDefs.map((d) => d.name);
const scenarios = opt.scenarios ? SCENARIOS.filter((s) => opt.scenarios.split(",").includes(s.id)) : SCENARIOS;
if (!existsSync(join(repo, "apps/loadgen/dist/cli.js"))) {
  process.stderr.write("bench: build first (npm run build); apps/loadgen/dist is missing\n");
  process.exit(2);
}

const t0 = Date.now();
ensureData();
const servers = [];
const notes = [];
for (const d of allDefs) {
  if (!wanted.includes(d.name)) continue;
  if (!d.available()) {
    notes.push(`${d.name}: not installed, skipped`);
    continue;
  }
  try {
    const s = await d.start(dataDir);
    const acked = await probe(s.port);
    await s.stop();
    servers.push({ def: d, how: s.how, acked });
  } catch (e) {
    notes.push(`${d.name}: ${e.message.split("\n")[0]}, skipped`);
  }
}
if (!servers.some((s) => s.def.name === "tftpkit")) {
  process.stderr.write(`bench: tftpkit could not start (${notes.join("; ")})\n`);
  process.exit(2);
}
process.stderr.write(
  `bench: ${quick ? "quick" : exact ? "exact" : "full"} run, ${servers.map((s) => s.def.name).join(", ")}; ${scenarios.length} scenarios x ${rounds} round(s), ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})\n`,
);

const runs = [];
let cpuHow = "";
const EXACT_LIMIT_S = 1800;
for (let i = 0; i < scenarios.length; i++) {
  const sc = scenarios[i];
  for (let r = 0; r < rounds; r++) {
    // Alternate: rotate the order per scenario and round, so no server always goes first.
    const k = (i + r) % servers.length;
    const order = [...servers.slice(k), ...servers.slice(0, k)];
    for (const s of order) {
      const name = s.def.name;
      if (sc.needs === "windowsize" && !s.acked?.windowsize) {
        runs.push({ scenario: sc.id, server: name, round: r, skipped: "windowsize not granted" });
        continue;
      }
      process.stderr.write(`  ${sc.id} / ${name}${rounds > 1 ? ` (round ${r + 1})` : ""} ... `);
      const srv = await s.def.start(dataDir);
      const cpu = cpuMeter(srv.pid);
      const rss = rssSampler(srv.pid, 200);
      const { report, error } = await runLoadgen(`127.0.0.1:${srv.port}`, sc.args, exact ? EXACT_LIMIT_S : sc.capS);
      const cpuS = cpu.read();
      const peak = rss.stop();
      await srv.stop();
      cpu.dispose();
      cpuHow = cpu.how;
      const run = {
        scenario: sc.id,
        server: name,
        round: r,
        mbps: report?.mbps ?? NaN,
        sessions_per_s: report?.sessions_per_s ?? NaN,
        p50_ms: report?.latency_ms.p50 ?? NaN,
        p99_ms: report?.latency_ms.p99 ?? NaN,
        ok: report?.sessions.ok ?? 0,
        cut: report?.sessions.cut ?? 0,
        failed: report?.sessions.failed ?? NaN,
        errors: report?.errors ?? {},
        server_peak_rss_mib: peak / MiB,
        server_cpu_s: cpuS,
        loadgen_saturated: report?.cpu.saturated ?? false,
        loadgen_cpu_percent: report?.cpu.percent ?? NaN,
        elapsed_s: report?.elapsed_s ?? NaN,
        error,
        report,
      };
      runs.push(run);
      process.stderr.write(error ? `error: ${error}\n` : `${fmt(run.mbps, 1)} MB/s, ${fmt(run.sessions_per_s, 0)} sessions/s, ${run.failed} failed\n`);
    }
  }
}

// Median over rounds per (scenario, server).
function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}
const rows = [];
for (const sc of scenarios) {
  for (const s of servers) {
    const mine = runs.filter((x) => x.scenario === sc.id && x.server === s.def.name);
    if (mine.length === 0) continue;
    if (mine.every((x) => x.skipped)) {
      rows.push({ scenario: sc.id, server: s.def.name, skipped: mine[0].skipped });
      continue;
    }
    const real = mine.filter((x) => !x.skipped);
    const m = (k) => median(real.map((x) => x[k]));
    rows.push({
      scenario: sc.id,
      server: s.def.name,
      mbps: m("mbps"),
      sessions_per_s: m("sessions_per_s"),
      p50_ms: m("p50_ms"),
      p99_ms: m("p99_ms"),
      failed: real.reduce((a, x) => a + (Number.isFinite(x.failed) ? x.failed : 0), 0),
      errors: real.reduce((acc, x) => {
        for (const [k, v] of Object.entries(x.errors)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
      ok: median(real.map((x) => x.ok)),
      cut: median(real.map((x) => x.cut)),
      server_peak_rss_mib: Math.max(...real.map((x) => x.server_peak_rss_mib)),
      server_cpu_s: m("server_cpu_s"),
      files: real[0].report?.files,
      loadgen_saturated: real.some((x) => x.loadgen_saturated),
      error: real.find((x) => x.error)?.error,
    });
  }
}

// ------------------------------------------------------------- the table

const lines = [];
lines.push(
  `tftpkit bench (${quick ? "quick" : exact ? "exact" : "full, time-boxed"}, ${rounds} round(s)${rounds > 1 ? ", medians" : ""}), ` +
    `${availableParallelism()} cores, loopback; x = ratio to tftpkit; MB/s counts every byte received, sess/s finished sessions`,
);
const head = `${pad("server", 10)} ${lpad("MB/s", 8)} ${lpad("x", 6)} ${lpad("sess/s", 8)} ${lpad("x", 6)} ${lpad("p50 ms", 9)} ${lpad("p99 ms", 9)} ${lpad("fail", 5)} ${lpad("RSS MiB", 8)} ${lpad("CPU s", 7)}  note`;
for (const sc of scenarios) {
  lines.push("");
  lines.push(`${sc.id}: ${sc.title}`);
  lines.push(head);
  const base = rows.find((x) => x.scenario === sc.id && x.server === "tftpkit");
  for (const r of rows.filter((x) => x.scenario === sc.id)) {
    if (r.skipped) {
      lines.push(`${pad(r.server, 10)} ${lpad("n/a", 8)}  (${r.skipped})`);
      continue;
    }
    const ratio = (k) => (base && base[k] > 0 && Number.isFinite(r[k]) ? `${(r[k] / base[k]).toFixed(2)}` : "-");
    const note = [
      r.error ? `error: ${r.error.slice(0, 60)}` : "",
      r.failed > 0 ? `failed: ${Object.entries(r.errors).map(([k, v]) => `${/^\d$/.test(k) ? `TFTP ${k}` : k} ${v}`).join(", ")}` : "",
      r.cut > 0 ? `time-boxed at ${sc.capS} s: ${r.ok + r.failed} done, ${r.cut} cut` : "",
      r.loadgen_saturated ? "load generator saturated" : "",
    ].filter(Boolean).join("; ");
    lines.push(
      `${pad(r.server, 10)} ${lpad(fmt(r.mbps, 1), 8)} ${lpad(ratio("mbps"), 6)} ${lpad(fmt(r.sessions_per_s, r.sessions_per_s < 10 ? 2 : 0), 8)} ${lpad(ratio("sessions_per_s"), 6)} ` +
        `${lpad(fmt(r.p50_ms, 2), 9)} ${lpad(fmt(r.p99_ms, 2), 9)} ${lpad(r.failed, 5)} ${lpad(fmt(r.server_peak_rss_mib, 1), 8)} ${lpad(fmt(r.server_cpu_s, 2), 7)}  ${note}`,
    );
  }
}
lines.push("");
lines.push(`server CPU s: ${cpuHow} (the server and all it forks); RSS: peak of the process tree sampled every 200 ms, or the main process's VmHWM if larger`);
for (const s of servers) lines.push(`${s.def.name}: ${s.how}; grants ${JSON.stringify(s.acked)}`);
for (const n of notes) lines.push(`note: ${n}`);
lines.push(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
const table = lines.join("\n");
process.stdout.write(`\n${table}\n`);

mkdirSync(resultsDir, { recursive: true });
const doc = {
  tool: "tftpkit-bench",
  started_at: new Date(t0).toISOString(),
  quick,
  exact,
  rounds,
  host: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
  servers: servers.map((s) => ({ name: s.def.name, how: s.how, options_granted: s.acked })),
  notes,
  rows,
  runs,
  table,
};
const stamp = new Date(t0).toISOString().replace(/[:.]/g, "-");
writeFileSync(join(resultsDir, `bench-${stamp}.json`), JSON.stringify(doc, null, 2));
writeFileSync(join(resultsDir, "latest.json"), JSON.stringify(doc, null, 2));
process.stderr.write(`results: bench-results/bench-${stamp}.json\n`);
