// A cluster worker: a TftpServer of its own (its own WebAssembly scheduler,
// file cache, handler module and telemetry SDK) that serves the requests the
// primary routes to it (serveRelayed/receive). Its session sockets are its
// own; in single-port mode its answers go out through the primary.
//
// Started by the primary (cluster.ts) with the parsed flags in
// TFTPKIT_CLUSTER_VALUES; reads the configuration itself, like the
// single-process command, and again on each reload.

import cluster from "node:cluster";
import type { RemoteInfo } from "node:dgram";
import { Socket } from "node:net";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import {
  HttpStage, SERVER_DEFAULTS, createServer,
  type Admission, type FlowQuery, type RelayListener, type ServerEvent, type ServerOptions, type TftpServer, type WarmUpFront,
} from "@tftpkit/server";
import { parseAdminAddress } from "../admin/admin.js";
import { resolveConfig } from "../config/settings.js";
import type { Config } from "../config/config.js";
import {
  ENV_ADMISSION, ENV_ARGS, ENV_HTTP, ENV_REPORT, ENV_SLOT, ENV_WORKERS, REPORT_INTERVAL_MS, REPORT_MAX_FLOWS, REPORT_MAX_SESSIONS,
  type Report, type ReloadAnswer, type ToPrimary, type ToWorker, type WorkerArgs,
} from "./protocol.js";
import { CHANNEL_FD, FrameKind, FrameReader, FrameWriter, privateStreamPair, type Frame, type StreamPair } from "./channel.js";
import { udp } from "./warm-path.js";
import { LineWriter } from "../observe/log-writer.js";
import { buildServerOptions } from "../config/serve-options.js";
import { startTelemetry, type Telemetry } from "../observe/telemetry.js";
import { SessionLog, warmUpHooks } from "../observe/warm-up-hooks.js";

/** Keys a reload cannot change in a running server. */
export const FIXED_KEYS = ["host", "port", "singlePort", "admin", "http", "httpMaxHeaderBytes", "user", "group", "traceConsole", "workers", "recvBufferBytes"] as const;

export function changedFixedKeys(before: Config, after: Config): string[] {
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  return FIXED_KEYS.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

function post(m: ToPrimary): void {
  try {
    process.send?.(m);
  } catch {
    // The channel is gone: the primary died; 'disconnect' drains us.
  }
}

/**
 * Datagrams framed into a stream socket, written once per event-loop turn:
 * a worker's answers for the primary's listening sockets (its channel), or
 * the warm-up's requests for the worker's intake (warmUpFront).
 */
class Outbox {
  private readonly frames = new FrameWriter();

  constructor(private readonly chan: Socket) {}

  push(listener: number, packet: Uint8Array, port: number, address: string): void {
    // Copied into the frame slab: the session reuses its packet buffers.
    if (this.frames.empty) setImmediate(this.flush);
    this.frames.push(FrameKind.DATAGRAM, listener, port, 0, address, packet);
  }

  readonly flush = (): void => {
    const bytes = this.frames.take();
    if (bytes && !this.chan.destroyed) this.chan.write(bytes);
  };
}

/** The server's events to the primary, while it has subscribers, in one IPC message per event-loop turn. */
class EventRelay {
  private unsubscribe: (() => void) | undefined;
  private batch: ServerEvent[] = [];

  constructor(private readonly server: TftpServer) {}

  subscribe(on: boolean): void {
    if (on && !this.unsubscribe) {
      this.unsubscribe = this.server.subscribe((e) => {
        if (this.batch.length === 0) setImmediate(this.flush);
        this.batch.push(e);
      });
    } else if (!on && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  private readonly flush = (): void => {
    const d = this.batch;
    this.batch = [];
    if (d.length) post({ t: "events", d });
  };
}

/**
 * Credits the warm-up's gate grants itself at most: fewer than the
 * warm-up's sessions at once, so that its session starts take both ways a
 * real one can, a credit and an ask.
 */
const WARM_UP_CREDITS = 8;

/**
 * The primary's session ledger seen from a worker (ledger.ts): a session
 * start uses a credit the primary granted, or asks (the starts of one
 * event-loop turn in one message); the end of a session admitted on request
 * is told, that of a credit session gives the credit back to this worker
 * (or, after a reclaim, to the primary). Packets of running sessions never
 * ask.
 */
class PrimaryGate implements Admission {
  /** Sessions started without asking (while the primary holds no limit), by client: their ends are not told. */
  private readonly uncounted = new Map<string, number>();
  /** Sessions admitted on credit, by client. */
  private readonly onCredit = new Map<string, number>();
  /** Unused credits. */
  private credit = 0;
  /** Whether a credit session's end makes a credit again (false after a reclaim, until the next grant). */
  private reuse = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (ok: boolean) => void>();
  private ids: number[] = [];
  private clients = strings();
  private released = strings();
  private returned = 0;
  private freed = 0;
  private reclaimed = false;
  private scheduled = false;
  /** Credits granted so far when this gate answers its own asks (the warm-up's). */
  private granted = 0;

  /**
   * @param on whether the primary holds a limit now (without one, no session start asks)
   * @param selfAnswer the warm-up's gate: it never asks the primary but answers its own asks
   */
  constructor(
    public on: boolean,
    private readonly selfAnswer = false,
  ) {}

  /**
   * A gate of the same class for the warm-up, that never asks the primary:
   * with `on`, its asks are answered by itself a turn later (admitted, with
   * credits up to WARM_UP_CREDITS), so that the warm-up runs the ways a real
   * session start and end take (ask, credit, the end of each), not the one
   * of a server without a limit.
   */
  static forWarmUp(on: boolean): PrimaryGate {
    return new PrimaryGate(on, true);
  }

  acquire(client: string): boolean | Promise<boolean> {
    if (!this.on) {
      inc(this.uncounted, client);
      return true;
    }
    if (this.credit > 0) {
      this.credit--;
      inc(this.onCredit, client);
      return true;
    }
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, resolve);
      this.ids.push(id);
      this.clients.push(client);
      this.schedule();
    });
  }

  release(client: string): void {
    if (dec(this.uncounted, client)) return;
    if (dec(this.onCredit, client)) {
      if (this.reuse) this.credit++;
      else {
        this.freed++;
        this.schedule();
      }
      return;
    }
    this.released.push(client);
    this.schedule();
  }

  /** The primary's answers, and credits. */
  admit(ids: number[], ok: boolean[], credit: number): void {
    if (credit > 0) {
      this.credit += credit;
      this.reuse = true;
    }
    for (let i = 0; i < ids.length; i++) {
      const resolve = this.waiting.get(ids[i]);
      if (!resolve) continue;
      this.waiting.delete(ids[i]);
      resolve(ok[i] === true);
    }
  }

  /** The primary needs its credits back. */
  reclaim(): void {
    this.returned += this.credit;
    this.credit = 0;
    this.reuse = false;
    this.reclaimed = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  readonly flush = (): void => {
    this.scheduled = false;
    // The warm-up's gate (selfAnswer) answers as the ledger would: what ended is forgotten, every
    // ask admitted a turn later, with credits up to WARM_UP_CREDITS.
    if (this.released.length || this.returned || this.freed || this.reclaimed) {
      if (!this.selfAnswer) post({ t: "release", clients: this.released, returned: this.returned, freed: this.freed, reclaimed: this.reclaimed });
      this.released = strings();
      this.returned = this.freed = 0;
      this.reclaimed = false;
    }
    const ids = this.ids;
    if (ids.length) {
      if (!this.selfAnswer) post({ t: "acquire", ids, clients: this.clients });
      else {
        const credit = Math.max(0, WARM_UP_CREDITS - this.granted);
        this.granted += credit;
        setImmediate(() => this.admit(ids, ids.map(() => true), credit));
      }
      this.ids = [];
      this.clients = strings();
    }
  };
}

/**
 * Empty arrays made in the kind they end as (holding strings, or objects):
 * an empty literal starts as an array of small integers, and the code
 * compiled for the warm-up's arrays (already changed by their first
 * element) did not fit the real gate's and intake's first ones.
 */
function strings(): string[] {
  return [""].slice(1);
}

function frames(): Frame[] {
  return [null as unknown as Frame].slice(1);
}

function inc(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Takes one off k's count; false when it had none. */
function dec(m: Map<string, number>, k: string): boolean {
  const n = m.get(k) ?? 0;
  if (n <= 0) return false;
  if (n === 1) m.delete(k);
  else m.set(k, n - 1);
  return true;
}

/**
 * A worker's share of the per-server bounds that are memory or sockets: the
 * session buffer budget, the file cache, the session socket pool and the boot
 * flows kept are split evenly, so N workers together hold what one process
 * would (0, no limit, stays 0).
 */
export function workerShare(o: ServerOptions, workers: number): ServerOptions {
  if (workers <= 1) return o;
  const floor = (v: number): number => (v > 0 ? Math.max(1, Math.floor(v / workers)) : v);
  const ceil = (v: number): number => (v > 0 ? Math.ceil(v / workers) : v);
  return {
    ...o,
    sessionBufferBudgetBytes: floor(o.sessionBufferBudgetBytes ?? SERVER_DEFAULTS.sessionBufferBudgetBytes),
    fileCacheBytes: floor(o.fileCacheBytes ?? SERVER_DEFAULTS.fileCacheBytes),
    sessionSocketPool: ceil(o.sessionSocketPool ?? SERVER_DEFAULTS.sessionSocketPool),
    maxFlows: ceil(o.maxFlows ?? SERVER_DEFAULTS.maxFlows),
  };
}

/** The lists' share of the time: a report's lists cost this fraction of the time between them, at most. */
const LISTS_SHARE = 1 / 1000;
/** The longest the lists go without a report, in ms. */
export const LISTS_MAX_INTERVAL_MS = 10_000;

/**
 * When a report carries the live sessions and boot flows: the primary keeps
 * them of a worker that dies (live workers are asked for their lists when
 * an admin client reads them). Those lists are large (up to 200 flows of up
 * to 64 steps each), and building, sending and storing them is work for
 * both processes that no request needs, so:
 *
 * - While no admin client watches them (`watched` false: nobody read the
 *   sessions or flows in the last minute, no live stream), they go every
 *   LISTS_MAX_INTERVAL_MS: a dead worker's lists are at most that old.
 * - While one watches, they go with the first report after they changed (a
 *   session started or ended, an HTTP request; or LISTS_MAX_INTERVAL_MS
 *   passed, since flows also end by idling), and no sooner after the last
 *   than their cost allows: while building and sending them takes under
 *   1 ms, with every report (each second); above that, once per 1,000 times
 *   their cost, at most LISTS_MAX_INTERVAL_MS apart.
 *
 * The first report carries them either way. Counters, summary and metrics
 * go with every report.
 */
export class ListsPacer {
  private lastAt = -Infinity;
  private costMs = 0;
  private mark = "";
  /** Whether an admin client watches the sessions or flows (the primary says so). */
  watched = false;

  private static markOf(s: ServerStatsLike): string {
    return `${s.sessionsStarted}/${s.sessionsOk + s.sessionsFailed + s.probes}/${s.httpRequests}`;
  }

  /** Whether the lists go with a report made at `now` (ms, monotonic). */
  due(now: number, stats: ServerStatsLike): boolean {
    const since = now - this.lastAt;
    if (since >= LISTS_MAX_INTERVAL_MS) return true;
    if (!this.watched || since < this.costMs / LISTS_SHARE) return false;
    return ListsPacer.markOf(stats) !== this.mark;
  }

  /** The lists went at `at`, building and sending them took `costMs`. */
  sent(at: number, costMs: number, stats: ServerStatsLike): void {
    this.lastAt = at;
    this.costMs = costMs;
    this.mark = ListsPacer.markOf(stats);
  }
}

/** The counters ListsPacer looks at (ServerStats has them). */
interface ServerStatsLike {
  sessionsStarted: number;
  sessionsOk: number;
  sessionsFailed: number;
  probes: number;
  httpRequests: number;
}

/** Datagrams held in a worker at most; beyond, new ones are dropped (the kernel would have dropped them too). */
const INTAKE_MAX = 65_536;
/** Datagrams handed to the server per turn of the event loop. */
const INTAKE_SLICE = 64;

/**
 * The datagrams the primary sent, handed to the server a slice per turn of
 * the event loop: one channel read can carry thousands of requests, and
 * starting all their sessions at once would hold back every running
 * session's packets (binds, handler answers, DATA) until the last one had
 * started. The first slice is handed over at once, the rest in the turns
 * after.
 */
class Intake {
  private queue = frames();
  private head = 0; // index into queue
  private scheduled = false;
  private inPump = false;
  dropped = 0;

  /** `relays`: the relay of each listening socket the primary has told of (its frames go to `server`). */
  constructor(
    private readonly server: TftpServer,
    private readonly relays: Map<number, RelayListener>,
  ) {}

  push(f: Frame): void {
    if (this.queue.length - this.head >= INTAKE_MAX) {
      this.dropped++;
      return;
    }
    this.queue.push(f);
  }

  /** After a channel read: start its first slice now, the rest later. */
  run(): void {
    if (!this.scheduled && !this.inPump) this.pump();
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    this.inPump = true;
    let budget = INTAKE_SLICE;
    try {
      while (budget-- > 0 && this.head < this.queue.length) {
        const f = this.queue[this.head];
        this.queue[this.head++] = undefined as unknown as Frame;
        deliver(this.server, this.relays, f);
      }
    } finally {
      this.inPump = false;
    }
    if (this.head >= this.queue.length) {
      this.queue = frames();
      this.head = 0;
    } else {
      if (this.head > 4096) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.scheduled = true;
      setImmediate(this.pump);
    }
  };
}

/** Where a listener's answers go (single-port mode): the primary's listening socket with that id. */
type SendOut = (listener: number, packet: Uint8Array, port: number, address: string) => void;

/**
 * A worker's way in: frames read from a stream socket (FrameReader) wait in
 * an Intake and go to server.receive(), with a relay per listening socket
 * whose answers go to `out`. The real channel and the warm-up's private one
 * (warmUpFront) run this same code, so the JIT compiles the request path for
 * the objects real requests bring: a payload that is a view of a stream
 * read, a sender object made here, a relay listener.
 */
function intakeFrom(chan: Socket, server: TftpServer, out: SendOut): void {
  const relays = new Map<number, RelayListener>();
  const intake = new Intake(server, relays);
  const reader = new FrameReader();
  chan.on("data", (chunk: Buffer) => {
    reader.feed(chunk, (f) => {
      if (f.kind === FrameKind.LISTENER) addRelay(relays, out, f.listener, f.address === "" ? null : f.address, f.port);
      else intake.push(f);
    });
    intake.run();
  });
}

// The two steps of intakeFrom are functions of this module, not closures made
// per intake: the JIT compiles a call of a closure for that closure, and the
// warm-up's intake (warmUpFront) is made before the real one, whose first
// frame would then send the compiled code back to the interpreter.

/** A listening socket the primary told of: its relay, whose answers go to `out`. */
function addRelay(relays: Map<number, RelayListener>, out: SendOut, id: number, local: string | null, port: number): void {
  relays.set(id, { local: local ?? undefined, port, send: (packet, p, address) => out(id, packet, p, address) });
}

/** A datagram the primary sent, to the server, through the relay of the listening socket it came in on. */
function deliver(server: TftpServer, relays: Map<number, RelayListener>, f: Frame): void {
  const relay = relays.get(f.listener);
  if (!relay) return;
  // The keys in node:dgram's order (address, family, port, size).
  const rinfo: RemoteInfo = { address: f.address, family: f.family === 6 ? "IPv6" : "IPv4", port: f.port, size: f.payload.length };
  server.receive(f.payload, rinfo, relay);
}

/** The listener id of the warm-up's private UDP socket in its frames. */
const WARM_UP_LISTENER = 1;

/**
 * The warm-up's requests reach its private server as a worker's real ones
 * do (WarmUpFront): a private UDP socket stands in for the primary's
 * listening socket; each datagram is framed into a private stream socket,
 * once per turn of the event loop, and read back by intakeFrom() into the
 * private server; answers in single-port mode leave through the UDP socket.
 */
export const warmUpFront: WarmUpFront = async (server) => {
  const sock = await udp();
  let pair: StreamPair;
  try {
    pair = await privateStreamPair("warm-up");
  } catch (err) {
    sock.close();
    throw err;
  }
  const { near, far } = pair;
  const port = sock.address().port;
  const hello = new FrameWriter();
  hello.pushListener(WARM_UP_LISTENER, port, "127.0.0.1");
  near.write(hello.take()!);
  const requests = new Outbox(near);
  sock.on("message", (msg, rinfo) => requests.push(WARM_UP_LISTENER, msg, rinfo.port, rinfo.address));
  intakeFrom(far, server, (_id, packet, p, address) => sock.send(packet, p, address));
  return {
    port,
    close: async () => {
      await pair.close();
      await new Promise<void>((r) => sock.close(() => r()));
    },
  };
};

export async function runWorker(): Promise<void> {
  const args = JSON.parse(process.env[ENV_ARGS] ?? "{}") as WorkerArgs;
  const logOf = (c: Config): Config["log"] => (c.log === "off" && args.verbose > 0 ? "text" : c.log);
  const slot = Number(process.env[ENV_SLOT] ?? "0");
  const workers = Math.max(1, Number(process.env[ENV_WORKERS] ?? "1") || 1);
  const gate = new PrimaryGate(process.env[ENV_ADMISSION] === "1");
  const fullReports = process.env[ENV_REPORT] === "1";
  let config: Config;
  let telemetry: Telemetry;
  let server: TftpServer;
  let log: Config["log"];
  try {
    config = await resolveConfig(args);
    log = logOf(config);
    const adminAt = parseAdminAddress(config.admin);
    telemetry = startTelemetry(process.env, { traceConsole: config.traceConsole, prometheus: adminAt !== undefined });
    const logLines = new LineWriter();
    process.once("exit", () => logLines.flush());
    const sessionLog = new SessionLog(logLines, () => log, slot);
    // The HTTP stage's address, bound by the primary (helpers.http of handler modules).
    const httpEnv = process.env[ENV_HTTP] ? (JSON.parse(process.env[ENV_HTTP]) as { host: string | null; port: number }) : undefined;
    const httpAt = httpEnv ? { host: httpEnv.host ?? undefined, port: httpEnv.port } : undefined;
    const extras = {
      onSessionEnd: sessionLog.onSessionEnd, instrumentation: telemetry.instrumentation, http: () => httpAt,
      // The warm-up's gate is of the same kind as the real one but never asks the primary.
      warmUpHooks: warmUpHooks(sessionLog, telemetry, () => PrimaryGate.forWarmUp(gate.on)),
    };
    // Ids of live sessions, flow steps and flows are unique across workers: "w2:17".
    const idPrefix = `w${slot}:`;
    const optionsOf = async (c: Config): Promise<ServerOptions> => ({
      ...workerShare(await buildServerOptions(c, extras), workers),
      idPrefix,
      admission: gate,
    });
    server = createServer(await optionsOf(config));
    // Each worker warms its own JIT before it is ready (the primary holds its datagrams meanwhile).
    await server.warmUp(warmUpFront);
    server.serveRelayed();
    // Connections to the HTTP stage come from the primary (ToWorker "http").
    const stage = httpAt ? new HttpStage(server) : undefined;

    // The datagram channel the primary opened (fd 4): requests in, listening-socket answers out.
    const chan = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
    chan.on("error", () => {}); // the primary went away: 'disconnect' drains us
    const outbox = new Outbox(chan);
    // A worker with no telemetry and no session has nothing but the IPC
    // channel, which does not hold the process: this does, until the drain.
    const alive = setInterval(() => {}, 3_600_000);
    const metricsText = async (): Promise<string | undefined> => {
      const p = telemetry.prometheus;
      if (!p) return undefined;
      const { resourceMetrics } = await p.collect();
      return new PrometheusSerializer().serialize(resourceMetrics);
    };
    // The counters (and with an admin API the summary and metrics) every
    // second, the live sessions and flows as ListsPacer lets (more often
    // while the primary says an admin client watches them), and all of it
    // at a clean exit: what the primary keeps if this worker dies.
    const lists = new ListsPacer();
    const report = async (final = false): Promise<void> => {
      const stats = server.stats();
      const r: Report = { stats };
      if (!fullReports) return post({ t: "report", r });
      r.summary = server.summary();
      r.metrics = await metricsText().catch(() => undefined);
      const now = performance.now();
      if (!final && !lists.due(now, stats)) return post({ t: "report", r });
      r.sessionsJson = JSON.stringify(server.liveSessions().slice(0, REPORT_MAX_SESSIONS));
      r.flowsJson = JSON.stringify(server.flows({ limit: REPORT_MAX_FLOWS }));
      post({ t: "report", r });
      lists.sent(now, performance.now() - now, stats);
    };
    const reporter = setInterval(() => void report(), REPORT_INTERVAL_MS);
    reporter.unref();
    let draining: Promise<void> | undefined;
    const drain = (graceMs: number): Promise<void> => {
      draining ??= (async () => {
        clearInterval(alive);
        await Promise.all([stage?.close({ graceMs }), server.close({ graceMs })]);
        outbox.flush();
        gate.flush();
        clearInterval(reporter);
        await report(true).catch(() => {});
        await telemetry.shutdown().catch(() => {});
        // The last report leaves before the exit.
        await new Promise<void>((resolve) => {
          try {
            if (process.send) process.send({ t: "events", d: [] } satisfies ToPrimary, () => resolve());
            else resolve();
          } catch {
            resolve();
          }
          setTimeout(resolve, 1000).unref();
        });
        process.exit(0);
      })();
      return draining;
    };
    const reload = async (): Promise<ReloadAnswer> => {
      try {
        const next = await resolveConfig(args);
        server.reconfigure(await optionsOf({ ...next, singlePort: config.singlePort }));
        const fixed = changedFixedKeys(config, next);
        config = next;
        log = logOf(next);
        return { ok: true, fixed };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    };
    const answer = async (q: string, arg: unknown): Promise<unknown> => {
      switch (q) {
        case "stats":
          return server.stats();
        case "summary":
          return server.summary();
        case "sessions":
          return server.liveSessions();
        case "flows":
          return server.flows((arg ?? {}) as FlowQuery);
        case "metrics":
          return metricsText();
        case "reload":
          return reload();
        case "drain":
          await server.close({ graceMs: Number(arg) || 0 });
          return true;
        default:
          return undefined;
      }
    };

    const events = new EventRelay(server);
    intakeFrom(chan, server, (id, packet, port, address) => outbox.push(id, packet, port, address));
    process.on("message", (m: ToWorker, handle?: unknown) => {
      switch (m.t) {
        case "http":
          if (handle instanceof Socket) {
            if (stage) stage.accept(handle);
            else handle.destroy();
          }
          break;
        case "ask":
          void answer(m.q, m.arg).then(
            (v) => post({ t: "answer", id: m.id, v }),
            (err: unknown) => post({ t: "answer", id: m.id, v: { error: String(err) } }),
          );
          break;
        case "drain":
          void drain(m.graceMs);
          break;
        case "subscribe":
          events.subscribe(m.on);
          break;
        case "watch":
          lists.watched = m.on;
          break;
        case "admit":
          gate.admit(m.ids, m.ok, m.credit);
          break;
        case "gate":
          gate.on = m.on;
          break;
        case "reclaim":
          gate.reclaim();
          break;
        default:
          break;
      }
    });
    // The primary went away (killed): finish what runs, then exit.
    process.on("disconnect", () => void drain(config.drainSeconds * 1000));
    // A signal to the whole process group (Ctrl-C, systemd): drain like the primary does.
    const onStop = (): void => void drain(config.drainSeconds * 1000);
    process.on("SIGTERM", onStop);
    process.on("SIGINT", onStop);
    // The primary reloads every worker on SIGHUP; one sent to the group must not kill us.
    process.on("SIGHUP", () => {});
  } catch (err) {
    post({ t: "failed", error: (err as Error).message });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
    return;
  }
  post({ t: "ready", pid: process.pid, telemetry: telemetry.describe() });
}

if (cluster.isWorker) {
  // A send to a primary that has gone is reported here: the 'disconnect' handler drains.
  cluster.worker?.on("error", () => {});
  void runWorker();
}
