// The control messages between a cluster primary and its workers
// (node:cluster IPC with "advanced" serialization). Datagrams do not travel
// here but on each worker's own datagram channel (channel.ts).

import type { ParsedArgs } from "../config/args.js";

/** The env var that carries the parsed command line to a worker (JSON). */
export const ENV_ARGS = "TFTPKIT_CLUSTER_ARGS";

/** What a worker needs of the command line to read its configuration. */
export type WorkerArgs = Pick<ParsedArgs, "config" | "values" | "verbose">;
/** The env var that carries the HTTP stage's bound address ({ host, port } JSON; host null for every address). */
export const ENV_HTTP = "TFTPKIT_HTTP_ADDRESS";
/** The env var that carries a worker's slot number (1..N, stable across restarts). */
export const ENV_SLOT = "TFTPKIT_WORKER_SLOT";
/** The env var that carries the number of workers (each takes its share of the per-server memory bounds). */
export const ENV_WORKERS = "TFTPKIT_WORKERS";
/** The env var set when the primary holds a session limit at the fork (workers then ask it before each session starts). */
export const ENV_ADMISSION = "TFTPKIT_ADMISSION";
/** The env var set when the primary serves an admin API (reports then carry sessions, flows, summary and metrics). */
export const ENV_REPORT = "TFTPKIT_REPORT";

/** How often a worker reports its counters to the primary. */
export const REPORT_INTERVAL_MS = 1000;
/** Live sessions a report carries at most. */
export const REPORT_MAX_SESSIONS = 1000;
/** Boot flows (the newest) a report carries at most. */
export const REPORT_MAX_FLOWS = 200;

/** "drain": stop accepting, let running sessions finish (arg: grace ms), stay up for reads. */
export type Question = "stats" | "summary" | "metrics" | "reload" | "sessions" | "flows" | "drain";

/** Primary -> worker. */
export type ToWorker =
  | { t: "ask"; id: number; q: Question; arg?: unknown }
  /** Stop accepting; running sessions get graceMs; then exit. */
  | { t: "drain"; graceMs: number }
  /** Whether the primary has event subscribers (workers emit events only while it has). */
  | { t: "subscribe"; on: boolean }
  /** Whether an admin client watches the sessions or flows (reports then carry the lists as often as their cost allows; see ListsPacer). */
  | { t: "watch"; on: boolean }
  /** A connection to the HTTP stage (the socket travels as the message's handle), from a client this worker owns. */
  | { t: "http" }
  /** Answers to "acquire": ok[i] for ids[i]; `credit`: session starts the worker may now admit by itself. */
  | { t: "admit"; ids: number[]; ok: boolean[]; credit: number }
  /** Give back unused credits and stop reusing the others (answered by a "release" with reclaimed). */
  | { t: "reclaim" }
  /** Whether session starts ask the primary (it holds a session limit), after a reload changed that. */
  | { t: "gate"; on: boolean };

/**
 * What a worker reports every REPORT_INTERVAL_MS and when it exits cleanly:
 * what the primary keeps of it if it dies. Fields other than stats only when
 * the primary serves an admin API; the lists (live sessions, boot flows) not
 * in every report (see ListsPacer in cluster-worker.ts: every 10 s, more
 * often while an admin client watches them), and as JSON text:
 * the primary reads them only if the worker dies, and until then holds one
 * string instead of thousands of objects its garbage collector would walk.
 */
export interface Report {
  stats: unknown;
  summary?: unknown;
  /** LiveSession[] as JSON. */
  sessionsJson?: string;
  /** BootFlow[] as JSON. */
  flowsJson?: string;
  metrics?: string;
}

/** Worker -> primary. */
export type ToPrimary =
  /** `telemetry`: what the worker's SDK exports (the start-up line). */
  | { t: "ready"; pid: number; telemetry: string }
  | { t: "answer"; id: number; v: unknown }
  | { t: "events"; d: unknown[] }
  | { t: "report"; r: Report }
  /** May these sessions start (server-wide limits)? Answered by "admit". */
  | { t: "acquire"; ids: number[]; clients: string[] }
  /**
   * Sessions admitted on request of these clients ended; `returned`: unused
   * credits given back, `freed`: credit sessions ended and not reused (both
   * after a reclaim); `reclaimed`: the answer to a reclaim.
   */
  | { t: "release"; clients: string[]; returned?: number; freed?: number; reclaimed?: boolean }
  /** The worker could not start (a bad handler module, ...): the primary stops with this line. */
  | { t: "failed"; error: string };

export interface ReloadAnswer {
  ok: boolean;
  error?: string;
  /** Keys that changed but need a restart. */
  fixed?: string[];
}
