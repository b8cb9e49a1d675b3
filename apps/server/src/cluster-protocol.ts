// The messages between a cluster primary and its workers (node:cluster IPC
// with "advanced" serialization, so Buffers travel as Buffers). Datagrams are
// batched: one IPC message carries every datagram for a worker that arrived
// in one turn of the event loop, as a flat array (no object per datagram).

import type { ParsedArgs } from "./args.js";

/** The env var that carries the parsed command line to a worker (JSON). */
export const ENV_ARGS = "TFTPKIT_CLUSTER_ARGS";

/** What a worker needs of the command line to read its configuration. */
export type WorkerArgs = Pick<ParsedArgs, "config" | "values" | "verbose">;
/** The env var that carries a worker's slot number (1..N, stable across restarts). */
export const ENV_SLOT = "TFTPKIT_WORKER_SLOT";

/** Fields per datagram in an "in" batch: buffer, address, port, family (4 or 6), listener id. */
export const IN_STRIDE = 5;
/** Fields per datagram in an "out" batch: listener id, buffer, port, address. */
export const OUT_STRIDE = 4;

/** "drain": stop accepting, let running sessions finish (arg: grace ms), stay up for reads. */
export type Question = "stats" | "summary" | "metrics" | "reload" | "sessions" | "flows" | "drain";

export interface ListenerInfo {
  id: number;
  local: string | null;
  port: number;
}

/** Primary -> worker. */
export type ToWorker =
  /** Datagrams received on the primary's listening sockets for this worker's clients; `ln`: listeners seen for the first time. */
  | { t: "in"; ln?: ListenerInfo[]; d: unknown[] }
  | { t: "ask"; id: number; q: Question; arg?: unknown }
  /** Stop accepting; running sessions get graceMs; then exit. */
  | { t: "drain"; graceMs: number }
  /** Whether the primary has event subscribers (workers emit events only while it has). */
  | { t: "subscribe"; on: boolean };

/** Worker -> primary. */
export type ToPrimary =
  /** `telemetry`: what the worker's SDK exports (the start-up line). */
  | { t: "ready"; pid: number; telemetry: string }
  /** Datagrams to send from the primary's listening sockets (single-port sessions, errors to bad requests). */
  | { t: "out"; d: unknown[] }
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
