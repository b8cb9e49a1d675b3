// The virtual clients of one thread. Each client takes a session number from
// a counter shared by every thread (Atomics), fetches a file, verifies it,
// and goes again until the sessions are used up or the time is over. A
// session's file pick and its injected loss come from PRNGs seeded by the
// scenario seed and the session number, so a run repeats exactly.

import { createHash, type Hash } from "node:crypto";
import { readFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createClient, LossInjector, mixSeed, prng, TftpTransferError, type TftpClient } from "@tftpkit/client";
import { pickFile, type Scenario } from "./scenario.js";

export interface SessionRecord {
  index: number;
  client: number;
  file: string;
  ok: boolean;
  /** "1".."8"/"0" for an ERROR from the server; timeout, verify, aborted, error for local failures. */
  error?: string;
  durationMs: number;
  bytes: number;
  retransmits: number;
  dataDropped: number;
  acksDropped: number;
}

export interface EngineTotals {
  ok: number;
  failed: number;
  /** Sessions cut short by the time limit (neither ok nor failed). */
  cut: number;
  bytes: number;
  wireBytes: number;
  packetsSent: number;
  packetsReceived: number;
  retransmits: number;
  timeouts: number;
  dataDropped: number;
  acksDropped: number;
}

export interface FileTally {
  ok: number;
  failed: number;
  /** Durations of its sessions that succeeded, ms. */
  latencies: number[];
}

export interface EngineResult extends EngineTotals {
  errors: Record<string, number>;
  /** Per error key, the messages seen and how often (at most 10 distinct per key). */
  errorMessages: Record<string, Record<string, number>>;
  /** Per file name: sessions and latencies (a boot flow's config and kernel apart). */
  files: Record<string, FileTally>;
  /** Durations of the sessions that succeeded, ms. */
  latencies: Float64Array;
  sessions?: SessionRecord[];
  /** Event-loop utilization of this thread over the run (0..1). */
  elu: number;
}

export interface EngineConfig {
  scenario: Scenario;
  /** Virtual client numbers run by this thread. */
  clients: number[];
  /** performance.timeOrigin-independent start: epoch ms shared by all threads. */
  startEpochMs: number;
  keepSessions: boolean;
}

export function emptyTotals(): EngineTotals {
  return { ok: 0, failed: 0, cut: 0, bytes: 0, wireBytes: 0, packetsSent: 0, packetsReceived: 0, retransmits: 0, timeouts: 0, dataDropped: 0, acksDropped: 0 };
}

const FILE_DRAW_STREAM = 0x46494c45;

class Verifier {
  private readonly cache = new Map<string, Buffer | null>();
  constructor(private readonly s: Scenario) {}
  expected(name: string): Buffer | null | undefined {
    if (!this.s.verifyDir) return undefined;
    if (!this.cache.has(name)) {
      try {
        this.cache.set(name, readFileSync(join(this.s.verifyDir, name)));
      } catch {
        this.cache.set(name, null); // no local copy: the session fails verification if it succeeds
      }
    }
    return this.cache.get(name);
  }
}

class VerifyError extends Error {}

export class Engine {
  readonly totals: EngineTotals = emptyTotals();
  private readonly errors: Record<string, number> = {};
  private readonly errorMessages: Record<string, Record<string, number>> = {};
  private readonly files: Record<string, FileTally> = {};
  private latencies = new Float64Array(1024);
  private nLat = 0;
  private readonly records: SessionRecord[] = [];
  private readonly client: TftpClient;
  private readonly verifier: Verifier;
  private readonly stopAt: number;
  /** Aborts the sessions still running at the time limit. */
  private readonly cut = new AbortController();

  constructor(
    private readonly cfg: EngineConfig,
    /** Shared session counter: [0] = next session number. */
    private readonly tickets: Int32Array,
  ) {
    const s = cfg.scenario;
    this.client = createClient({
      host: s.host,
      port: s.port,
      blksize: s.blksize,
      windowsize: s.windowsize,
      tsize: s.tsize,
      timeout: s.timeout,
      timeoutOption: s.timeoutOption,
      retries: s.retries,
      mode: s.mode,
      dallyMs: s.dallyMs,
      traceparent: s.traceparent,
    });
    this.verifier = new Verifier(s);
    setMaxListeners(0, this.cut.signal); // one listener per running session
    this.stopAt = cfg.startEpochMs + Math.min(s.duration, s.timeLimit) * 1000;
  }

  async run(): Promise<EngineResult> {
    const elu0 = performance.eventLoopUtilization();
    const s = this.cfg.scenario;
    const cutTimer = setTimeout(() => this.cut.abort(), Math.max(0, this.cfg.startEpochMs + s.timeLimit * 1000 - Date.now()));
    await Promise.all(
      this.cfg.clients.map(async (id) => {
        const startAt = this.cfg.startEpochMs + (s.clients > 1 ? (id * s.rampUp * 1000) / s.clients : 0);
        const wait = startAt - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await this.clientLoop(id);
      }),
    );
    clearTimeout(cutTimer);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    return {
      ...this.totals,
      errors: { ...this.errors },
      errorMessages: this.errorMessages,
      files: this.files,
      latencies: this.latencies.slice(0, this.nLat),
      sessions: this.cfg.keepSessions ? this.records : undefined,
      elu,
    };
  }

  /** The next session number, or -1 when there is none left. */
  private ticket(): number {
    if (Date.now() >= this.stopAt) return -1;
    const n = Atomics.add(this.tickets, 0, 1);
    return n < this.cfg.scenario.sessions ? n : -1;
  }

  private async clientLoop(id: number): Promise<void> {
    const s = this.cfg.scenario;
    for (let step = 0; ; step++) {
      const index = this.ticket();
      if (index < 0) return;
      const file = pickFile(s, step, s.flow ? 0 : prng(mixSeed(s.seed ^ FILE_DRAW_STREAM, index))());
      await this.session(id, index, file);
    }
  }

  private async session(client: number, index: number, file: string): Promise<void> {
    const s = this.cfg.scenario;
    const loss = s.lossData > 0 || s.lossAck > 0 ? new LossInjector({ data: s.lossData, ack: s.lossAck, seed: mixSeed(s.seed, index) }) : undefined;
    const expected = this.verifier.expected(file);
    const want = s.sha256?.[file];
    let hash: Hash | undefined = want ? createHash("sha256") : undefined;
    let offset = 0;
    let mismatch = false;
    const t = this.totals;
    const sink = (chunk: Uint8Array): void => {
      if (expected !== undefined) {
        // compare() works on ranges: no view allocated per packet.
        if (expected === null || offset + chunk.length > expected.length || expected.compare(chunk, 0, chunk.length, offset, offset + chunk.length) !== 0) mismatch = true;
      }
      hash?.update(chunk);
      offset += chunk.length;
      t.bytes += chunk.length;
    };
    const tally = (this.files[file] ??= { ok: 0, failed: 0, latencies: [] });
    const rec: SessionRecord = { index, client, file, ok: false, durationMs: 0, bytes: 0, retransmits: 0, dataDropped: 0, acksDropped: 0 };
    try {
      const { stats } = await this.client.getTo(file, sink, { loss, signal: this.cut.signal });
      this.count(stats);
      rec.durationMs = stats.durationMs;
      rec.bytes = stats.bytes;
      rec.retransmits = stats.retransmits;
      if (expected !== undefined && (mismatch || expected === null || offset !== expected.length)) throw new VerifyError();
      if (want && hash!.digest("hex") !== want.toLowerCase()) throw new VerifyError();
      hash = undefined;
      rec.ok = true;
      t.ok++;
      tally.ok++;
      tally.latencies.push(stats.durationMs);
      if (this.nLat === this.latencies.length) {
        const grown = new Float64Array(this.latencies.length * 2);
        grown.set(this.latencies);
        this.latencies = grown;
      }
      this.latencies[this.nLat++] = stats.durationMs;
    } catch (err) {
      if (this.cut.signal.aborted && err instanceof TftpTransferError && err.code === "TFTP_ERR_ABORTED") {
        this.count(err.stats);
        rec.error = "cut";
        t.cut++;
        if (this.cfg.keepSessions) this.records.push(rec);
        return;
      }
      let key = "error";
      let message = (err as Error).message;
      if (err instanceof VerifyError) {
        key = "verify";
        message = `${file}: bytes differ from the expected copy`;
      }
      else if (err instanceof TftpTransferError) {
        this.count(err.stats);
        rec.durationMs = err.stats.durationMs;
        rec.bytes = err.stats.bytes;
        rec.retransmits = err.stats.retransmits;
        key = err.remote ? String(err.wireCode) : err.code === "TFTP_ERR_TIMEOUT" ? "timeout" : err.code === "TFTP_ERR_ABORTED" ? "aborted" : "error";
      }
      rec.error = key;
      const msgs = (this.errorMessages[key] ??= {});
      if (msgs[message] !== undefined || Object.keys(msgs).length < 10) msgs[message] = (msgs[message] ?? 0) + 1;
      t.failed++;
      tally.failed++;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
    }
    rec.dataDropped = loss?.dataDropped ?? 0;
    rec.acksDropped = loss?.acksDropped ?? 0;
    if (this.cfg.keepSessions) this.records.push(rec);
  }

  private count(st: { wireBytes: number; packetsSent: number; packetsReceived: number; retransmits: number; timeouts: number; dataDropped: number; acksDropped: number }): void {
    const t = this.totals;
    t.wireBytes += st.wireBytes;
    t.packetsSent += st.packetsSent;
    t.packetsReceived += st.packetsReceived;
    t.retransmits += st.retransmits;
    t.timeouts += st.timeouts;
    t.dataDropped += st.dataDropped;
    t.acksDropped += st.acksDropped;
  }
}
