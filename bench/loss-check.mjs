#!/usr/bin/env node
// Boots under loss: imitates two firmware clients over loopback against
// `tftpkit serve` (defaults except --host/--port/--root/--log) and reports
// the boot time clean and with seeded loss each way, and the DATA blocks the
// client saw twice on the clean run (retransmissions a clean path should never
// cause).
//
//   OVMF (EDK2 Mtftp4): a tsize probe (RRQ, OACK, ERROR), then the boot
//   program at blksize 1468 windowsize 4. It ACKs at the end of each window
//   of in-order blocks, answers every unexpected block (a duplicate or one past
//   a gap) with an ACK of its last in-order block and restarts its window count
//   at every ACK it sends; its own timer (4 s) resends its last packet.
//   GRUB EFI: ~10 small files, then an 8 MiB kernel and a 16 MiB initrd, each
//   at blksize 1024 lock-step with tsize. It ACKs each block once, ACKs a
//   duplicate block again, never resends an ACK on its own, and resends only
//   its RRQ (no answer within 400 ms + 20 ms per try).
//
// Loss: a seeded generator drops each datagram the client would send, and
// each one it receives, with probability --loss (default 0.02): a lossy link
// both ways. Each boot runs from a fresh client address (127.0.2.N), as a
// machine booting for the first time.
//
//   node bench/loss-check.mjs [--repo DIR]... [--loss P] [--seed N] [--rounds N] [--load N]
//                             [--delay MS] [--scale F] [--port P]
//
// --repo: a tftpkit checkout to run (built; default: this one); several are
// run one after the other in the same run (e.g. a baseline, then this one).
// --delay MS: each datagram the client receives is held MS ms first (a
// longer round trip, as under QEMU; timer-based, so about 1 ms at least).
// --scale F: kernel and initrd at F times their size (shorter runs).
// --load N: afterwards, N concurrent clean GRUB-like 2 MiB lock-step fetches
// from N addresses; counts the DATA blocks seen twice (0 expected).
// Figures from a shared machine are noisy; compare the ratios.

import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
// The client library's seeded PRNG (mulberry32), as its loss injection uses (npm run build first).
import { prng } from "@tftpkit/client/internal";
import { tftpkitNodeArgs } from "./servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { repos: [], loss: 0.02, seed: 19, rounds: 1, load: 0, port: 7150, delay: 0, scale: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === "--repo") o.repos.push(resolve(v()));
    else if (a === "--loss") o.loss = Number(v());
    else if (a === "--seed") o.seed = Number(v());
    else if (a === "--rounds") o.rounds = Number(v());
    else if (a === "--load") o.load = Number(v());
    else if (a === "--port") o.port = Number(v());
    else if (a === "--delay") o.delay = Number(v());
    else if (a === "--scale") o.scale = Number(v());
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.repos.length === 0) o.repos.push(resolve(here, ".."));
  return o;
}

// ------------------------------------------------------------ wire

const OP = { RRQ: 1, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 };

function rrq(name, options) {
  const parts = [name, "octet"];
  for (const [k, v] of Object.entries(options)) parts.push(k, String(v));
  return Buffer.concat([Buffer.from([0, OP.RRQ]), ...parts.map((p) => Buffer.from(p + "\0"))]);
}
const ack = (block) => Buffer.from([0, OP.ACK, (block >> 8) & 0xff, block & 0xff]);
const abortProbe = () => Buffer.concat([Buffer.from([0, OP.ERROR, 0, 8]), Buffer.from("size probe\0")]);

/** A client socket on `address` whose datagrams are lost with probability `loss` each way. */
class LossyLink {
  constructor(address, loss, rand, counters, delay = 0) {
    this.address = address;
    this.loss = loss;
    this.rand = rand;
    this.c = counters;
    this.delay = delay;
  }
  async open(onPacket) {
    this.sock = dgram.createSocket("udp4");
    this.sock.on("message", (msg, rinfo) => {
      if (this.loss > 0 && this.rand() < this.loss) return void this.c.droppedIn++;
      // --delay: a longer path (a timer, so at least about a millisecond)
      if (this.delay > 0) setTimeout(onPacket, this.delay, msg, rinfo);
      else onPacket(msg, rinfo);
    });
    this.sock.on("error", () => {});
    await new Promise((res) => this.sock.bind(0, this.address, res));
  }
  send(buf, port) {
    if (this.loss > 0 && this.rand() < this.loss) return void this.c.droppedOut++;
    this.pending = (this.pending ?? 0) + 1;
    this.sock.send(buf, port, "127.0.0.1", () => {
      if (--this.pending === 0 && this.closing) this.close();
    });
  }
  /** Closes once every datagram handed to send() has left (the final ACK must not be cut off). */
  close() {
    this.closing = true;
    if (this.pending > 0) return;
    try { this.sock.close(); } catch { /* closed */ }
  }
}

const STALL_MS = 30_000; // a transfer that stalls this long fails the run (bounded)

/**
 * One firmware-like read. kind "grub": lock-step, ACK once, re-ACK duplicates,
 * only the RRQ is resent. kind "edk2": EDK2 Mtftp4's window rules and 4 s timer.
 * probe: the EDK2 size probe (ERROR after the OACK).
 */
function fetch(link, serverPort, name, kind, { blksize, windowsize = 1, probe = false }, counters) {
  return new Promise((resolveP, rejectP) => {
    const options = probe ? { tsize: 0, blksize } : kind === "grub" ? { tsize: 0, blksize } : { blksize, windowsize };
    const request = rrq(name, options);
    let peerPort = 0;
    let expected = 1; // next in-order block (absolute)
    let bytes = 0;
    let total = 0; // EDK2: blocks saved
    let acked = 0; // EDK2: TotalBlock when the last ACK left
    let last = null; // EDK2: the last packet sent (its timer resends it)
    let tries = 0;
    let timer;
    let stall;
    let done = false;
    let oackSeen = false;
    const winSize = windowsize;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(stall);
      link.close();
      if (err) rejectP(err); else resolveP(bytes);
    };
    const armStall = () => {
      clearTimeout(stall);
      stall = setTimeout(() => finish(new Error(`${name}: stalled at block ${expected}`)), STALL_MS);
    };
    const sendLast = (buf) => {
      last = buf;
      link.send(buf, peerPort || serverPort);
    };
    // The request is resent until something answers (GRUB: 400 ms + 20 ms per try; EDK2: every 4 s).
    const requestTimer = () => {
      if (peerPort || done) return;
      if (++tries > 40) return finish(new Error(`${name}: no answer`));
      link.send(request, serverPort);
      timer = setTimeout(requestTimer, kind === "grub" ? 400 + 20 * tries : 4000);
    };
    // EDK2's own timer: resend the last packet after 4 s without a valid packet.
    const edk2Timer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (done) return;
        if (last) link.send(last, peerPort);
        edk2Timer();
      }, 4000);
    };
    link.open((msg, rinfo) => {
      if (done || msg.length < 4) return;
      if (!peerPort) {
        peerPort = rinfo.port;
        clearTimeout(timer);
      } else if (rinfo.port !== peerPort) return;
      armStall();
      const op = msg.readUInt16BE(0);
      if (op === OP.OACK) {
        if (probe) {
          link.send(abortProbe(), peerPort);
          return finish();
        }
        if (oackSeen) counters.dupOack++;
        oackSeen = true;
        if (expected !== 1) return; // both ignore an OACK once data flows
        if (kind === "edk2") {
          sendLast(ack(0));
          acked = total;
          edk2Timer();
        } else link.send(ack(0), peerPort);
        return;
      }
      if (op === OP.ERROR) return finish(new Error(`${name}: ERROR ${msg.readUInt16BE(2)} ${msg.subarray(4).toString()}`));
      if (op !== OP.DATA) return;
      const wire = msg.readUInt16BE(2);
      const block = expected - (((expected & 0xffff) - wire) & 0xffff); // absolute, at or below expected for old blocks
      const payload = msg.length - 4;
      counters.data++;
      if (kind === "grub") {
        if (block !== expected) {
          if (block < expected) counters.dupData++;
          link.send(ack(wire), peerPort); // GRUB ACKs a block it already has again
          return;
        }
        expected++;
        bytes += payload;
        link.send(ack(wire), peerPort);
        if (payload < blksize) finish();
        return;
      }
      // EDK2 Mtftp4RrqHandleData
      if (block !== expected) {
        if (block < expected) counters.dupData++;
        else counters.outOfOrder++;
        sendLast(ack((expected - 1) & 0xffff));
        acked = total;
        edk2Timer();
        return;
      }
      expected++;
      total++;
      bytes += payload;
      const isLast = payload < blksize;
      if (total - acked === winSize || isLast) {
        sendLast(ack(wire));
        acked = total;
        edk2Timer();
      }
      if (isLast) finish();
    }).then(() => {
      armStall();
      requestTimer();
    }, finish);
  });
}

// ---------------------------------------------------------- scenario

const GRUB_SMALL = [
  ["grub/x86_64-efi/command.lst", 6_000], ["grub/x86_64-efi/fs.lst", 300], ["grub/x86_64-efi/crypto.lst", 1_200],
  ["grub/x86_64-efi/terminal.lst", 200], ["grub/x86_64-efi/normal.mod", 60_000], ["grub/x86_64-efi/linux.mod", 40_000],
  ["grub/x86_64-efi/gzio.mod", 14_000], ["grub/x86_64-efi/echo.mod", 3_000], ["grub/grub.cfg", 1_500], ["grub/grubenv", 1_024],
];
const OVMF_NBP = ["grubx64.efi", 168 * 1468 - 700]; // 168 blocks at 1468
const KERNEL = ["vmlinuz", 8 * 1024 * 1024];
const INITRD = ["initrd.img", 16 * 1024 * 1024];

function makeRoot(scale) {
  const dir = mkdtempSync(join(tmpdir(), "loss-check-"));
  const big = (size) => Math.round(size * scale);
  const all = [...GRUB_SMALL, OVMF_NBP, [KERNEL[0], big(KERNEL[1])], [INITRD[0], big(INITRD[1])], ["load.bin", 2 * 1024 * 1024]];
  let seed = 1;
  for (const [name, size] of all) {
    const buf = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) buf[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, buf);
  }
  return dir;
}

function emptyCounters() {
  return { data: 0, dupData: 0, outOfOrder: 0, dupOack: 0, droppedIn: 0, droppedOut: 0 };
}

/** One boot from `address`: OVMF's probe and fetch, then GRUB's files. Times in ms. */
async function boot(port, address, loss, seed, delay) {
  const c = emptyCounters();
  const rand = prng(seed);
  const link = () => new LossyLink(address, loss, rand, c, delay);
  const t0 = performance.now();
  await fetch(link(), port, OVMF_NBP[0], "edk2", { blksize: 1468, probe: true }, c);
  await fetch(link(), port, OVMF_NBP[0], "edk2", { blksize: 1468, windowsize: 4 }, c);
  const t1 = performance.now();
  const ovmf = { data: c.data, dupData: c.dupData };
  for (const [name] of GRUB_SMALL) await fetch(link(), port, name, "grub", { blksize: 1024 }, c);
  const t2 = performance.now();
  await fetch(link(), port, KERNEL[0], "grub", { blksize: 1024 }, c);
  await fetch(link(), port, INITRD[0], "grub", { blksize: 1024 }, c);
  const t3 = performance.now();
  return { ovmf: t1 - t0, grubSmall: t2 - t1, grubLarge: t3 - t2, total: t3 - t0, c, ovmfData: ovmf };
}

async function load(port, n) {
  const c = emptyCounters();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) =>
    fetch(new LossyLink(`127.0.2.${100 + (i % 100)}`, 0, Math.random, c), port, "load.bin", "grub", { blksize: 1024 }, c)));
  return { ms: performance.now() - t0, c };
}

// ------------------------------------------------------------ server

async function startServer(repo, port, root) {
  const child = spawn(process.execPath, [...tftpkitNodeArgs(repo), "serve", "--host", "127.0.0.1", "--port", String(port), "--root", root, "--log", "off"], {
    stdio: ["ignore", "ignore", process.env.RTO_DEBUG ? "inherit" : "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d) => (err += d));
  // Ready once a request is answered (bounded).
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${err}`);
    const ok = await new Promise((res) => {
      const s = dgram.createSocket("udp4");
      const t = setTimeout(() => { s.close(); res(false); }, 200);
      s.on("message", () => { clearTimeout(t); s.close(); res(true); });
      s.on("error", () => {});
      s.send(rrq("grub/grubenv", {}), port, "127.0.0.1");
    });
    if (ok) return child;
  }
  child.kill();
  throw new Error(`server did not answer: ${err}`);
}

// --------------------------------------------------------------- run

const fmt = (ms) => (ms / 1000).toFixed(2) + " s";

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const root = makeRoot(o.scale);
  console.log(`loss-check: ${(o.loss * 100).toFixed(1)}% loss each way (seed ${o.seed}), kernel+initrd ${(24 * o.scale).toFixed(1)} MiB, ` +
    `added delay ${o.delay} ms per received datagram, node ${process.version}; a shared machine: compare ratios`);
  let addr = 1;
  const results = [];
  try {
    for (const [ri, repo] of o.repos.entries()) {
      const port = o.port + ri;
      const server = await startServer(repo, port, root);
      try {
        for (let round = 0; round < o.rounds; round++) {
          const clean = await boot(port, `127.0.2.${addr++}`, 0, o.seed + round, o.delay);
          const lossy = await boot(port, `127.0.2.${addr++}`, o.loss, o.seed + round, o.delay);
          results.push({ repo, round, clean, lossy });
          const r = (k) => (lossy[k] / clean[k]).toFixed(2) + "x";
          console.log(`${repo} round ${round + 1}:`);
          console.log(`  clean: total ${fmt(clean.total)} (OVMF ${fmt(clean.ovmf)}, GRUB small ${fmt(clean.grubSmall)}, kernel+initrd ${fmt(clean.grubLarge)}); ` +
            `DATA seen twice ${clean.c.dupData}, OACK seen twice ${clean.c.dupOack}`);
          console.log(`  ${(o.loss * 100).toFixed(1)}% loss each way: total ${fmt(lossy.total)} (OVMF ${fmt(lossy.ovmf)}, GRUB small ${fmt(lossy.grubSmall)}, kernel+initrd ${fmt(lossy.grubLarge)}); ` +
            `dropped ${lossy.c.droppedOut} out / ${lossy.c.droppedIn} in, DATA received ${lossy.c.data}, twice ${lossy.c.dupData} ` +
            `(OVMF: ${lossy.ovmfData.data} received, ${lossy.ovmfData.dupData} twice, for ${Math.ceil(OVMF_NBP[1] / 1468)} blocks)`);
          console.log(`  lossy / clean: total ${r("total")} (OVMF ${r("ovmf")}, GRUB small ${r("grubSmall")}, kernel+initrd ${r("grubLarge")})`);
        }
        if (o.load > 0) {
          const l = await load(port, o.load);
          console.log(`  load: ${o.load} concurrent clean 2 MiB lock-step fetches in ${fmt(l.ms)}: DATA seen twice ${l.c.dupData}, OACK seen twice ${l.c.dupOack}`);
        }
      } finally {
        server.kill("SIGTERM");
        await new Promise((res) => server.once("exit", res));
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const goal = results.filter((x) => x.lossy.total / x.clean.total <= 1.5 && x.clean.c.dupData === 0).length;
  console.log(`goal (lossy <= 1.5x clean, no DATA seen twice when clean): ${goal} of ${results.length} boots met`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
