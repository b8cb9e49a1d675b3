// Server options: one table of defaults, validated once, then frozen.
// An out-of-range value is a clear error at start-up, never silently clamped.

import type { ReadHandler } from "./handler.js";
import type { WriteHandler } from "./write.js";
import type { Instrumentation } from "./instrument.js";
import type { ServerStats, SessionStats } from "./stats.js";

export interface ServerOptions {
  /** Serve files from this folder (used when no handler is given, and by `rootHandler`). */
  root?: string;
  /** Decides what each read request answers. Default: files under `root`. */
  handler?: ReadHandler;
  /** Largest blksize granted (RFC 2348), 8..65464. Lower it for clients that cannot reassemble IP fragments. */
  maxBlksize?: number;
  /** Largest windowsize granted (RFC 7440), 1..65535. */
  maxWindowsize?: number;
  /** Retransmission timeout in seconds when the client asks none (RFC 2349 allows 1..255; fractions allowed here). */
  timeout?: number;
  /** Retransmissions of one window before the session gives up. */
  retries?: number;
  /** A handler that has not answered after this many ms is aborted (ERROR 0). */
  handlerTimeoutMs?: number;
  /** Options never granted (for clients that break on them, like tftp-hpa -r). */
  refuseOptions?: ReadonlyArray<"blksize" | "tsize" | "timeout" | "windowsize">;
  /** Called once per finished session. */
  onSessionEnd?: (stats: SessionStats) => void;
  /** Called every `statsIntervalMs` with server-wide counters. */
  onStats?: (stats: ServerStats) => void;
  statsIntervalMs?: number;
  /** On a wildcard host, bind each interface address (exclusively) so replies leave from the address asked. */
  bindInterfaces?: boolean;
  /** With bindInterfaces: how often to look for added or removed addresses. */
  rescanIntervalMs?: number;
  /** Receive buffer asked for each listening socket, in bytes (a burst of requests waits there). 0: as large as the kernel allows. */
  recvBufferBytes?: number;
  /** Accept uploads (WRQ) of new files under `root`. Off by default. */
  allowWrite?: boolean;
  /** With allowWrite: uploads may also replace existing files. */
  allowOverwrite?: boolean;
  /** Decides where each upload goes (enables writes; overrides allowWrite for the root). */
  writeHandler?: WriteHandler;
  /** Largest upload accepted, in bytes (checked against tsize first, then while receiving). */
  maxUploadBytes?: number;
  /** Largest file served, in bytes (0: no limit). */
  maxFileBytes?: number;
  /** Bytes of small files kept in memory (validated by a stat per request). 0: off. */
  fileCacheBytes?: number;
  /** Files up to this size are cached and served from memory. */
  fileCacheMaxFileBytes?: number;
  /** Path MTU: blksize is capped so that a DATA packet is never fragmented (0: no cap). */
  mtu?: number;
  /** Single-port mode: every session runs on the listening port (NAT, Kubernetes). */
  singlePort?: boolean;
  /** Session sockets bind a port from this range (inclusive) instead of any ephemeral port. */
  portRange?: readonly [number, number];
  /** Most sessions at once (ERROR 0 "Server busy" beyond). 0: no limit. */
  maxSessions?: number;
  /** Most sessions at once from one client address. 0: no limit. */
  maxSessionsPerClient?: number;
  /** Requests per second accepted from one address (token bucket); excess requests are dropped unanswered. 0: no limit. */
  rateLimit?: number;
  /** Burst size of the rate limit (default: 2 x rateLimit). */
  rateBurst?: number;
  /**
   * Rewrites each requested name before the handler sees it (e.g. compiled
   * tftp-hpa remap rules); `{ refused: true }` answers ERROR 2.
   */
  rewrite?: PathRewrite;
  /** Telemetry hooks (e.g. OpenTelemetry spans and metrics); none by default. */
  instrumentation?: Instrumentation;
  /** Strip a W3C traceparent suffix from requested file names (default true). */
  traceparentInFilename?: boolean;
  /** Seconds without a session from a client that end its boot flow (default 60; flows.ts). */
  flowIdleSeconds?: number;
  /** Boot flows kept, open and as many ended (default 1000; 0: no flows). */
  flowsMax?: number;
  /** Steps kept per boot flow, the last ones (default 64). */
  flowStepsMax?: number;
}

export type PathRewrite = (
  path: string,
  ctx: { address: string; op: "read" | "write" },
) => { path: string } | { refused: true; rule?: number };

export interface ResolvedOptions {
  root: string | undefined;
  handler: ReadHandler | undefined;
  maxBlksize: number; // bytes
  maxWindowsize: number; // blocks
  timeoutMs: number; // ms
  retries: number; // count
  handlerTimeoutMs: number; // ms
  refuseOptions: ReadonlyArray<"blksize" | "tsize" | "timeout" | "windowsize">;
  onSessionEnd: ((stats: SessionStats) => void) | undefined;
  onStats: ((stats: ServerStats) => void) | undefined;
  statsIntervalMs: number; // ms
  bindInterfaces: boolean;
  rescanIntervalMs: number; // ms
  recvBufferBytes: number; // bytes, 0 = the kernel's largest
  instrumentation: Instrumentation | undefined;
  traceparentInFilename: boolean;
  rewrite: PathRewrite | undefined;
  allowWrite: boolean;
  allowOverwrite: boolean;
  writeHandler: WriteHandler | undefined;
  maxUploadBytes: number; // bytes
  maxFileBytes: number; // bytes, 0 = no limit
  fileCacheBytes: number; // bytes, 0 = off
  fileCacheMaxFileBytes: number; // bytes
  mtu: number; // bytes, 0 = no cap
  singlePort: boolean;
  portRange: readonly [number, number] | undefined;
  maxSessions: number; // 0 = no limit
  maxSessionsPerClient: number; // 0 = no limit
  rateLimit: number; // requests/s per address, 0 = no limit
  rateBurst: number; // requests
}

export const DEFAULTS = Object.freeze({
  maxBlksize: 65464, // bytes: the RFC 2348 maximum; a client gets at most what it asked
  maxWindowsize: 64, // blocks: RFC 7440 window granted at most
  timeout: 1, // seconds between retransmissions when the client sets none
  retries: 5, // retransmissions of one window before giving up
  handlerTimeoutMs: 30_000, // ms a handler may take to answer
  statsIntervalMs: 10_000, // ms between onStats calls
  bindInterfaces: true,
  rescanIntervalMs: 5_000, // ms between interface address scans
  recvBufferBytes: 0, // bytes asked for each listening socket: 0 = as large as the kernel allows
  traceparentInFilename: true,
  allowWrite: false, // read-only unless asked
  allowOverwrite: false,
  maxUploadBytes: 256 * 1024 * 1024, // bytes: 256 MiB
  maxFileBytes: 0, // bytes: no limit on reads
  fileCacheBytes: 64 * 1024 * 1024, // bytes of small files kept in memory
  fileCacheMaxFileBytes: 256 * 1024, // bytes: larger files are streamed from disk
  mtu: 0, // no MTU-derived blksize cap
  singlePort: false,
  maxSessions: 10_000, // sessions at once
  maxSessionsPerClient: 0, // sessions at once per client address: off
  rateLimit: 0, // requests/s per address: off
});

export class TftpConfigError extends Error {
  readonly code = "TFTP_ERR_CONFIG";
  constructor(message: string) {
    super(message);
    this.name = "TftpConfigError";
  }
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new TftpConfigError(`${name} must be an integer from ${min} to ${max} (got ${v})`);
  }
  return v;
}

const REFUSABLE = new Set(["blksize", "tsize", "timeout", "windowsize"]);

export function resolveOptions(o: ServerOptions): ResolvedOptions {
  if (!o.root && !o.handler) throw new TftpConfigError("either root or handler is required");
  if (o.allowWrite && !o.root && !o.writeHandler) throw new TftpConfigError("allowWrite needs a root (or give a writeHandler)");
  if (o.writeHandler !== undefined && typeof o.writeHandler !== "function") throw new TftpConfigError("writeHandler must be a function");
  if (o.rewrite !== undefined && typeof o.rewrite !== "function") throw new TftpConfigError("rewrite must be a function");
  let portRange: readonly [number, number] | undefined;
  if (o.portRange !== undefined) {
    const [lo, hi] = o.portRange;
    intIn("portRange[0]", lo, 1, 65535);
    intIn("portRange[1]", hi, 1, 65535);
    if (lo > hi) throw new TftpConfigError(`portRange: ${lo} is above ${hi}`);
    portRange = Object.freeze([lo, hi] as const);
  }
  const rateLimit = o.rateLimit ?? DEFAULTS.rateLimit;
  if (typeof rateLimit !== "number" || !(rateLimit >= 0 && rateLimit <= 1_000_000)) {
    throw new TftpConfigError(`rateLimit must be from 0 to 1000000 requests per second (got ${rateLimit})`);
  }
  if (o.handler !== undefined && typeof o.handler !== "function") throw new TftpConfigError("handler must be a function");
  const timeout = o.timeout ?? DEFAULTS.timeout;
  if (typeof timeout !== "number" || !(timeout >= 0.01 && timeout <= 255)) {
    throw new TftpConfigError(`timeout must be from 0.01 to 255 seconds (got ${timeout})`);
  }
  for (const r of o.refuseOptions ?? []) {
    if (!REFUSABLE.has(r)) throw new TftpConfigError(`refuseOptions: unknown option ${r}`);
  }
  return Object.freeze({
    root: o.root,
    handler: o.handler,
    maxBlksize: intIn("maxBlksize", o.maxBlksize ?? DEFAULTS.maxBlksize, 8, 65464),
    maxWindowsize: intIn("maxWindowsize", o.maxWindowsize ?? DEFAULTS.maxWindowsize, 1, 65535),
    timeoutMs: Math.round(timeout * 1000),
    retries: intIn("retries", o.retries ?? DEFAULTS.retries, 0, 100),
    handlerTimeoutMs: intIn("handlerTimeoutMs", o.handlerTimeoutMs ?? DEFAULTS.handlerTimeoutMs, 1, 3_600_000),
    refuseOptions: Object.freeze([...(o.refuseOptions ?? [])]),
    onSessionEnd: o.onSessionEnd,
    onStats: o.onStats,
    statsIntervalMs: intIn("statsIntervalMs", o.statsIntervalMs ?? DEFAULTS.statsIntervalMs, 10, 86_400_000),
    bindInterfaces: o.bindInterfaces ?? DEFAULTS.bindInterfaces,
    rescanIntervalMs: intIn("rescanIntervalMs", o.rescanIntervalMs ?? DEFAULTS.rescanIntervalMs, 100, 86_400_000),
    recvBufferBytes: intIn("recvBufferBytes", o.recvBufferBytes ?? DEFAULTS.recvBufferBytes, 0, 2 ** 31 - 1),
    instrumentation: o.instrumentation,
    rewrite: o.rewrite,
    traceparentInFilename: o.traceparentInFilename ?? DEFAULTS.traceparentInFilename,
    allowWrite: o.allowWrite ?? DEFAULTS.allowWrite,
    allowOverwrite: o.allowOverwrite ?? DEFAULTS.allowOverwrite,
    writeHandler: o.writeHandler,
    maxUploadBytes: intIn("maxUploadBytes", o.maxUploadBytes ?? DEFAULTS.maxUploadBytes, 0, Number.MAX_SAFE_INTEGER),
    maxFileBytes: intIn("maxFileBytes", o.maxFileBytes ?? DEFAULTS.maxFileBytes, 0, Number.MAX_SAFE_INTEGER),
    fileCacheBytes: intIn("fileCacheBytes", o.fileCacheBytes ?? DEFAULTS.fileCacheBytes, 0, Number.MAX_SAFE_INTEGER),
    fileCacheMaxFileBytes: intIn("fileCacheMaxFileBytes", o.fileCacheMaxFileBytes ?? DEFAULTS.fileCacheMaxFileBytes, 0, 64 * 1024 * 1024),
    mtu: o.mtu === undefined || o.mtu === 0 ? 0 : intIn("mtu", o.mtu, 68, 65535 + 40),
    singlePort: o.singlePort ?? DEFAULTS.singlePort,
    portRange,
    maxSessions: intIn("maxSessions", o.maxSessions ?? DEFAULTS.maxSessions, 0, 1_000_000),
    maxSessionsPerClient: intIn("maxSessionsPerClient", o.maxSessionsPerClient ?? DEFAULTS.maxSessionsPerClient, 0, 1_000_000),
    rateLimit,
    rateBurst: intIn("rateBurst", o.rateBurst ?? Math.max(1, Math.ceil(rateLimit * 2)), 1, 10_000_000),
  });
}
