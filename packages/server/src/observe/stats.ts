// Per-session and server-wide statistics.

/** How a session ended. A UEFI size probe (ERROR 8 right after the OACK) is "probe", never a failure. */
export type Outcome =
  | "ok"
  | "probe"
  | "not-found"
  | "access-denied"
  | "timeout"
  | "client-error"
  | "handler-error"
  | "error"
  | "aborted";

export interface Endpoint {
  address: string;
  port: number;
}

export interface SessionStats {
  id: number;
  kind: "read" | "write";
  peer: Endpoint;
  local: Endpoint;
  path: string;
  mode: string;
  /** Options as the client sent them (names lower-cased). */
  optionsAsked: Record<string, string>;
  /** Options in the OACK. */
  optionsAcked: Record<string, string>;
  blksize: number;
  windowsize: number;
  /** Size announced or known (-1 unknown). */
  tsize: number;
  /** Payload bytes sent once (retransmissions not counted again). */
  bytesSent: number;
  /** DATA and OACK packets sent, retransmissions included. */
  packetsSent: number;
  /** Blocks the client acknowledged. */
  blocksAcked: number;
  /** Packets sent again (after a timeout or a gap reported by the client). */
  retransmits: number;
  duplicateAcks: number;
  startedAt: number; // epoch ms
  durationMs: number;
  handlerMs: number;
  outcome: Outcome;
  error?: { code: number; message: string };
  /**
   * With outcome "handler-error": the exception behind the ERROR 0 "Internal
   * server error" the client got (the wire never shows it; logs and spans do).
   */
  handlerError?: HandlerError;
  /** The client went silent after the last block instead of acknowledging it. */
  finalAckMissing?: boolean;
  /**
   * With outcome "aborted": the client sent nothing after its request, and
   * its port was closed (ICMP port unreachable) before the first answer
   * reached it. Most often a late copy of a request already served (boot
   * flows call such a step "repeat").
   */
  unanswered?: boolean;
  /** The W3C traceparent the file name carried, if any. */
  traceparent?: string;
  /** Writes: payload bytes received in order. */
  bytesReceived?: number;
  blocksReceived?: number;
  /** Writes: blocks received again. */
  duplicateBlocks?: number;
}

export interface ServerStats {
  sessionsStarted: number;
  sessionsActive: number;
  sessionsOk: number;
  sessionsFailed: number;
  probes: number;
  bytesSent: number;
  packetsSent: number;
  retransmits: number;
  malformedPackets: number;
  unknownTidPackets: number;
  duplicateRequests: number;
  writeRequestsRefused: number;
  /** Requests refused by maxSessions / maxSessionsPerClient. */
  refusedBusy: number;
  /** Requests dropped by the per-address rate limit. */
  rateLimited: number;
  writesStarted: number;
  bytesReceived: number;
  /** Small-file cache: requests served from memory, and reads that filled it. */
  fileCacheHits: number;
  fileCacheMisses: number;
  /**
   * File reads (of files too large for the cache) made on the event loop
   * and through the thread pool, and reads on the loop that were slow (not
   * from memory: each sent reads back to the pool for a second). Counted
   * for the whole process.
   */
  fileReadsOnLoop: number;
  fileReadsInPool: number;
  fileReadsSlowOnLoop: number;
  /** Session buffers (read-ahead rings, upload windows) reserved now, and at most at once, in bytes. */
  sessionBufferBytes: number;
  sessionBufferPeakBytes: number;
  /** Sessions answered "Server busy" because the session buffer budget had no room. */
  sessionBufferRefused: number;
  /** Stale upload temp files (a killed server's) removed. */
  staleUploadsSwept: number;
  /** HTTP stage: requests answered (any status), body bytes sent, requests and connections refused (405, 403 traversal, 416, 431, busy, idle cut, 400). */
  httpRequests: number;
  httpBytesSent: number;
  httpRefused: number;
  outcomes: Record<Outcome, number>;
}

export function emptyServerStats(): ServerStats {
  return {
    sessionsStarted: 0,
    sessionsActive: 0,
    sessionsOk: 0,
    sessionsFailed: 0,
    probes: 0,
    bytesSent: 0,
    packetsSent: 0,
    retransmits: 0,
    malformedPackets: 0,
    unknownTidPackets: 0,
    duplicateRequests: 0,
    writeRequestsRefused: 0,
    refusedBusy: 0,
    rateLimited: 0,
    writesStarted: 0,
    bytesReceived: 0,
    fileCacheHits: 0,
    fileCacheMisses: 0,
    fileReadsOnLoop: 0,
    fileReadsInPool: 0,
    fileReadsSlowOnLoop: 0,
    sessionBufferBytes: 0,
    sessionBufferPeakBytes: 0,
    sessionBufferRefused: 0,
    staleUploadsSwept: 0,
    httpRequests: 0,
    httpBytesSent: 0,
    httpRefused: 0,
    outcomes: {
      ok: 0, probe: 0, "not-found": 0, "access-denied": 0, timeout: 0,
      "client-error": 0, "handler-error": 0, error: 0, aborted: 0,
    },
  };
}

/** An exception as logs show it: its name, message and stack (when it has one). */
export interface HandlerError {
  name: string;
  message: string;
  stack?: string;
}

/** Any thrown value as a HandlerError (a non-Error thrown value becomes its string). */
export function describeError(err: unknown): HandlerError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  let message: string;
  try {
    message = typeof err === "string" ? err : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { name: typeof err, message };
}
