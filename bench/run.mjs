#!/usr/bin/env node
// npm run bench: tftpkit beside tftpd-hpa, atftpd and dnsmasq, measured by an
// independent C client (bench/tftpbench.c, built with cc at bench time).
//
// Every scenario runs on every server in one run, servers alternating (a
// fresh server process per run, the order rotated per round), medians of
// --rounds (default 3). Single-stream scenarios pin client and server to one
// CPU (taskset). Prints a table with tftpkit's ratio to each server and the
// performance goals; JSON to bench-results/.
//
//   node bench/run.mjs [--quick] [--servers a,b] [--scenarios id,id] [--rounds N]
//                      [--tftpkit-args="--workers 2"] [--no-build] [--no-warmup]

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgsOrExit } from "./args.mjs";
import { buildClient, canPin, runClient, runJson, untilServing, warmUp } from "./client.mjs";
import { cpuMeter, rssSampler, serverDefs } from "./servers.mjs";

const opt = parseArgsOrExit("bench", {
  quick: { type: "boolean" },
  servers: { type: "string" },
  scenarios: { type: "string" },
  rounds: { type: "string" },
  "tftpkit-args": { type: "string" },
  "no-build": { type: "boolean" },
  "no-warmup": { type: "boolean" },
  help: { type: "boolean", short: "h" },
});
if (opt.help) {
  process.stdout.write(
    "Usage: npm run bench [-- --quick] [-- --servers tftpkit,tftpd-hpa,atftpd,dnsmasq] [-- --scenarios id,...]\n" +
      "                     [-- --rounds N] [-- --tftpkit-args=\"--workers 2\"] [-- --no-build] [-- --no-warmup]\n" +
      "  (default) every scenario at full size, 3 rounds, medians (about 15-20 minutes on 2 cores; most of it the peers waiting out lost blocks)\n" +
      "  --quick   small files and counts, 1 round (about 2 minutes): for development, not for figures\n" +
      "  --no-warmup  measure each server cold (by default every server gets the same unmeasured warm-up first)\n" +
      "  scenarios: " + "lockstep window16 storm small loss loss-w8 burst loadgen\n",
  );
  process.exit(0);
}

const repo = fileURLToPath(new URL("..", import.meta.url));
const resultsDir = join(repo, "bench-results");
const dataDir = join(resultsDir, "data");
const cacheDir = join(resultsDir, "cache");
const loadgen = join(repo, "apps/loadgen/bin/tftpkit-load.js");
const quick = opt.quick ?? false;
const warmup = !opt["no-warmup"];
const rounds = Math.max(1, Math.min(10, Number(opt.rounds ?? (quick ? 1 : 3)) || 1));
const MiB = 1024 * 1024;

// ------------------------------------------------------------- scenarios

const sizes = quick
  ? { "big.bin": 8 * MiB, "f4m.bin": MiB, "boot.cfg": 1024 }
  : { "big.bin": 64 * MiB, "f4m.bin": 4 * MiB, "boot.cfg": 1024 };
const mib = (n) => `${sizes[n] / MiB} MiB`;
const Q = (full, small) => (quick ? small : full);
// Sessions of the multi-session scenarios come from 254 loopback addresses, as a rack's
// machines would (a server may route or limit per client address).
const SRC = ["--source", "127.0.1.0/24"];

/**
 * metric: what the row reports; better: "high" or "low"; pin: single stream,
 * client and server on CPU 0; needs: an option the server must grant.
 */
const SCENARIOS = [
  {
    id: "lockstep",
    title: `lock-step, one ${mib("big.bin")} file, blksize 1468 (client and server on one CPU)`,
    args: ["--file", "big.bin", "--blksize", "1468", "--tsize"],
    metric: "mbps", unit: "MB/s", better: "high", pin: true,
  },
  {
    id: "window16",
    title: `same, windowsize 16`,
    args: ["--file", "big.bin", "--blksize", "1468", "--windowsize", "16", "--tsize"],
    metric: "mbps", unit: "MB/s", better: "high", pin: true, needs: "windowsize",
  },
  {
    id: "storm",
    title: `storm: ${Q(100, 20)} x ${mib("f4m.bin")} + ${Q(100, 20)} x 1 KiB, ${Q(100, 20)} at once (wall time)`,
    args: [...SRC, "--file", `f4m.bin:${Q(100, 20)}`, "--file", `boot.cfg:${Q(100, 20)}`, "--concurrency", String(Q(100, 20)), "--blksize", "1468", "--tsize"],
    metric: "elapsed_s", unit: "s", better: "low",
  },
  {
    id: "small",
    title: `small: ${Q("2,000", "500")} x 1 KiB, 32 at once`,
    args: [...SRC, "--file", `boot.cfg:${Q(2000, 500)}`, "--concurrency", "32"],
    metric: "sessions_per_s", unit: "sess/s", better: "high",
  },
  {
    id: "loss",
    title: `${Q(20, 5)} x ${mib("f4m.bin")} at once, lock-step, the client drops 1% of DATA (seed 42; wall time)`,
    args: [...SRC, "--file", `f4m.bin:${Q(20, 5)}`, "--concurrency", String(Q(20, 5)), "--blksize", "1468", "--drop", "0.01", "--seed", "42"],
    metric: "elapsed_s", unit: "s", better: "low",
  },
  {
    id: "loss-w8",
    title: `same at windowsize 8`,
    args: [...SRC, "--file", `f4m.bin:${Q(20, 5)}`, "--concurrency", String(Q(20, 5)), "--blksize", "1468", "--windowsize", "8", "--drop", "0.01", "--seed", "42"],
    metric: "elapsed_s", unit: "s", better: "low", needs: "windowsize",
  },
  {
    id: "burst",
    title: `burst: ${Q("15,000", "3,000")} RRQs for 1 KiB within 0.1 s, answered (each sent once, answered within 3 s)`,
    args: [...SRC, "--file", "boot.cfg", "--burst", String(Q(15000, 3000)), "--burst-ms", "100", "--answer-ms", "3000"],
    metric: "answered_pct", unit: "%", better: "high",
  },
  {
    id: "loadgen",
    // Each of the 20 clients fetches the file five times: 100 fetches, about 2 s per
    // tool, where 20 fetches (0.4 s) measured mostly the machine's scheduling noise.
    title: `tftpkit-load vs tftpbench against tftpd-hpa: ${Q(20, 5)} clients, ${Q(100, 10)} fetches of ${mib("f4m.bin")}, blksize 1468`,
    args: [...SRC, "--file", `f4m.bin:${Q(100, 10)}`, "--concurrency", String(Q(20, 5)), "--blksize", "1468"],
    loadgenArgs: [...SRC, "--clients", String(Q(20, 5)), "--sessions", String(Q(100, 10)), "--file", "f4m.bin", "--blksize", "1468"],
    metric: "mbps", unit: "MB/s", better: "high", only: "tftpd-hpa",
  },
];

// The performance goals, checked on the medians: [scenario, peer(s), test, text].
const GOALS = [
  ["small", ["dnsmasq"], (r) => r >= 1.0, ">= 1.0x dnsmasq sessions/s"],
  ["storm", ["dnsmasq"], (r) => r >= 1.0, "wall time <= 1.0x dnsmasq"],
  ["window16", ["atftpd"], (r) => r >= 1.0, ">= 1.0x atftpd MB/s"],
  ["lockstep", ["atftpd"], (r) => r >= 0.8, ">= 0.8x atftpd MB/s"],
  ["loss", ["tftpd-hpa", "atftpd"], (r) => r >= 10, ">= 10x faster than the fastest of tftpd-hpa and atftpd"],
  ["loss-w8", ["tftpd-hpa", "atftpd"], (r) => r >= 10, ">= 10x faster than the fastest of tftpd-hpa and atftpd"],
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

/** tftpkit-load's own warm-up (its JIT; the server was warmed up already): sessions per thread, before its clock starts. */
const LOADGEN_WARMUP = 20;

async function runLoadgen(port, args, limitS) {
  const warm = warmup ? ["--warmup", String(LOADGEN_WARMUP)] : [];
  const r = await runJson(process.execPath, [loadgen, "--target", `127.0.0.1:${port}`, ...args, ...warm, "--verify", dataDir, "--json", "--quiet", "--time-limit", String(limitS)], limitS);
  if (r.error) return r;
  return { mbps: r.mbps, ok: r.sessions?.ok, failed: r.sessions?.failed, saturated: r.cpu?.saturated ?? false, report: r };
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const fmt = (v, d = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "-");
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const digits = (v) => (v >= 1000 ? 0 : v >= 100 ? 1 : 2);

/** tftpkit relative to `other` on `sc`'s metric: above 1 = tftpkit better. */
const advantage = (sc, mine, other) =>
  !(mine > 0 && other > 0) ? NaN : sc.better === "high" ? mine / other : other / mine;

// ------------------------------------------------------------- set-up

function turbo(filters) {
  const bin = join(repo, "node_modules/.bin/turbo");
  const r = spawnSync(bin, ["run", "build", ...filters.map((f) => `--filter=${f}`), "--output-logs=errors-only"], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  return r.status === 0;
}
const scenarios = opt.scenarios ? SCENARIOS.filter((s) => opt.scenarios.split(",").includes(s.id)) : SCENARIOS;
if (opt.scenarios && scenarios.length !== opt.scenarios.split(",").length) {
  process.stderr.write(`bench: unknown scenario in --scenarios (known: ${SCENARIOS.map((s) => s.id).join(", ")})\n`);
  process.exit(2);
}
if (!opt["no-build"] && !turbo(["@tftpkit/app-server...", ...(scenarios.some((s) => s.loadgenArgs) ? ["@tftpkit/loadgen..."] : [])])) {
  process.stderr.write("bench: the build failed (npm run build)\n");
  process.exit(2);
}
let client;
try {
  client = buildClient({ repo, cacheDir });
} catch (e) {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exit(2);
}
const pinCpu = canPin() ? 0 : null;

// tftpkit as an operator starts it; --workers when this build has it (default: one per core).
const tftpkitArgs = opt["tftpkit-args"] ? opt["tftpkit-args"].split(/\s+/).filter(Boolean) : [];
const allDefs = serverDefs({ repo, cacheDir, tftpkitArgs });
const wanted = opt.servers ? opt.servers.split(",") : allDefs.map((d) => d.name);

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
    // Which options does it grant? One session asking them all.
    const s = await d.start(dataDir);
    const probe = await runClient(client, { port: s.port, root: dataDir, args: ["--file", "boot.cfg", "--blksize", "1468", "--windowsize", "16", "--tsize", "--retries", "3"], limitS: 20 });
    await s.stop();
    if (probe.error || probe.ok !== 1) throw new Error(`probe transfer failed: ${probe.error ?? JSON.stringify(probe.errors)}`);
    servers.push({ def: d, how: s.how, granted: probe.granted });
  } catch (e) {
    notes.push(`${d.name}: ${e.message.split("\n")[0]}, skipped`);
  }
}
if (wanted.includes("tftpkit") ? !servers.some((s) => s.def.name === "tftpkit") : servers.length === 0) {
  process.stderr.write(`bench: ${wanted.includes("tftpkit") ? "tftpkit could not start" : "no server could start"} (${notes.join("; ")})\n`);
  process.exit(2);
}
process.stderr.write(
  `bench: ${quick ? "quick" : "full"} run, ${servers.map((s) => s.def.name).join(", ")}; ${scenarios.length} scenarios x ${rounds} round(s); ` +
    `${availableParallelism()} cores (${cpus()[0]?.model ?? "?"}); single streams pinned to CPU ${pinCpu ?? "(taskset missing: not pinned)"}\n`,
);

// ------------------------------------------------------------- runs

const LIMIT_S = 300; // per run; the loss runs at full size take about a minute on the 1 s-timeout servers
const runs = [];
let cpuHow = "";
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < scenarios.length; i++) {
    const sc = scenarios[i];
    const eligible = servers.filter((s) => !sc.only || s.def.name === sc.only);
    // Alternate: rotate the order per scenario and round, so no server always goes first.
    const k = eligible.length ? (i + r) % eligible.length : 0;
    const order = [...eligible.slice(k), ...eligible.slice(0, k)];
    for (const s of order) {
      const name = s.def.name;
      if (sc.needs === "windowsize" && !s.granted?.windowsize) {
        runs.push({ scenario: sc.id, server: name, round: r, skipped: "windowsize not granted" });
        continue;
      }
      process.stderr.write(`  [${r + 1}/${rounds}] ${sc.id} / ${name} ... `);
      const cpu = sc.pin ? pinCpu : null;
      const srv = await s.def.start(dataDir, { cpu });
      const readyMs = await untilServing(client, { port: srv.port, root: dataDir, file: "boot.cfg" });
      const warm = warmup ? await warmUp(client, { port: srv.port, root: dataDir, smallFile: "boot.cfg", bigFile: "f4m.bin", cpu }) : null;
      const meter = cpuMeter(srv.pid);
      const rss = rssSampler(srv.pid, 200);
      const c = await runClient(client, { port: srv.port, root: dataDir, args: sc.args, cpu, limitS: LIMIT_S });
      let lg = null;
      if (sc.loadgenArgs && !c.error) lg = await runLoadgen(srv.port, sc.loadgenArgs, LIMIT_S);
      const cpuS = meter.read();
      const peak = rss.stop();
      await srv.stop();
      meter.dispose();
      cpuHow = meter.how;
      const run = {
        scenario: sc.id,
        server: name,
        round: r,
        mbps: c.mbps,
        elapsed_s: c.elapsed_s,
        sessions_per_s: c.sessions_per_s,
        answered_pct: c.sessions ? (100 * c.answered) / c.sessions : NaN,
        p50_ms: c.p50_ms,
        p99_ms: c.p99_ms,
        ok: c.ok ?? 0,
        failed: c.failed ?? NaN,
        errors: c.errors ?? {},
        timeouts: c.timeouts ?? 0,
        mismatches: c.mismatches ?? 0,
        burst_span_ms: c.burst_span_ms,
        server_peak_rss_mib: peak / MiB,
        server_cpu_s: cpuS,
        ready_ms: readyMs,
        warmup: warm,
        error: c.error ?? lg?.error,
        client: c,
        loadgen: lg,
      };
      runs.push(run);
      const fig = sc.metric === "answered_pct" ? `${fmt(run.answered_pct, 1)}% answered (burst took ${fmt(c.burst_span_ms, 0)} ms)` : `${fmt(run[sc.metric], 2)} ${sc.unit}`;
      process.stderr.write(
        c.error ? `error: ${c.error}\n`
          : `${fig}, ${c.ok} ok, ${sc.id === "burst" ? `${c.answered} answered` : `${c.failed} failed`}${lg ? `; tftpkit-load ${fmt(lg.mbps, 2)} MB/s${lg.error ? ` (${lg.error})` : ""}` : ""}\n`,
      );
    }
  }
}

// ------------------------------------------------------------- medians

const rows = [];
for (const sc of scenarios) {
  for (const s of servers) {
    const mine = runs.filter((x) => x.scenario === sc.id && x.server === s.def.name);
    if (mine.length === 0) continue;
    if (mine.every((x) => x.skipped)) {
      rows.push({ scenario: sc.id, server: s.def.name, skipped: mine[0].skipped });
      continue;
    }
    const real = mine.filter((x) => !x.skipped && !x.error);
    const m = (k) => median(real.map((x) => x[k]));
    const row = {
      scenario: sc.id,
      server: s.def.name,
      value: m(sc.metric),
      values: real.map((x) => x[sc.metric]),
      p50_ms: m("p50_ms"),
      p99_ms: m("p99_ms"),
      // burst: unanswered requests are the figure, not failures; answered ones must finish
      failed: mine.reduce((a, x) => a + (sc.id === "burst" ? (x.client?.answered ?? 0) - (x.ok ?? 0) : Number.isFinite(x.failed) ? x.failed : 0), 0),
      errors: real.reduce((acc, x) => {
        for (const [k, v] of Object.entries(x.errors)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
      mismatches: real.reduce((a, x) => a + x.mismatches, 0),
      server_peak_rss_mib: Math.max(...real.map((x) => x.server_peak_rss_mib)),
      server_cpu_s: m("server_cpu_s"),
      error: mine.find((x) => x.error)?.error,
    };
    if (sc.loadgenArgs) {
      row.loadgen_mbps = median(real.map((x) => x.loadgen?.mbps));
      row.loadgen_failed = real.reduce((a, x) => a + (x.loadgen?.failed ?? 0), 0);
      row.loadgen_saturated = real.some((x) => x.loadgen?.saturated);
    }
    rows.push(row);
  }
}

// ------------------------------------------------------------- the table

const lines = [];
lines.push(
  `tftpkit bench, ${new Date(t0).toISOString().slice(0, 16).replace("T", " ")} UTC (${quick ? "QUICK: small sizes, not for figures" : "full"}, ${rounds} round(s)${rounds > 1 ? ", medians" : ""}), ` +
    `${availableParallelism()} cores, loopback, client: bench/tftpbench.c`,
);
lines.push(
  warmup
    ? "every server, every run: the same unmeasured warm-up first (3,000 x 1 KiB, 4 x 4 MiB; bench/client.mjs warmUp), then the measured run"
    : "no warm-up (--no-warmup): each server measured from its first request",
);
lines.push(`"tftpkit x" = tftpkit's advantage over that server (its figure / theirs; for times theirs / its): above 1.00 tftpkit is better`);
for (const sc of scenarios) {
  lines.push("");
  lines.push(`${sc.id}: ${sc.title}`);
  if (sc.loadgenArgs) {
    lines.push(warmup ? `tftpkit-load ran --warmup ${LOADGEN_WARMUP} (unmeasured sessions per thread before its clock starts; the C client needs none)` : "tftpkit-load ran cold (--no-warmup)");
    lines.push(`${pad("server", 10)} ${lpad("C MB/s", 9)} ${lpad("load MB/s", 10)} ${lpad("load/C", 7)}  note`);
    for (const r of rows.filter((x) => x.scenario === sc.id)) {
      const note = [r.error ? `error: ${r.error.slice(0, 60)}` : "", r.failed ? `C client: ${r.failed} failed` : "", r.loadgen_failed ? `tftpkit-load: ${r.loadgen_failed} failed` : "",
        r.loadgen_saturated ? "tftpkit-load saturated" : ""].filter(Boolean).join("; ");
      lines.push(`${pad(r.server, 10)} ${lpad(fmt(r.value, 1), 9)} ${lpad(fmt(r.loadgen_mbps, 1), 10)} ${lpad(fmt(r.loadgen_mbps / r.value, 2), 7)}  ${note}`);
    }
    continue;
  }
  lines.push(`${pad("server", 10)} ${lpad(sc.unit, 9)} ${lpad("tftpkit x", 10)} ${lpad("p50 ms", 9)} ${lpad("p99 ms", 9)} ${lpad("fail", 5)} ${lpad("RSS MiB", 8)} ${lpad("CPU s", 7)}  note`);
  const base = rows.find((x) => x.scenario === sc.id && x.server === "tftpkit");
  for (const r of rows.filter((x) => x.scenario === sc.id)) {
    if (r.skipped) {
      lines.push(`${pad(r.server, 10)} ${lpad("n/a", 9)}  (${r.skipped})`);
      continue;
    }
    const adv = r.server === "tftpkit" ? "" : fmt(advantage(sc, base?.value, r.value), 2);
    const note = [
      r.error ? `error: ${r.error.slice(0, 60)}` : "",
      r.failed > 0 ? `failed: ${Object.entries(r.errors).map(([k, v]) => `TFTP ${k} x${v}`).join(", ") || "timeouts/mismatches"}` : "",
      r.mismatches > 0 ? `${r.mismatches} with wrong bytes` : "",
      rounds > 1 ? `runs ${r.values.map((v) => fmt(v, digits(v))).join(" / ")}` : "",
    ].filter(Boolean).join("; ");
    lines.push(
      `${pad(r.server, 10)} ${lpad(fmt(r.value, digits(r.value)), 9)} ${lpad(adv, 10)} ${lpad(fmt(r.p50_ms, 1), 9)} ${lpad(fmt(r.p99_ms, 1), 9)} ${lpad(r.failed, 5)} ${lpad(fmt(r.server_peak_rss_mib, 1), 8)} ${lpad(fmt(r.server_cpu_s, 2), 7)}  ${note}`,
    );
  }
}

// The performance goals, on these medians.
const goalLines = [];
for (const [id, peers, ok, text] of GOALS) {
  const sc = scenarios.find((s) => s.id === id);
  const mine = rows.find((x) => x.scenario === id && x.server === "tftpkit");
  if (!sc || !mine || mine.skipped) continue;
  const theirs = rows.filter((x) => x.scenario === id && peers.includes(x.server) && !x.skipped && Number.isFinite(x.value));
  if (!theirs.length) continue;
  // Against the best of the peers.
  const best = theirs.reduce((a, b) => (advantage(sc, mine.value, a.value) <= advantage(sc, mine.value, b.value) ? a : b));
  const adv = advantage(sc, mine.value, best.value);
  goalLines.push(`  ${Number.isFinite(adv) && ok(adv) ? "met    " : "NOT met"} ${id}: ${text}: ${fmt(adv, 2)}x (${best.server})`);
}
const burstRow = rows.find((x) => x.scenario === "burst" && x.server === "tftpkit");
if (burstRow && !burstRow.skipped) goalLines.push(`  ${burstRow.value >= 75 ? "met    " : "NOT met"} burst: >= 75% answered: ${fmt(burstRow.value, 1)}%`);
const tkFailed = rows.filter((x) => x.server === "tftpkit" && !x.skipped).reduce((a, x) => a + x.failed + (x.error ? 1 : 0), 0);
goalLines.push(`  ${tkFailed === 0 ? "met    " : "NOT met"} no failed tftpkit session in any scenario (${tkFailed} failed)`);
const lgRow = rows.find((x) => x.scenario === "loadgen");
if (lgRow && Number.isFinite(lgRow.loadgen_mbps)) {
  const ratio = lgRow.loadgen_mbps / lgRow.value;
  goalLines.push(`  ${ratio >= 0.85 ? "met    " : "NOT met"} tftpkit-load within 15% of the C client against tftpd-hpa: ${fmt(ratio, 2)}`);
}
lines.push("");
lines.push(`goals${quick ? ", QUICK run: sizes differ from the goals' scenarios" : ""}:`);
lines.push(...goalLines);
lines.push("");
lines.push(`server CPU s: ${cpuHow} (the server and all it forks); RSS: peak of the process tree sampled every 200 ms, or the main process's VmHWM if larger`);
for (const s of servers) lines.push(`${s.def.name}: ${s.how}; grants ${JSON.stringify(s.granted)}`);
for (const n of notes) lines.push(`note: ${n}`);
lines.push(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
const table = lines.join("\n");
process.stdout.write(`\n${table}\n`);

// The same medians as a Markdown table for the README (best of each row in bold).
function markdown() {
  const names = servers.map((s) => s.def.name);
  const out = [`| scenario (${new Date(t0).toISOString().slice(0, 10)}, ${rounds > 1 ? `medians of ${rounds}` : "1 round"}${quick ? ", QUICK sizes" : ""}) | ${names.join(" | ")} |`, `|---|${names.map(() => "---|").join("")}`];
  for (const sc of scenarios) {
    if (sc.loadgenArgs) continue;
    const mine = rows.filter((x) => x.scenario === sc.id);
    const vals = mine.filter((x) => !x.skipped && Number.isFinite(x.value)).map((x) => x.value);
    const best = sc.better === "high" ? Math.max(...vals) : Math.min(...vals);
    const cells = names.map((n, i) => {
      const r = mine.find((x) => x.server === n);
      if (!r) return "";
      if (r.skipped) return "n/a";
      const v = sc.metric === "answered_pct" ? `${fmt(r.value, 0)}%` : fmt(r.value, digits(r.value));
      const text = `${v}${i === 0 ? ` ${sc.unit === "%" ? "" : sc.unit}`.trimEnd() : ""}${r.failed ? ` (${r.failed} failed)` : ""}`;
      return r.value === best ? `**${text}**` : text;
    });
    out.push(`| ${sc.title} | ${cells.join(" | ")} |`);
  }
  const lg = rows.find((x) => x.scenario === "loadgen" && Number.isFinite(x.loadgen_mbps));
  if (lg) out.push("", `tftpkit-load against tftpd-hpa (${scenarios.find((s) => s.id === "loadgen").title.split(": ")[1]}): ${fmt(lg.loadgen_mbps, 1)} MB/s vs the C client's ${fmt(lg.value, 1)} MB/s = ${fmt(lg.loadgen_mbps / lg.value, 2)}`);
  return out.join("\n");
}
const md = markdown();
process.stdout.write(`\nMarkdown (also bench-results/latest.md):\n${md}\n`);

mkdirSync(resultsDir, { recursive: true });
const doc = {
  tool: "tftpkit-bench",
  started_at: new Date(t0).toISOString(),
  quick,
  rounds,
  host: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
  pinned_cpu: pinCpu,
  servers: servers.map((s) => ({ name: s.def.name, how: s.how, options_granted: s.granted })),
  notes,
  scenarios: scenarios.map(({ id, title, args, metric, unit, better, pin, needs, only }) => ({ id, title, client_args: args, metric, unit, better, pin: !!pin, needs, only })),
  rows,
  runs,
  goals: goalLines.map((l) => l.trim()),
  table,
  markdown: md,
};
const stamp = new Date(t0).toISOString().replace(/[:.]/g, "-");
writeFileSync(join(resultsDir, `bench-${stamp}.json`), JSON.stringify(doc, null, 2));
writeFileSync(join(resultsDir, "latest.json"), JSON.stringify(doc, null, 2));
writeFileSync(join(resultsDir, "latest.md"), `${md}\n`);
process.stderr.write(`results: bench-results/bench-${stamp}.json\n`);
