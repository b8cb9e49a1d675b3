// The sessions of one thread. Two models:
//
// - closed (`clients`): each virtual client takes a session number from a
//   counter shared by every thread (Atomics), fetches a file (or the next
//   step of its flow), and goes again until the sessions or the time run out;
// - open (`rate`/`stages`): sessions (or whole flows, one machine each) start
//   at scheduled times (schedule.ts) whatever the server does; this thread
//   starts every `threads`-th arrival. Latency counts from the scheduled
//   start; a start that finds `maxInFlight` running (a count shared by every
//   thread) is dropped and counted.
//
// Per packet the engine does no allocation and no promise: the client calls
// one sink per running session (pooled, bound once) that counts the bytes
// and, when verifying, copies them into a 64 KiB staging buffer compared with
// the local copy and hashed once per buffer (batched verification).
// A session's file pick and its injected loss come from PRNGs seeded by the
// scenario seed and the session number, so a run repeats exactly.

import { createHash, randomFillSync, type Hash } from "node:crypto";
import { readFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { createClient, LossInjector, TftpTransferError, type TftpClient, type TransferStats } from "@tftpkit/client";
import { mixSeed, prng } from "@tftpkit/client/internal";
import { newHist, recordMs } from "./hist.js";
import { addMessage, emptyPart, encodePart, type LivePart, type TimeBucket, type Totals, type WirePart } from "./part.js";
import { pickFile, type Scenario } from "./scenario.js";
import { Arrivals, RatePlan } from "./schedule.js";
import { parseAddressPool, type AddressPool } from "./address-pool.js";

/** A start later than this after its scheduled time counts as late (open model). */
export const LATE_MS = 10;

export interface SessionRecord {
  index: number;
  /** Closed model: the virtual client; open model: the arrival (one machine). */
  client: number;
  file: string;
  /** Step in the flow (0 without a flow). */
  step: number;
  ok: boolean;
  /** "1".."8"/"0" for an ERROR from the server; timeout, verify, aborted, error for local failures; cut. */
  error?: string;
  /** From the scheduled start in the open model, else from the start. */
  durationMs: number;
  bytes: number;
  retransmits: number;
  dataDropped: number;
  acksDropped: number;
  /** Source address the session used (with --source). */
  source?: string;
  /** The traceparent sent with the name (with --traceparent). */
  traceparent?: string;
}

export interface EngineResult {
  part: WirePart;
  sessions?: SessionRecord[];
  /** Event-loop utilization of this thread over the run (0..1). */
  elu: number;
  /** Epoch ms (fractional) when this thread's last session ended (the run's end: its figures are encoded after). */
  endEpochMs: number;
}

export interface EngineConfig {
  scenario: Scenario;
  /** This thread's number and the count of threads running sessions. */
  thread: number;
  threads: number;
  /** Closed model: virtual client numbers run by this thread. */
  clients: number[];
  /** Epoch ms at which the run starts, shared by all threads. */
  startEpochMs: number;
  keepSessions: boolean;
  /** --verify: the local copies (loadCopies), shared by every thread. */
  copies: Record<string, SharedArrayBuffer | null> | null;
}

/** Shared counters: [0] next session number (closed model), [1] sessions/flows in flight (open model). */
export const SHARED_SLOTS = 2;

const FILE_DRAW_STREAM = 0x46494c45;
const STAGE_BYTES = 64 * 1024;
const TICK_MS = 100;

class VerifyError extends Error {}

/**
 * The local copies for --verify, read once before the run starts (not in the
 * middle of it, where a read would hold a thread's sessions back) into shared
 * memory that every worker thread reads without a copy. null: no local copy
 * (a session of that file fails verification).
 */
export function loadCopies(s: Scenario): Record<string, SharedArrayBuffer | null> | null {
  if (!s.verifyDir) return null;
  const out: Record<string, SharedArrayBuffer | null> = {};
  for (const name of s.flow ?? s.files.map((f) => f.name)) {
    if (name in out) continue;
    try {
      const b = readFileSync(join(s.verifyDir, name));
      const shared = new SharedArrayBuffer(b.length);
      new Uint8Array(shared).set(b);
      out[name] = shared;
    } catch {
      out[name] = null;
    }
  }
  return out;
}

class Copies {
  private readonly views = new Map<string, Buffer | null>();
  constructor(copies: Record<string, SharedArrayBuffer | null> | null) {
    if (copies) for (const [name, sab] of Object.entries(copies)) this.views.set(name, sab ? Buffer.from(sab) : null);
  }
  /** undefined: not verifying by copy. */
  get(name: string): Buffer | null | undefined {
    return this.views.size === 0 ? undefined : (this.views.get(name) ?? null);
  }
}

/**
 * What runs per packet: counts bytes into the totals and the current second,
 * and when verifying stages them for a batched compare and hash. One per
 * running session, reused across sessions; `sink` is bound once.
 */
class Check {
  private stage: Buffer | null = null;
  private fill = 0;
  private offset = 0;
  private mismatch = false;
  private expected: Buffer | null | undefined;
  private hash: Hash | undefined;
  private verifying = false;

  constructor(private readonly engine: Engine) {}

  begin(expected: Buffer | null | undefined, sha256: boolean): void {
    this.expected = expected;
    this.hash = sha256 ? createHash("sha256") : undefined;
    this.verifying = expected !== undefined || sha256;
    if (this.verifying) this.stage ??= Buffer.allocUnsafe(STAGE_BYTES);
    this.fill = 0;
    this.offset = 0;
    this.mismatch = false;
  }

  readonly sink = (chunk: Uint8Array): void => {
    const n = chunk.length;
    this.engine.part.totals.bytes += n;
    this.engine.bucket.bytes += n;
    if (!this.verifying) return;
    let at = 0;
    while (at < n) {
      const take = Math.min(n - at, STAGE_BYTES - this.fill);
      this.stage!.set(at === 0 && take === n ? chunk : chunk.subarray(at, at + take), this.fill);
      this.fill += take;
      at += take;
      if (this.fill === STAGE_BYTES) this.flush();
    }
  };

  private flush(): void {
    const len = this.fill;
    if (len === 0) return;
    const e = this.expected;
    if (e !== undefined) {
      if (e === null || this.offset + len > e.length || e.compare(this.stage!, 0, len, this.offset, this.offset + len) !== 0) this.mismatch = true;
    }
    this.hash?.update(this.stage!.subarray(0, len));
    this.offset += len;
    this.fill = 0;
  }

  /** True when every byte matched (and the length too). */
  finish(want: string | undefined): boolean {
    if (!this.verifying) return true;
    this.flush();
    const e = this.expected;
    if (e !== undefined && (this.mismatch || e === null || this.offset !== e.length)) return false;
    if (want && this.hash!.digest("hex") !== want.toLowerCase()) return false;
    this.hash = undefined;
    return true;
  }
}

function hex(bytes: number): string {
  const b = Buffer.allocUnsafe(bytes);
  randomFillSync(b);
  return b.toString("hex");
}

export class Engine {
  readonly part: LivePart;
  /** The one-second bucket of now (moved on by a timer, so packets never read the clock). */
  bucket: TimeBucket<ReturnType<typeof newHist>>;
  private readonly buckets = new Map<number, TimeBucket<ReturnType<typeof newHist>>>();
  private readonly records: SessionRecord[] = [];
  private readonly client: TftpClient;
  private readonly copies: Copies;
  private readonly checks: Check[] = [];
  private stopAtEpoch: number;
  /** Open model: wakes the scheduler (after stop()). */
  private wake: (() => void) | undefined;
  private readonly sources: AddressPool | null;
  /** Aborts the sessions still running at the time limit. */
  private readonly cut = new AbortController();
  private readonly s: Scenario;

  constructor(
    private readonly cfg: EngineConfig,
    /** Counters shared by every thread (SHARED_SLOTS). */
    private readonly shared: Int32Array,
  ) {
    const s = (this.s = cfg.scenario);
    this.client = createClient({
      host: s.host,
      port: s.port,
      blksize: s.blksize,
      windowsize: s.windowsize,
      tsize: s.tsize,
      timeoutSeconds: s.timeoutSeconds,
      timeoutOptionSeconds: s.timeoutOptionSeconds,
      retries: s.retries,
      mode: s.mode,
      dallyMs: s.dallyMs,
      connect: true, // cheaper sends once the server answered (no ERROR 5 to strangers: not needed under load)
    });
    this.copies = new Copies(cfg.copies);
    this.sources = s.source ? parseAddressPool(s.source) : null;
    this.part = emptyPart(s.flow ?? []);
    this.bucket = this.bucketAt(Date.now());
    setMaxListeners(0, this.cut.signal); // one listener per running session
    this.stopAtEpoch = cfg.startEpochMs + Math.min(s.durationSeconds, s.timeLimitSeconds) * 1000;
  }

  /** Stops the run now (an interrupt): no new session starts, running ones are cut short. */
  stop(): void {
    this.stopAtEpoch = 0;
    this.cut.abort();
    this.wake?.();
  }

  get totals(): Totals {
    return this.part.totals;
  }

  private bucketAt(epochMs: number): TimeBucket<ReturnType<typeof newHist>> {
    const t = Math.floor(epochMs / 1000);
    let b = this.buckets.get(t);
    if (!b) this.buckets.set(t, (b = { t, started: 0, ok: 0, failed: 0, dropped: 0, bytes: 0, hdr: newHist() }));
    return b;
  }

  async run(): Promise<EngineResult> {
    const elu0 = performance.eventLoopUtilization();
    const s = this.s;
    const tick = setInterval(() => (this.bucket = this.bucketAt(Date.now())), TICK_MS);
    const cutTimer = setTimeout(() => this.cut.abort(), Math.max(0, this.cfg.startEpochMs + s.timeLimitSeconds * 1000 - Date.now()));
    try {
      const wait = this.cfg.startEpochMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.cut.signal.aborted) return this.result(elu0);
      if (s.rate === null) await this.closed();
      else await this.open();
    } finally {
      clearTimeout(cutTimer);
      clearInterval(tick);
    }
    return this.result(elu0);
  }

  private result(elu0: ReturnType<typeof performance.eventLoopUtilization>): EngineResult {
    const endEpochMs = performance.timeOrigin + performance.now();
    this.part.timeline = [...this.buckets.values()].filter((b) => b.started + b.ok + b.failed + b.dropped + b.bytes > 0).sort((a, b) => a.t - b.t);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    return { part: encodePart(this.part), sessions: this.cfg.keepSessions ? this.records : undefined, elu, endEpochMs };
  }

  // ---- closed model ----

  private async closed(): Promise<void> {
    const s = this.s;
    await Promise.all(
      this.cfg.clients.map(async (id) => {
        const wait = s.clients > 1 ? (id * s.rampUpSeconds * 1000) / s.clients : 0;
        if (wait > 0) await sleep(wait, this.cut.signal);
        await (s.flow ? this.closedFlows(id) : this.closedSessions(id));
      }),
    );
  }

  /** The next session number, or -1 when there is none left. */
  private ticket(): number {
    // The cut timer can fire a moment before the wall clock reaches stopAtEpoch: once it has,
    // no session starts (it would only be cut at once and counted twice).
    if (this.cut.signal.aborted || Date.now() >= this.stopAtEpoch) return -1;
    const n = Atomics.add(this.shared, 0, 1);
    return n < this.s.sessions ? n : -1;
  }

  private async closedSessions(id: number): Promise<void> {
    for (;;) {
      const index = this.ticket();
      if (index < 0) return;
      await this.session(id, index, this.pick(index), 0, performance.now(), undefined);
    }
  }

  private async closedFlows(id: number): Promise<void> {
    const steps = this.s.flow!;
    for (;;) {
      const t0 = performance.now();
      const trace = this.s.traceparent ? hex(16) : undefined;
      let ok = true;
      for (let i = 0; i < steps.length; i++) {
        const index = this.ticket();
        if (index < 0) return; // the sessions ran out mid-flow: that flow is not counted
        if (i > 0 && this.s.thinkMs > 0) await sleep(this.s.thinkMs, this.cut.signal);
        if (!(await this.session(id, index, steps[i], i, performance.now(), trace))) {
          ok = false;
          break;
        }
      }
      this.endFlow(ok, t0);
    }
  }

  // ---- open model ----

  private open(): Promise<void> {
    const s = this.s;
    const { thread, threads } = this.cfg;
    const plan = new RatePlan(s.rate!, s.stages, Math.min(s.durationSeconds, s.timeLimitSeconds));
    const arrivals = new Arrivals(plan, s.arrival === "poisson", s.seed);
    // performance.now() of the run's start (epoch start taken to this thread's clock).
    const base = performance.now() + (this.cfg.startEpochMs - Date.now());
    let running = 0;
    let scheduleDone = false;
    let nextAt = -1; // ms (performance clock) of this thread's next arrival; -1 = to compute
    let nextIndex = -1;
    let timer: NodeJS.Timeout | undefined;
    return new Promise<void>((resolve) => {
      const settle = (): void => {
        running--;
        if (scheduleDone && running === 0) resolve();
      };
      const pump = (): void => {
        for (;;) {
          const now = performance.now();
          if (nextAt < 0) {
            let t: number;
            do t = arrivals.next();
            while (t !== Infinity && arrivals.index % threads !== thread && arrivals.index < s.sessions);
            if (t === Infinity || arrivals.index >= s.sessions || this.cut.signal.aborted) {
              scheduleDone = true;
              if (running === 0) resolve();
              return;
            }
            nextAt = base + t * 1000;
            nextIndex = arrivals.index;
          }
          if (nextAt > now) break;
          const at = nextAt;
          const k = nextIndex;
          nextAt = -1;
          if (Atomics.add(this.shared, 1, 1) >= s.maxInFlight) {
            Atomics.sub(this.shared, 1, 1);
            this.part.totals.dropped++;
            this.bucket.dropped++;
            continue;
          }
          const lag = now - at;
          recordMs(this.part.lag, lag);
          if (lag > LATE_MS) this.part.totals.late++;
          running++;
          // machine() never rejects: session() counts every failure.
          void this.machine(k, at).finally(() => {
            Atomics.sub(this.shared, 1, 1);
            settle();
          });
        }
        timer = setTimeout(pump, Math.max(0, nextAt - performance.now()));
      };
      this.wake = () => {
        clearTimeout(timer);
        if (!scheduleDone) pump();
      };
      pump();
    });
  }

  /** One arrival: one session, or a machine running the whole flow. Times count from `scheduledAt`. */
  private async machine(k: number, scheduledAt: number): Promise<void> {
    const steps = this.s.flow;
    if (!steps) {
      await this.session(k, k, this.pick(k), 0, scheduledAt, undefined);
      return;
    }
    const trace = this.s.traceparent ? hex(16) : undefined;
    let ok = true;
    for (let i = 0; i < steps.length; i++) {
      if (i > 0 && this.s.thinkMs > 0) await sleep(this.s.thinkMs, this.cut.signal);
      if (this.cut.signal.aborted) return;
      if (!(await this.session(k, k * steps.length + i, steps[i], i, i === 0 ? scheduledAt : performance.now(), trace))) {
        ok = false;
        break;
      }
    }
    this.endFlow(ok, scheduledAt);
  }

  // ---- one session ----

  private pick(index: number): string {
    return pickFile(this.s, 0, prng(mixSeed(this.s.seed ^ FILE_DRAW_STREAM, index))());
  }

  private endFlow(ok: boolean, t0: number): void {
    if (this.cut.signal.aborted) return;
    if (ok) {
      this.part.totals.flowsOk++;
      recordMs(this.part.flow, performance.now() - t0);
    } else this.part.totals.flowsFailed++;
  }

  /** Runs one get; true when it succeeded (and verified). Latency counts from `t0` (performance clock). */
  private async session(client: number, index: number, file: string, step: number, t0: number, trace: string | undefined): Promise<boolean> {
    const s = this.s;
    const p = this.part;
    const t = p.totals;
    const loss = s.lossData > 0 || s.lossAck > 0 ? new LossInjector({ data: s.lossData, ack: s.lossAck, seed: mixSeed(s.seed, index) }) : undefined;
    const check = this.checks.pop() ?? new Check(this);
    const want = s.sha256?.[file];
    check.begin(this.copies.get(file), want !== undefined);
    const source = this.sources ? this.sources.at(client) : undefined;
    const traceparent = trace ? `00-${trace}-${hex(8)}-01` : s.traceparent ? true : undefined;
    const tally = (p.files[file] ??= { ok: 0, failed: 0, hdr: newHist() });
    const stepTally = s.flow ? p.steps[step] : undefined;
    const rec: SessionRecord | undefined = this.cfg.keepSessions
      ? { index, client, file, step, ok: false, durationMs: 0, bytes: 0, retransmits: 0, dataDropped: 0, acksDropped: 0, source, traceparent: typeof traceparent === "string" ? traceparent : undefined }
      : undefined;
    t.started++;
    this.bucket.started++;
    let ok = false;
    try {
      const { stats } = await this.client.getTo(file, check.sink, { loss, signal: this.cut.signal, localAddress: source, traceparent });
      this.count(stats, rec);
      if (!check.finish(want)) throw new VerifyError();
      const ms = performance.now() - t0;
      ok = true;
      t.ok++;
      tally.ok++;
      this.bucket.ok++;
      recordMs(p.latency, ms);
      recordMs(tally.hdr, ms);
      recordMs(this.bucket.hdr, ms);
      if (stepTally) {
        stepTally.ok++;
        recordMs(stepTally.hdr, ms);
      }
      if (rec) {
        rec.ok = true;
        rec.durationMs = ms;
      }
    } catch (err) {
      if (this.cut.signal.aborted && err instanceof TftpTransferError && err.code === "TFTP_ERR_ABORTED") {
        this.count(err.stats, rec);
        t.cut++;
        if (rec) rec.error = "cut";
      } else {
        let key = "error";
        let message = (err as Error).message;
        if (err instanceof VerifyError) {
          key = "verify";
          message = `${file}: bytes differ from the expected copy`;
        } else if (err instanceof TftpTransferError) {
          this.count(err.stats, rec);
          key = err.remote ? String(err.wireCode) : err.code === "TFTP_ERR_TIMEOUT" ? "timeout" : err.code === "TFTP_ERR_ABORTED" ? "aborted" : "error";
        }
        addMessage(p.errorMessages, key, message);
        p.errors[key] = (p.errors[key] ?? 0) + 1;
        t.failed++;
        tally.failed++;
        this.bucket.failed++;
        if (stepTally) stepTally.failed++;
        if (rec) {
          rec.error = key;
          rec.durationMs = performance.now() - t0;
        }
      }
    }
    this.checks.push(check);
    if (rec) {
      rec.dataDropped = loss?.dataDropped ?? 0;
      rec.acksDropped = loss?.acksDropped ?? 0;
      this.records.push(rec);
    }
    return ok;
  }

  private count(st: TransferStats, rec: SessionRecord | undefined): void {
    const t = this.part.totals;
    t.wireBytes += st.wireBytes;
    t.packetsSent += st.packetsSent;
    t.packetsReceived += st.packetsReceived;
    t.retransmits += st.retransmits;
    t.timeouts += st.timeouts;
    t.dataDropped += st.dataDropped;
    t.acksDropped += st.acksDropped;
    if (rec) {
      rec.bytes = st.bytes;
      rec.retransmits = st.retransmits;
    }
  }
}

/** Waits `ms`, or less when the run is stopped. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => {});
}

/**
 * Runs `scenario.warmup` sessions of this thread's share against the target
 * before the measured run, closed model, on a counter of their own, and
 * throws their figures away: a JIT compiles the hot paths during its first
 * thousands of packets, which would otherwise count against the server. The
 * server sees (and counts) these sessions.
 */
export async function warmUp(cfg: EngineConfig): Promise<void> {
  const s = cfg.scenario;
  if (s.warmup <= 0) return;
  // Closed model: this thread's clients; open model: up to 32 of its own (within its share of --max-in-flight).
  const clients = cfg.clients.length
    ? cfg.clients
    : Array.from({ length: Math.min(s.warmup, 32, Math.ceil(s.maxInFlight / cfg.threads)) }, (_, i) => cfg.thread + i * cfg.threads);
  const scenario: Scenario = { ...s, sessions: s.warmup, durationSeconds: Infinity, rate: null, stages: [], rampUpSeconds: 0, thinkMs: 0, warmup: 0 };
  const engine = new Engine({ ...cfg, scenario, clients, startEpochMs: Date.now(), keepSessions: false }, new Int32Array(new SharedArrayBuffer(4 * SHARED_SLOTS)));
  await engine.run();
}
