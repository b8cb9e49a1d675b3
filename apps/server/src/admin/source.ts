// What the admin HTTP server (admin.ts) reads and asks: one interface and one
// adapter (adminSource), so that a single process answers from its TftpServer
// and a multi-process server from its TftpCluster, whose primary aggregates
// what the workers report over IPC (every read may be a Promise for that
// reason; rows from a worker carry `worker` = its id). One machine's sessions
// run in one worker for the life of its boot flow (the primary's flow
// table), so each flow and its tftp.boot trace stay whole in one worker.

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

/**
 * What the admin API reads of a server: TftpServer and TftpCluster both have
 * these (a cluster's answers aggregate its workers').
 */
export interface AdminTarget {
  stats(): MaybePromise<ServerStats>;
  summary(): MaybePromise<SessionSummary>;
  liveSessions(): MaybePromise<LiveSession[]>;
  flows(q: FlowQuery): MaybePromise<BootFlow[]>;
  subscribe(fn: ServerEventListener): () => void;
}

export interface AdminSourceOptions {
  /** The configuration in force now (it changes on reload). */
  config: () => Record<string, unknown>;
  /** What a reload does (SIGHUP's path). */
  reload: () => Promise<ReloadResult>;
  /** Stops accepting requests and lets running sessions finish; called once. */
  drain: () => Promise<void>;
  /** Prometheus text, if metrics are on. */
  metrics?: () => Promise<string | undefined>;
  /** Worker processes (null: a single process). */
  workers: number | null;
}

/** The one admin adapter: a server (TftpServer or TftpCluster) and what the command adds. */
export function adminSource(target: AdminTarget, o: AdminSourceOptions): AdminSource {
  let draining: Promise<void> | undefined;
  return {
    workers: o.workers,
    stats: () => target.stats(),
    summary: () => target.summary(),
    sessions: () => target.liveSessions(),
    flows: (q) => target.flows(q),
    config: () => o.config(),
    subscribe: (fn) => target.subscribe(fn),
    drain: () => (draining ??= o.drain()),
    reload: () => o.reload(),
    metrics: o.metrics,
  };
}

/** The admin source of one TftpServer in this process. */
export function serverAdminSource(server: TftpServer, o: ServerSourceOptions): AdminSource {
  const prometheus = o.prometheus;
  return adminSource(server, {
    workers: null,
    config: o.config,
    reload: o.reload,
    drain: () => server.close({ graceMs: o.drainMs() }),
    metrics: prometheus ? () => prometheusText(prometheus) : undefined,
  });
}
