// The listener: receives requests, starts sessions, keeps server-wide stats.

import type { RemoteInfo, Socket } from "node:dgram";
import { Opcode, WireError, scheduler, statusMessage, wasmCodec, type RequestPacket, type Scheduler } from "@tftpkit/wasm-core";
import type { Session, SessionHost } from "./session/base-session.js";
import { RttMemory } from "./session/rtt-memory.js";
import { SessionBuffers } from "./session/budget.js";
import { sweepStaleUploads } from "./files/upload-sweep.js";
import type { ServerEventListener } from "./observe/events.js";
import { FileCache } from "./files/file-cache.js";
import { forgetWarmUpReads, type FileReadCounters } from "./session/data-source.js";
import { refreshMaps } from "./session/refresh-maps.js";
import { SocketPool } from "./net/socket-pool.js";
import { sweepEveryMs, type BootFlow, type FlowQuery } from "./observe/flows.js";
import type { LiveSession } from "./observe/live.js";
import type { HttpObserver, HttpRefusal, HttpRequestInfo } from "./observe/instrument.js";
import { Monitor } from "./observe/live-monitor.js";
import type { SessionSummary } from "./observe/live-tally.js";
import type { ReadHandler, ReadRequest } from "./handler.js";
import { UdpListeners, type BoundAddress, type ListenOptions, type Listener, type ReceiveBuffer } from "./net/listeners.js";
import { resolveOptions, type ResolvedOptions, type ServerOptions, type WarmUpHooks } from "./options.js";
import { ReadSession } from "./session/read-session.js";
import { rootHandler, rootSelectionOf, type RootSelection } from "./files/root.js";
import { emptyServerStats, type ServerStats, type SessionStats } from "./observe/stats.js";
import { rootWriteHandler, type WriteHandler } from "./files/write.js";
import { WriteSession } from "./session/write-session.js";
import { warmUp, type WarmUpReport, type WarmUpServer } from "./session/warm-up.js";
import { ShortLivedMap } from "./short-lived-map.js";

/** A warm-up ran in this process already: the JIT's code is shared by every server in it. */
let processWarmed = false;

const codec = wasmCodec;
/**
 * The warm-up server caches files up to this size only: its larger file is
 * then read from disk in blocks, as a kernel or an initrd always is, so that
 * the code compiled in the warm-up has seen both kinds of body. (Without it the
 * first large transfer throws away the small-file path's compiled code, and
 * the next thousand or two small sessions run at up to twice their CPU.)
 */
const WARM_UP_CACHED_MAX = 16 * 1024;

export type { ListenOptions, BoundAddress, ReceiveBuffer } from "./net/listeners.js";

/**
 * Where a request arrived when it was received by another process (a
 * cluster primary's listening socket): `send` answers from that socket (an
 * ERROR to a bad request; in single-port mode every packet of the session).
 */
export interface RelayListener {
  /** The address the listening socket is bound to, undefined for a wildcard. */
  readonly local: string | undefined;
  readonly port: number;
  send(packet: Uint8Array, port: number, address: string): void;
}

/**
 * How the requests of a warm-up reach its private server when this server's
 * come from elsewhere (serveRelayed): given the private server, already
 * serving relayed requests, it opens a UDP socket on 127.0.0.1 and hands
 * every datagram that socket receives to `server.receive()` by the same way
 * the real requests come (a cluster worker: framed into a stream socket and
 * read back, as from its primary), and answers in single-port mode leave
 * through that socket. Resolves the socket's port and how to close it all.
 * The JIT then compiles the request path for the objects real requests
 * bring, not for those of a socket the real server never has.
 */
export type WarmUpFront = (server: TftpServer) => Promise<{ port: number; close(): Promise<void> }>;

/** A warm-up's private server fed through `front` instead of a socket of its own. */
function relayedWarmUpServer(server: TftpServer, front: WarmUpFront): WarmUpServer {
  let opened: { port: number; close(): Promise<void> } | undefined;
  return {
    async listen() {
      server.serveRelayed();
      opened = await front(server);
      return { address: "127.0.0.1", port: opened.port };
    },
    async close(o) {
      await opened?.close().catch(() => {});
      await server.close(o);
    },
  };
}

/**
 * The listening socket a session answers through in single-port mode, for a
 * relayed request: the two send() forms sessions use, on top of a
 * RelayListener. (Sessions hold it as a Socket; they call nothing else on a
 * shared socket.)
 */
class RelaySocket {
  constructor(private readonly out: RelayListener) {}
  send(buf: Uint8Array, a: number, b?: number | string, c?: number | (() => void), d?: string): void {
    if (typeof b === "number") this.out.send(buf.subarray(a, a + b), c as number, d!);
    else this.out.send(buf, a, b!);
    if (typeof c === "function") c();
  }
}

/** A request's way in: the listening socket (real, or relayed) and its address. */
class Via {
  /**
   * V8 learns what kind of value each field of an object holds and drops
   * the code compiled on that knowledge when another kind arrives. The
   * warm-up's requests come in through dgram sockets, a cluster worker's
   * real ones through relays, and the first real request's Via made V8 drop
   * the code of onRequest and startSession compiled during the warm-up
   * (seen with --trace-deopt: "code dependencies"). Two records of other
   * kinds, made before any request, leave the fields' kinds general from
   * the start.
   */
  static readonly GENERAL: readonly Via[] = [new Via({} as Socket, undefined, 0), new Via([] as unknown as Socket, "", 0)];

  constructor(
    readonly socket: Socket,
    readonly local: string | undefined,
    readonly port: number,
  ) {}
}

/** Token buckets of the per-address request rate limit. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly rate: number, private readonly burst: number) {}
  allow(address: string, now: number): boolean {
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= 100_000) this.prune(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(address, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    }
    if (this.buckets.size >= 100_000) this.buckets.clear();
  }
}

function fileCacheOf(o: ResolvedOptions): FileCache | undefined {
  return o.fileCacheBytes > 0 && o.maxCachedFileBytes > 0 ? new FileCache(o.fileCacheBytes, o.maxCachedFileBytes) : undefined;
}

function writeHandlerOf(o: ResolvedOptions): WriteHandler | undefined {
  if (o.writeHandler) return o.writeHandler;
  if (o.allowWrite && o.root) return rootWriteHandler(o.root, { overwrite: o.allowOverwrite });
  return undefined;
}

/** What a server derives from its options; built anew by reconfigure(). */
interface Setup {
  readonly options: ResolvedOptions;
  readonly handler: ReadHandler;
  /** The handler's RootSelection when rootHandler made it (sessions then call its method, see rootSelectionOf). */
  readonly roots: RootSelection | undefined;
  readonly writeHandler: WriteHandler | undefined;
  readonly fileCache: FileCache | undefined;
  readonly limiter: RateLimiter | undefined;
}

function setupOf(options: ResolvedOptions): Setup {
  const handler = options.handler ?? rootHandler(options.root!, { statCacheMs: options.statCacheMs });
  return {
    options,
    handler,
    roots: rootSelectionOf(handler),
    writeHandler: writeHandlerOf(options),
    fileCache: fileCacheOf(options),
    limiter: options.rateLimit > 0 ? new RateLimiter(options.rateLimit, options.rateBurst) : undefined,
  };
}

/** What ServerHost reaches of its server (private to TftpServer otherwise). */
interface HostedServer {
  readonly setup: Setup;
  readonly counters: ServerStats;
  sessionEnded(session: Session, stats: SessionStats): void;
}

/**
 * What a server's sessions see of it. A class rather than an object literal
 * of closures: every server's host runs the same getter and method code, so
 * the code the JIT compiled for sessions during the warm-up (on the warm-up's
 * private server) stays valid for the real server's sessions. With closures
 * made per server, each call site met a new function on the first real
 * session and threw that code away.
 */
class ServerHost implements SessionHost {
  constructor(
    private readonly server: HostedServer,
    readonly scheduler: Scheduler,
    readonly buffers: SessionBuffers,
    readonly socketPool: SocketPool,
    readonly fileReads: FileReadCounters,
    readonly rttMemory: RttMemory,
  ) {}

  get options(): ResolvedOptions {
    return this.server.setup.options;
  }

  get handler(): ReadHandler {
    return this.server.setup.handler;
  }

  read(request: ReadRequest): ReturnType<ReadHandler> {
    const setup = this.server.setup;
    const roots = setup.roots;
    return roots !== undefined ? roots.read(request) : setup.handler(request);
  }

  get writeHandler(): WriteHandler | undefined {
    return this.server.setup.writeHandler;
  }

  get fileCache(): FileCache | undefined {
    return this.server.setup.fileCache;
  }

  sessionEnded(session: Session, stats: SessionStats): void {
    this.server.sessionEnded(session, stats);
  }

  countUnknownTid(): void {
    this.server.counters.unknownTidPackets++;
  }

  countMalformed(): void {
    this.server.counters.malformedPackets++;
  }
}

export class TftpServer {
  private setup: Setup;
  private readonly scheduler: Scheduler;
  /** Bound session sockets kept for the next sessions. */
  readonly socketPool: SocketPool;
  private readonly buffers: SessionBuffers;
  /** This server's file reads: on the event loop, in the pool, slow ones on the loop. */
  private readonly fileReads: FileReadCounters = { onLoop: 0, inPool: 0, slowOnLoop: 0 };
  /** What the sessions see of their server. */
  private readonly host: SessionHost;
  private listeners: UdpListeners | undefined;
  /** Relayed requests: one way in per relay listener (kept while that listener is). */
  private readonly relays = new WeakMap<RelayListener, Via>();
  /** Running sessions by peer ("address|port"); see short-lived-map.ts for why not a Map. */
  private readonly sessions = new ShortLivedMap<string, Session>();
  private readonly perClient = new Map<string, number>();
  /** Requests waiting for options.admission (key: address|port). */
  private readonly admitting = new Set<string>();
  /** Sessions options.admission let in, and the admission to release them to. */
  private readonly admitted = new Map<Session, NonNullable<ResolvedOptions["admission"]>>();
  private counters: ServerStats = emptyServerStats();
  private nextId = 1;
  private statsTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** listen() or serveRelayed() was called. */
  private running = false;
  private closing = false;
  /** Live sessions, boot flows, events (in front of options.instrumentation). */
  private readonly monitor: Monitor;
  /** The warm-up running now (close() ends it). */
  private warming: { abort: AbortController; done: Promise<WarmUpReport | undefined> } | undefined;

  constructor(options: ServerOptions) {
    const resolved = resolveOptions(options);
    this.monitor = new Monitor(resolved);
    this.scheduler = scheduler();
    this.socketPool = new SocketPool(resolved.sessionSocketPool);
    this.buffers = new SessionBuffers(resolved.sessionBufferBudgetBytes);
    this.setup = this.apply(resolved);
    this.host = new ServerHost(this as unknown as HostedServer, this.scheduler, this.buffers, this.socketPool, this.fileReads,
      new RttMemory(resolved.rttMemoryEntries, resolved.rttMemoryTtlSeconds * 1000));
  }

  /** The options in force (resolved, with defaults), as new sessions get them. */
  get options(): ResolvedOptions {
    return this.setup.options;
  }

  /** The one derivation of the constructor and reconfigure(): limits applied, the rest built. */
  private apply(resolved: ResolvedOptions): Setup {
    this.socketPool.setMax(resolved.sessionSocketPool);
    this.buffers.limit = resolved.sessionBufferBudgetBytes;
    return setupOf(this.monitor.wrap(resolved));
  }

  /**
   * Replaces the options (e.g. on SIGHUP). Running sessions keep the options
   * they started with; new requests get the new ones. Listening addresses do
   * not change (host, port and singlePort need a restart).
   */
  reconfigure(options: ServerOptions): void {
    const next = resolveOptions(options);
    if (next.singlePort !== this.options.singlePort) throw new Error("singlePort cannot change while listening");
    this.monitor.configure(next);
    this.setup = this.apply(next);
    if (!this.closing && this.running) this.sweepUploads();
  }

  /**
   * Removes upload temp files a killed server left in the write root: now
   * those untouched for twice the stall timeout (1 h without one), and once
   * more when that much time has passed, so those of a server killed just
   * before this start go too. Counted in staleUploadsSwept.
   */
  private sweepUploads(): void {
    const o = this.options;
    if (!o.allowWrite || !o.root || o.writeHandler) return;
    const root = o.root;
    const age = o.stallTimeoutMs > 0 ? 2 * o.stallTimeoutMs : 3_600_000;
    const sweep = (): void => {
      void sweepStaleUploads(root, age).then((n) => {
        this.counters.staleUploadsSwept += n;
      });
    };
    sweep();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = setTimeout(sweep, age + 100);
    this.sweepTimer.unref();
  }

  /**
   * Binds the listening socket(s) and resolves the primary bound address.
   *
   * On a wildcard host with bindInterfaces (the default), each interface
   * address gets a socket of its own, bound exclusively, so that every reply
   * leaves from the address its request arrived on (Node has no IP_PKTINFO)
   * and no other process can share the port; addresses that appear later
   * are picked up by a periodic rescan. Without bindInterfaces a wildcard
   * host is one socket ("::" is dual stack) and the kernel picks the reply's
   * source address. Each socket asks for a receive buffer of
   * `recvBufferBytes` (default: as large as the kernel allows);
   * receiveBuffer() tells what was granted.
   */
  async listen(opts: ListenOptions = {}): Promise<BoundAddress> {
    if (this.listeners) throw new Error("already listening");
    // Before the port opens: a request cannot meet the warm-up (see warmUp()).
    if (!processWarmed && !this.closing) {
      await this.warmUp();
      if (this.closing) throw new Error("the server was closed while it warmed up");
      if (this.listeners) throw new Error("already listening");
    }
    const o = this.options;
    const listeners = new UdpListeners({
      bindInterfaces: o.bindInterfaces,
      rescanIntervalMs: o.rescanIntervalMs,
      recvBufferBytes: o.recvBufferBytes,
      onMessage: (msg, rinfo, l) => this.onRequest(msg, rinfo, this.viaOf(l)),
    });
    const bound = await listeners.listen(opts);
    this.listeners = listeners;
    this.run();
    return bound;
  }

  /**
   * The warm-up self-check (session/warm-up.ts): real sessions against a
   * private server on 127.0.0.1 (an ephemeral port, a private temp folder,
   * none of this server's hooks), for at most `warmUpMs` (never more than
   * 1 s), so that the JIT has compiled the request path before the first
   * client asks. Counted nowhere: this server's stats, flows, live sessions,
   * log and metrics never see it, and a request this server receives
   * meanwhile is served as usual. listen() runs it before it binds (once
   * per process); a server fed by serveRelayed() is warmed by calling this
   * first, with `front` the way its requests come in (see WarmUpFront).
   * Resolves what it did (undefined with warmUpMs 0, or after close());
   * never rejects.
   */
  warmUp(front?: WarmUpFront): Promise<WarmUpReport | undefined> {
    if (this.warming) return this.warming.done;
    const budget = this.options.warmUpMs;
    if (budget <= 0 || this.closing) return Promise.resolve(undefined);
    processWarmed = true;
    const abort = new AbortController();
    const o = this.options;
    let hooks: WarmUpHooks = {};
    try {
      hooks = o.warmUpHooks?.() ?? {};
    } catch {
      // A hook factory that throws: the warm-up runs without hooks.
    }
    // Flows end during the warm-up too (their idle gap is short there), not
    // first at the private server's close: the code of a flow's end runs and
    // is compiled with the rest, and the close changes nothing the request
    // path's compiled code relies on.
    const make = (files: { root: string } | { handler: ReadHandler }): WarmUpServer => {
      const server = new TftpServer({
        ...files,
        onSessionEnd: hooks.onSessionEnd, instrumentation: hooks.instrumentation, admission: hooks.admission,
        maxBlksize: o.maxBlksize, maxWindowsize: o.maxWindowsize, timeoutSeconds: o.timeoutSeconds, retries: o.retries,
        rtoFloorMs: o.rtoFloorMs, maxClientTimeoutSeconds: o.maxClientTimeoutSeconds, handlerTimeoutMs: o.handlerTimeoutMs,
        refuseOptions: [...o.refuseOptions], maxFileBytes: o.maxFileBytes, fileCacheBytes: Math.min(o.fileCacheBytes, 1024 * 1024),
        statCacheMs: o.statCacheMs, syncFileReads: o.syncFileReads, maxCachedFileBytes: Math.min(o.maxCachedFileBytes, WARM_UP_CACHED_MAX), mtu: o.mtu,
        singlePort: o.singlePort, traceparentInFilename: o.traceparentInFilename, connectSessionSockets: o.connectSessionSockets,
        sessionSocketPool: Math.min(o.sessionSocketPool, WARM_UP_SOCKET_POOL), flowIdleSeconds: Math.min(o.flowIdleSeconds, WARM_UP_FLOW_IDLE_SECONDS), maxFlows: Math.min(o.maxFlows, 1000),
        maxFlowSteps: o.maxFlowSteps, stallTimeoutMs: o.stallTimeoutMs, bindInterfaces: false, recvBufferBytes: 256 * 1024, warmUpMs: 0,
      });
      return front ? relayedWarmUpServer(server, front) : server;
    };
    // Between the warm-up's two private servers, and again at its end: this
    // server's objects, made before the warm-up, onto the maps it left (refresh-maps.ts).
    const done = warmUp(make, budget, {
      signal: abort.signal,
      between: () => refreshMaps(this),
      // The first private server's flows end by their idle gap, noticed at the tracker's next sweep.
      settleMs: WARM_UP_FLOW_IDLE_SECONDS * 1000 * 2 + sweepEveryMs(WARM_UP_FLOW_IDLE_SECONDS * 1000),
    }).then(
      (r) => (abort.signal.aborted ? undefined : r),
      () => undefined,
    );
    const w = { abort, done };
    this.warming = w;
    void done.finally(() => {
      if (this.warming === w) this.warming = undefined;
      forgetWarmUpReads();
      refreshMaps(this);
      try {
        hooks.ended?.();
      } catch {
        // A hook that throws changes nothing here.
      }
    });
    return done;
  }

  /**
   * Serves requests that another process receives (a cluster primary, see
   * apps/server): no socket is bound here; each datagram comes in through
   * receive(). Session sockets are this process's own, except in
   * single-port mode, where every answer goes out through the relay.
   */
  serveRelayed(): void {
    if (this.listeners) throw new Error("already listening");
    this.run();
  }

  private run(): void {
    this.closing = false;
    this.running = true;
    this.sweepUploads();
    if (this.options.onStats && !this.statsTimer) {
      this.statsTimer = setInterval(() => this.options.onStats?.(this.stats()), this.options.statsIntervalMs);
      this.statsTimer.unref();
    }
  }

  /** A datagram received on a listening socket elsewhere (see serveRelayed). */
  receive(msg: Buffer, rinfo: RemoteInfo, from: RelayListener): void {
    let via = this.relays.get(from);
    if (!via) {
      via = new Via(new RelaySocket(from) as unknown as Socket, from.local, from.port);
      this.relays.set(from, via);
    }
    this.onRequest(msg, rinfo, via);
  }

  private readonly vias = new WeakMap<Listener, Via>();

  private viaOf(l: Listener): Via {
    let via = this.vias.get(l);
    if (!via) {
      via = new Via(l.socket, l.local, l.port);
      this.vias.set(l, via);
    }
    return via;
  }

  /** The primary bound address. */
  address(): BoundAddress {
    if (!this.listeners) throw new Error("not listening");
    return this.listeners.address();
  }

  /** Every listening socket's address (one per interface address with bindInterfaces on a wildcard host). */
  addresses(): BoundAddress[] {
    return this.listeners?.addresses() ?? [];
  }

  /** The listening sockets' receive buffer: asked and granted (undefined before listen()). */
  receiveBuffer(): ReceiveBuffer | undefined {
    return this.listeners?.receiveBuffer();
  }

  stats(): ServerStats {
    const cache = this.setup.fileCache?.stats();
    return {
      ...this.counters,
      fileCacheHits: cache?.hits ?? 0,
      fileCacheMisses: cache?.misses ?? 0,
      fileReadsOnLoop: this.fileReads.onLoop,
      fileReadsInPool: this.fileReads.inPool,
      fileReadsSlowOnLoop: this.fileReads.slowOnLoop,
      sessionBufferBytes: this.buffers.used,
      sessionBufferPeakBytes: this.buffers.peak,
      sessionBufferRefused: this.buffers.refused,
      sessionsActive: this.sessions.size,
      outcomes: { ...this.counters.outcomes },
    };
  }

  /** Sessions running now, with bytes so far and rate. */
  liveSessions(): LiveSession[] {
    return this.monitor.liveSessions();
  }

  /** Recent boot flows, newest first (open ones included). */
  flows(query?: FlowQuery): BootFlow[] {
    return this.monitor.flows(query);
  }

  /**
   * The machine at `client` (its address) booted: it called back, e.g. over
   * the HTTP stage. Its open boot flow (or the last one, ended by the idle
   * gap within the hour) records its time to boot and ends as booted. False
   * when the client has no such flow.
   */
  markBooted(client: string): boolean {
    return this.monitor.markBooted(client);
  }

  /** Errors by code, top files, top failing clients. */
  summary(): SessionSummary {
    return this.monitor.summary();
  }

  /** Session start/progress/end and flow events; returns the unsubscribe. Costs nothing while nobody listens. */
  subscribe(fn: ServerEventListener): () => void {
    return this.monitor.subscribe(fn);
  }

  private reply(socket: Socket, code: number, message: string, rinfo: RemoteInfo): void {
    socket.send(codec.encodeError(code, message), rinfo.port, rinfo.address);
  }

  private onRequest(msg: Buffer, rinfo: RemoteInfo, via: Via): void {
    const socket = via.socket;
    const key = `${rinfo.address}|${rinfo.port}`;
    const op = msg.length >= 2 ? (msg[0] << 8) | msg[1] : 0;
    const existing = this.sessions.get(key);
    if (!existing && this.admitting.has(key)) {
      if (op === Opcode.RRQ || op === Opcode.WRQ) this.counters.duplicateRequests++;
      return;
    }
    if (existing) {
      if (op === Opcode.RRQ || op === Opcode.WRQ) {
        this.counters.duplicateRequests++; // a retransmitted request: the session answers it
      } else if (this.options.singlePort) {
        existing.onPacket(msg, rinfo); // single-port mode: the listener carries the session
      } else if (op !== Opcode.ERROR) {
        this.counters.unknownTidPackets++;
        this.reply(socket, WireError.UNKNOWN_TID, "Unknown transfer ID", rinfo);
      }
      return;
    }
    // Closing: no new sessions (running ones above still get their packets in single-port mode).
    if (this.closing) return;
    const p = codec.decode(msg);
    if (p.opcode === 0) {
      this.counters.malformedPackets++;
      this.options.instrumentation?.malformed({ address: rinfo.address, port: rinfo.port });
      // Never answer what may itself be an error packet (no error ping-pong).
      if (p.claimed !== Opcode.ERROR) this.reply(socket, WireError.ILLEGAL_OPERATION, `Malformed request: ${statusMessage(p.status)}`, rinfo);
      return;
    }
    if (p.opcode !== Opcode.RRQ && p.opcode !== Opcode.WRQ) {
      if (p.opcode !== Opcode.ERROR) {
        this.counters.unknownTidPackets++;
        this.reply(socket, WireError.UNKNOWN_TID, "Unknown transfer ID", rinfo);
      }
      return;
    }
    const o = this.options;
    const limiter = this.setup.limiter;
    if (limiter && !limiter.allow(rinfo.address, Date.now())) {
      // Dropped unanswered: a spoofed flood gets nothing back to amplify.
      this.counters.rateLimited++;
      return;
    }
    if (p.mode === "mail") {
      this.counters.malformedPackets++;
      this.reply(socket, WireError.ILLEGAL_OPERATION, "Mail mode is not supported", rinfo);
      return;
    }
    if (p.opcode === Opcode.WRQ && !this.setup.writeHandler) {
      this.counters.writeRequestsRefused++;
      this.reply(socket, WireError.ACCESS_VIOLATION, "Writes are disabled on this server", rinfo);
      return;
    }
    if (o.maxSessions > 0 && this.sessions.size >= o.maxSessions) {
      this.counters.refusedBusy++;
      this.reply(socket, WireError.UNDEFINED, "Server busy: too many sessions, try again later", rinfo);
      return;
    }
    const fromClient = this.perClient.get(rinfo.address) ?? 0;
    if (o.maxSessionsPerClient > 0 && fromClient >= o.maxSessionsPerClient) {
      this.counters.refusedBusy++;
      this.reply(socket, WireError.UNDEFINED, "Too many sessions from this client, try again later", rinfo);
      return;
    }
    const gate = o.admission;
    if (!gate) {
      this.startSession(p, rinfo, via);
      return;
    }
    const decide = (ok: boolean): void => {
      this.admitting.delete(key);
      if (ok && (this.closing || this.sessions.has(key))) {
        gate.release(rinfo.address);
        return;
      }
      if (!ok) {
        this.counters.refusedBusy++;
        this.reply(socket, WireError.UNDEFINED, "Server busy: too many sessions, try again later", rinfo);
        return;
      }
      this.startSession(p, rinfo, via, gate);
    };
    let answer: boolean | Promise<boolean>;
    try {
      answer = gate.acquire(rinfo.address);
    } catch {
      answer = false;
    }
    if (typeof answer === "boolean") {
      decide(answer);
      return;
    }
    this.admitting.add(key);
    answer.then(decide, () => decide(false));
  }

  /** `gate`: the admission that let it in (released when it ends; set before it starts, as it may end at once). */
  private startSession(p: RequestPacket, rinfo: RemoteInfo, via: Via, gate?: NonNullable<ResolvedOptions["admission"]>): void {
    const o = this.options;
    const socket = via.socket;
    const fromClient = this.perClient.get(rinfo.address) ?? 0;
    const shared = o.singlePort ? socket : undefined;
    const where = { address: via.local, port: via.port };
    const session: Session = p.opcode === Opcode.RRQ
      ? new ReadSession(this.host, this.nextId++, p, rinfo, where, shared)
      : new WriteSession(this.host, this.nextId++, p, rinfo, where, shared);
    this.sessions.set(session.key, session);
    this.perClient.set(rinfo.address, fromClient + 1);
    this.counters.sessionsStarted++;
    if (p.opcode === Opcode.WRQ) this.counters.writesStarted++;
    if (gate) this.admitted.set(session, gate);
    session.start();
  }

  private sessionEnded(session: Session, s: SessionStats): void {
    if (this.sessions.get(session.key) === session) {
      this.sessions.delete(session.key);
      const address = s.peer.address;
      const n = (this.perClient.get(address) ?? 1) - 1;
      if (n <= 0) this.perClient.delete(address);
      else this.perClient.set(address, n);
    }
    if (this.admitted.size) {
      const gate = this.admitted.get(session);
      if (gate) {
        this.admitted.delete(session);
        gate.release(s.peer.address);
      }
    }
    const c = this.counters;
    c.outcomes[s.outcome]++;
    if (s.outcome === "ok") c.sessionsOk++;
    else if (s.outcome === "probe") c.probes++;
    else c.sessionsFailed++;
    c.bytesSent += s.bytesSent;
    c.packetsSent += s.packetsSent;
    c.retransmits += s.retransmits;
    c.bytesReceived += s.bytesReceived ?? 0;
    try {
      this.options.onSessionEnd?.(s);
    } catch {
      // A throwing hook must not take the server down.
    }
  }

  /** For the HTTP stage (net/http-stage.ts): the read handler in force. @internal */
  get handler(): ReadHandler {
    return this.setup.handler;
  }

  /**
   * For the HTTP stage (net/http-stage.ts): a request starts. It gets an id
   * from the sessions' sequence, joins its client's boot flow as a step of
   * kind "http", and gets its span and metrics from the instrumentation.
   * @internal
   */
  httpRequest(info: Omit<HttpRequestInfo, "id">): HttpObserver & { readonly id: number } {
    const id = this.nextId++;
    this.counters.httpRequests++;
    const obs = this.monitor.http({ ...info, id });
    return Object.assign(obs, { id });
  }

  /** For the HTTP stage: `bytes` of response body were sent. @internal */
  countHttpBytes(bytes: number): void {
    this.counters.httpBytesSent += bytes;
  }

  /** For the HTTP stage: a request or connection was refused (counted, and in the metrics by reason). @internal */
  httpRefused(reason: HttpRefusal): void {
    this.counters.httpRefused++;
    this.monitor.httpRefused(reason);
  }

  /**
   * Stops accepting requests; running sessions get `graceMs` to finish, then
   * each is ended with ERROR 0 "Server shutting down".
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    this.closing = true; // no new sessions from here on
    const warming = this.warming;
    if (warming) {
      // A warm-up still running ends now (its private server and sockets close).
      warming.abort.abort();
      await warming.done;
    }
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.listeners?.stopRescan();
    const deadline = Date.now() + (opts.graceMs ?? 0);
    while (this.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of [...this.sessions.values()]) s.shutdown();
    this.monitor.close(); // open boot flows end (and their spans)
    // Listeners last: in single-port mode they carry the sessions' last packets.
    this.socketPool.close();
    await this.listeners?.close();
    this.listeners = undefined;
  }

}

/** The warm-up's flow idle gap (s): a machine's flow ends this long after its last read. */
const WARM_UP_FLOW_IDLE_SECONDS = 0.02;
/**
 * The warm-up's idle session sockets at most: fewer than its sessions at
 * once, so that its sessions also start on a socket still being bound, as
 * a real server's first ones do (and some go back to a full pool).
 */
const WARM_UP_SOCKET_POOL = 8;

export function createServer(options: ServerOptions): TftpServer {
  return new TftpServer(options);
}
