// The JSON the dashboard reads from a tftpkit admin API (CONTRACTS §3-4).
// The page and the fleet aggregator read only these fields and tolerate
// extra ones; in a fleet, every row carries the `server` it came from.

import type { Endpoint, Outcome, ServerStats } from "@tftpkit/server";

export type { Endpoint, Outcome };

export interface Tagged {
  /** The fleet member this row came from (fleet view only). */
  server?: string;
}

export interface LiveSession extends Tagged {
  id: string;
  kind: "read" | "write";
  peer: Endpoint;
  local: Endpoint;
  path: string;
  bytes: number;
  tsize: number | null;
  rateBps: number;
  blksize: number;
  windowsize: number;
  retransmits: number;
  ageMs: number;
  startedAt: number;
  worker: number | null;
}

export interface FlowStep {
  sessionId: string;
  path: string;
  kind: "read" | "write";
  /** "running" while the session runs. */
  outcome: Outcome | "running";
  bytes: number;
  tsize: number | null;
  blksize: number;
  windowsize: number;
  startedAt: number;
  durationMs: number;
  handlerMs: number | null;
  retransmits: number;
  error?: string;
}

export interface BootFlow extends Tagged {
  id: string;
  client: string;
  identity?: { kind: string; value: string };
  startedAt: number;
  endedAt: number | null;
  traceId?: string;
  steps: FlowStep[];
  /** Steps the server let go of to stay within its per-flow bound. */
  stepsDropped?: number;
}

/** The server-wide counters, as `TftpServer.stats()` gives them. */
export type ServerCounters = ServerStats;

export interface TopFile extends Tagged {
  path: string;
  sessions: number;
  bytes: number;
}

export interface TopFailingClient extends Tagged {
  client: string;
  failures: number;
}

export interface StatsBody {
  stats: ServerCounters;
  uptimeSeconds: number;
  outcomes: Record<string, number>;
  errorsByCode: Record<string, number>;
  topFiles: TopFile[];
  topFailingClients: TopFailingClient[];
  /** Fleet view: one entry per member (its own body, or why it is missing). */
  servers?: Array<{ server: string; ok: boolean; error?: string; uptimeSeconds?: number; sessionsActive?: number }>;
}

export interface InfoBody {
  name: string;
  version: string;
  pid?: number;
  workers?: number | null;
  traceUrlTemplate: string | null;
  /** Fleet view: the members, each with its own info (trace template included). */
  fleet?: Array<{ server: string; url: string; ok: boolean; error?: string; name?: string; version?: string; traceUrlTemplate?: string | null }>;
}

export type ServerEvent =
  | { type: "session-start"; session: LiveSession; server?: string }
  | { type: "session-progress"; session: LiveSession; server?: string }
  | { type: "session-end"; session: LiveSession; outcome: Outcome; error?: string; server?: string }
  | { type: "flow"; flow: BootFlow; server?: string };

/** The SSE event names of /api/v1/events. */
export const EVENT_NAMES = ["session-start", "session-progress", "session-end", "flow", "stats"] as const;
export type EventName = (typeof EVENT_NAMES)[number];
