// The JSON the dashboard reads from a tftpkit admin API (its OpenAPI document): the
// server's own types, plus the `server` tag every row carries in a fleet.

import type {
  BootFlow as ServerBootFlow,
  Endpoint,
  FailingClient,
  FlowStep,
  LiveSession as ServerLiveSession,
  Outcome,
  ServerStats,
  TopFile as ServerTopFile,
} from "@tftpkit/server";

export type { Endpoint, FlowStep, Outcome };

export interface Tagged {
  /** The fleet member this row came from (fleet view only). */
  server?: string;
}

export type LiveSession = ServerLiveSession & Tagged;
export type BootFlow = ServerBootFlow & Tagged;
export type TopFile = ServerTopFile & Tagged;
export type TopFailingClient = FailingClient & Tagged;

/** The server-wide counters, as `TftpServer.stats()` gives them. */
export type ServerCounters = ServerStats;

/** GET /api/v1/stats (and the `stats` event). */
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

/** GET /api/v1/info. */
export interface InfoBody {
  name: string;
  version: string;
  pid?: number;
  workers?: number | null;
  traceUrlTemplate: string | null;
  /** Fleet view: the members, each with its own info (trace template included). */
  fleet?: Array<{ server: string; url: string; ok: boolean; error?: string; name?: string; version?: string; traceUrlTemplate?: string | null }>;
}

/** An event of /api/v1/events (data = the JSON of one of these; in a fleet with `server` on it). */
export type ServerEvent =
  | { type: "session-start"; session: LiveSession; server?: string }
  | { type: "session-progress"; session: LiveSession; server?: string }
  | { type: "session-end"; session: LiveSession; outcome: Outcome; error?: string; server?: string }
  | { type: "flow"; flow: BootFlow; server?: string };
