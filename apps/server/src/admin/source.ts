// What the admin HTTP server (admin.ts) reads and asks: one interface, so
// that a single process answers from its TftpServer (serverAdminSource below)
// and a multi-process server answers from its primary, which aggregates what
// the workers report over IPC (every read may be a Promise for that reason;
// rows from a worker carry `worker` = its id). One client's sessions run in
// one worker (the primary routes requests by client address), so each boot
// flow and its tftp.boot trace stay whole inside one worker.

import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type {
  BootFlow, FlowQuery, LiveSession, ServerEventListener, ServerStats, SessionSummary, TftpServer,
} from "@tftpkit/server";

export type MaybePromise<T> = T | Promise<T>;

export interface ReloadResult {
  ok: boolean;
  /** Why the new configuration was refused (the previous one stays). */
  error?: string;
}

export interface AdminSource {
  /** Server-wide counters (summed over workers). */
  stats(): MaybePromise<ServerStats>;
  /** Errors by code, top files, top failing clients (merged by key over workers). */
  summary(): MaybePromise<SessionSummary>;
  /** Sessions running now. */
  sessions(): MaybePromise<LiveSession[]>;
  /** Boot flows, newest first. */
  flows(q: FlowQuery): MaybePromise<BootFlow[]>;
  /** The effective configuration; secrets are removed by the admin server too (redactConfig). */
  config(): MaybePromise<Record<string, unknown>>;
  /** Session and flow events; returns the unsubscribe. Sources do no work while nobody is subscribed. */
  subscribe(fn: ServerEventListener): () => void;
  /** Stops accepting requests and lets running sessions finish (the process stays up: /healthz says draining). */
  drain(): Promise<void>;
  /** Reads the configuration again (as SIGHUP does). */
  reload(): Promise<ReloadResult>;
  /** Prometheus text exposition of the metrics; undefined when metrics are off. */
  metrics?(): Promise<string | undefined>;
  /** Worker processes (null: a single process). */
  readonly workers: number | null;
}

export interface ServerSourceOptions {
  /** The configuration in force now (it changes on reload). */
  config: () => Record<string, unknown>;
  /** What a reload does (the CLI's SIGHUP path). */
  reload: () => Promise<ReloadResult>;
  /** Running sessions get this long to finish when drained. */
  drainMs: () => number;
  /** The Prometheus reader of the SDK, if metrics are on. */
  prometheus?: PrometheusExporter;
}

/** Prometheus text of an exporter created with `preventServerStart`. */
export async function prometheusText(exporter: PrometheusExporter): Promise<string> {
  const { resourceMetrics } = await exporter.collect();
  return new PrometheusSerializer().serialize(resourceMetrics);
}

/** The admin source of one TftpServer in this process. */
export function serverAdminSource(server: TftpServer, o: ServerSourceOptions): AdminSource {
  let draining: Promise<void> | undefined;
  const prometheus = o.prometheus;
  return {
    workers: null,
    stats: () => server.stats(),
    summary: () => server.summary(),
    sessions: () => server.liveSessions(),
    flows: (q) => server.flows(q),
    config: () => o.config(),
    subscribe: (fn) => server.subscribe(fn),
    drain: () => (draining ??= server.close({ graceMs: o.drainMs() })),
    reload: () => o.reload(),
    metrics: prometheus ? () => prometheusText(prometheus) : undefined,
  };
}
