// The warm-up self-check: before a server takes its first real request, it
// runs real TFTP sessions against a private server of its own, so that the
// code of the request path (decoding, the session, the scheduler, the file
// cache, the socket pool, boot flows) has been run many times and compiled
// by the JIT before the first machine asks. Without it a fresh server's
// first few thousand sessions run in the interpreter and cost 2-3x the CPU
// of a warm server's.
//
// Everything of the warm-up is private: a throw-away server (same limits and
// timing options, none of the caller's hooks: no handler, log, stats,
// telemetry, admission) bound to 127.0.0.1 on an ephemeral port, serving a
// private temp folder (or, where none can be written, the same bytes from
// memory), and a small client in this process on 127.0.0.1. Nothing of it
// reaches the real server's sockets, stats, flows, logs or metrics.
//
// Bounded: it stops starting sessions at `budgetMs` after its start (at
// most WARM_UP_MAX_MS), ends those still running then, and stops after
// WARM_UP_MAX_SESSIONS sessions whatever the clock says.

import { createSocket, type Socket } from "node:dgram";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TftpError } from "@tftpkit/wasm-core";
import type { ReadHandler } from "../handler.js";
import { lowerInterruptBudget } from "./interrupt-budget.js";

/** The longest warm-up allowed (the option's upper bound). */
export const WARM_UP_MAX_MS = 1000;
/** Sessions a warm-up starts at most. */
export const WARM_UP_MAX_SESSIONS = 20_000;
/** Sessions at once. */
const LANES = 16;
/**
 * Reads a lane runs from one client address before it moves to the next:
 * real traffic comes from many machines, so the warm-up's comes from many
 * loopback addresses (127.0.0.2 and on, where the system answers the whole
 * of 127.0.0.0/8 as Linux does; else all from 127.0.0.1), and the code a new
 * machine's first request runs (its boot flow, its loader) is warmed too.
 */
const READS_PER_MACHINE = 8;
/** Machines the warm-up's addresses cycle through. */
const MACHINES = 248;
/**
 * Machines per /24 (127.0.0.2-5, 127.0.1.2-5, ...): a machine's first
 * session starts from a neighbour's round-trip estimate, and the first
 * machine of a subnet from the most recent client's (rtt-memory.ts); both
 * are warmed.
 */
const MACHINES_PER_SUBNET = 4;

/** The loopback address of warm-up machine `m`. */
const machineAddress = (m: number): string => `127.0.${Math.floor(m / MACHINES_PER_SUBNET)}.${2 + (m % MACHINES_PER_SUBNET)}`;
/** A warm-up session that has not finished after this long is given up. */
const SESSION_TIMEOUT_MS = 250;

const SMALL = "warm-up.cfg";
/**
 * Small files under names of their own, each asked once in turn (fresh()):
 * a real server meets files it has not served yet all the time (the name
 * looked up and vetted under the root, the contents read into the file
 * cache), and a warm-up that only asked names it had served would leave
 * that first-time code without the JIT's feedback.
 */
const FRESH_NAMES = 128;
const FRESH = "fresh.warm-up.cfg";
const LARGE = "warm-up.bin";
const MISSING = "warm-up.none";
/** Names the warm-up's missing-file requests cycle through: each is new to the name caches when it is asked. */
const MISSING_NAMES = 4096;
const SMALL_BYTES = 1024;
const LARGE_BYTES = 48 * 1024;

/** While the warm-up runs, V8 optimizes a function after 1/16 of its usual interrupt budget (see interrupt-budget.ts). */
const WARM_UP_INTERRUPT_BUDGET = 4096;

/** What a warm-up did. */
export interface WarmUpReport {
  /** Sessions run to the end (the file received, or the error expected). */
  sessions: number;
  /** Sessions started. */
  started: number;
  /** Milliseconds from the start to the private server's close. */
  ms: number;
  /** Where the private server listened (127.0.0.1 and an ephemeral port). */
  address: string;
  port: number;
  /** Where its files were: a private temp folder, or memory. */
  files: "folder" | "memory";
}

/** What a warm-up needs of the private server it runs against. */
export interface WarmUpServer {
  listen(o: { host: string; port: number }): Promise<{ address: string; port: number }>;
  close(o: { graceMs: number }): Promise<void>;
}

/** Makes the private server: files under `root`, or from `handler` when no folder could be written. */
export type WarmUpFactory = (files: { root: string } | { handler: ReadHandler }) => WarmUpServer;

const bytes = (n: number, seed: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

/** A private folder with the warm-up files, or undefined when none can be written (read-only, no temp dir). */
async function privateRoot(small: Buffer, large: Buffer): Promise<string | undefined> {
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(tmpdir(), "tftpkit-warm-up-"));
    await writeFile(join(dir, SMALL), small);
    await writeFile(join(dir, LARGE), large);
    await Promise.all(Array.from({ length: FRESH_NAMES }, (_, i) => writeFile(join(dir!, freshName(i)), small)));
    return dir;
  } catch {
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
    return undefined;
  }
}

const freshName = (i: number): string => `${i % FRESH_NAMES}.${FRESH}`;

function memoryHandler(small: Buffer, large: Buffer): ReadHandler {
  return (req) => {
    if (req.path === SMALL || req.path.endsWith(`.${FRESH}`)) return small;
    if (req.path === LARGE) return large;
    throw TftpError.notFound();
  };
}

interface Request {
  file: string;
  options: Record<string, string>;
  /** An ERROR is the expected answer. */
  error?: boolean;
  /** Asked under a name of its own (fresh()). */
  fresh?: boolean;
  /** The RRQ datagram (made once). */
  rrq: Buffer;
}

/** The mix the lanes run: mostly small files (plain, then with options), a windowed larger one, a missing one. */
const MIX: Request[] = ([
  { file: SMALL, options: {} },
  { file: SMALL, options: { blksize: "1468", tsize: "0" } },
  { file: SMALL, options: {} },
  { file: SMALL, options: { tsize: "0" } },
  { file: FRESH, options: {}, fresh: true }, // a small file not asked before (fresh())
  { file: SMALL, options: { blksize: "1468", tsize: "0" } },
  { file: SMALL, options: {} },
  { file: LARGE, options: { blksize: "1468", windowsize: "8", tsize: "0" } },
  { file: SMALL, options: {} },
  { file: SMALL, options: { blksize: "1024" } },
  { file: SMALL, options: {} },
  { file: LARGE, options: { blksize: "1024" } },
  { file: SMALL, options: {} },
  { file: SMALL, options: { blksize: "1468", tsize: "0" } },
  { file: SMALL, options: {} },
  { file: MISSING, options: {}, error: true }, // sent under a name of its own each time (missing())
] as Omit<Request, "rrq">[]).map((r) => ({ ...r, rrq: rrq(r) }));

function rrq(r: Omit<Request, "rrq">): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 1]), Buffer.from(`${r.file}\0octet\0`, "latin1")];
  for (const [k, v] of Object.entries(r.options)) parts.push(Buffer.from(`${k}\0${v}\0`, "latin1"));
  return Buffer.concat(parts);
}

/**
 * A request for a missing file under a name of its own (one of MISSING_NAMES):
 * real servers meet names they have not seen all the time (each one is
 * looked up, classified for boot flows and loaders, then kept in small
 * caches), and a warm-up asking the same name over and over would leave
 * that first-time code cold.
 */
function missing(n: number): Request {
  return named(`${n % MISSING_NAMES}.${MISSING}`, true);
}

/** A plain request (no options) for `file`, made when it is asked. */
function named(file: string, error: boolean): Request {
  return { file, options: {}, error, rrq: rrq({ file, options: {} }) };
}

/** A request for one of the small files not asked yet (FRESH_NAMES of them, in turn). */
function fresh(n: number): Request {
  return named(freshName(n), false);
}

const ack = (block: number): Buffer => Buffer.from([0, 4, (block >> 8) & 0xff, block & 0xff]);

/** The options an OACK granted. */
function oackOptions(m: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  const fields = m.toString("latin1", 2).split("\0");
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i].toLowerCase()] = fields[i + 1];
  return out;
}

/**
 * One client socket of a machine that runs reads one after another (a socket
 * per read would cost the warm-up more than the server's side of the read;
 * each lane of the warm-up uses two in turn, see warmUp()). A datagram from
 * a port other than the current read's server port (a late one of an
 * earlier read) is ignored.
 */
class Lane {
  private readonly s: Socket;
  private current: ((m: Buffer, port: number) => void) | undefined;
  private closed = false;
  /** The server port (TID) of the last read that heard from the server; 0 if none did. */
  tid = 0;

  private constructor(
    s: Socket,
    /** The warm-up's open sockets (closed at its end whatever the lanes do). */
    private readonly sockets: Set<Socket>,
  ) {
    this.s = s;
    s.on("message", (m, from) => {
      if (m.length >= 4 && from.address === "127.0.0.1") this.current?.(m, from.port);
    });
  }

  /** A lane bound to an ephemeral port of `address` (a loopback address). */
  static open(sockets: Set<Socket>, address: string): Promise<Lane> {
    return new Promise((resolve, reject) => {
      const s = createSocket("udp4");
      sockets.add(s);
      s.once("error", (err) => {
        sockets.delete(s);
        s.close();
        reject(err);
      });
      // Exclusive: in a cluster worker a shared bind goes through the primary,
      // and the primary would hand the same socket to every lane and worker
      // that asks for the same address.
      s.bind({ port: 0, address, exclusive: true }, () => {
        s.removeAllListeners("error");
        s.on("error", () => {}); // a send error ends the read by its timeout
        resolve(new Lane(s, sockets));
      });
    });
  }

  /** Ends the lane: its socket closes (a read still running ends by its timeout). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sockets.delete(this.s);
    try {
      this.s.close();
    } catch {
      // closed already
    }
  }

  /**
   * One lock-step or windowed read of `r` from the server on `port`; true
   * when it ended as expected. `late`: the server port of the machine's
   * previous read. Its datagrams are late ones of that read, never this
   * read's first answer: the server does not give a client's next session
   * the transfer ID of its last one (RFC 1350), unless every session
   * answers from the port asked (single-port mode).
   */
  read(port: number, r: Request, late: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.tid = 0;
    return new Promise((resolve) => {
      let tid = 0;
      let blksize = 512;
      let windowsize = 1;
      let expected = 1;
      const end = (ok: boolean): void => {
        if (this.current !== onMessage) return;
        this.current = undefined;
        this.tid = tid;
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => end(false), SESSION_TIMEOUT_MS);
      timer.unref();
      const send = (b: Buffer, to: number): void => {
        try {
          this.s.send(b, to, "127.0.0.1");
        } catch {
          end(false);
        }
      };
      const onMessage = (m: Buffer, from: number): void => {
        if (tid === 0) {
          // In single-port mode every session answers from the port asked: no port tells a late packet apart.
          if (from === late && from !== port) return;
          tid = from;
        } else if (from !== tid) return;
        const op = m.readUInt16BE(0);
        if (op === 6) {
          const o = oackOptions(m);
          blksize = Number(o.blksize ?? 512);
          windowsize = Number(o.windowsize ?? 1);
          send(ack(0), from);
        } else if (op === 3) {
          const block = m.readUInt16BE(2);
          if (block !== (expected & 0xffff)) return;
          const last = m.length - 4 < blksize;
          if (last || expected % windowsize === 0) send(ack(block), from);
          expected++;
          if (last) end(!r.error);
        } else if (op === 5) {
          end(r.error === true);
        }
      };
      this.current = onMessage;
      send(r.rrq, port);
    });
  }
}

/** The share of the budget the first private server gets (the second one runs the rest). */
const FIRST_PHASE = 0.4;
/** A budget shorter than this (ms) runs one private server: split in two, neither would get far. */
const TWO_PHASES_MS = 400;

export interface WarmUpOptions {
  signal?: AbortSignal;
  /** The clock (ms). */
  now?: () => number;
  /** Called after the first private server has closed, before the second starts. */
  between?: () => void;
  /**
   * How long the first private server stays open with nothing running
   * before it closes, so that what its idle timers end (boot flows) has
   * ended by itself (ms; counted in the budget).
   */
  settleMs?: number;
}

/**
 * Runs the warm-up: sessions against a private server from `make`, from
 * LANES lanes, until `budgetMs` (at most WARM_UP_MAX_MS) has passed since the
 * start, `signal` aborts, or WARM_UP_MAX_SESSIONS were started; then ends
 * what still runs and removes its files. Never throws: a warm-up that cannot
 * run reports 0 sessions.
 *
 * Two private servers, one after the other (FIRST_PHASE of the budget, then
 * the rest; one for a budget under TWO_PHASES_MS). Closing a server writes what a running one never does (its
 * flags set, timers and listeners cleared, flows and sessions still open
 * ended), and V8 throws away the code it compiled on the assumption that
 * such fields never change, the request path's included (measured: the
 * first server's close took the compiled code of Session.open and of the
 * flow tracker's step). So the first server is let run dry (its lanes
 * finish their reads, then `settleMs` with nothing running, in which its
 * boot flows end by their idle gap) and closed; `between` is called; and
 * the second server runs the request path again, so that it is compiled
 * anew for all the first one's close taught V8. The second one's close then
 * changes nothing more (see refresh-maps.ts for `between`).
 */
export async function warmUp(make: WarmUpFactory, budgetMs: number, o: WarmUpOptions = {}): Promise<WarmUpReport> {
  const { signal, between, settleMs = 0 } = o;
  const now = o.now ?? Date.now;
  const t0 = now();
  const budget = Math.max(0, Math.min(WARM_UP_MAX_MS, budgetMs));
  const deadline = t0 + budget;
  const report: WarmUpReport = { sessions: 0, started: 0, ms: 0, address: "127.0.0.1", port: 0, files: "memory" };
  if (budgetMs <= 0 || signal?.aborted) return report;
  const small = bytes(SMALL_BYTES, 1);
  const large = bytes(LARGE_BYTES, 7);
  const dir = await privateRoot(small, large);
  report.files = dir ? "folder" : "memory";
  const sockets = new Set<Socket>();
  let next = 0;
  let freshAsked = 0;
  let machine = 0;
  let manyAddresses = true;
  const open = async (address: string): Promise<Lane> => {
    if (manyAddresses && address !== "127.0.0.1") {
      try {
        return await Lane.open(sockets, address);
      } catch {
        manyAddresses = false; // only 127.0.0.1 here
      }
    }
    return Lane.open(sockets, "127.0.0.1");
  };
  const closeSockets = (): void => {
    for (const s of sockets) {
      try {
        s.close();
      } catch {
        // closed already
      }
    }
    sockets.clear();
  };
  /**
   * Resolves after `ms`, or at once when the warm-up is aborted or `stop`
   * is called (its timer and abort listener go then too).
   */
  const pause = (ms: number): { done: Promise<void>; stop: () => void } => {
    let stop = (): void => {};
    const done = new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(end, Math.max(0, ms));
      function end(): void {
        clearTimeout(t);
        signal?.removeEventListener("abort", end);
        resolve();
      }
      signal?.addEventListener("abort", end, { once: true });
      stop = end;
    });
    return { done, stop };
  };

  /**
   * One private server: lanes start reads until `until` (a clock reading).
   * `drain`: then their reads run to the end (each within its timeout) and
   * the server stays open `settleMs` more; otherwise every client socket
   * closes at `until`. False when the warm-up cannot go on.
   */
  const phase = async (until: number, drain: boolean): Promise<boolean> => {
    let server: WarmUpServer | undefined;
    try {
      server = make(dir ? { root: dir } : { handler: memoryHandler(small, large) });
      const bound = await server.listen({ host: "127.0.0.1", port: 0 });
      report.address = bound.address;
      report.port = bound.port;
      const port = bound.port;
      const over = (): boolean => signal?.aborted === true || now() >= until || report.started >= WARM_UP_MAX_SESSIONS;
      const lane = async (): Promise<void> => {
        // Two sockets of one machine, used in turn: the server takes a request
        // from the port of a session it still runs for a retransmission (and
        // drops it), and a read's last ACK (to the session's socket) can reach
        // the server after the next read's request (to the listening socket).
        // A read's port is used again only after another whole read, and a
        // read that failed gives its port up (its session may still run).
        let pair: Lane[] = [];
        let address = "127.0.0.1";
        /** The server port of the machine's last read (0: none heard). */
        let last = 0;
        try {
          for (let reads = 0; !over(); reads++) {
            if (pair.length === 0 || reads % READS_PER_MACHINE === 0) {
              for (const l of pair) l.close();
              pair = [];
              address = machineAddress(machine++ % MACHINES);
              pair.push(await open(address), await open(address));
              last = 0;
            }
            const side = reads % 2;
            const m = MIX[next++ % MIX.length];
            const r = m.error ? missing(next) : m.fresh ? fresh(freshAsked++) : m;
            report.started++;
            const ok = await pair[side].read(port, r, last);
            last = pair[side].tid;
            if (ok) report.sessions++;
            else if (!over()) {
              pair[side].close();
              pair[side] = await open(address);
            }
          }
        } finally {
          for (const l of pair) l.close();
        }
      };
      const lanes = Promise.all(Array.from({ length: LANES }, lane));
      // The clock bound also holds when a lane waits: past it every client socket closes.
      const timeUp = pause(until - now() + (drain ? SESSION_TIMEOUT_MS : 0));
      await Promise.race([lanes, timeUp.done]);
      timeUp.stop();
      if (drain) await pause(settleMs).done;
      return true;
    } catch {
      // A warm-up that cannot run (no loopback, no socket): the server starts cold.
      return false;
    } finally {
      closeSockets();
      await server?.close({ graceMs: 0 }).catch(() => {});
    }
  };

  const restoreBudget = lowerInterruptBudget(WARM_UP_INTERRUPT_BUDGET);
  try {
    if (budget < TWO_PHASES_MS) await phase(deadline, false);
    else if (await phase(t0 + budget * FIRST_PHASE, true)) {
      try {
        between?.();
      } catch {
        // The warm-up goes on.
      }
      if (!signal?.aborted && now() < deadline && report.started < WARM_UP_MAX_SESSIONS) await phase(deadline, false);
    }
  } finally {
    restoreBudget();
    closeSockets();
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
  report.ms = now() - t0;
  return report;
}
