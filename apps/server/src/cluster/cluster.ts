// Every core: a primary process and N worker processes (node:cluster).
//
// The primary owns the listening sockets (UdpListeners: a receive buffer as
// large as the kernel allows, one socket per interface address) and routes
// every datagram by the client's IP address to one worker, so that one
// machine's sessions always run in the same worker: its boot flow and its
// tftp.boot trace stay in one TftpServer. A worker runs sessions with its own
// WebAssembly scheduler, on session sockets of its own; in single-port mode
// its answers leave through the primary's listening socket.
//
// A worker that dies is started again (within ~0.1 s, backing off to 5 s if
// it keeps dying at once); while its slot is empty its clients go to the next
// live worker. Only the dead worker's sessions are lost. reload() and close()
// reach every worker. stats() sums the workers' counters (those of dead
// workers are kept), metrics() merges their Prometheus text.

import cluster, { type Worker } from "node:cluster";
import type { RemoteInfo } from "node:dgram";
import type { Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  BootFlow, BoundAddress, FlowQuery, ListenOptions, LiveSession, ReceiveBuffer,
  ServerEvent, ServerEventListener, ServerStats, SessionSummary,
} from "@tftpkit/server";
import { UdpListeners, emptyServerStats, type Listener } from "@tftpkit/server/internal";
import {
  ENV_ARGS, ENV_HTTP, ENV_SLOT,
  type WorkerArgs, type Question, type ReloadAnswer, type ToPrimary, type ToWorker,
} from "./protocol.js";
import { CHANNEL_FD, FrameKind, FrameReader, FrameWriter, WORKER_STDIO } from "./channel.js";

export interface ClusterOptions {
  /** Worker processes (>= 1). */
  workers: number;
  /** The parsed command line: each worker reads its configuration from it (and the --config file), as `tftpkit serve` does. */
  args: WorkerArgs;
  /** Receive buffer of each listening socket (0: as large as the kernel allows). */
  recvBufferBytes?: number;
  /** On a wildcard host, one listening socket per interface address (default true, as TftpServer). */
  bindInterfaces?: boolean;
  rescanIntervalMs?: number;
  /** Where the HTTP stage listens (the primary's socket; workers get its connections): for handler modules. */
  http?: { host: string | undefined; port: number };
  /** Lines for the operator (worker exits and restarts); default stderr. */
  log?: (line: string) => void;
}

export interface WorkerInfo {
  /** Slot number, 1..N: stable across restarts (LiveSession.worker). */
  id: number;
  pid: number | undefined;
  ready: boolean;
  /** Times this slot's worker was started again after it died. */
  restarts: number;
}

interface Slot {
  id: number;
  worker: Worker | undefined;
  pid: number | undefined;
  ready: boolean;
  startedAt: number;
  restarts: number;
  /** Quick deaths in a row (a worker that dies within 5 s of its start). */
  quickDeaths: number;
  /** Listeners this worker process knows. */
  known: Set<number>;
  /** The worker's datagram channel (channel.ts) and the frames for it written this turn. */
  chan: Socket | undefined;
  frames: FrameWriter;
  lastStats: ServerStats | undefined;
  lastMetrics: string | undefined;
  restartTimer: NodeJS.Timeout | undefined;
}

/** Datagrams for one worker are dropped while this many bytes wait unwritten in its channel (the worker is not keeping up). */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;
const QUESTION_TIMEOUT_MS = 3000;
/** Datagrams held while no worker is ready. */
const EARLY_MAX = 16_384;

const EMPTY = new Uint8Array(0);

/** FNV-1a over the address: the same client always lands on the same slot. */
export function addressHash(address: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function workerEntry(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "cluster-worker.js");
}

/** Adds b's counters into a (sessionsActive too; outcomes by key). */
export function addStats(a: ServerStats, b: ServerStats): ServerStats {
  const out = { ...a, outcomes: { ...a.outcomes } } as ServerStats;
  const o = out as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    if (typeof v === "number") o[k] = ((o[k] as number | undefined) ?? 0) + v;
  }
  for (const [k, v] of Object.entries(b.outcomes)) {
    const key = k as keyof ServerStats["outcomes"];
    out.outcomes[key] = (out.outcomes[key] ?? 0) + v;
  }
  return out;
}

/**
 * Sums Prometheus text expositions sample by sample (same name and labels:
 * counters, histogram buckets, sums and counts, and up-down counters all
 * add up). `*_info` gauges (target_info, otel_scope_info) are kept once.
 */
export function mergePrometheus(texts: string[]): string {
  const families = new Map<string, { meta: string[]; samples: Map<string, number>; info: boolean }>();
  const familyOf = (sample: string): string => {
    const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(sample)?.[0] ?? sample;
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
    }
    return name;
  };
  const get = (name: string): { meta: string[]; samples: Map<string, number>; info: boolean } => {
    let f = families.get(name);
    if (!f) {
      f = { meta: [], samples: new Map(), info: name.endsWith("_info") };
      families.set(name, f);
    }
    return f;
  };
  for (const text of texts) {
    const seenMeta = new Set<string>();
    for (const line of text.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("#")) {
        const m = /^# (HELP|TYPE|UNIT) (\S+)/.exec(line);
        if (!m) continue;
        const f = get(m[2]);
        if (!seenMeta.has(line) && !f.meta.includes(line)) f.meta.push(line);
        seenMeta.add(line);
        continue;
      }
      // name{labels} value [timestamp]: labels may hold spaces inside quotes.
      const close = line.lastIndexOf("}");
      const cut = close >= 0 ? close + 1 : line.indexOf(" ");
      const key = line.slice(0, cut);
      const value = Number(line.slice(cut).trim().split(/\s+/)[0]);
      const f = get(familyOf(key));
      const had = f.samples.get(key);
      if (had === undefined) f.samples.set(key, value);
      else if (!f.info) f.samples.set(key, had + value);
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    out.push(...f.meta);
    for (const [key, v] of f.samples) out.push(`${key} ${Number.isInteger(v) ? v : String(v)}`);
    out.push("");
  }
  return out.join("\n");
}

/** The exposition without its gauge families: what of a dead worker still counts (its counters and histograms). */
export function withoutGauges(text: string): string {
  const gauges = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) gauge$/gm)) gauges.add(m[1]);
  return text
    .split("\n")
    .filter((line) => {
      const name = line.startsWith("#") ? /^# \S+ (\S+)/.exec(line)?.[1] : /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)?.[0];
      return name === undefined || !gauges.has(name);
    })
    .join("\n");
}

/** Adds the worker's slot number to a session row (ids stay the worker's own: the handler saw them). */
function tagSession(s: LiveSession, worker: number): LiveSession {
  return { ...s, worker };
}

function tagEvent(e: ServerEvent, worker: number): ServerEvent {
  return e.type === "flow" ? e : { ...e, session: tagSession(e.session, worker) };
}

/** Summaries of several workers as one: counts by key added, the top lists merged and cut again. */
export function mergeSummaries(list: SessionSummary[], k = 10): SessionSummary {
  const errorsByCode: Record<string, number> = {};
  const files = new Map<string, { sessions: number; bytes: number }>();
  const clients = new Map<string, number>();
  for (const s of list) {
    for (const [code, n] of Object.entries(s.errorsByCode)) errorsByCode[code] = (errorsByCode[code] ?? 0) + n;
    for (const f of s.topFiles) {
      const r = files.get(f.path) ?? { sessions: 0, bytes: 0 };
      r.sessions += f.sessions;
      r.bytes += f.bytes;
      files.set(f.path, r);
    }
    for (const c of s.topFailingClients) clients.set(c.client, (clients.get(c.client) ?? 0) + c.failures);
  }
  return {
    errorsByCode,
    topFiles: [...files]
      .sort((a, b) => b[1].sessions - a[1].sessions || b[1].bytes - a[1].bytes)
      .slice(0, k)
      .map(([path, r]) => ({ path, sessions: r.sessions, bytes: r.bytes })),
    topFailingClients: [...clients].sort((a, b) => b[1] - a[1]).slice(0, k).map(([client, failures]) => ({ client, failures })),
  };
}

export class TftpCluster {
  private readonly slots: Slot[] = [];
  private readonly listeners: UdpListeners;
  private readonly byId = new Map<number, Listener>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; timer: NodeJS.Timeout }>();
  private nextQuestion = 1;
  private retired: ServerStats | undefined;
  private retiredMetrics: string | undefined;
  private readonly subscribers = new Set<ServerEventListener>();
  private stopping = false;
  private exited: (() => void) | undefined;
  private readonly log: (line: string) => void;
  /** What the workers' telemetry exports (the first ready worker's start-up line). */
  telemetry = "";
  private early: Array<[Buffer, RemoteInfo, Listener]> = [];
  /** Datagrams dropped in the primary: no live worker, or one too far behind. */
  dropped = 0;

  constructor(private readonly o: ClusterOptions) {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`workers must be an integer >= 1 (got ${o.workers})`);
    if (!cluster.isPrimary) throw new Error("a TftpCluster is started in the primary process");
    this.log = o.log ?? ((line) => process.stderr.write(line + "\n"));
    this.listeners = new UdpListeners({
      bindInterfaces: o.bindInterfaces ?? true,
      rescanIntervalMs: o.rescanIntervalMs ?? 5000,
      recvBufferBytes: o.recvBufferBytes ?? 0,
      onMessage: (msg, rinfo, l) => this.route(msg, rinfo, l),
    });
    for (let i = 1; i <= o.workers; i++) {
      this.slots.push({
        id: i, worker: undefined, pid: undefined, ready: false, startedAt: 0, restarts: 0, quickDeaths: 0,
        known: new Set(), chan: undefined, frames: new FrameWriter(), lastStats: undefined, lastMetrics: undefined, restartTimer: undefined,
      });
    }
  }

  /** Binds the listening sockets (as TftpServer.listen does). Workers start with start(). */
  listen(opts: ListenOptions): Promise<BoundAddress> {
    return this.listeners.listen(opts);
  }

  /**
   * Forks the workers and resolves once every one is ready; rejects with the
   * first worker's error if one cannot start (a bad handler module, ...).
   */
  start(): Promise<void> {
    cluster.setupPrimary({ exec: workerEntry(), serialization: "advanced", stdio: [...WORKER_STDIO] });
    return new Promise<void>((resolve, reject) => {
      let waiting = this.slots.length;
      let failed = false;
      for (const slot of this.slots) {
        this.fork(slot, {
          ready: () => {
            if (--waiting === 0 && !failed) resolve();
          },
          failed: (error) => {
            if (failed) return;
            failed = true;
            this.stopping = true;
            for (const s of this.slots) s.worker?.kill("SIGKILL");
            reject(new Error(error));
          },
        });
      }
    });
  }

  private fork(slot: Slot, first?: { ready: () => void; failed: (error: string) => void }): void {
    const w = cluster.fork({
      [ENV_ARGS]: JSON.stringify(this.o.args),
      [ENV_SLOT]: String(slot.id),
      ...(this.o.http ? { [ENV_HTTP]: JSON.stringify({ host: this.o.http.host ?? null, port: this.o.http.port }) } : {}),
    });
    slot.worker = w;
    slot.pid = w.process.pid;
    slot.ready = false;
    slot.startedAt = Date.now();
    slot.known = new Set();
    slot.frames = new FrameWriter();
    const chan = w.process.stdio[CHANNEL_FD] as Socket | null;
    slot.chan = chan ?? undefined;
    if (chan) {
      const reader = new FrameReader();
      chan.on("data", (chunk: Buffer) =>
        reader.feed(chunk, (f) => {
          if (f.kind === FrameKind.DATAGRAM) this.sendOut(f.listener, f.payload, f.port, f.address);
        }),
      );
      chan.on("error", () => {}); // the worker died: its 'exit' follows
    }
    let failure: string | undefined;
    let wasReady = false;
    w.on("message", (m: ToPrimary) => {
      switch (m.t) {
        case "ready":
          if (slot.worker !== w) return;
          slot.ready = true;
          wasReady = true;
          this.telemetry ||= m.telemetry;
          if (this.early.length) {
            const held = this.early;
            this.early = [];
            for (const [msg, rinfo, l] of held) this.route(msg, rinfo, l);
          }
          if (this.subscribers.size) this.post(slot, { t: "subscribe", on: true });
          if (first) first.ready();
          else this.log(`tftpkit worker ${slot.id} (pid ${m.pid}) ready`);
          break;
        case "answer": {
          const p = this.pending.get(m.id);
          if (p) {
            this.pending.delete(m.id);
            clearTimeout(p.timer);
            p.resolve(m.v);
          }
          break;
        }
        case "failed":
          failure = m.error;
          break;
        case "events":
          for (const e of m.d as ServerEvent[]) {
            const tagged = tagEvent(e, slot.id);
            for (const fn of this.subscribers) {
              try {
                fn(tagged);
              } catch {
                // A throwing listener must not take the primary down.
              }
            }
          }
          break;
        default:
          break;
      }
    });
    w.on("error", () => {});
    w.on("exit", (code, signal) => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      slot.ready = false;
      if (slot.lastStats) {
        const s = { ...slot.lastStats, sessionsActive: 0 };
        this.retired = this.retired ? addStats(this.retired, s) : s;
        slot.lastStats = undefined;
      }
      if (slot.lastMetrics) {
        const kept = withoutGauges(slot.lastMetrics);
        this.retiredMetrics = this.retiredMetrics ? mergePrometheus([this.retiredMetrics, kept]) : kept;
        slot.lastMetrics = undefined;
      }
      if (this.stopping) {
        if (this.slots.every((s) => !s.worker)) this.exited?.();
        return;
      }
      if (first && !wasReady) {
        // A worker that cannot start at all: the start fails with its reason.
        first.failed(failure ?? `worker ${slot.id} exited before it was ready (${signal ? `signal ${signal}` : `code ${code}`})`);
        return;
      }
      const how = signal ? `signal ${signal}` : `code ${code}`;
      const quick = Date.now() - slot.startedAt < 5000;
      slot.quickDeaths = quick ? slot.quickDeaths + 1 : 0;
      const delay = Math.min(5000, 100 * 2 ** Math.max(0, slot.quickDeaths - 1));
      this.log(`tftpkit worker ${slot.id} (pid ${slot.pid}) exited (${how})${failure ? `: ${failure}` : ""}; starting it again in ${delay} ms`);
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (this.stopping) return;
        slot.restarts++;
        this.fork(slot);
      }, delay);
    });
  }

  /** The slot serving this client: its own, or while that one is down the next live one. */
  private slotFor(address: string): Slot | undefined {
    const n = this.slots.length;
    const start = n === 1 ? 0 : addressHash(address) % n;
    for (let k = 0; k < n; k++) {
      const s = this.slots[(start + k) % n];
      if (s.ready) return s;
    }
    return undefined;
  }

  /**
   * A connection to the HTTP stage, accepted by the primary: handed to the
   * worker that owns the client's address, as its datagrams are, so that
   * its HTTP requests join the same boot flow and trace. Closed when no
   * worker is up.
   */
  acceptHttp(sock: Socket): void {
    const slot = this.slotFor(sock.remoteAddress ?? "");
    if (!slot?.worker || this.stopping) {
      sock.destroy();
      return;
    }
    try {
      slot.worker.send({ t: "http" } satisfies ToWorker, sock, (err: Error | null) => {
        if (err) sock.destroy();
      });
    } catch {
      sock.destroy();
    }
  }

  private route(msg: Buffer, rinfo: RemoteInfo, l: Listener): void {
    const slot = this.slotFor(rinfo.address);
    if (!slot) {
      // No worker is up yet (the start, or every one died at once): held until one is.
      if (this.early.length < EARLY_MAX && !this.stopping) this.early.push([msg, rinfo, l]);
      else this.dropped++;
      return;
    }
    const chan = slot.chan;
    if (!chan || chan.writableLength > MAX_UNSENT_BYTES) {
      this.dropped++;
      return;
    }
    const f = slot.frames;
    if (f.empty) setImmediate(() => this.flush(slot, chan));
    if (!this.byId.has(l.id)) this.byId.set(l.id, l);
    if (!slot.known.has(l.id)) {
      slot.known.add(l.id);
      f.push(FrameKind.LISTENER, l.id, l.port, 0, l.local ?? "", EMPTY);
    }
    f.push(FrameKind.DATAGRAM, l.id, rinfo.port, rinfo.family === "IPv6" ? 6 : 4, rinfo.address, msg);
  }

  /** Writes this turn's frames to the worker's channel (one write). */
  private flush(slot: Slot, chan: Socket): void {
    const bytes = slot.frames.take();
    if (!bytes || slot.chan !== chan || chan.destroyed) return;
    chan.write(bytes);
  }

  private post(slot: Slot, m: ToWorker): void {
    try {
      slot.worker?.send(m);
    } catch {
      // The worker is gone: its 'exit' follows.
    }
  }

  /** Sends what a worker answered through a listening socket. */
  private sendOut(listener: number, packet: Buffer, port: number, address: string): void {
    const l = this.byId.get(listener);
    if (!l) return;
    try {
      l.socket.send(packet, port, address);
    } catch {
      // The listener closed (address gone, shutting down).
    }
  }

  /** Asks every live worker; a worker that does not answer in time gives undefined. */
  private ask<T>(q: Question, arg?: unknown, timeoutMs = QUESTION_TIMEOUT_MS): Promise<Array<{ slot: Slot; v: T | undefined }>> {
    return Promise.all(
      this.slots
        .filter((s) => s.ready && s.worker)
        .map(
          (slot) =>
            new Promise<{ slot: Slot; v: T | undefined }>((resolve) => {
              const id = this.nextQuestion++;
              const timer = setTimeout(() => {
                this.pending.delete(id);
                resolve({ slot, v: undefined });
              }, timeoutMs);
              timer.unref();
              this.pending.set(id, { resolve: (v) => resolve({ slot, v: v as T }), timer });
              this.post(slot, { t: "ask", id, q, arg });
            }),
        ),
    );
  }

  /** Server-wide counters: every live worker's, plus those of workers that have died. */
  async stats(): Promise<ServerStats> {
    const answers = await this.ask<ServerStats>("stats");
    let total = this.retired ? { ...this.retired, outcomes: { ...this.retired.outcomes } } : undefined;
    for (const slot of this.slots) {
      const a = answers.find((x) => x.slot === slot);
      if (a?.v) slot.lastStats = a.v;
      if (slot.worker && slot.lastStats) total = total ? addStats(total, slot.lastStats) : slot.lastStats;
    }
    return total ?? emptyServerStats();
  }

  /**
   * The workers' Prometheus metrics as one exposition (undefined when
   * metrics are off). Counters of workers that died are kept as of their
   * last scrape.
   */
  async metrics(): Promise<string | undefined> {
    const texts: string[] = this.retiredMetrics ? [this.retiredMetrics] : [];
    let any = false;
    for (const a of await this.ask<string>("metrics")) {
      if (typeof a.v !== "string") continue;
      a.slot.lastMetrics = a.v;
      texts.push(a.v);
      any = true;
    }
    return any ? mergePrometheus(texts) : undefined;
  }

  /** Sessions running now in every worker (`worker` = its slot). */
  async sessions(): Promise<LiveSession[]> {
    const out: LiveSession[] = [];
    for (const a of await this.ask<LiveSession[]>("sessions")) for (const s of a.v ?? []) out.push(tagSession(s, a.slot.id));
    return out.sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Boot flows of every worker, newest first (a client's flows are all in one worker). */
  async flows(q: FlowQuery = {}): Promise<BootFlow[]> {
    const out: BootFlow[] = [];
    for (const a of await this.ask<BootFlow[]>("flows", q)) out.push(...(a.v ?? []));
    out.sort((a, b) => b.startedAt - a.startedAt);
    return out.slice(0, q.limit ?? 100);
  }

  async summary(): Promise<SessionSummary> {
    return mergeSummaries((await this.ask<SessionSummary>("summary")).map((a) => a.v).filter((v): v is SessionSummary => !!v));
  }

  /** Every worker's session and flow events; workers send them only while someone listens here. */
  subscribe(fn: ServerEventListener): () => void {
    this.subscribers.add(fn);
    if (this.subscribers.size === 1) for (const s of this.slots) if (s.ready) this.post(s, { t: "subscribe", on: true });
    return () => {
      if (!this.subscribers.delete(fn) || this.subscribers.size > 0) return;
      for (const s of this.slots) if (s.ready) this.post(s, { t: "subscribe", on: false });
    };
  }

  /** Every worker reads its configuration again; ok when all did. */
  async reload(): Promise<ReloadAnswer & { workers: number }> {
    const answers = await this.ask<ReloadAnswer>("reload", undefined, 30_000);
    const failed = answers.find((a) => !a.v?.ok);
    const fixed = answers.find((a) => a.v?.fixed?.length)?.v?.fixed;
    if (failed) return { ok: false, error: failed.v?.error ?? `worker ${failed.slot.id} did not answer`, workers: answers.length };
    return { ok: true, fixed, workers: answers.length };
  }

  workers(): WorkerInfo[] {
    return this.slots.map((s) => ({ id: s.id, pid: s.worker ? s.pid : undefined, ready: s.ready, restarts: s.restarts }));
  }

  address(): BoundAddress {
    return this.listeners.address();
  }

  addresses(): BoundAddress[] {
    return this.listeners.addresses();
  }

  receiveBuffer(): ReceiveBuffer | undefined {
    return this.listeners.receiveBuffer();
  }

  private cancelRestarts(): void {
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
    }
  }

  /**
   * Drains without stopping: every worker stops accepting and gives running
   * sessions `graceMs`; the workers stay up (their flows and counters can
   * still be read) and are not replaced if they die. Then the listeners
   * close. close() ends the workers.
   */
  async drain(opts: { graceMs?: number } = {}): Promise<void> {
    const graceMs = opts.graceMs ?? 0;
    this.stopping = true;
    this.cancelRestarts();
    await this.ask("drain", graceMs, graceMs + 10_000);
    await this.listeners.close();
  }

  /**
   * Drains: every worker stops accepting and gives running sessions
   * `graceMs` (their packets are still routed meanwhile), then exits; a
   * worker still there 5 s after that is killed. Then the listeners close.
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    const graceMs = opts.graceMs ?? 0;
    this.stopping = true;
    this.cancelRestarts();
    const gone = new Promise<void>((resolve) => {
      if (this.slots.every((s) => !s.worker)) resolve();
      else this.exited = resolve;
    });
    for (const s of this.slots) this.post(s, { t: "drain", graceMs });
    const kill = setTimeout(() => {
      for (const s of this.slots) s.worker?.kill("SIGKILL");
    }, graceMs + 5000);
    await gone;
    clearTimeout(kill);
    await this.listeners.close();
  }
}
