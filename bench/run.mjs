#!/usr/bin/env node
// npm run bench: tftpkit beside node-floor, tftpd-hpa, atftpd and dnsmasq,
// measured by an independent C client (bench/tftpbench.c, built with cc at
// bench time), with the server's CPU per session beside every figure.
//
// Every scenario runs on every server in one run, servers alternating (a
// fresh server process per run, the order rotated per round), medians of
// the scenario's rounds. Single-stream scenarios pin client and server to one
// CPU (taskset). Prints a table per scenario, the scaling projection and the
// goals (met / NOT met); JSON to bench-results/; with --write-docs also
// docs/performance.md (bench/docs.mjs renders bench/performance.template.md).
//
//   node bench/run.mjs [--quick] [--servers a,b] [--scenarios id,id] [--rounds N]
//                      [--tftpkit-args="--flag v"] [--idle-seconds S] [--no-build]
//                      [--no-warmup] [--write-docs]

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, cpus, release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgsOrExit } from "./args.mjs";
import { buildClient, canPin, runClient, runJson, untilServing, warmUp } from "./client.mjs";
import { renderPerformance } from "./docs.mjs";
import { cpuMeter, descendants, procCpuSeconds, rssSampler, serverDefs } from "./servers.mjs";

const opt = parseArgsOrExit("bench", {
  quick: { type: "boolean" },
  servers: { type: "string" },
  scenarios: { type: "string" },
  rounds: { type: "string" },
  "tftpkit-args": { type: "string" },
  "idle-seconds": { type: "string" },
  "no-build": { type: "boolean" },
  "no-warmup": { type: "boolean" },
  "write-docs": { type: "boolean" },
  "keep-logs": { type: "string" },
  help: { type: "boolean", short: "h" },
});

const repo = fileURLToPath(new URL("..", import.meta.url));
const resultsDir = join(repo, "bench-results");
const dataDir = join(resultsDir, "data");
const cacheDir = join(resultsDir, "cache");
const loadgen = join(repo, "apps/loadgen/bin/tftpkit-load.js");
const quick = opt.quick ?? false;
const warmup = !opt["no-warmup"];
const roundsOpt = opt.rounds === undefined ? null : Math.max(1, Math.min(10, Number(opt.rounds) || 1));
const idleSeconds = Math.max(0, Math.min(3600, Number(opt["idle-seconds"] ?? (quick ? 60 : 600)) || 0));
const MiB = 1024 * 1024;
const KiB = 1024;

// ------------------------------------------------------------- scenarios

const Q = (full, small) => (quick ? small : full);
// GRUB's modules and config (a few KB each), its kernel and initrd; OVMF's network boot program.
const GRUB_SMALL = ["grub-normal.mod", "grub-part_gpt.mod", "grub-ext2.mod", "grub-linux.mod", "grub-gzio.mod", "grub-echo.mod",
  "grub-test.mod", "grub-all_video.mod", "grub-font.mod", "grub.cfg"];
const GRUB_SMALL_SIZES = [38, 3, 9, 14, 6, 2, 5, 2, 12, 1.5];
const sizes = {
  "big.bin": Q(64, 8) * MiB, "f4m.bin": Q(4, 1) * MiB, "boot.cfg": 1024,
  ...Object.fromEntries(GRUB_SMALL.map((n, i) => [n, Math.round(GRUB_SMALL_SIZES[i] * KiB)])),
  vmlinuz: Q(8, 1) * MiB, "initrd.img": Q(16, 2) * MiB, "bootx64.efi": Q(2, 1) * MiB,
};
const mib = (n) => `${sizes[n] / MiB} MiB`;
// Sessions of the multi-session scenarios come from 254 loopback addresses, as a rack's
// machines would (a server may route or limit per client address).
const SRC = ["--source", "127.0.1.0/24"];
const BOOTS = Q(4, 2);
const LOSS = 0.02;
// A lossy boot on a server that waits 1 s per lost block takes many minutes: bounded
// (--quick bounds the older loss scenarios too); a capped run's time is projected from its bytes.
const BOOT_CAP_S = Q(30, 10);
const LOSS_CAP_S = Q(60, 10);
// Firmware's time per block before it ACKs (writing the block away): 300 us, so that a clean
// boot takes a boot's time rather than loopback's round trip, and a server's round-trip
// estimate sees a firmware's pace.
const FIRMWARE_US = 300;
const grubFiles = [...GRUB_SMALL.map((f) => ["--file", f]).flat(), "--file", "vmlinuz", "--file", "initrd.img"];
const boots = ["--sequence", "--boots", String(BOOTS), "--concurrency", String(BOOTS), "--ack-delay-us", String(FIRMWARE_US)];
const grubArgs = [...SRC, ...boots, ...grubFiles, "--blksize", "1024", "--tsize", "--no-ack-retransmit", "--retries", "60"];
const ovmfArgs = [...SRC, ...boots, "--file", "bootx64.efi", "--probe", "--ack-unexpected", "--blksize", "1468", "--windowsize", "4", "--retries", "30"];
const lossArgs = ["--drop", String(LOSS), "--drop-ack", String(LOSS), "--drop-oack", "--seed", "42"];
const bootBytes = (files) => BOOTS * files.reduce((a, f) => a + sizes[f], 0);
/**
 * An OVMF boot takes 0.2-0.4 s, and one seeded pattern of 2% loss is one draw: a tftpkit
 * server runs the OVMF scenarios this many times in turn (the lossy ones with seeds 42, 43, ...),
 * and its figure is the median. The other servers' lossy runs are capped at BOOT_CAP_S: one each.
 */
const OVMF_REPEATS = Q(5, 1);
const GRUB_BYTES = bootBytes([...GRUB_SMALL, "vmlinuz", "initrd.img"]);
const OVMF_BYTES = bootBytes(["bootx64.efi"]);
const SMALL_N = Q(2000, 500);
/**
 * Small sessions of the unmeasured warm-up before each run (--quick: fewer, for time). Enough
 * for a running server's steady state: measured round by round (bench/warm-check.mjs), tftpkit
 * with two workers still spends about 2x its steady CPU per session after 3,000 sessions and
 * settles after about 10,000 (each worker's JIT warms on its own share).
 */
const WARM_SMALL = Q(12000, 600);
const COLD_N = 2000;
const smallArgs = (n) => [...SRC, "--file", `boot.cfg:${n}`, "--concurrency", "32"];

/**
 * metric: what the row reports; better: "high" or "low"; pin: single stream,
 * client and server on CPU 0; needs: an option the server must grant; only:
 * the servers it runs on; rounds: fewer rounds than the run's; lossy: drops
 * datagrams (retransmissions expected); kind: cold | idle | boot (how it runs).
 */
const SCENARIOS = [
  {
    id: "lockstep",
    title: `lock-step, one ${mib("big.bin")} file, blksize 1468 (client and server on one CPU; tftpkit then sees one core and runs one process)`,
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
    args: smallArgs(SMALL_N),
    metric: "sessions_per_s", unit: "sess/s", better: "high",
  },
  {
    id: "cold",
    title: `cold: a fresh tftpkit serve (defaults), its first 2,000 x 1 KiB right after its "serving" line, no warm-up`,
    args: smallArgs(COLD_N),
    metric: "sessions_per_s", unit: "sess/s", better: "high", kind: "cold", only: ["tftpkit"],
  },
  {
    id: "idle",
    title: `idle: tftpkit (defaults) warmed up as every run is, idle ${idleSeconds} s, then 2,000 x 1 KiB (node-floor likewise, right after it: what the idle time costs any process here)`,
    args: smallArgs(COLD_N),
    metric: "sessions_per_s", unit: "sess/s", better: "high", kind: "idle", only: ["tftpkit", "node-floor"], rounds: 1,
  },
  {
    id: "loss",
    title: `${Q(20, 5)} x ${mib("f4m.bin")} at once, lock-step, the client drops 1% of DATA (seed 42; wall time${LOSS_CAP_S ? `; other servers' runs capped at ${LOSS_CAP_S} s` : ""})`,
    args: [...SRC, "--file", `f4m.bin:${Q(20, 5)}`, "--concurrency", String(Q(20, 5)), "--blksize", "1468", "--drop", "0.01", "--seed", "42"],
    metric: "elapsed_s", unit: "s", better: "low", lossy: true, rounds: 1, capS: LOSS_CAP_S, totalBytes: Q(20, 5) * sizes["f4m.bin"],
  },
  {
    id: "loss-w8",
    title: `same at windowsize 8`,
    args: [...SRC, "--file", `f4m.bin:${Q(20, 5)}`, "--concurrency", String(Q(20, 5)), "--blksize", "1468", "--windowsize", "8", "--drop", "0.01", "--seed", "42"],
    metric: "elapsed_s", unit: "s", better: "low", needs: "windowsize", lossy: true, rounds: 1, capS: LOSS_CAP_S, totalBytes: Q(20, 5) * sizes["f4m.bin"],
  },
  {
    id: "boot-grub",
    title: `GRUB EFI boot, clean: ${BOOTS} boots at once, each ${GRUB_SMALL.length} modules/config (1.5-38 KiB), ${mib("vmlinuz")} kernel, ${mib("initrd.img")} initrd; blksize 1024 lock-step, tsize, ${FIRMWARE_US} us per block before the ACK, no ACK re-sent by the client (wall time)`,
    args: grubArgs,
    metric: "elapsed_s", unit: "s", better: "low", kind: "boot", totalBytes: GRUB_BYTES, rounds: 1,
  },
  {
    id: "boot-grub-loss",
    title: `same, 2% of datagrams dropped each way (DATA and OACK received, ACKs sent; seed 42); other servers' runs capped at ${BOOT_CAP_S} s (a capped run's time is projected from its bytes)`,
    args: [...grubArgs, ...lossArgs],
    metric: "elapsed_s", unit: "s", better: "low", kind: "boot", totalBytes: GRUB_BYTES, lossy: true, rounds: 1, clean: "boot-grub", capS: BOOT_CAP_S,
  },
  {
    id: "boot-ovmf",
    title: `OVMF PXE boot, clean: ${BOOTS} boots at once, each a tsize probe (OACK, then ERROR 8) and a ${mib("bootx64.efi")} fetch at blksize 1468 windowsize 4, ${FIRMWARE_US} us per window before the ACK (wall time; tftpkit: the median of ${OVMF_REPEATS} runs in turn on one server)`,
    args: ovmfArgs,
    metric: "elapsed_s", unit: "s", better: "low", kind: "boot", totalBytes: OVMF_BYTES, rounds: 1, repeats: OVMF_REPEATS,
  },
  {
    id: "boot-ovmf-loss",
    title: `same, 2% of datagrams dropped each way (tftpkit: ${OVMF_REPEATS} boots in turn, seeds 42-${41 + OVMF_REPEATS}; the others seed 42); other servers' runs capped at ${BOOT_CAP_S} s`,
    args: [...ovmfArgs, ...lossArgs],
    metric: "elapsed_s", unit: "s", better: "low", kind: "boot", totalBytes: OVMF_BYTES, lossy: true, rounds: 1, repeats: OVMF_REPEATS, clean: "boot-ovmf", capS: BOOT_CAP_S,
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
    metric: "mbps", unit: "MB/s", better: "high", only: ["tftpd-hpa"], rounds: 1,
  },
];
/** --scenarios aliases: a boot id selects its clean and lossy runs. */
const ALIASES = { "boot": ["boot-grub", "boot-grub-loss", "boot-ovmf", "boot-ovmf-loss"], "boot-grub-both": ["boot-grub", "boot-grub-loss"], "boot-ovmf-both": ["boot-ovmf", "boot-ovmf-loss"] };

if (opt.help) {
  process.stdout.write(
    "Usage: npm run bench [-- --quick] [-- --servers a,b] [-- --scenarios id,...] [-- --rounds N] [-- --write-docs]\n" +
      "                     [-- --idle-seconds S] [-- --tftpkit-args=\"--flag v\"] [-- --no-build] [-- --no-warmup] [-- --keep-logs DIR]\n" +
      "  (default)  every scenario at full size, 3 rounds where it pays, the other servers' lossy runs capped (about 30 minutes on 2 cores)\n" +
      "  --quick    small files and counts, 1 round, 60 s idle, lossy runs capped at 10 s (about 4 minutes): for development, not for figures\n" +
      "  --write-docs  write docs/performance.md from this run (bench/performance.template.md)\n" +
      "  --idle-seconds  the idle scenario's idle time (default 600; --quick 60)\n" +
      "  --no-warmup  measure each server cold (by default every server gets the same unmeasured warm-up first)\n" +
      "  --keep-logs DIR  keep each tftpkit run's session log in DIR (NNN-server-port.log, in the order the servers stopped)\n" +
      `  servers: tftpkit tftpkit-1w node-floor tftpd-hpa atftpd dnsmasq\n` +
      `  scenarios: ${SCENARIOS.map((s) => s.id).join(" ")} (aliases: ${Object.keys(ALIASES).join(" ")})\n`,
  );
  process.exit(0);
}

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
/** The least of the values >= 0, or -1 when there is none. */
const minOrNone = (xs) => {
  const ok = xs.filter((v) => v >= 0);
  return ok.length ? Math.min(...ok) : -1;
};
/**
 * What the client saw of its unprovoked duplicate DATA (tftpbench.c; -1: none): its slowest ACK
 * before a duplicate (a slow client) and the quickest arrival of a duplicate after its ACK (near
 * 0: resent before the ACK could arrive).
 */
const dupTiming = (x) => [
  x.dup_ack_lag_max_ms >= 0 ? `client ACK lag up to ${fmt(x.dup_ack_lag_max_ms, 1)} ms` : "",
  x.dup_after_ack_min_ms >= 0 ? `a duplicate ${fmt(x.dup_after_ack_min_ms, 1)} ms after the client's ACK` : "",
].filter(Boolean).join(", ");
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const digits = (v) => (v >= 1000 ? 0 : v >= 100 ? 1 : 2);
const sum = (xs) => xs.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);

/** `mine` relative to `other` on `sc`'s metric: above 1 = mine better. */
const advantage = (sc, mine, other) =>
  !(mine > 0 && other > 0) ? NaN : sc.better === "high" ? mine / other : other / mine;

// ------------------------------------------------------------- set-up

function turbo(filters) {
  const bin = join(repo, "node_modules/.bin/turbo");
  const r = spawnSync(bin, ["run", "build", ...filters.map((f) => `--filter=${f}`), "--output-logs=errors-only"], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  return r.status === 0;
}
const askedIds = opt.scenarios ? opt.scenarios.split(",").flatMap((id) => ALIASES[id] ?? [id]) : null;
const scenarios = askedIds ? SCENARIOS.filter((s) => askedIds.includes(s.id)) : SCENARIOS;
if (askedIds && scenarios.length !== new Set(askedIds).size) {
  process.stderr.write(`bench: unknown scenario in --scenarios (known: ${SCENARIOS.map((s) => s.id).join(", ")}; aliases ${Object.keys(ALIASES).join(", ")})\n`);
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
/** Rounds of a scenario: --rounds for all, else its own (fewer for the slow lossy ones), else 3 (1 quick). */
const roundsOf = (sc) => roundsOpt ?? (quick ? 1 : sc.rounds ?? 3);
const maxRounds = Math.max(1, ...scenarios.map(roundsOf));

const tftpkitArgs = opt["tftpkit-args"] ? opt["tftpkit-args"].split(/\s+/).filter(Boolean) : [];
const allDefs = serverDefs({ repo, cacheDir, tftpkitArgs, keepLogs: opt["keep-logs"] });
const wanted = opt.servers ? opt.servers.split(",") : allDefs.map((d) => d.name);
const isTftpkit = (name) => name === "tftpkit" || name === "tftpkit-1w";

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
const cpuModel = cpus()[0]?.model ?? "?";
process.stderr.write(
  `bench: ${quick ? "quick" : "full"} run, ${servers.map((s) => s.def.name).join(", ")}; ${scenarios.length} scenarios, up to ${maxRounds} round(s); ` +
    `${availableParallelism()} cores (${cpuModel}); single streams pinned to CPU ${pinCpu ?? "(taskset missing: not pinned)"}\n`,
);

// ------------------------------------------------------------- runs

const LIMIT_S = 300; // per run; the loss runs at full size take about a minute on the 1 s-timeout servers
const runs = [];
let cpuHow = "";

/** Sessions a run's CPU is divided by: transfers (boots: every file and probe), else sessions that finished well. */
const sessionsOf = (c) => (Number.isFinite(c.transfers) && c.steps > 1) || c.probes > 0 ? c.transfers : c.ok ?? 0;

/** One measured run of `sc` on a started server `srv`: the client's figures with the server's CPU. */
async function measure(sc, name, srv, { cpu = null, round = 0, extra = {} } = {}) {
  const meter = cpuMeter(srv.pid);
  // A primary with workers, or one process (tftpkit on one visible core starts no worker).
  const processes = 1 + descendants(srv.pid).length;
  const primary0 = srv.primaryPid ? procCpuSeconds(srv.primaryPid) : NaN;
  const rss = rssSampler(srv.pid, 200);
  // The cap bounds the peers' slow lossy runs; tftpkit's run to its end (its figure is the goal's).
  const cap = sc.capS && !isTftpkit(name) ? ["--time-limit", String(sc.capS), "--grace", "0"] : [];
  const repeats = sc.repeats && isTftpkit(name) ? sc.repeats : 1;
  const each = [];
  for (let k = 0; k < repeats; k++) {
    const args = k === 0 ? sc.args : withSeed(sc.args, k);
    each.push(await runClient(client, { port: srv.port, root: dataDir, args: [...args, ...cap], cpu, limitS: cap.length ? sc.capS : LIMIT_S }));
  }
  const c = each.length === 1 ? each[0] : mergeRuns(each);
  let lg = null;
  if (sc.loadgenArgs && !c.error) lg = await runLoadgen(srv.port, sc.loadgenArgs, LIMIT_S);
  const cpuS = meter.read();
  const primaryS = srv.primaryPid && processes > 1 ? procCpuSeconds(srv.primaryPid) - primary0 : NaN;
  const peak = rss.stop();
  meter.dispose();
  cpuHow = meter.how;
  const sessions = sessionsOf(c);
  // A boot capped before its end: its time projected from the bytes it received.
  const capped = c.time_capped === true;
  const elapsed = capped && sc.totalBytes && c.bytes > 0 ? (c.elapsed_s * sc.totalBytes) / c.bytes : c.elapsed_s;
  const run = {
    scenario: sc.id,
    server: name,
    round,
    mbps: c.mbps,
    elapsed_s: elapsed,
    measured_elapsed_s: c.elapsed_s,
    capped,
    sessions_per_s: c.sessions_per_s,
    answered_pct: c.sessions ? (100 * c.answered) / c.sessions : NaN,
    p50_ms: c.p50_ms,
    p99_ms: c.p99_ms,
    ok: c.ok ?? 0,
    failed: capped ? 0 : c.failed ?? NaN,
    errors: c.errors ?? {},
    timeouts: c.timeouts ?? 0,
    mismatches: c.mismatches ?? 0,
    burst_span_ms: c.burst_span_ms,
    dup_data: c.dup_data ?? NaN,
    dup_data_unprovoked: c.dup_data_unprovoked ?? NaN,
    // The unprovoked duplicates' timing (see dupTiming).
    dup_ack_lag_max_ms: c.dup_ack_lag_max_ms ?? -1,
    dup_after_ack_min_ms: c.dup_after_ack_min_ms ?? -1,
    server_peak_rss_mib: peak / MiB,
    server_cpu_s: cpuS,
    primary_cpu_s: primaryS,
    processes,
    sessions,
    cpu_us_per_session: sessions > 0 ? (cpuS * 1e6) / sessions : NaN,
    primary_us_per_session: sessions > 0 ? (primaryS * 1e6) / sessions : NaN,
    sessions_per_cpu_s: cpuS > 0 ? sessions / cpuS : NaN,
    error: c.error ?? lg?.error,
    client: c,
    loadgen: lg,
    ...extra,
  };
  runs.push(run);
  const fig = sc.metric === "answered_pct" ? `${fmt(run.answered_pct, 1)}% answered (burst took ${fmt(c.burst_span_ms, 0)} ms)` : `${fmt(run[sc.metric], 2)} ${sc.unit}${capped ? ` (capped at ${fmt(c.elapsed_s, 0)} s: projected)` : ""}`;
  process.stderr.write(
    c.error ? `error: ${c.error}\n`
      : `${fig}, ${c.ok} ok, ${sc.id === "burst" ? `${c.answered} answered` : `${c.failed} failed`}, ${fmt(run.cpu_us_per_session, 0)} us CPU/session` +
        `${Number.isFinite(primaryS) ? ` (primary ${fmt(run.primary_us_per_session, 0)})` : ""}, dup DATA ${c.dup_data ?? "-"}` +
        `${!sc.lossy && c.dup_data_unprovoked > 0 ? ` (unprovoked ${c.dup_data_unprovoked}${dupTiming(c) ? `: ${dupTiming(c)}` : ""})` : ""}` +
        `${lg ? `; tftpkit-load ${fmt(lg.mbps, 2)} MB/s${lg.error ? ` (${lg.error})` : ""}` : ""}\n`,
  );
  return run;
}

/** The client's arguments with its --seed moved on by k (the same arguments without one). */
function withSeed(args, k) {
  const i = args.indexOf("--seed");
  return i < 0 ? args : [...args.slice(0, i + 1), String(Number(args[i + 1]) + k), ...args.slice(i + 2)];
}

/**
 * Runs of one scenario in turn on one server as one: the times and rates their medians (`runs`
 * keeps each run's time), the counts their sums, the worst duplicate timing across them.
 */
function mergeRuns(cs) {
  const bad = cs.find((c) => c.error);
  if (bad) return bad;
  const m = (k) => median(cs.map((c) => c[k]));
  const total = (k) => sum(cs.map((c) => c[k] ?? 0));
  const errors = {};
  for (const c of cs) for (const [k, v] of Object.entries(c.errors ?? {})) errors[k] = (errors[k] ?? 0) + v;
  const after = cs.map((c) => c.dup_after_ack_min_ms).filter((x) => Number.isFinite(x) && x >= 0);
  return {
    ...cs[0],
    elapsed_s: m("elapsed_s"), mbps: m("mbps"), sessions_per_s: m("sessions_per_s"), p50_ms: m("p50_ms"), p99_ms: m("p99_ms"),
    ok: total("ok"), failed: total("failed"), answered: total("answered"), sessions: total("sessions"), bytes: total("bytes"),
    transfers: total("transfers"), probes: total("probes"), timeouts: total("timeouts"), mismatches: total("mismatches"),
    dup_data: total("dup_data"), dup_data_unprovoked: total("dup_data_unprovoked"),
    dup_ack_lag_max_ms: Math.max(-1, ...cs.map((c) => c.dup_ack_lag_max_ms ?? -1)),
    dup_after_ack_min_ms: after.length ? Math.min(...after) : -1,
    errors, time_capped: cs.some((c) => c.time_capped === true),
    runs_elapsed_s: cs.map((c) => c.elapsed_s),
  };
}

/** A server started for a run, tried three times (each on a fresh port): { srv }, or { why } after that. */
async function startServer(def, cpu) {
  let why = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return { srv: await def.start(dataDir, { cpu }) };
    } catch (e) {
      why = String(e?.message ?? e).split("\n")[0];
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { why };
}

/** The unmeasured warm-up of a started server (none with --no-warmup), the same for every run. */
const warmServer = (srv, cpu = null) =>
  warmup ? warmUp(client, { port: srv.port, root: dataDir, smallFile: "boot.cfg", bigFile: "f4m.bin", cpu, small: WARM_SMALL }) : null;

// The idle scenario: started first on its own port, warmed up as every run is, then left
// alone for idleSeconds while the other scenarios run; measured once its idle time is over.
const idleSc = scenarios.find((s) => s.kind === "idle");
// The idle time's baseline: node-floor, started, warmed and left idle beside tftpkit and measured
// right after it. On a virtual machine a long idle costs any process its next seconds (caches,
// the host's scheduling): the floor's own ratio says how much of tftpkit's is the machine's.
const idleDefs = servers.filter((s) => s.def.name === "tftpkit" || s.def.name === "node-floor");
let idle = null;
if (idleSc && idleDefs.some((s) => s.def.name === "tftpkit")) {
  const idlers = [];
  for (const d of idleDefs) {
    process.stderr.write(`  idle: starting ${d.def.name}, warming it up, then ${idleSeconds} s idle (other scenarios run meanwhile) ... `);
    const srv = await d.def.start(dataDir);
    // The warm-up of every measured run, then one small run: its own warm rate before the idle time.
    await untilServing(client, { port: srv.port, root: dataDir, file: "boot.cfg" });
    await warmServer(srv);
    const warmRun = await runClient(client, { port: srv.port, root: dataDir, args: smallArgs(SMALL_N), limitS: LIMIT_S });
    idlers.push({ name: d.def.name, srv, warm_sessions_per_s: warmRun.sessions_per_s });
    process.stderr.write(`warmed (${fmt(warmRun.sessions_per_s, 0)} sess/s)\n`);
  }
  // tftpkit first: the floor's run comes after tftpkit's has woken the machine (in the floor's favour).
  idlers.sort((a, b) => (a.name === "tftpkit" ? -1 : b.name === "tftpkit" ? 1 : 0));
  idle = { idlers, since: Date.now(), done: false };
}
async function idleDue(force) {
  if (!idle || idle.done) return;
  const left = idle.since + idleSeconds * 1000 - Date.now();
  if (left > 0 && !force) return;
  if (left > 0) {
    process.stderr.write(`  idle: waiting ${Math.ceil(left / 1000)} s more\n`);
    await new Promise((r) => setTimeout(r, left));
  }
  idle.done = true;
  for (const x of idle.idlers) {
    const idledS = (Date.now() - idle.since) / 1000;
    process.stderr.write(`  [1/1] idle / ${x.name} (after ${fmt(idledS, 0)} s idle) ... `);
    await measure(idleSc, x.name, x.srv, { extra: { idled_s: idledS, warm_own_sessions_per_s: x.warm_sessions_per_s } });
    await x.srv.stop();
  }
}

for (let r = 0; r < maxRounds; r++) {
  for (let i = 0; i < scenarios.length; i++) {
    const sc = scenarios[i];
    if (sc.kind === "idle" || r >= roundsOf(sc)) continue;
    const eligible = servers.filter((s) => !sc.only || sc.only.includes(s.def.name));
    // Alternate: rotate the order per scenario and round, so no server always goes first.
    const k = eligible.length ? (i + r) % eligible.length : 0;
    const order = [...eligible.slice(k), ...eligible.slice(0, k)];
    for (const s of order) {
      await idleDue(false);
      const name = s.def.name;
      if (sc.needs === "windowsize" && !s.granted?.windowsize) {
        runs.push({ scenario: sc.id, server: name, round: r, skipped: "windowsize not granted" });
        continue;
      }
      process.stderr.write(`  [${r + 1}/${roundsOf(sc)}] ${sc.id} / ${name} ... `);
      const cpu = sc.pin ? pinCpu : null;
      const { srv, why } = await startServer(s.def, cpu);
      if (!srv) {
        // One server that will not start (a port taken meanwhile) does not end the run.
        process.stderr.write(`did not start (3 tries): ${why}\n`);
        runs.push({ scenario: sc.id, server: name, round: r, skipped: `did not start: ${why}` });
        continue;
      }
      const cold = sc.kind === "cold";
      // Cold: no transfer before the measured one (tftpkit's "serving" line says it is ready).
      const readyMs = cold ? null : await untilServing(client, { port: srv.port, root: dataDir, file: "boot.cfg" });
      const warm = cold ? null : await warmServer(srv, cpu);
      await measure(sc, name, srv, { cpu, round: r, extra: { ready_ms: readyMs, warmup: warm } });
      await srv.stop();
    }
  }
}
await idleDue(true);

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
      // A round's value, or each of the runs in turn of a scenario with repeats (a time each).
      values: real.flatMap((x) => x.client?.runs_elapsed_s ?? [x[sc.metric]]),
      capped: real.some((x) => x.capped),
      p50_ms: m("p50_ms"),
      p99_ms: m("p99_ms"),
      // burst: unanswered requests are the figure, not failures; answered ones must finish
      failed: mine.reduce((a, x) => a + (sc.id === "burst" ? (x.client?.answered ?? 0) - (x.ok ?? 0) : Number.isFinite(x.failed) ? x.failed : 0), 0),
      errors: real.reduce((acc, x) => {
        for (const [k, v] of Object.entries(x.errors)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
      mismatches: real.reduce((a, x) => a + x.mismatches, 0),
      dup_data: sum(real.map((x) => x.dup_data)),
      dup_data_unprovoked: sum(real.map((x) => x.dup_data_unprovoked)),
      dup_ack_lag_max_ms: Math.max(-1, ...real.map((x) => x.dup_ack_lag_max_ms ?? -1)),
      dup_after_ack_min_ms: minOrNone(real.map((x) => x.dup_after_ack_min_ms)),
      server_peak_rss_mib: Math.max(...real.map((x) => x.server_peak_rss_mib)),
      server_cpu_s: m("server_cpu_s"),
      cpu_us_per_session: m("cpu_us_per_session"),
      primary_us_per_session: m("primary_us_per_session"),
      sessions_per_cpu_s: m("sessions_per_cpu_s"),
      error: mine.find((x) => x.error)?.error,
    };
    row.primary_share = row.primary_us_per_session / row.cpu_us_per_session;
    if (sc.kind === "idle") {
      row.idled_s = real[0]?.idled_s;
      row.warm_own_sessions_per_s = real[0]?.warm_own_sessions_per_s;
    }
    if (sc.loadgenArgs) {
      row.loadgen_mbps = median(real.map((x) => x.loadgen?.mbps));
      row.loadgen_failed = real.reduce((a, x) => a + (x.loadgen?.failed ?? 0), 0);
      row.loadgen_saturated = real.some((x) => x.loadgen?.saturated);
    }
    rows.push(row);
  }
}
const rowOf = (id, server) => rows.find((x) => x.scenario === id && x.server === server && !x.skipped);

/**
 * The median of each round's ratio a / b in scenario `id` (a's round r against
 * b's round r, which ran right before or after it: the order alternates per
 * round), or NaN without such a pair. This machine's speed moves over seconds,
 * so the ratio of two medians can pair a fast round with a slow one; each
 * round's own ratio does not.
 */
function pairedRatio(id, a, b, key) {
  const of = (server) => runs.filter((x) => x.scenario === id && x.server === server && !x.skipped && !x.error && Number.isFinite(x[key]));
  const theirs = of(b);
  const ratios = [];
  for (const x of of(a)) {
    const y = theirs.find((t) => t.round === x.round);
    if (y && y[key] > 0) ratios.push(x[key] / y[key]);
  }
  return ratios.length ? median(ratios) : NaN;
}

// ------------------------------------------------------------- projection

/**
 * Scaling across cores from the defaults run of `small`: the primary's CPU per
 * session p (its pid alone) and the workers' w (the rest of the tree). N
 * cores serve at most N / (p + w) sessions/s while the primary, one process on
 * one core, passes at most 1 / p: projected min(N / (p + w), 1 / p), the
 * primary the limit from N = (p + w) / p cores. Measured against the
 * one-worker process's rate on one core: 1 / (tftpkit-1w's CPU per session).
 */
function projection() {
  const d = rowOf("small", "tftpkit");
  if (!d || !(d.primary_us_per_session > 0)) return null;
  const p = d.primary_us_per_session / 1e6;
  const w = Math.max(0, d.cpu_us_per_session / 1e6 - p);
  const one = rowOf("small", "tftpkit-1w");
  const oneRate = one && one.cpu_us_per_session > 0 ? 1e6 / one.cpu_us_per_session : NaN;
  const at = (n) => Math.min(n / (p + w), 1 / p);
  return {
    primary_us: p * 1e6,
    workers_us: w * 1e6,
    primary_share: p / (p + w),
    primary_limit_cores: (p + w) / p,
    primary_limit_sessions_per_s: 1 / p,
    one_worker_sessions_per_core_s: oneRate,
    cores: [4, 16, 64].map((n) => ({ cores: n, sessions_per_s: at(n), primary_bound: n / (p + w) > 1 / p, vs_one_worker: at(n) / oneRate })),
  };
}
const proj = projection();

// ------------------------------------------------------------- goals

/** Each goal: { text, met (true/false), figure }; a goal whose rows are missing is left out. */
const goals = [];
const goal = (met, text, figure) => goals.push({ met: !!met, text, figure });
const ratioGoal = (id, server, peers, test, text) => {
  const sc = scenarios.find((s) => s.id === id);
  const mine = rowOf(id, server);
  if (!sc || !mine) return;
  const theirs = rows.filter((x) => x.scenario === id && peers.includes(x.server) && !x.skipped && Number.isFinite(x.value));
  if (!theirs.length) return;
  const best = theirs.reduce((a, b) => (advantage(sc, mine.value, a.value) <= advantage(sc, mine.value, b.value) ? a : b));
  const adv = advantage(sc, mine.value, best.value);
  goal(Number.isFinite(adv) && test(adv), `${id}: ${server} ${text}`, `${fmt(adv, 2)}x (${best.server})`);
};
// Small sessions at the floor (issue 19 item 2).
{
  const floor = rowOf("small", "node-floor");
  const one = rowOf("small", "tftpkit-1w");
  const def = rowOf("small", "tftpkit");
  // The verdict takes each round's ratio to the floor's round beside it (the median of them); the ratio of the medians is printed too.
  const paired = (server, key, ofMedians) => {
    const r = pairedRatio("small", server, "node-floor", key);
    return { r: Number.isFinite(r) ? r : ofMedians, text: `${fmt(Number.isFinite(r) ? r : ofMedians, 2)}x by round, ${fmt(ofMedians, 2)}x of the medians` };
  };
  if (floor && one) {
    const c = paired("tftpkit-1w", "cpu_us_per_session", one.cpu_us_per_session / floor.cpu_us_per_session);
    goal(c.r <= 1.0, "small: tftpkit-1w CPU per session <= 1.0x node-floor", `${c.text} (${fmt(one.cpu_us_per_session, 0)} vs ${fmt(floor.cpu_us_per_session, 0)} us)`);
    const r = paired("tftpkit-1w", "sessions_per_s", one.value / floor.value);
    goal(r.r >= 1.0, "small: tftpkit-1w sessions/s >= 1.0x node-floor", r.text);
  }
  if (floor && def) {
    const c = paired("tftpkit", "cpu_us_per_session", def.cpu_us_per_session / floor.cpu_us_per_session);
    goal(c.r <= 1.3, "small: tftpkit (defaults) CPU per session <= 1.3x node-floor", `${c.text} (${fmt(def.cpu_us_per_session, 0)} vs ${fmt(floor.cpu_us_per_session, 0)} us)`);
  }
}
// Cold and idle against the warm rate of small (item 3).
{
  const warm = rowOf("small", "tftpkit");
  const cold = rowOf("cold", "tftpkit");
  const idl = rowOf("idle", "tftpkit");
  // Beside the rates, CPU per session warm / cold (less noisy on a shared machine than sessions/s).
  const cpuRatio = (x) => `; CPU per session ${fmt(x.cpu_us_per_session, 0)} vs ${fmt(warm.cpu_us_per_session, 0)} us warm = ${fmt(warm.cpu_us_per_session / x.cpu_us_per_session, 2)}x`;
  if (warm && cold) goal(cold.value / warm.value >= 0.7, "cold: a fresh tftpkit's first 2,000 sessions >= 0.7x the warm rate (small)", `${fmt(cold.value / warm.value, 2)}x (${fmt(cold.value, 0)} vs ${fmt(warm.value, 0)} sess/s${cpuRatio(cold)})`);
  // Beside it: node-floor's rate after the same idle time against its own warm rate before it.
  const floorIdle = rowOf("idle", "node-floor");
  const floorText = floorIdle && floorIdle.warm_own_sessions_per_s > 0
    ? `; node-floor after the same idle ${fmt(floorIdle.value / floorIdle.warm_own_sessions_per_s, 2)}x its own warm rate before it, tftpkit ${fmt(idl?.value / idl?.warm_own_sessions_per_s, 2)}x its own`
    : "";
  if (warm && idl) goal(idl.value / warm.value >= 0.9, `idle: after ${fmt(idl.idled_s, 0)} s idle >= 0.9x the warm rate (small)`, `${fmt(idl.value / warm.value, 2)}x (${fmt(idl.value, 0)} vs ${fmt(warm.value, 0)} sess/s${cpuRatio(idl)}${floorText})`);
}
// Scaling (item 4).
if (proj) {
  goal(proj.primary_share < 0.1, "small: the primary's share of a session's CPU < 10%", `${fmt(100 * proj.primary_share, 1)}% (${fmt(proj.primary_us, 0)} of ${fmt(proj.primary_us + proj.workers_us, 0)} us)`);
  const p16 = proj.cores.find((c) => c.cores === 16);
  if (Number.isFinite(p16.vs_one_worker)) goal(p16.vs_one_worker > 10, "projection: 16 cores > 10x the one-worker rate per core", `${fmt(p16.vs_one_worker, 1)}x (${fmt(p16.sessions_per_s, 0)} sess/s)`);
}
// Boots under loss (item 5).
for (const sc of scenarios.filter((s) => s.clean)) {
  for (const name of ["tftpkit", "tftpkit-1w"]) {
    const lossy = rowOf(sc.id, name);
    const clean = rowOf(sc.clean, name);
    if (lossy && clean) goal(lossy.value / clean.value <= 1.5 && !lossy.capped, `${sc.id}: ${name} boot under 2% loss <= 1.5x the clean boot`, `${fmt(lossy.value / clean.value, 2)}x (${fmt(lossy.value, 2)} vs ${fmt(clean.value, 2)} s)`);
  }
}
{
  // The burst overloads the path (ACKs queue for seconds): its retransmissions are shown, not judged.
  const clean = rows.filter((x) => isTftpkit(x.server) && !x.skipped && !scenarios.find((s) => s.id === x.scenario)?.lossy && x.scenario !== "burst");
  if (clean.length) {
    const n = sum(clean.map((x) => x.dup_data_unprovoked));
    const where = clean.filter((x) => x.dup_data_unprovoked > 0).map((x) => `${x.scenario}/${x.server} ${x.dup_data_unprovoked}${dupTiming(x) ? ` (${dupTiming(x)})` : ""}`).join(", ");
    const burst = rows.filter((x) => isTftpkit(x.server) && x.scenario === "burst" && !x.skipped).map((x) => `${x.server} ${x.dup_data_unprovoked}`).join(", ");
    goal(n === 0, "clean runs: tftpkit retransmits nothing (duplicate DATA the client did not cause; burst apart)", `${n}${where ? ` (${where})` : ""}${burst ? `; burst: ${burst}` : ""}`);
  }
}
// Large files at the floor (item 6) and the results that stay.
for (const id of ["lockstep", "window16", "storm"]) ratioGoal(id, "tftpkit", ["node-floor"], (r) => r >= 1.0, ">= 1.0x node-floor");
ratioGoal("loss", "tftpkit", ["tftpd-hpa", "atftpd"], (r) => r >= 10, ">= 10x faster than the fastest of tftpd-hpa and atftpd");
ratioGoal("loss-w8", "tftpkit", ["tftpd-hpa", "atftpd"], (r) => r >= 10, ">= 10x faster than the fastest of tftpd-hpa and atftpd");
ratioGoal("burst", "tftpkit", ["dnsmasq"], (r) => r >= 1.0, "answers at least as many as dnsmasq");
ratioGoal("small", "tftpkit", ["dnsmasq"], (r) => r >= 1.0, ">= 1.0x dnsmasq sessions/s");
ratioGoal("storm", "tftpkit", ["dnsmasq"], (r) => r >= 1.0, "wall time <= 1.0x dnsmasq");
ratioGoal("window16", "tftpkit", ["atftpd"], (r) => r >= 1.0, ">= 1.0x atftpd MB/s");
ratioGoal("lockstep", "tftpkit", ["atftpd"], (r) => r >= 0.8, ">= 0.8x atftpd MB/s");
{
  const b = rowOf("burst", "tftpkit");
  if (b) goal(b.value >= 75, "burst: tftpkit >= 75% answered", `${fmt(b.value, 1)}%`);
  const failed = rows.filter((x) => isTftpkit(x.server) && !x.skipped).reduce((a, x) => a + x.failed + (x.error ? 1 : 0), 0);
  goal(failed === 0, "no failed tftpkit session in any scenario", `${failed} failed`);
  const lg = rows.find((x) => x.scenario === "loadgen");
  if (lg && Number.isFinite(lg.loadgen_mbps)) goal(lg.loadgen_mbps / lg.value >= 0.85, "tftpkit-load within 15% of the C client against tftpd-hpa", fmt(lg.loadgen_mbps / lg.value, 2));
}

// ------------------------------------------------------------- the table

/** Lossy boots: tftpkit against the C servers (a figure, not a goal). */
const bootVsC = [];
for (const sc of scenarios.filter((s) => s.clean)) {
  const mine = rowOf(sc.id, "tftpkit");
  const c = rows.filter((x) => x.scenario === sc.id && ["tftpd-hpa", "atftpd", "dnsmasq"].includes(x.server) && Number.isFinite(x.value));
  if (mine && c.length) bootVsC.push(`${sc.id}: tftpkit ${fmt(mine.value, 2)} s; ${c.map((x) => `${x.server} ${fmt(x.value, 1)} s${x.capped ? " (projected)" : ""} = ${fmt(x.value / mine.value, 1)}x slower`).join(", ")}`);
}

const columns = ["server", "value", "vs tftpkit", "vs floor", "CPU us/sess", "sess/CPU-s", "CPU vs floor", "primary", "dup DATA", "p50 ms", "p99 ms", "fail", "RSS MiB"];
/** One scenario's rows as cells (strings), for the console and the docs. */
function cells(sc) {
  const base = rowOf(sc.id, "tftpkit");
  const floor = rowOf(sc.id, "node-floor");
  return rows.filter((x) => x.scenario === sc.id).map((r) => {
    if (r.skipped) return { server: r.server, skipped: r.skipped };
    const v = sc.metric === "answered_pct" ? `${fmt(r.value, 1)}%` : `${r.capped ? "~" : ""}${fmt(r.value, digits(r.value))}`;
    const note = [
      r.error ? `error: ${r.error.slice(0, 60)}` : "",
      r.capped ? "capped: time projected from bytes" : "",
      r.failed > 0 ? `failed: ${Object.entries(r.errors).map(([k, n]) => `TFTP ${k} x${n}`).join(", ") || "timeouts/mismatches"}` : "",
      r.mismatches > 0 ? `${r.mismatches} with wrong bytes` : "",
      r.values.length > 1 ? `runs ${r.values.map((x) => fmt(x, digits(x))).join(" / ")}` : "",
      sc.kind === "idle" ? `idle ${fmt(r.idled_s, 0)} s; its own warm rate before ${fmt(r.warm_own_sessions_per_s, 0)}` : "",
    ].filter(Boolean).join("; ");
    return {
      server: r.server,
      value: v,
      "vs tftpkit": r.server === "tftpkit" ? "" : fmt(advantage(sc, base?.value, r.value), 2),
      "vs floor": r.server === "node-floor" ? "" : fmt(advantage(sc, r.value, floor?.value), 2),
      "CPU us/sess": fmt(r.cpu_us_per_session, 0),
      "sess/CPU-s": fmt(r.sessions_per_cpu_s, 0),
      "CPU vs floor": r.server === "node-floor" ? "" : fmt(r.cpu_us_per_session / floor?.cpu_us_per_session, 2),
      primary: Number.isFinite(r.primary_share) && r.server === "tftpkit" ? `${fmt(100 * r.primary_share, 1)}%` : "",
      "dup DATA": sc.lossy ? String(r.dup_data) : String(r.dup_data_unprovoked),
      "p50 ms": fmt(r.p50_ms, 1),
      "p99 ms": fmt(r.p99_ms, 1),
      fail: String(r.failed),
      "RSS MiB": fmt(r.server_peak_rss_mib, 1),
      note,
    };
  });
}

const header = `tftpkit bench, ${new Date(t0).toISOString().slice(0, 16).replace("T", " ")} UTC (${quick ? "QUICK: small sizes, not for figures" : "full"}), ` +
  `${availableParallelism()} cores (${cpuModel}), Linux ${release()}, Node.js ${process.version}, loopback, client: bench/tftpbench.c`;
const lines = [header];
lines.push(
  warmup
    ? `every server, every run except cold: the same unmeasured warm-up first (${WARM_SMALL.toLocaleString("en-US")} x 1 KiB, 4 x ${mib("f4m.bin")}; bench/client.mjs warmUp), then the measured run`
    : "no warm-up (--no-warmup): each server measured from its first request",
);
lines.push(`vs tftpkit = tftpkit's advantage over that server, vs floor = that server's over node-floor (figure / theirs; for times theirs / its): above 1.00 better`);
lines.push(`CPU us/sess = the server's whole process tree (workers, forked children) per session (boots: per transfer, probes included); primary = tftpkit's primary process's share of it`);
lines.push(`dup DATA = DATA blocks the client received twice: on clean runs those it did not cause (must be 0), on lossy runs all of them`);
for (const sc of scenarios) {
  lines.push("");
  lines.push(`${sc.id}: ${sc.title}${roundsOf(sc) > 1 ? ` (medians of ${roundsOf(sc)})` : ""}`);
  if (sc.loadgenArgs) {
    lines.push(warmup ? `tftpkit-load ran --warmup ${LOADGEN_WARMUP} (unmeasured sessions per thread before its clock starts; the C client needs none)` : "tftpkit-load ran cold (--no-warmup)");
    lines.push(`${pad("server", 11)} ${lpad("C MB/s", 9)} ${lpad("load MB/s", 10)} ${lpad("load/C", 7)}  note`);
    for (const r of rows.filter((x) => x.scenario === sc.id)) {
      const note = [r.error ? `error: ${r.error.slice(0, 60)}` : "", r.failed ? `C client: ${r.failed} failed` : "", r.loadgen_failed ? `tftpkit-load: ${r.loadgen_failed} failed` : "",
        r.loadgen_saturated ? "tftpkit-load saturated" : ""].filter(Boolean).join("; ");
      lines.push(`${pad(r.server, 11)} ${lpad(fmt(r.value, 1), 9)} ${lpad(fmt(r.loadgen_mbps, 1), 10)} ${lpad(fmt(r.loadgen_mbps / r.value, 2), 7)}  ${note}`);
    }
    continue;
  }
  const widths = [11, 9, 10, 8, 11, 10, 12, 7, 8, 8, 8, 5, 7];
  lines.push(columns.map((c, j) => (j === 0 ? pad(c, widths[j]) : lpad(c === "value" ? sc.unit : c, widths[j]))).join(" ") + "  note");
  for (const c of cells(sc)) {
    if (c.skipped) {
      lines.push(`${pad(c.server, 11)} ${lpad("n/a", 9)}  (${c.skipped})`);
      continue;
    }
    lines.push(columns.map((k, j) => (j === 0 ? pad(c[k], widths[j]) : lpad(c[k], widths[j]))).join(" ") + `  ${c.note}`);
  }
}
const projLines = [];
if (proj) {
  projLines.push(`scaling, a PROJECTION from the small scenario's defaults run (not measured on that many cores): primary ${fmt(proj.primary_us, 1)} us + workers ${fmt(proj.workers_us, 1)} us per session`);
  projLines.push(`  sessions/s on N cores = min(N / (primary + workers), 1 / primary); the primary (one process) becomes the limit from ${fmt(proj.primary_limit_cores, 1)} cores, at ${fmt(proj.primary_limit_sessions_per_s, 0)} sessions/s`);
  for (const c of proj.cores) {
    projLines.push(`  ${lpad(c.cores, 2)} cores: ${lpad(fmt(c.sessions_per_s, 0), 8)} sessions/s${c.primary_bound ? " (primary-bound)" : ""}; ${fmt(c.vs_one_worker, 1)}x one worker on one core (1 / tftpkit-1w's CPU per session = ${fmt(proj.one_worker_sessions_per_core_s, 0)}/s)`);
  }
}
lines.push("");
lines.push(...projLines);
if (bootVsC.length) lines.push("", "lossy boots, tftpkit against the C servers (~ = capped, projected from bytes):", ...bootVsC.map((l) => `  ${l}`));
lines.push("");
lines.push(`goals${quick ? ", QUICK run: sizes differ from the goals' scenarios" : ""}:`);
const goalLines = goals.map((g) => `  ${g.met ? "met    " : "NOT met"} ${g.text}: ${g.figure}`);
lines.push(...goalLines);
lines.push("");
lines.push(`server CPU: ${cpuHow} (the server and all it forks); primary: its own threads' run time from /proc/PID/task/*/schedstat; RSS: peak of the process tree sampled every 200 ms, or the main process's VmHWM if larger`);
for (const s of servers) lines.push(`${s.def.name}: ${s.how}; grants ${JSON.stringify(s.granted)}`);
for (const n of notes) lines.push(`note: ${n}`);
lines.push("figures from one machine; on a shared machine they are noise: compare ratios within one run");
lines.push(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
const table = lines.join("\n");
process.stdout.write(`\n${table}\n`);

// ------------------------------------------------------------- results

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
mkdirSync(resultsDir, { recursive: true });
const doc = {
  tool: "tftpkit-bench",
  started_at: new Date(t0).toISOString(),
  quick,
  command,
  host: { cores: availableParallelism(), cpu: cpuModel, kernel: release(), node: process.version, cpu_how: cpuHow },
  pinned_cpu: pinCpu,
  idle_seconds: idleSeconds,
  warmup_small: warmup ? WARM_SMALL : 0,
  servers: servers.map((s) => ({ name: s.def.name, how: s.how, options_granted: s.granted })),
  notes,
  scenarios: scenarios.map(({ id, title, args, metric, unit, better, pin, needs, only, kind, lossy }) => ({ id, title, client_args: args, metric, unit, better, pin: !!pin, needs, only, kind, lossy: !!lossy, rounds: roundsOf({ rounds: SCENARIOS.find((x) => x.id === id).rounds }) })),
  columns,
  tables: Object.fromEntries(scenarios.filter((s) => !s.loadgenArgs).map((sc) => [sc.id, cells(sc)])),
  rows,
  runs,
  projection: proj,
  boot_vs_c: bootVsC,
  goals,
  table,
};
const stamp = new Date(t0).toISOString().replace(/[:.]/g, "-");
writeFileSync(join(resultsDir, `bench-${stamp}.json`), JSON.stringify(doc, null, 2));
writeFileSync(join(resultsDir, "latest.json"), JSON.stringify(doc, null, 2));
process.stderr.write(`results: bench-results/bench-${stamp}.json\n`);
if (opt["write-docs"]) {
  const template = readFileSync(join(repo, "bench/performance.template.md"), "utf8");
  writeFileSync(join(repo, "docs/performance.md"), renderPerformance(template, doc));
  process.stderr.write("wrote docs/performance.md\n");
}
