// Every core: a primary process and N worker processes (node:cluster).
//
// The primary owns the listening sockets (UdpListeners: a receive buffer as
// large as the kernel allows, one socket per interface address) and routes
// every datagram by the client's IP address to one worker (routing.ts), so
// that one machine's sessions run in the same worker for the life of its
// boot flow: its flow and its tftp.boot trace stay in one TftpServer. A
// worker runs sessions with its own WebAssembly scheduler, on session
// sockets of its own; in single-port mode its answers leave through the
// primary's listening socket (channel.ts).
//
// A worker that dies is started again (within ~0.1 s, backing off to 5 s if
// it keeps dying at once); its machines move to live workers. Only the dead
// worker's running sessions are lost. Workers report their counters every
// second and at a clean exit, so stats() and metrics() keep a dead worker's
// traffic as of its last report (at most about a second is lost) and never
// go backwards. Session starts ask the primary's ledger (ledger.ts), which
// holds --max-sessions and --max-sessions-per-client across every worker.

import cluster, { type Worker } from "node:cluster";
import type { RemoteInfo } from "node:dgram";
import type { Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  BootFlow, BoundAddress, FlowQuery, ListenOptions, LiveSession, ReceiveBuffer,
  ServerEvent, ServerEventListener, ServerStats, SessionSummary,
} from "@tftpkit/server";
import { UdpListeners, type Listener } from "@tftpkit/server/internal";
import {
  ENV_ADMISSION, ENV_ARGS, ENV_HTTP, ENV_REPORT, ENV_SLOT, ENV_WORKERS,
  type WorkerArgs, type Question, type ReloadAnswer, type ToPrimary, type ToWorker,
} from "./protocol.js";
import { FlowTable, NOWHERE, WaitQueue, type FlowTableOptions } from "./routing.js";
import { SessionLedger, type SessionLimits } from "./ledger.js";
import { WorkerRecords } from "./records.js";
import { CHANNEL_FD, FrameKind, FrameReader, FrameWriter, WORKER_STDIO } from "./channel.js";
import { V8_FLAGS } from "./flags.js";
import { WARM_LISTENER_ID, warmPath, type WarmPathHost, type WarmPathReport, type WarmSlot } from "./warm-path.js";

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
  /** The flow table: how long a machine stays on its worker without a datagram, how many are kept, how long a datagram waits for a worker. */
  routing?: Partial<FlowTableOptions>;
  /** Server-wide session limits held by the primary (none: each worker applies its own). */
  limits?: SessionLimits;
  /** Workers report sessions, flows, summary and metrics too (an admin API reads them), not only their counters. */
  fullReports?: boolean;
  /** The primary's warm-up of its datagram path while the workers start (warm-path.ts), at most this long (0, the default: none). */
  warmUpMs?: number;
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
  index: number;
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
  /** Writes this turn's frames to the channel (one write; scheduled with setImmediate by the first frame of a turn). */
  flush: () => void;
  restartTimer: NodeJS.Timeout | undefined;
  /** Datagrams waiting for this worker to be ready (routing.ts), each sender's same bytes once. */
  waiting: WaitQueue<RemoteInfo, Listener>;
  waitTimer: NodeJS.Timeout | undefined;
}

/** Datagrams for one worker are dropped while this many bytes wait unwritten in its channel (the worker is not keeping up). */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;
const QUESTION_TIMEOUT_MS = 3000;
/** How long after a read of the sessions or flows an admin client counts as watching them (workers then report their lists more often). */
export const WATCH_MS = 60_000;
/** Flow table defaults (the flow idle time and flows kept are the server's own --flow-idle-seconds and --flows-max). */
export const ROUTING_DEFAULTS: FlowTableOptions = { idleMs: 60_000, max: 100_000, waitMs: 3000, waitMax: 4096 };

function workerEntry(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "cluster-worker.js");
}

/** Adds the worker's slot number to a session row (ids stay the worker's own: the handler saw them). */
function tagSession(s: LiveSession, worker: number): LiveSession {
  return { ...s, worker };
}

function tagEvent(e: ServerEvent, worker: number): ServerEvent {
  return e.type === "flow" ? e : { ...e, session: tagSession(e.session, worker) };
}

/** Writes the frames a slot's writer holds to its channel (one write); dropped when the channel is gone. */
function flushFrames(slot: { frames: FrameWriter; chan: Socket | undefined }): void {
  const bytes = slot.frames.take();
  const chan = slot.chan;
  if (bytes && chan && !chan.destroyed) chan.write(bytes);
}

/**
 * A worker slot. The warm-up's slots are made here too: objects of one shape
 * and flush functions made at one place, so that the code the JIT compiled
 * for them during the warm-up stays valid for the real slots.
 */
function newSlot(id: number, index: number): Slot {
  const slot: Slot = {
    id, index, worker: undefined, pid: undefined, ready: false, startedAt: 0, restarts: 0, quickDeaths: 0,
    known: new Set(), chan: undefined, frames: new FrameWriter(), flush: () => flushFrames(slot), restartTimer: undefined, waiting: new WaitQueue(), waitTimer: undefined,
  };
  return slot;
}

export class TftpCluster {
  private readonly slots: Slot[] = [];
  private readonly listeners: UdpListeners;
  private readonly byId = new Map<number, Listener>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; timer: NodeJS.Timeout }>();
  private nextQuestion = 1;
  /** The workers' counters and lists, kept of those that died. */
  private readonly records = new WorkerRecords();
  private readonly table: FlowTable;
  private readonly ledger: SessionLedger | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private readonly subscribers = new Set<ServerEventListener>();
  private stopping = false;
  /** Until when an admin client counts as watching the sessions and flows (the last read + WATCH_MS). */
  private watchUntil = 0;
  private watchTimer: NodeJS.Timeout | undefined;
  /** What the workers were told of the watch. */
  private watchOn = false;
  private exited: (() => void) | undefined;
  private readonly log: (line: string) => void;
  /** What the workers' telemetry exports (the first ready worker's start-up line). */
  telemetry = "";
  /** Datagrams dropped in the primary: no live worker, or one too far behind. */
  dropped = 0;
  /** Datagrams that reached the primary again while a copy waited for a worker (WaitQueue): counted as duplicate requests in stats(). */
  repeatsWhileWaiting = 0;

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
    for (let i = 1; i <= o.workers; i++) this.slots.push(newSlot(i, i - 1));
    this.table = new FlowTable(this.slots, { ...ROUTING_DEFAULTS, ...o.routing });
    this.ledger = o.limits
      ? new SessionLedger(o.limits, o.workers, {
          admit: (i, ids, ok, credit) => this.post(this.slots[i], { t: "admit", ids, ok, credit }),
          reclaim: (i) => this.post(this.slots[i], { t: "reclaim" }),
        })
      : undefined;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      this.table.sweep(now);
      this.records.sweep(now);
    }, 1000);
    this.sweeper.unref();
  }

  /** New flow table bounds and session limits (a reload). */
  configure(o: { routing?: Partial<FlowTableOptions>; limits?: SessionLimits }): void {
    if (o.routing) this.table.configure(o.routing);
    const ledger = this.ledger;
    if (o.limits && ledger) {
      const was = ledger.limiting;
      ledger.configure(o.limits);
      if (ledger.limiting !== was) for (const s of this.slots) this.post(s, { t: "gate", on: ledger.limiting });
    }
  }

  /** Machines in the flow table now, and how many moved to another worker (waited too long, or their worker died). */
  routing(): { machines: number; moved: number } {
    return { machines: this.table.size, moved: this.table.moved };
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
    const execArgv = [...process.execArgv, ...V8_FLAGS.filter((f) => !process.execArgv.includes(f))];
    cluster.setupPrimary({ exec: workerEntry(), execArgv, serialization: "advanced", stdio: [...WORKER_STDIO] });
    // The primary warms its own path while the workers start; their readiness ends it.
    const warm = new AbortController();
    const warming = this.warmUp(this.o.warmUpMs ?? 0, warm.signal);
    const started = new Promise<void>((resolve, reject) => {
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
    return started.finally(() => {
      warm.abort();
      return warming;
    });
  }

  /** What the last warm-up of the primary's path did (undefined before one ran). */
  warmUpReport: WarmPathReport | undefined;

  /**
   * Runs the primary's datagram path over private loopback sockets for up
   * to `budgetMs` (warm-path.ts); start() does it while the workers start.
   */
  async warmUp(budgetMs: number, signal?: AbortSignal): Promise<WarmPathReport> {
    const host: WarmPathHost = {
      deliver: (slot, msg, rinfo, l) => this.deliver(slot, msg, rinfo, l),
      sendOut: (listener, packet, port, address) => this.sendOut(listener, packet, port, address),
      register: (l) => {
        if (l) this.byId.set(WARM_LISTENER_ID, l);
        else this.byId.delete(WARM_LISTENER_ID);
      },
      slot: (index, chan) => {
        const slot = newSlot(0, index);
        slot.ready = true;
        slot.chan = chan;
        return slot;
      },
    };
    this.warmUpReport = await warmPath(host, budgetMs, signal);
    return this.warmUpReport;
  }

  private fork(slot: Slot, first?: { ready: () => void; failed: (error: string) => void }): void {
    const w = cluster.fork({
      [ENV_ARGS]: JSON.stringify(this.o.args),
      [ENV_SLOT]: String(slot.id),
      ...(this.o.http ? { [ENV_HTTP]: JSON.stringify({ host: this.o.http.host ?? null, port: this.o.http.port }) } : {}),
      [ENV_WORKERS]: String(this.slots.length),
      [ENV_ADMISSION]: this.ledger?.limiting ? "1" : "",
      [ENV_REPORT]: this.o.fullReports ? "1" : "",
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
          this.release(slot);
          if (this.subscribers.size) this.post(slot, { t: "subscribe", on: true });
          if (this.watchOn) this.post(slot, { t: "watch", on: true });
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
        case "report":
          if (slot.worker === w) this.records.report(slot.id, m.r);
          break;
        case "acquire": {
          const ledger = this.ledger;
          if (!ledger || slot.worker !== w) break;
          ledger.request(slot.index, m.ids, m.clients);
          break;
        }
        case "release":
          if (slot.worker === w) this.ledger?.release(slot.index, m.clients, m);
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
      this.ledger?.clear(slot.index);
      this.records.retire(slot.id);
      // Its machines move to live workers and stay there (their datagrams waiting for it too).
      this.table.evacuate(slot.index);
      if (!this.stopping) this.release(slot);
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

  /** Datagrams that waited for a slot go where their machines are now (the slot is ready, or their machines moved). */
  private release(slot: Slot): void {
    if (slot.waitTimer) clearTimeout(slot.waitTimer);
    slot.waitTimer = undefined;
    for (const [msg, rinfo, l] of slot.waiting.take()) this.route(msg, rinfo, l);
  }

  /** The wait bound of a slot passed: its waiting machines move to live workers (or keep waiting if none is). */
  private expire(slot: Slot): void {
    slot.waitTimer = undefined;
    for (const [msg, rinfo, l] of slot.waiting.take()) {
      const r = this.table.expire(rinfo.address, slot.index);
      if (r && "deliver" in r) this.deliver(this.slots[r.deliver], msg, rinfo, l);
      else this.hold(this.slots[r ? r.wait : slot.index], msg, rinfo, l);
    }
  }

  private hold(slot: Slot, msg: Buffer, rinfo: RemoteInfo, l: Listener): void {
    if (this.stopping || slot.waiting.length >= this.table.options.waitMax) {
      this.dropped++;
      return;
    }
    if (!slot.waiting.add(msg, rinfo, l)) this.repeatsWhileWaiting++;
    if (!slot.waitTimer) {
      slot.waitTimer = setTimeout(() => this.expire(slot), this.table.options.waitMs);
      slot.waitTimer.unref();
    }
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

  /** The worker a client's HTTP connection goes to: the one its datagrams go to (a live one while that one starts). */
  private slotFor(address: string): Slot | undefined {
    const r = this.table.route(address, Date.now(), () => 0);
    if (r === undefined) return undefined;
    const slot = this.slots["wait" in r ? r.wait : r.deliver];
    return slot.ready ? slot : this.slots.find((s) => s.ready);
  }

  /** Datagrams waiting for a slot (FlowTable.place reads it only when the slot is not ready). */
  private readonly waitingFor = (i: number): number => this.slots[i].waiting.length;

  private route(msg: Buffer, rinfo: RemoteInfo, l: Listener): void {
    const c = this.table.place(rinfo.address, Date.now(), this.waitingFor);
    if (c >= 0) this.deliver(this.slots[c], msg, rinfo, l);
    else if (c === NOWHERE) this.dropped++; // no live worker and too many waiting already
    else this.hold(this.slots[-1 - c], msg, rinfo, l);
  }

  private deliver(slot: Slot | WarmSlot, msg: Buffer, rinfo: RemoteInfo, l: Listener): void {
    const chan = slot.chan;
    if (!chan || chan.writableLength > MAX_UNSENT_BYTES) {
      this.dropped++;
      return;
    }
    const f = slot.frames;
    if (f.empty) setImmediate(slot.flush);
    if (!slot.known.has(l.id)) {
      slot.known.add(l.id);
      if (!this.byId.has(l.id)) this.byId.set(l.id, l);
      f.pushListener(l.id, l.port, l.local ?? "");
    }
    f.push(FrameKind.DATAGRAM, l.id, rinfo.port, rinfo.family === "IPv6" ? 6 : 4, rinfo.address, msg);
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

  /** Server-wide counters: every live worker's now (or as of its last report), plus those of workers that have died. */
  async stats(): Promise<ServerStats> {
    for (const a of await this.ask<ServerStats>("stats")) if (a.v && a.slot.worker) this.records.answeredStats(a.slot.id, a.v);
    const stats = this.records.stats();
    stats.duplicateRequests += this.repeatsWhileWaiting;
    return stats;
  }

  /**
   * The workers' Prometheus metrics as one exposition (undefined when
   * metrics are off). Counters of workers that died are kept as of their
   * last report.
   */
  async metrics(): Promise<string | undefined> {
    for (const a of await this.ask<string>("metrics")) if (typeof a.v === "string" && a.slot.worker) this.records.answeredMetrics(a.slot.id, a.v);
    return this.records.metrics();
  }

  /** Whether an admin client watches the sessions or flows: it read them in the last WATCH_MS, or listens to the events. */
  get watching(): boolean {
    return this.watchOn;
  }

  /**
   * A read of the sessions or flows (or a listener of the events): while an
   * admin client watches, workers report their lists as often as their cost
   * allows, otherwise every 10 s (ListsPacer in cluster-worker.ts).
   */
  private watch(): void {
    this.watchUntil = Date.now() + WATCH_MS;
    this.updateWatch();
  }

  private updateWatch(): void {
    const on = this.subscribers.size > 0 || Date.now() < this.watchUntil;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    if (on && this.subscribers.size === 0) {
      this.watchTimer = setTimeout(() => this.updateWatch(), Math.max(1, this.watchUntil - Date.now()));
      this.watchTimer.unref();
    }
    if (on === this.watchOn) return;
    this.watchOn = on;
    for (const s of this.slots) if (s.ready) this.post(s, { t: "watch", on });
  }

  /** Sessions running now in every worker (`worker` = its slot), then those of workers that died as of their last report (`lost: true`). */
  async liveSessions(): Promise<LiveSession[]> {
    this.watch();
    const out: LiveSession[] = [];
    for (const a of await this.ask<LiveSession[]>("sessions")) for (const s of a.v ?? []) out.push(tagSession(s, a.slot.id));
    out.sort((a, b) => a.startedAt - b.startedAt);
    out.push(...this.records.lostSessions());
    return out;
  }

  /** Boot flows of every worker, newest first, those of workers that died as of their last report (`lost: true`). */
  async flows(q: FlowQuery = {}): Promise<BootFlow[]> {
    this.watch();
    const out: BootFlow[] = [];
    for (const a of await this.ask<BootFlow[]>("flows", q)) out.push(...(a.v ?? []));
    out.push(...this.records.lostFlows(q));
    out.sort((a, b) => b.startedAt - a.startedAt);
    return out.slice(0, q.limit ?? 100);
  }

  async summary(): Promise<SessionSummary> {
    return this.records.summary((await this.ask<SessionSummary>("summary")).map((a) => a.v).filter((v): v is SessionSummary => !!v));
  }

  /** Every worker's session and flow events; workers send them only while someone listens here. */
  subscribe(fn: ServerEventListener): () => void {
    this.subscribers.add(fn);
    if (this.subscribers.size === 1) for (const s of this.slots) if (s.ready) this.post(s, { t: "subscribe", on: true });
    this.updateWatch();
    return () => {
      if (!this.subscribers.delete(fn) || this.subscribers.size > 0) return;
      for (const s of this.slots) if (s.ready) this.post(s, { t: "subscribe", on: false });
      // The stream's watcher counts as one who just read the lists.
      this.watch();
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
    clearInterval(this.sweeper);
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
    }
  }

  /**
   * The server is stopping: a worker that exits from now on is not started
   * again. Called first on SIGTERM/SIGINT, before the drain is logged and
   * begun: a signal sent to the whole process group (Ctrl-C, systemd's
   * control-group kill) reaches the workers too, and they drain and exit
   * on their own while the primary is still counting their sessions.
   */
  windDown(): void {
    this.stopping = true;
    this.cancelRestarts();
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
