#!/usr/bin/env node
// Three checks of `tftpkit serve --workers N` acting as one server, with real
// processes on loopback (clients told apart by their 127.0.0.x source address):
//
//   split    machines that fetch three files from the moment the port is
//            bound: how many had their sessions served by more than one worker
//   kill     400 small and 40 large sessions from 64 addresses, kill -9 of a
//            worker, 100 more: what /metrics counts of the 540
//   limit    --max-sessions 50, 60 clients from 60 addresses ask at once (each
//            holds its session): how many were served
//   cost     (only when asked: --only cost) CPU of the server's processes per
//            small-file session, with the default --max-sessions (each session
//            start asks the primary) and with --max-sessions 0 (none asks)
//
// Usage: node bench/workers-check.mjs [--workers 2] [--only split,kill,limit]
// Ports: the UDP and admin ports come from 41900-41999 (fixed: the split check
// sends before the server prints anything).

import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tftpkitNodeArgs } from "./servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const WORKERS = Number(opt("workers", "2"));
const ONLY = opt("only", "split,kill,limit").split(",");
let nextPort = 41900 + Math.floor(Math.random() * 50) * 2;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), "tftpkit-workers-check-"));
writeFileSync(join(dir, "a.bin"), Buffer.alloc(300, 1));
writeFileSync(join(dir, "b.bin"), Buffer.alloc(700, 2));
writeFileSync(join(dir, "c.bin"), Buffer.alloc(1500, 3));
writeFileSync(join(dir, "large.bin"), Buffer.alloc(256 * 1024, 4));

function serve(args) {
  const udp = nextPort++;
  const admin = nextPort++;
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OTEL_")) env[k] = v;
  const proc = spawn(process.execPath, [...tftpkitNodeArgs(join(here, "..")), "serve", "--host", "127.0.0.1", "--port", String(udp), "--admin", `127.0.0.1:${admin}`,
    "--workers", String(WORKERS), "--root", dir, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  proc.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const exit = new Promise((r) => proc.once("exit", r));
  return {
    proc, udp, api: `http://127.0.0.1:${admin}`, out: () => out, err: () => err,
    ready: async () => { for (let i = 0; i < 400 && !/telemetry: /.test(err); i++) await sleep(25); },
    stop: async () => { proc.kill("SIGTERM"); const t = setTimeout(() => proc.kill("SIGKILL"), 10_000); await exit; clearTimeout(t); },
  };
}

/**
 * One TFTP read from `from`: the RRQ is sent again every `retryMs` until the
 * first answer (so it may leave before the server is bound). hold: stop at
 * DATA 1 without acknowledging (the session stays open on the server).
 */
function tftpGet(port, from, name, { retryMs = 50, timeoutMs = 10_000, hold = false } = {}) {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0`)]);
    let got = 0;
    let answered = false;
    let retry;
    const done = (r) => {
      clearInterval(retry);
      clearTimeout(deadline);
      if (!hold || r.outcome !== "held") s.close();
      else r.close = () => s.close();
      resolve(r);
    };
    const deadline = setTimeout(() => done({ outcome: "timeout", bytes: got }), timeoutMs);
    s.on("error", () => {});
    s.on("message", (m, rinfo) => {
      answered = true;
      const op = m.readUInt16BE(0);
      if (op === 5) return done({ outcome: "error", code: m.readUInt16BE(2), message: m.toString("latin1", 4, m.length - 1), bytes: got });
      if (op !== 3) return;
      const block = m.readUInt16BE(2);
      if (hold) return done({ outcome: "held", bytes: m.length - 4 });
      const ack = Buffer.from([0, 4, block >> 8, block & 255]);
      if (block === ((got / 512 + 1) & 0xffff)) got += m.length - 4;
      const last = m.length - 4 < 512;
      // The socket closes once the last ACK has left.
      s.send(ack, rinfo.port, rinfo.address, () => { if (last) done({ outcome: "ok", bytes: got }); });
    });
    s.bind(0, from, () => {
      const send = () => { if (!answered) s.send(rrq, port, "127.0.0.1"); };
      send();
      retry = setInterval(send, retryMs);
    });
  });
}

const addr = (i) => `127.0.${10 + Math.floor(i / 200)}.${10 + (i % 200)}`;

async function getJson(url) {
  return (await fetch(url)).json();
}

function sessionLines(cli) {
  return cli.out().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

async function checkSplit() {
  const machines = 32;
  const cli = serve(["--log", "json"]);
  // Every machine starts at once, from before the port is bound, and fetches three files in a row.
  const boots = Array.from({ length: machines }, async (_, i) => {
    await sleep(i * 5);
    for (const f of ["a.bin", "b.bin", "c.bin"]) {
      // The first request is sent every 10 ms until answered (it may leave before the bind), the others as a client does.
      const r = await tftpGet(cli.udp, addr(i), f, { retryMs: f === "a.bin" ? 10 : 1000, timeoutMs: 20_000 });
      if (r.outcome !== "ok") return false;
      await sleep(100); // a boot loader's pause between its files
    }
    return true;
  });
  const ok = (await Promise.all(boots)).filter(Boolean).length;
  await cli.ready();
  for (let i = 0; i < 100 && sessionLines(cli).length < machines * 3; i++) await sleep(50);
  const workersOf = new Map();
  for (const l of sessionLines(cli)) {
    const a = l.peer.split(":")[0];
    if (!workersOf.has(a)) workersOf.set(a, new Set());
    workersOf.get(a).add(l.worker);
  }
  const flows = (await getJson(`${cli.api}/api/v1/flows?limit=1000`).catch(() => ({ flows: [] }))).flows ?? [];
  const flowsOf = new Map();
  for (const f of flows) flowsOf.set(f.client, (flowsOf.get(f.client) ?? 0) + 1);
  if (process.env.DEBUG) console.log(sessionLines(cli).slice(0, 3));
  const split = [...workersOf.values()].filter((s) => s.size > 1).length;
  const splitFlows = [...flowsOf.values()].filter((n) => n > 1).length;
  await cli.stop();
  return `split: ${machines} machines x 3 fetches from the moment of bind (${ok} booted): ${split} served by more than one worker, ${splitFlows} with more than one flow`;
}

async function metricSessions(cli) {
  const text = await (await fetch(`${cli.api}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^tftp_server_sessions_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

async function pool(n, concurrency, fn) {
  let next = 0;
  const out = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

async function checkKill() {
  const cli = serve(["--log", "off"]);
  await cli.ready();
  const pids = [...(/workers: ([^)]*)\)/.exec(cli.err())?.[1] ?? "").matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  const first = await pool(440, 32, (i) => tftpGet(cli.udp, addr(i % 64), i % 11 === 10 ? "large.bin" : "a.bin", { retryMs: 1000 }));
  const firstOk = first.filter((r) => r.outcome === "ok").length;
  await sleep(1500); // at most a second of reports may be lost: wait longer than that
  process.kill(pids[0], "SIGKILL");
  await sleep(300);
  const second = await pool(100, 16, (i) => tftpGet(cli.udp, addr(i % 64), "a.bin", { retryMs: 1000 }));
  const secondOk = second.filter((r) => r.outcome === "ok").length;
  await sleep(1500);
  const counted = await metricSessions(cli);
  const stats = await getJson(`${cli.api}/api/v1/stats`);
  await cli.stop();
  return `kill: ${firstOk + secondOk} of 540 sessions ok (${firstOk} before kill -9 of worker 1, ${secondOk} after); /metrics counts ${counted}, /api/v1/stats sessionsStarted ${stats.stats?.sessionsStarted}`;
}

async function checkLimit() {
  const cli = serve(["--log", "off", "--max-sessions", "50", "--timeout", "5", "--retries", "1"]);
  await cli.ready();
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => tftpGet(cli.udp, addr(i), "large.bin", { hold: true, retryMs: 2000 })));
  const served = results.filter((r) => r.outcome === "held").length;
  const refused = results.filter((r) => r.outcome === "error").length;
  for (const r of results) r.close?.();
  await cli.stop();
  return `limit: --max-sessions 50, ${WORKERS} workers, 60 clients from 60 addresses: ${served} served, ${refused} refused`;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

async function checkCost() {
  const out = [];
  for (const extra of [[], ["--max-sessions", "0"]]) {
    const cli = serve(["--log", "off", ...extra]);
    await cli.ready();
    const pids = [cli.proc.pid, ...[...(/workers: ([^)]*)\)/.exec(cli.err())?.[1] ?? "").matchAll(/pid (\d+)/g)].map((m) => Number(m[1]))];
    await pool(500, 32, (i) => tftpGet(cli.udp, addr(i % 64), "a.bin", { retryMs: 1000 })); // warm-up
    const n = 3000;
    const before = pids.reduce((t, p) => t + cpuOf(p), 0);
    const t0 = process.hrtime.bigint();
    const got = await pool(n, 32, (i) => tftpGet(cli.udp, addr(i % 64), "a.bin", { retryMs: 1000 }));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = pids.reduce((t, p) => t + cpuOf(p), 0) - before;
    await cli.stop();
    const ok = got.filter((g) => g.outcome === "ok").length;
    out.push(`cost: ${extra.length ? "--max-sessions 0 (no session start asks)" : "default --max-sessions (each start asks)"}: ${ok}/${n} ok, ` +
      `${((cpu / n) * 1e6).toFixed(0)} us CPU per session (server processes), ${(n / wall).toFixed(0)} sessions/s`);
  }
  return out.join("\n");
}

try {
  console.log(`workers-check: ${WORKERS} workers, node ${process.version}`);
  if (ONLY.includes("split")) console.log(await checkSplit());
  if (ONLY.includes("kill")) console.log(await checkKill());
  if (ONLY.includes("limit")) console.log(await checkLimit());
  if (ONLY.includes("cost")) console.log(await checkCost());
} finally {
  rmSync(dir, { recursive: true, force: true });
}
