#!/usr/bin/env node
// npm run bench:memory: the server's memory figures (see docs/performance.md), measured
// on `tftpkit serve` (its whole process tree) from the outside.
//
//   held      RSS per held lock-step session: N sessions (default 1000) of a
//             4 MiB file at blksize 1468, each kept open by ACKing every DATA
//             400 ms late; (RSS with all held - RSS before) / N.
//   unacked   kB per never-acknowledged large-window RRQ: K requests
//             (default 250) for the 4 MiB file asking blksize 65464 and
//             windowsize 64, none ever answered; (peak RSS - RSS before) / K.
//   hostile   how long one RRQ asking `timeout 255`, never answered, keeps
//             its session (the admin /healthz activeSessions going back to
//             0), and when the server sent to it; bounded by --hostile-max.
//
//   node bench/memory.mjs [--quick] [--held N] [--unacked K] [--hostile-max S]
//                         [--only held,unacked,hostile] [--tftpkit-args="..."]

import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgsOrExit } from "./args.mjs";
import { buildClient, untilServing } from "./client.mjs";
import { freePort, launch, tftpkitNodeArgs, treeRss } from "./servers.mjs";

const opt = parseArgsOrExit("bench:memory", {
  quick: { type: "boolean" },
  held: { type: "string" },
  unacked: { type: "string" },
  "hostile-max": { type: "string" },
  only: { type: "string" },
  "tftpkit-args": { type: "string" },
  help: { type: "boolean", short: "h" },
});
if (opt.help) {
  process.stdout.write("Usage: npm run bench:memory [-- --quick] [-- --held N] [-- --unacked K] [-- --hostile-max S] [-- --only held,unacked,hostile] [-- --tftpkit-args=\"...\"]\n");
  process.exit(0);
}

const repo = fileURLToPath(new URL("..", import.meta.url));
const resultsDir = join(repo, "bench-results");
const dataDir = join(resultsDir, "data-memory");
const quick = opt.quick ?? false;
const HELD = Number(opt.held ?? (quick ? 200 : 1000));
const UNACKED = Number(opt.unacked ?? (quick ? 50 : 250));
const HOSTILE_MAX_S = Number(opt["hostile-max"] ?? (quick ? 30 : 120));
const only = opt.only ? opt.only.split(",") : ["held", "unacked", "hostile"];
const tftpkitArgs = opt["tftpkit-args"] ? opt["tftpkit-args"].split(/\s+/).filter(Boolean) : [];
const MiB = 1024 * 1024;
const FILE = "f4m.bin";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function ensureData() {
  mkdirSync(dataDir, { recursive: true });
  const p = join(dataDir, FILE);
  if (!existsSync(p) || statSync(p).size !== 4 * MiB) writeFileSync(p, randomBytes(4 * MiB));
}

function freeTcpPort() {
  return new Promise((resolve) => {
    const s = createTcpServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startTftpkit() {
  const port = await freePort();
  const admin = await freeTcpPort();
  const args = [...tftpkitNodeArgs(repo), "serve", "--root", dataDir, "--host", "127.0.0.1", "--port", String(port), "--log", "off", "--admin", `127.0.0.1:${admin}`, ...tftpkitArgs];
  const s = await launch(process.execPath, args, port);
  if (!s.ok) throw new Error(`tftpkit did not start: ${s.stderr}`);
  // Serving, not only bound (workers start after the bind).
  if ((await untilServing(client, { port, root: dataDir, file: FILE })) === null) throw new Error("tftpkit bound its port but did not serve within 20 s");
  return { ...s, admin };
}

async function activeSessions(adminPort) {
  try {
    const r = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
    const j = await r.json();
    return j.activeSessions ?? j.stats?.sessionsActive ?? NaN;
  } catch {
    return NaN;
  }
}

/** Median of a few RSS samples of the server's process tree (bytes). */
async function steadyRss(pid, n = 5) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    xs.push(treeRss(pid));
    await sleep(200);
  }
  return median(xs);
}

function rrq(name, options) {
  const parts = [Buffer.from([0, 1]), Buffer.from(name), Buffer.from([0]), Buffer.from("octet"), Buffer.from([0])];
  for (const [k, v] of options) parts.push(Buffer.from(k), Buffer.from([0]), Buffer.from(String(v)), Buffer.from([0]));
  return Buffer.concat(parts);
}

async function openSockets(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const s = createSocket("udp4");
    s.on("error", () => {});
    await new Promise((r) => s.bind(0, "127.0.0.1", r));
    out.push(s);
  }
  return out;
}

/** One full transfer first, so that the baseline has the code paths warm. */
async function warmUp(port) {
  const [s] = await openSockets(1);
  await new Promise((resolve) => {
    const t = setTimeout(resolve, 20_000);
    s.on("message", (m, r) => {
      if (m.readUInt16BE(0) === 6) s.send(Buffer.from([0, 4, 0, 0]), r.port, r.address);
      if (m.readUInt16BE(0) !== 3) return;
      s.send(Buffer.from([0, 4, m[2], m[3]]), r.port, r.address);
      if (m.length - 4 < 1468) {
        clearTimeout(t);
        resolve();
      }
    });
    s.send(rrq(FILE, [["blksize", 1468]]), port, "127.0.0.1");
  });
  s.close();
}

// ------------------------------------------------------------- held

async function held() {
  const srv = await startTftpkit();
  try {
    await warmUp(srv.port);
    await sleep(1000);
    const base = await steadyRss(srv.pid);
    const socks = await openSockets(HELD);
    const lastData = new Array(HELD).fill(0);
    const timers = new Set();
    let stopped = false;
    socks.forEach((s, i) => {
      let pending = false;
      s.on("message", (m, r) => {
        if (stopped || m.length < 4) return;
        const op = m.readUInt16BE(0);
        if (op !== 3 && op !== 6) return;
        lastData[i] = Date.now();
        if (pending) return; // a retransmission while our ACK is on its way
        pending = true;
        const ack = Buffer.from([0, 4, op === 6 ? 0 : m[2], op === 6 ? 0 : m[3]]);
        const t = setTimeout(() => {
          timers.delete(t);
          pending = false;
          if (!stopped) s.send(ack, r.port, r.address);
        }, 400);
        timers.add(t);
      });
    });
    for (let i = 0; i < HELD; i++) {
      socks[i].send(rrq(FILE, [["blksize", 1468]]), srv.port, "127.0.0.1");
      if (i % 50 === 49) await sleep(20);
    }
    await sleep(3000);
    const heldRss = await steadyRss(srv.pid, 10);
    const live = lastData.filter((t) => Date.now() - t < 2500).length;
    const active = await activeSessions(srv.admin);
    stopped = true;
    for (const t of timers) clearTimeout(t);
    for (const s of socks) s.close();
    return {
      sessions: HELD,
      held_client_side: live,
      server_active_sessions: active,
      rss_before_mib: base / MiB,
      rss_held_mib: heldRss / MiB,
      kb_per_session: (heldRss - base) / 1024 / (Number.isFinite(active) && active > 0 ? active : live || HELD),
    };
  } finally {
    await srv.stop();
  }
}

// ------------------------------------------------------------- unacked

async function unacked() {
  const srv = await startTftpkit();
  try {
    await warmUp(srv.port);
    await sleep(1000);
    const base = await steadyRss(srv.pid);
    const socks = await openSockets(UNACKED);
    let answered = 0;
    let bytesIn = 0;
    for (const s of socks) {
      let first = true;
      s.on("message", (m) => {
        bytesIn += m.length;
        if (first) answered++;
        first = false;
      });
    }
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, treeRss(srv.pid))), 50);
    const req = rrq(FILE, [["blksize", 65464], ["windowsize", 64], ["tsize", 0]]);
    for (const s of socks) s.send(req, srv.port, "127.0.0.1");
    // Until the server gave up on all of them (bounded), sampling the peak.
    const end = Date.now() + 60_000;
    await sleep(500);
    while (Date.now() < end && (await activeSessions(srv.admin)) > 0) await sleep(200);
    clearInterval(sampler);
    const lifetime = (Date.now() - (end - 60_000)) / 1000;
    for (const s of socks) s.close();
    return {
      requests: UNACKED,
      answered,
      bytes_sent_to_them: bytesIn,
      rss_before_mib: base / MiB,
      rss_peak_mib: peak / MiB,
      kb_per_request: (peak - base) / 1024 / UNACKED,
      sessions_gone_after_s: lifetime,
    };
  } finally {
    await srv.stop();
  }
}

// ------------------------------------------------------------- hostile

async function hostile() {
  const srv = await startTftpkit();
  try {
    const [s] = await openSockets(1);
    const seen = [];
    let oack = null;
    const t0 = Date.now();
    s.on("message", (m) => {
      const op = m.readUInt16BE(0);
      seen.push({ at_s: (Date.now() - t0) / 1000, op: op === 6 ? "OACK" : op === 3 ? `DATA ${m.readUInt16BE(2)}` : op === 5 ? `ERROR ${m.readUInt16BE(2)}` : `op ${op}` });
      if (op === 6 && !oack) oack = m.toString("latin1", 2).split("\0").slice(0, -1);
    });
    s.send(rrq(FILE, [["timeout", 255], ["blksize", 1468]]), srv.port, "127.0.0.1");
    await sleep(300);
    let gone = null;
    while ((Date.now() - t0) / 1000 < HOSTILE_MAX_S) {
      const a = await activeSessions(srv.admin);
      if (a === 0) {
        gone = (Date.now() - t0) / 1000;
        break;
      }
      await sleep(250);
    }
    s.close();
    return {
      timeout_asked: 255,
      oack,
      timeout_granted: oack ? (oack.indexOf("timeout") >= 0 ? oack[oack.indexOf("timeout") + 1] : "declined") : "no OACK",
      session_lived_s: gone,
      still_alive_after_s: gone === null ? HOSTILE_MAX_S : null,
      packets_from_server: seen,
    };
  } finally {
    await srv.stop();
  }
}

// ------------------------------------------------------------- main

if (!existsSync(join(repo, "apps/server/dist/cli.js"))) {
  process.stderr.write("bench:memory: build first (npm run build)\n");
  process.exit(2);
}
ensureData();
const client = buildClient({ repo, cacheDir: join(resultsDir, "cache") });
const t0 = Date.now();
const out = { tool: "tftpkit-bench-memory", started_at: new Date(t0).toISOString(), quick, tftpkit_args: tftpkitArgs };
const lines = [`tftpkit memory (${quick ? "QUICK" : "full"}), ${new Date(t0).toISOString().slice(0, 16).replace("T", " ")} UTC; RSS of the server's process tree`];
if (only.includes("held")) {
  process.stderr.write(`held: ${HELD} lock-step sessions ...\n`);
  const r = (out.held = await held());
  lines.push(`  held lock-step sessions: ${r.kb_per_session.toFixed(1)} kB each [goal <= 48 kB: ${r.kb_per_session <= 48 ? "met" : "NOT met"}] (${r.server_active_sessions} active on the server, ${r.held_client_side} seen alive by the client; RSS ${r.rss_before_mib.toFixed(1)} -> ${r.rss_held_mib.toFixed(1)} MiB)`);
}
if (only.includes("unacked")) {
  process.stderr.write(`unacked: ${UNACKED} never-acknowledged RRQs (blksize 65464, windowsize 64, 4 MiB) ...\n`);
  const r = (out.unacked = await unacked());
  lines.push(`  never-acknowledged RRQ (blksize 65464 windowsize 64): ${r.kb_per_request.toFixed(1)} kB each at the peak (RSS ${r.rss_before_mib.toFixed(1)} -> ${r.rss_peak_mib.toFixed(1)} MiB, ${r.answered} answered, ${(r.bytes_sent_to_them / 1e6).toFixed(1)} MB sent to them, all gone after ${r.sessions_gone_after_s.toFixed(1)} s)`);
}
if (only.includes("hostile")) {
  process.stderr.write(`hostile: one RRQ with timeout 255, never answered (waiting up to ${HOSTILE_MAX_S} s) ...\n`);
  const r = (out.hostile = await hostile());
  lines.push(
    `  timeout 255, never answered: ${r.session_lived_s !== null ? `session lived ${r.session_lived_s.toFixed(1)} s` : `still alive after ${r.still_alive_after_s} s (bound not reached)`}; ` +
      `timeout granted: ${r.timeout_granted}; server sent at ${r.packets_from_server.map((p) => `${p.at_s.toFixed(1)} s`).join(", ")}`,
  );
}
const table = lines.join("\n");
out.table = table;
process.stdout.write(`${table}\n`);
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date(t0).toISOString().replace(/[:.]/g, "-");
writeFileSync(join(resultsDir, `memory-${stamp}.json`), JSON.stringify(out, null, 2));
process.stderr.write(`results: bench-results/memory-${stamp}.json\n`);
