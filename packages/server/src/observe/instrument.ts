// The seam between sessions and telemetry. The server calls these hooks;
// packages that know OpenTelemetry (see telemetry.ts) implement them. With no
// instrumentation configured, `session()` is never called and every hook is
// skipped through optional chaining: nothing is built per packet.

import type { BootFlow, FlowContext, FlowStep } from "./flows.js";
import type { SessionProgress } from "./live.js";
import type { Endpoint, Outcome, SessionStats } from "./stats.js";

export interface SessionInfo {
  id: number;
  kind: "read" | "write";
  /** The path the handler sees (a traceparent suffix already stripped). */
  path: string;
  mode: string;
  peer: Endpoint;
  local: Endpoint;
  optionsAsked: Readonly<Record<string, string>>;
  /** A W3C traceparent carried in the file name (Tinkerbell convention), if any. */
  traceparent?: string;
  /** What the session has done so far (bytes, negotiated sizes), read on demand: never per packet. */
  progress?: () => SessionProgress;
  /**
   * The boot flow the session belongs to, set by the server's flow tracker
   * before the instrumentation it wraps sees the session (telemetry puts the
   * session span under the flow's tftp.boot span and fills traceparent).
   */
  flow?: FlowContext;
}

export interface SessionObserver {
  /** The session's boot flow, handed to the handler as ReadRequest.flow. */
  readonly flow?: FlowContext;
  /** Runs the handler (telemetry runs it inside the session span's context). */
  runHandler<T>(fn: () => T): T;
  negotiated(acked: Readonly<Record<string, string>>, blksize: number, windowsize: number, tsize: number): void;
  /** Packets sent again: after a timeout, or from the block after the one a gap ACK named. */
  retransmit(fromBlock: number, count: number, reason: "timeout" | "gap"): void;
  /** A retransmission deadline passed. */
  timeout(retry: number): void;
  /** A packet from another address/port reached the session (answered with ERROR 5). */
  unknownTid(peer: Endpoint): void;
  /** The handler's answer named the step's stage and/or marked it the boot's last (read answers' `stage`, `last`). */
  answered?(stage: string | undefined, last: boolean): void;
  /** The session ended; `step`: its boot flow step (stage, and outcome "search-miss" for a miss inside a known config search). */
  end(stats: SessionStats, step?: FlowStep): void;
}

/** A request to the HTTP stage, as telemetry sees it. */
export interface HttpRequestInfo {
  id: number;
  method: string;
  /** The path the handler sees (percent-decoded, no leading slash, a traceparent suffix stripped). */
  path: string;
  peer: Endpoint;
  local: Endpoint;
  /** From the traceparent header, the query's traceparent or a suffix of the path. */
  traceparent?: string;
  userAgent?: string;
  range?: string;
  /** What the request has sent so far (bytes), read on demand. */
  progress?: () => SessionProgress;
  /** The boot flow the request joins (set by the flow tracker first, as for sessions). */
  flow?: FlowContext;
  /** The machine's booted callback (httpBootedPath): it ends the flow rather than joining it as a step. */
  callback?: boolean;
}

/** How an HTTP request ended. */
export interface HttpResult {
  status: number;
  /** Body bytes written. */
  bytes: number;
  /** Content-Length announced (-1: none). */
  size: number;
  outcome: Outcome;
  durationMs: number;
  handlerMs: number;
  error?: string;
}

export interface HttpObserver {
  readonly flow?: FlowContext;
  runHandler<T>(fn: () => T): T;
  /** The handler answered with a stage and/or marked the file as the boot's last (as SessionObserver.answered). */
  answered?(stage: string | undefined, last: boolean): void;
  end(result: HttpResult): void;
}

/** Why the HTTP stage refused a request or a connection. */
export type HttpRefusal = "traversal" | "method" | "range" | "headers" | "busy" | "idle" | "bad-request";

export interface Instrumentation {
  session(info: SessionInfo): SessionObserver | undefined;
  /** A request to the HTTP stage (net/http-stage.ts). */
  http?(info: HttpRequestInfo): HttpObserver | undefined;
  /** The HTTP stage refused a request or a connection. */
  httpRefused?(reason: HttpRefusal): void;
  /** A packet the server could not decode. */
  malformed(peer: Endpoint): void;
  /** A boot flow ended (idle gap, evicted, booted, or the server closing): e.g. end its root span. */
  flowEnded?(flow: BootFlow): void;
  /** A boot flow booted (after flowEnded when booting ended it): e.g. record its time to boot. */
  flowBooted?(flow: BootFlow): void;
}

const TRACEPARENT_SUFFIX = /-00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Splits a traceparent carried at the end of a file name
 * (`name-00-<trace id>-<span id>-<flags>`). An all-zero trace or span id is
 * not a valid traceparent and is left in the name.
 */
export function splitTraceparent(filename: string): { path: string; traceparent?: string } {
  const m = TRACEPARENT_SUFFIX.exec(filename);
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return { path: filename };
  return { path: filename.slice(0, m.index), traceparent: `00-${m[1]}-${m[2]}-${m[3]}` };
}
