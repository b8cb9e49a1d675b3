// Server options: each declared once in SERVER_OPTIONS (type and range,
// unit, default, one line of description); the library's validation, its
// frozen SERVER_DEFAULTS and the `tftpkit serve` config keys, flags, help and the
// table of docs/cli.md are all derived from this table. An out-of-range value is a clear
// error at start-up, never silently clamped.
//
// To add an option: add one entry below (an `option({...})` with a builder
// from @tftpkit/options: int, num, bool, str, oneOf, listOf, fn, custom),
// then read it from ResolvedOptions. It is then a config key and a flag of
// `tftpkit serve` too (unless `code: true`); `npm run docs` regenerates the
// table of docs/cli.md.

import { BLKSIZE_MAX } from "@tftpkit/wasm-core";
import {
  ConfigErrorCode, TftpConfigError, applyRenames, warnDeprecated, custom, defaultsOf, fn, int, listOf, num, option, bool, str, checkOptions, type ConfigProblem, type OptionsInput, type OptionsResolved, type Renames,
} from "@tftpkit/options";
import { FLOW_DEFAULTS } from "./observe/flows.js";
import type { ReadHandler } from "./handler.js";
import type { WriteHandler } from "./files/write.js";
import type { Instrumentation } from "./observe/instrument.js";
import type { ServerStats, SessionStats } from "./observe/stats.js";

/**
 * A gate every session start passes after the server's own checks: a
 * cluster's primary holds server-wide limits (maxSessions across every
 * worker) this way. Only session starts ask; packets of running sessions
 * never do.
 */
export interface Admission {
  /** May a session from `client` start? Answered at once or later (the request waits; its retransmissions count as duplicates). */
  acquire(client: string): boolean | Promise<boolean>;
  /** A session that acquire() let in has ended. */
  release(client: string): void;
}

/**
 * The warm-up's own hooks (see warmUpMs): of the same kind as the server's
 * onSessionEnd and instrumentation, or the same functions, but writing
 * nowhere (a log line formatted and dropped, telemetry providers without
 * exporters), so that the warm-up runs the code real sessions run and the
 * JIT does not have to compile it again when the first real session takes a
 * branch the warm-up never took or calls a function it never called.
 */
export interface WarmUpHooks {
  onSessionEnd?: (stats: SessionStats) => void;
  instrumentation?: Instrumentation;
  /** An admission of the same kind as the server's that admits every warm-up session by itself (never asks anyone). */
  admission?: Admission;
  /**
   * Called once the warm-up has ended and its private server is closed. A
   * hook that is the server's own function (the same onSessionEnd, which
   * then keeps the JIT's code for the server's call of it valid) writes
   * nothing until this is called.
   */
  ended?: () => void;
}

export type PathRewrite = (
  path: string,
  ctx: { address: string; op: "read" | "write" },
) => { path: string } | { refused: true; rule?: number };

const MAX_BYTES = Number.MAX_SAFE_INTEGER;
const port = int(1, 65535).type;
const portRangeError = "must be [low, high] with 1 <= low <= high <= 65535";

export const SERVER_OPTIONS = {
  root: option({ ...str("DIR"), path: true, description: "folder to serve (read-only; nothing outside it is reachable)" }),
  handler: option({ ...fn<ReadHandler>(), description: "decides what each read request answers (default: files under root)" }),
  maxBlksize: option({
    ...int(8, BLKSIZE_MAX), default: BLKSIZE_MAX, unit: "bytes",
    description: "largest blksize granted (RFC 2348); lower it for clients that cannot reassemble IP fragments",
  }),
  maxWindowsize: option({ ...int(1, 65535), default: 64, unit: "blocks", description: "largest windowsize granted (RFC 7440)" }),
  timeoutSeconds: option({
    ...num(0.01, 255, "seconds"), arg: "S", default: 1, unit: "s",
    description: "retransmission timeout when the client asks none (RFC 2349 allows 1..255; fractions allowed here)",
  }),
  retries: option({ ...int(0, 100), default: 5, description: "retransmissions of one window before the session gives up" }),
  rtoFloorMs: option({
    ...int(1, 60_000), default: 1, unit: "ms",
    description: "retransmission floor: when the client asks no timeout, a session's RTO is max(SRTT + 4 RTTVAR, this), and a passed RTO with no client of the process heard meanwhile waits for the stall guard, this + 2 x the largest recent RTT; timeoutSeconds is the ceiling (at or above it: fixed)",
  }),
  rttMemoryEntries: option({
    ...int(0, 1_000_000), default: 4096, unit: "clients",
    description: "clients whose round-trip estimate is kept for their next session (it then starts at the learnt RTO, not timeoutSeconds; a client never seen starts from a neighbour's); least recently used first out; 0 = off",
  }),
  rttMemoryTtlSeconds: option({ ...int(1, 86_400), default: 600, unit: "s", description: "a client's remembered round-trip estimate is forgotten this long after its last session" }),
  maxClientTimeoutSeconds: option({
    ...int(1, 255), default: 10, unit: "s",
    description: "largest RFC 2349 timeout a client may ask; a larger one is declined (left out of the OACK) and the server's own timing applies",
  }),
  handlerTimeoutMs: option({ ...int(1, 3_600_000), default: 30_000, unit: "ms", description: "a handler that has not answered by then is aborted (ERROR 0)" }),
  refuseOptions: option({
    ...listOf("blksize", "tsize", "timeout", "windowsize"),
    default: [],
    description: "options never granted, e.g. blksize,windowsize (for clients that break on them, like tftp-hpa -r)",
  }),
  onSessionEnd: option({ ...fn<(stats: SessionStats) => void>(), description: "called once per finished session" }),
  onStats: option({ ...fn<(stats: ServerStats) => void>(), description: "called every statsIntervalMs with server-wide counters" }),
  statsIntervalMs: option({ ...int(10, 86_400_000), default: 10_000, unit: "ms", code: true, description: "interval of onStats calls" }),
  bindInterfaces: option({
    ...bool(), default: true,
    description: "on a wildcard host, bind each interface address (exclusively) so replies leave from the address asked",
  }),
  rescanIntervalMs: option({ ...int(100, 86_400_000), default: 5_000, unit: "ms", description: "with bindInterfaces: how often to look for added or removed addresses" }),
  allowWrite: option({ ...bool(), default: false, description: "accept uploads (WRQ) of new files under root (off by default)" }),
  allowOverwrite: option({ ...bool(), default: false, description: "with allowWrite: uploads may also replace existing files" }),
  writeHandler: option({ ...fn<WriteHandler>(), description: "decides where each upload goes (enables writes; overrides allowWrite for the root)" }),
  maxUploadBytes: option({
    ...int(0, MAX_BYTES), default: 256 * 1024 * 1024, unit: "bytes",
    description: "largest upload accepted (checked against tsize first, then while receiving)",
  }),
  maxFileBytes: option({ ...int(0, MAX_BYTES), default: 0, unit: "bytes", description: "largest file served (0: no limit)" }),
  fileCacheBytes: option({
    ...int(0, MAX_BYTES), default: 64 * 1024 * 1024, unit: "bytes",
    description: "memory for small files' contents, checked by a stat per request (workers: split evenly; 0: off)",
  }),
  statCacheMs: option({
    ...int(0, 60_000), default: 1_000, unit: "ms",
    description: "how long a file's stat is trusted by the root handler: repeated requests for it within this cost no system call (a replaced or changed file is served from then on; 0: a stat per request)",
  }),
  syncFileReads: option({
    ...bool(), default: true,
    description: "read large files on the event loop while the data comes from memory (each session's first read, and every read for a second after three reads slower than 1 ms within a second, go to the thread pool); off: always the thread pool",
  }),
  maxCachedFileBytes: option({
    ...int(0, 64 * 1024 * 1024), default: 4 * 1024 * 1024, unit: "bytes",
    description: "files up to this size are cached (boot programs and configs; at most half of a process's fileCacheBytes), larger ones streamed",
  }),
  mtu: option({
    type: int(0, 65575).type.refine((v) => v === 0 || v >= 68, { error: "must be 0 or an integer from 68 to 65575" }),
    range: "0, 68..65575", arg: "N", fromText: int(0, 1).fromText,
    default: 0, unit: "bytes",
    description: "path MTU: blksize is capped so that a DATA packet is never fragmented (0: no cap)",
  }),
  singlePort: option({ ...bool(), default: false, description: "run every session on the listening port (NAT, Kubernetes)" }),
  portRange: option({
    type: custom<readonly [number, number]>(
      (v) => Array.isArray(v) && v.length === 2 && v.every((p) => port.safeParse(p).success) && v[0] <= v[1],
      portRangeError,
    ).type,
    range: "1..65535", arg: "LO-HI",
    fromText: (t) => {
      const m = /^(\d+)[-:](\d+)$/.exec(t.trim());
      return m ? [Number(m[1]), Number(m[2])] : t;
    },
    description: "session sockets bind a port from this range (inclusive) instead of any ephemeral port",
  }),
  maxSessions: option({ ...int(0, 1_000_000), default: 10_000, description: 'sessions at once, across all workers (ERROR 0 "Server busy" beyond; 0: no limit)' }),
  maxSessionsPerClient: option({ ...int(0, 1_000_000), default: 0, description: "sessions at once from one client address, across all workers (0: no limit)" }),
  rateLimit: option({
    ...num(0, 1_000_000, "requests per second"), arg: "R", default: 0, unit: "requests/s",
    description: "requests per second accepted from one address (in the worker that serves it); excess requests are dropped unanswered (0: no limit)",
  }),
  rateBurst: option({ ...int(1, 10_000_000), unit: "requests", description: "burst size of the rate limit (default: 2 x rateLimit)" }),
  rewrite: option({ ...fn<PathRewrite>(), description: "rewrites each requested name before the handler sees it (e.g. compiled remap rules)" }),
  instrumentation: option({
    ...custom<Instrumentation>((v) => typeof v === "object" && v !== null, "must be an Instrumentation object"),
    description: "telemetry hooks (e.g. OpenTelemetry spans and metrics); none by default",
  }),
  traceparentInFilename: option({ ...bool(), default: true, description: "strip a W3C traceparent suffix from requested file names" }),
  connectSessionSockets: option({
    ...bool(), default: true,
    description: "connect each session socket to its client when the transfer needs it: a write at once; a read at its first resend, at its 16th packet, or at once when its one packet is a last DATA block or its size is not known (a small read that goes well never pays for connect and disconnect). A connected socket sends cheaper, hears ICMP port unreachable when the client has gone, and leaves a stranger's packet to the kernel (ICMP port unreachable, as with tftpd-hpa) instead of answering ERROR 5; off: never connected, ERROR 5, RFC 1350's way",
  }),
  sessionSocketPool: option({
    ...int(0, 65_535), default: 256,
    description: "session sockets kept bound for the next sessions (workers: split evenly; no bind and close per session; never to the client address that used one last, so a client's next session gets another transfer ID; 0: each session binds and closes its own)",
  }),
  recvBufferBytes: option({
    ...int(0, 2 ** 31 - 1), default: 0, unit: "bytes",
    description: "receive buffer asked for each listening socket (a burst of requests waits there); 0: as large as the kernel allows",
  }),
  flowIdleSeconds: option({
    ...num(0.01, 86_400, "seconds"), arg: "S", default: FLOW_DEFAULTS.flowIdleSeconds, unit: "s",
    description: "seconds without a session from a client that end its boot flow",
  }),
  maxFlows: option({ ...int(0, 1_000_000), default: FLOW_DEFAULTS.maxFlows, description: "boot flows kept, open and as many ended (workers: split evenly; 0: no flows)" }),
  maxFlowSteps: option({ ...int(1, 100_000), default: FLOW_DEFAULTS.maxFlowSteps, description: "steps kept per boot flow (the last ones)" }),
  idPrefix: option({
    ...custom<string>((v) => typeof v === "string" && /^[A-Za-z0-9:_.-]{0,16}$/.test(v), "must be up to 16 of A-Z a-z 0-9 : _ . -"),
    default: "", code: true,
    description: 'put before live session, flow step and boot flow ids (a worker\'s, e.g. "w2:", keeps them unique across workers)',
  }),
  admission: option({
    ...custom<Admission>((v) => typeof v === "object" && v !== null && typeof (v as Admission).acquire === "function", "must be an Admission object"),
    code: true,
    description: "asked before each session starts, after the server's own checks (a cluster primary holding server-wide limits); none by default",
  }),
  sessionBufferBudgetBytes: option({
    ...int(0, MAX_BYTES), default: 256 * 1024 * 1024, unit: "bytes",
    description: 'session buffers (read-ahead rings, upload windows) all sessions may hold together (workers: split evenly); a session finding no room gets ERROR 0 "Server busy" (0: no limit)',
  }),
  httpMaxConnections: option({
    ...int(1, 1_000_000), default: 1_000,
    description: "HTTP stage: connections open at once; one more is answered 503 and closed",
  }),
  httpMaxConnectionsPerClient: option({
    ...int(0, 1_000_000), default: 16,
    description: "HTTP stage: connections open at once from one client address (0: no limit); one more is answered 503 and closed",
  }),
  httpIdleTimeoutMs: option({
    ...int(100, 3_600_000), default: 30_000, unit: "ms",
    description: "HTTP stage: a connection with nothing received or sent for this long is closed (a client that stops reading, a request that never completes)",
  }),
  httpMaxHeaderBytes: option({
    ...int(1_024, 65_536), default: 8_192, unit: "bytes",
    description: "HTTP stage: largest request head (request line and headers) accepted; a larger one gets 431",
  }),
  httpBootedPath: option({
    ...custom<string>((v) => typeof v === "string" && /^\/[A-Za-z0-9._~/-]{1,255}$/.test(v), 'must be a URL path such as "/booted"'),
    code: false, arg: "PATH",
    description: "HTTP stage: a GET of this path marks the caller's boot flow booted (e.g. from cloud-init phone_home)",
  }),
  warmUpHooks: option({
    ...fn<() => WarmUpHooks>(), code: true,
    description: "makes the warm-up's own onSessionEnd and instrumentation, of the same kind as the server's but writing nowhere (the CLI: its log formatter, a telemetry SDK without exporters); none by default",
  }),
  warmUpMs: option({
    ...int(0, 1_000), default: 500, unit: "ms",
    description: "before the first listen() of a process (and in each cluster worker before it is ready), run real sessions against a private server on 127.0.0.1 for up to this long, so that the JIT has compiled the request path before the first client asks (a cluster primary runs its own datagram path meanwhile, over private sockets); counted nowhere (0: off)",
  }),
  stallTimeoutMs: option({
    ...int(0, 86_400_000), default: 30_000, unit: "ms",
    description: "a session that makes no progress (no block newly acknowledged or received) for this long ends with ERROR 0 (0: no bound)",
  }),
};

export type ServerOptionTable = typeof SERVER_OPTIONS;

/**
 * Options renamed so that every duration names its unit and every limit is
 * maxX: the old names keep working for one release (a deprecation warning
 * names the new one). Config keys and flags of `tftpkit serve` follow.
 */
export const RENAMED_SERVER_OPTIONS: Renames = Object.freeze({
  timeout: "timeoutSeconds",
  maxClientTimeout: "maxClientTimeoutSeconds",
  fileCacheMaxFileBytes: "maxCachedFileBytes",
  flowsMax: "maxFlows",
  flowStepsMax: "maxFlowSteps",
});

/** Options of createServer(): every field optional; see SERVER_OPTIONS for each one's meaning, range and default. */
export type ServerOptions = OptionsInput<ServerOptionTable>;

/** Options after validation, frozen: defaults filled in, the timeout in ms, the rate burst computed. */
export type ResolvedOptions = OptionsResolved<ServerOptionTable> & {
  readonly timeoutMs: number; // ms
  readonly rateBurst: number; // requests
};

/** The defaults of every option that has one. */
export const SERVER_DEFAULTS = defaultsOf(SERVER_OPTIONS) as Readonly<Required<Pick<ServerOptions, DefaultedKeys>>>;

/**
 * Every declared option, undefined, in declaration order: spread first, it
 * gives every server's resolved options the same keys in the same order
 * whatever was given (and so one hidden class), and the code the JIT
 * compiled for one server's sessions (the warm-up's) fits another's.
 */
const ALL_KEYS: Readonly<Record<string, undefined>> = Object.freeze(Object.fromEntries(Object.keys(SERVER_OPTIONS).map((k) => [k, undefined])));
type DefaultedKeys = { [K in keyof ServerOptionTable]: ServerOptionTable[K] extends { default: unknown } ? K : never }[keyof ServerOptionTable];

export { TftpConfigError };

/** Validates createServer() options; every problem is listed in one TftpConfigError. */
export function resolveOptions(given: ServerOptions): ResolvedOptions {
  const renamed = applyRenames(given as Record<string, unknown>, RENAMED_SERVER_OPTIONS, (k) => k);
  warnDeprecated(renamed.warnings.map((w) => `createServer(): ${w}`));
  const o = renamed.input as ServerOptions;
  const { values, problems } = checkOptions(SERVER_OPTIONS, o as Record<string, unknown>);
  problems.push(...renamed.problems);
  const problem = (code: ConfigProblem["code"], key: string, message: string): void => void problems.push({ code, key, message });
  if (!o.root && !o.handler) problem(ConfigErrorCode.MISSING, "root", "either root or handler is required");
  if (o.allowWrite && !o.root && !o.writeHandler) problem(ConfigErrorCode.MISSING, "root", "allowWrite needs a root (or give a writeHandler)");
  if (problems.length) throw new TftpConfigError(problems);
  const v = { ...ALL_KEYS, ...SERVER_DEFAULTS, ...values } as OptionsResolved<ServerOptionTable>;
  return Object.freeze({
    ...v,
    refuseOptions: Object.freeze([...v.refuseOptions]),
    portRange: v.portRange && Object.freeze([v.portRange[0], v.portRange[1]] as const),
    timeoutMs: Math.round(v.timeoutSeconds * 1000),
    rateBurst: v.rateBurst ?? Math.max(1, Math.ceil(v.rateLimit * 2)),
  });
}
