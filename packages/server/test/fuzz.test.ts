// Fuzz suite: hostile packets from fast-check (helpers/fuzz.ts) against a real
// server on loopback, while verified transfers run meanwhile. Afterwards the
// server is alive, every verified transfer was byte for byte, memory is back
// near where it was (heap and RSS after GC, generous bounds), nothing was
// logged or counted as a crash, no upload left a file behind, and the
// malformed and unknown-TID counters moved.
//
// Bounded: TFTPKIT_FUZZ_COUNT packets (default 40,000) or
// TFTPKIT_FUZZ_TIME_LIMIT_S seconds of sending (default 40), whichever comes
// first. `npm run fuzz -- --count 1000000` runs this file with a large count
// and prints the figures (bench/fuzz.mjs); TFTPKIT_FUZZ_SEED replays a run.

import { createSocket, type Socket } from "node:dgram";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { UdpClient, closeAllClients, get, rrq, sleep, type OptionList } from "./helpers/client.js";
import { packetArb, samples, strangerArb } from "./helpers/fuzz.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

const COUNT = Number(process.env.TFTPKIT_FUZZ_COUNT ?? 40_000);
const TIME_LIMIT_MS = Number(process.env.TFTPKIT_FUZZ_TIME_LIMIT_S ?? 40) * 1000;
const SEED = Number(process.env.TFTPKIT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REPORT = process.env.TFTPKIT_FUZZ_REPORT;
const BATCH = 200;
const PACE = 16;
const MiB = 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const contents: Record<string, Buffer> = {
  "big.bin": bytes(MiB + 333),
  "mid.bin": bytes(100_000),
  "small.bin": bytes(1500),
  "boot.cfg": bytes(1024),
  "exact.bin": bytes(1024, 2), // a multiple of 512: ends with an empty DATA
  "empty.txt": Buffer.alloc(0),
};
const served = [...Object.keys(contents), "sub/inner.txt"];
const { root, cleanup } = makeRoot({ ...contents, "sub/inner.txt": "inner\n" });

let srv: TestServer;
const crashes: string[] = [];
const onCrash = (e: unknown): void => void crashes.push(e instanceof Error ? (e.stack ?? e.message) : String(e));

beforeAll(async () => {
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  // Writes on, so WRQs open real upload sessions (none may leave a file behind).
  srv = await startServer({ root, timeoutSeconds: 0.5, retries: 4, allowWrite: true, maxUploadBytes: 64 * 1024 });
});
afterAll(async () => {
  process.off("uncaughtException", onCrash);
  process.off("unhandledRejection", onCrash);
  closeAllClients();
  await closeAllServers();
  cleanup();
});

// ---------------------------------------------------------------- fuzz sockets

type Mode = "mixed" | "drain";
const STOP = Buffer.from([0, 5, 0, 0, 0x66, 0x7a, 0]); // ERROR 0 "fz"

/**
 * Sockets the hostile packets come from. They answer the sessions they open:
 * ERROR (ends it) or silence (never acknowledged: the server must time it
 * out). The silent ones are remembered, so that a drain can still end them
 * when a client-chosen timeout keeps them waiting (see drain()).
 */
class FuzzPool {
  mode: Mode = "mixed";
  private readonly sockets: Socket[] = [];
  private readonly silent = new Map<string, { s: Socket; port: number }>();
  private flip = 0;
  sent = 0;
  bytes = 0;

  static async open(n: number): Promise<FuzzPool> {
    const p = new FuzzPool();
    for (let i = 0; i < n; i++) {
      const s = createSocket("udp4");
      s.on("error", () => {});
      s.on("message", (msg, rinfo) => {
        const op = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
        if (op !== 3 && op !== 4 && op !== 6) return; // only DATA, ACK, OACK start or continue a session
        // Mixed: 2 of 3 sessions are told to stop, the rest are left unacknowledged.
        if (p.mode === "drain" || p.flip++ % 3 !== 0) s.send(STOP, rinfo.port, rinfo.address);
        else p.remember(i, s, rinfo.port);
      });
      await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
      // Room for the sessions' packets: a first DATA lost here would hide a session from stopSilent().
      try {
        s.setRecvBufferSize(4 * MiB);
      } catch {
        // the kernel's limit stays
      }
      p.sockets.push(s);
    }
    return p;
  }

  private remember(i: number, s: Socket, port: number): void {
    const key = `${i}:${port}`;
    this.silent.delete(key);
    this.silent.set(key, { s, port });
    if (this.silent.size > 20_000) this.silent.delete(this.silent.keys().next().value as string);
  }

  /** ERROR to every session left unacknowledged; returns how many were told. */
  stopSilent(): number {
    const n = this.silent.size;
    for (const { s, port } of this.silent.values()) s.send(STOP, port, "127.0.0.1");
    this.silent.clear();
    return n;
  }

  /** Sends every packet (round robin over the sockets) and resolves once the kernel took them all. */
  send(packets: readonly Buffer[], port: number | (() => number)): Promise<void> {
    return new Promise((resolve) => {
      let left = packets.length;
      if (left === 0) return resolve();
      packets.forEach((b, i) => {
        this.sent++;
        this.bytes += b.length;
        this.sockets[(this.sent + i) % this.sockets.length].send(b, typeof port === "number" ? port : port(), "127.0.0.1", () => {
          if (--left === 0) resolve();
        });
      });
    });
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}

// ---------------------------------------------------------------- verified transfers

const KINDS: Array<{ file: string; options: OptionList }> = [
  { file: "big.bin", options: [] },
  { file: "big.bin", options: [["blksize", "1428"], ["windowsize", "8"], ["tsize", "0"]] },
  { file: "mid.bin", options: [["blksize", "8192"], ["windowsize", "4"]] },
  { file: "exact.bin", options: [] },
  { file: "small.bin", options: [["blksize", "1468"]] },
];

interface Verified {
  done: number;
  byKind: number[];
  failures: string[];
}

/** Session ports of the verified transfers running now: where strangers aim. */
const livePorts = new Set<number>();

async function verifiedOnce(kind: number, v: Verified): Promise<void> {
  const { file, options } = KINDS[kind];
  const c = await UdpClient.open();
  let port = 0;
  try {
    const r = await get(c, srv.port, file, {
      options,
      idleTimeoutMs: 15_000,
      totalTimeoutMs: 120_000,
      onPacket: (p) => {
        if (!port) livePorts.add((port = p.port));
      },
    });
    if (r.error) v.failures.push(`${file} ${JSON.stringify(options)}: ERROR ${r.error.code} ${r.error.message}`);
    else if (!r.data.equals(contents[file])) v.failures.push(`${file} ${JSON.stringify(options)}: ${r.data.length} bytes, not the file's ${contents[file].length}`);
    else v.byKind[kind]++;
  } catch (e) {
    v.failures.push(`${file} ${JSON.stringify(options)}: ${(e as Error).message}`);
  } finally {
    livePorts.delete(port);
    c.close();
    v.done++;
  }
}

/** Two verified transfers at a time, cycling through the kinds, until stop() says so. */
async function verifiedLoop(stop: () => boolean, v: Verified): Promise<void> {
  let k = 0;
  const lane = async (): Promise<void> => {
    while (!stop()) await verifiedOnce(k++ % KINDS.length, v);
  };
  await Promise.all([lane(), lane()]);
}

// ---------------------------------------------------------------- helpers

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Ends what the fuzz left running, bounded. First the server's own timeouts:
 * every retransmission to a fuzz socket is answered with ERROR, for up to
 * `ms` (a client-chosen timeout above maxClientTimeoutSeconds, 10 s, is declined, so
 * every session retransmits within that). Then the sessions still waiting
 * (pinned: a bug) get an ERROR from their client, so the run can finish. Returns how many were still
 * there before that last step ("pinned") and after it ("left").
 */
async function drain(pool: FuzzPool, ms = 25_000): Promise<{ pinned: number; left: number }> {
  pool.mode = "drain";
  const waitEmpty = async (until: number): Promise<number> => {
    while (srv.server.stats().sessionsActive > 0 && Date.now() < until) await sleep(100);
    return srv.server.stats().sessionsActive;
  };
  const pinned = await waitEmpty(Date.now() + ms);
  if (pinned > 0) pool.stopSilent();
  const left = await waitEmpty(Date.now() + 5000);
  pool.mode = "mixed";
  return { pinned, left };
}

/** The kernel's count of UDP datagrams dropped for a full receive buffer (machine-wide). */
function rcvbufErrors(): number {
  try {
    const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp:"));
    const [names, values] = lines.map((l) => l.split(/\s+/));
    return Number(values[names.indexOf("RcvbufErrors")]);
  } catch {
    return NaN;
  }
}

function memory(): { heap: number; rss: number } {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => `${d.parentPath.slice(dir.length + 1)}${d.parentPath.length > dir.length ? "/" : ""}${d.name}`)
    .sort();
}

// ---------------------------------------------------------------- the suite

describe(`fuzz (seed ${SEED}, up to ${COUNT} packets)`, () => {
  it(
    "survives hostile packets while verified transfers stay byte for byte, and gives the memory back",
    async () => {
      const errors = vi.spyOn(console, "error");
      const warns = vi.spyOn(console, "warn");
      const pool = await FuzzPool.open(32);
      const strangers = await FuzzPool.open(4);
      const verified: Verified = { done: 0, byKind: KINDS.map(() => 0), failures: [] };

      // Warm-up: each kind of transfer once, a first round of fuzz, then the baseline.
      for (let k = 0; k < KINDS.length; k++) await verifiedOnce(k, verified);
      for (let b = 0; b < 5; b++) {
        const packets = samples(packetArb(served), BATCH, SEED - 1 - b);
        for (let i = 0; i < packets.length; i += PACE) {
          await pool.send(packets.slice(i, i + PACE), srv.port);
          await tick();
        }
      }
      await drain(pool);
      // The test's own record of ended sessions (helpers/server.ts) grows with the count: not the server's memory.
      srv.ended.length = 0;
      const before = memory();
      const statsBefore = srv.server.stats();

      const dropsBefore = rcvbufErrors();
      // A fixed first packet, so the malformed counter must move whatever the seed draws:
      // a request without its mode's NUL. (Strangers are made sure of below.)
      await pool.send([rrq("small.bin").subarray(0, -1)], srv.port);

      // Fuzz, with verified transfers running meanwhile.
      let stop = false;
      const loop = verifiedLoop(() => stop, verified);
      const t0 = Date.now();
      let batch = 0;
      let strangerPackets = 0;
      let sawLivePort = false;
      while (pool.sent < COUNT && Date.now() - t0 < TIME_LIMIT_MS) {
        const packets = samples(packetArb(served), Math.min(BATCH, COUNT - pool.sent), SEED + batch);
        // Paced: a few packets per turn of the event loop, so the server reads them
        // (a full receive buffer would fuzz the kernel, not the server).
        for (let i = 0; i < packets.length; i += PACE) {
          await pool.send(packets.slice(i, i + PACE), srv.port);
          await tick();
        }
        const ports = [...livePorts];
        if (ports.length > 0) {
          sawLivePort = true;
          const sp = samples(strangerArb(served), 10, SEED + 7_000_000 + batch);
          strangerPackets += sp.length;
          let j = 0;
          await strangers.send(sp, () => ports[j++ % ports.length]);
        }
        batch++;
        await tick();
      }
      const fuzzMs = Date.now() - t0;
      stop = true;
      await loop;
      const duringFuzz = verified.done - KINDS.length;
      // Until a verified transfer has run while strangers aimed at it (bounded).
      for (let i = 0; i < 20 && !sawLivePort; i++) {
        const p = verifiedOnce(0, verified);
        for (let w = 0; w < 100 && livePorts.size === 0; w++) await sleep(10);
        const ports = [...livePorts];
        if (ports.length) {
          sawLivePort = true;
          await strangers.send([Buffer.from([0, 4, 0, 1])], ports[0]);
          strangerPackets++;
        }
        await p;
      }

      const { pinned, left } = await drain(pool);
      // Alive: one more transfer of each kind, byte for byte.
      const doneBefore = verified.byKind.slice();
      for (let k = 0; k < KINDS.length; k++) await verifiedOnce(k, verified);
      await drain(pool);
      const internal = srv.ended.filter((e) => e.outcome === "handler-error").slice(0, 3).map((e) => `${e.kind} ${e.path} ${JSON.stringify(e.optionsAsked)}: ${e.error?.message}`);
      srv.ended.length = 0;
      const after = memory();
      const stats = srv.server.stats();
      pool.close();
      strangers.close();

      const figures = {
        seed: SEED,
        packets: pool.sent,
        stranger_packets: strangerPackets,
        bytes: pool.bytes,
        fuzz_seconds: fuzzMs / 1000,
        packets_per_s: pool.sent / (fuzzMs / 1000),
        verified_transfers: verified.done,
        // Machine-wide (other processes count too): packets the kernel dropped unread.
        kernel_rcvbuf_drops: rcvbufErrors() - dropsBefore,
        rss_before_mib: before.rss / MiB,
        rss_after_mib: after.rss / MiB,
        heap_before_mib: before.heap / MiB,
        heap_after_mib: after.heap / MiB,
        // Sessions still waiting after 25 s of answering every retransmission (a client-chosen timeout would pin them).
        sessions_pinned: pinned,
        sessions_left_after_drain: left,
        malformed: stats.malformedPackets - statsBefore.malformedPackets,
        unknown_tid: stats.unknownTidPackets - statsBefore.unknownTidPackets,
        sessions_started: stats.sessionsStarted - statsBefore.sessionsStarted,
        outcomes: stats.outcomes,
      };
      if (REPORT) writeFileSync(REPORT, JSON.stringify(figures, null, 2));

      expect(crashes).toEqual([]);
      expect(errors).not.toHaveBeenCalled();
      expect(warns).not.toHaveBeenCalled();
      // A handler error here can only be an exception inside the server (no handler is configured).
      expect(stats.outcomes["handler-error"], `internal errors, e.g. ${internal.join("; ")}`).toBe(0);
      expect(verified.failures).toEqual([]);
      // Transfers ran during the fuzz, and every kind went through once more after it.
      expect(duringFuzz).toBeGreaterThan(0);
      for (let k = 0; k < KINDS.length; k++) expect(verified.byKind[k], KINDS[k].file).toBeGreaterThan(doneBefore[k]);
      expect(stats.malformedPackets).toBeGreaterThan(statsBefore.malformedPackets);
      expect(stats.unknownTidPackets).toBeGreaterThan(statsBefore.unknownTidPackets);
      expect(stats.sessionsStarted).toBeGreaterThan(statsBefore.sessionsStarted);
      // Every session ended by itself (none pinned by a client-chosen timeout); no upload left anything.
      expect(pinned, "sessions still waiting 25 s after the fuzz").toBe(0);
      expect(left).toBe(0);
      expect(srv.server.stats().sessionsActive).toBe(0);
      expect(filesUnder(root)).toEqual([...served].sort());
      // Memory back near where it was (generous: GC timing and allocator slack, not a leak).
      expect(after.heap - before.heap).toBeLessThan(64 * MiB);
      expect(after.rss - before.rss).toBeLessThan(256 * MiB);
    },
    TIME_LIMIT_MS + 240_000,
  );
});
