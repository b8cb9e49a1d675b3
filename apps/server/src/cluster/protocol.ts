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

/** "drain": stop accepting, let running sessions finish (arg: grace ms), stay up for reads. */
export type Question = "stats" | "summary" | "metrics" | "reload" | "sessions" | "flows" | "drain";

/** Primary -> worker. */
export type ToWorker =
  | { t: "ask"; id: number; q: Question; arg?: unknown }
  /** Stop accepting; running sessions get graceMs; then exit. */
  | { t: "drain"; graceMs: number }
  /** Whether the primary has event subscribers (workers emit events only while it has). */
  | { t: "subscribe"; on: boolean }
  /** A connection to the HTTP stage (the socket travels as the message's handle), from a client this worker owns. */
  | { t: "http" };

/** Worker -> primary. */
export type ToPrimary =
  /** `telemetry`: what the worker's SDK exports (the start-up line). */
  | { t: "ready"; pid: number; telemetry: string }
  | { t: "answer"; id: number; v: unknown }
  | { t: "events"; d: unknown[] }
  /** The worker could not start (a bad handler module, ...): the primary stops with this line. */
  | { t: "failed"; error: string };

export interface ReloadAnswer {
  ok: boolean;
  error?: string;
  /** Keys that changed but need a restart. */
  fixed?: string[];
}
