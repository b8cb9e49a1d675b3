// The admin HTTP server (`--admin HOST:PORT`, default 127.0.0.1:9069), JSON
// over the AdminSource (source.ts):
//
//   GET  /healthz                 {"status":"ok"|"draining",...} (503 once drained)
//   GET  /metrics                 Prometheus text exposition of the OpenTelemetry metrics
//   GET  /api/v1/info             name, version, pid, workers, traceUrlTemplate
//   GET  /api/v1/stats            counters, outcomes, errors by code, top files, top failing clients
//   GET  /api/v1/sessions         sessions running now
//   GET  /api/v1/flows            boot flows, newest first (?client=ADDR, ?limit=N)
//   GET  /api/v1/config           the effective configuration, secrets removed
//   GET  /api/v1/events           Server-Sent Events: session-start/-progress/-end, flow, stats
//   GET  /api/v1/openapi.json     the OpenAPI 3.1 description of all of this
//   POST /api/v1/drain            Authorization: Bearer <token> (--admin-token-file)
//   POST /api/v1/reload           Authorization: Bearer <token>
//
// No GET changes anything; the two POSTs answer 401 without the token and
// 404 when no token is configured. Against DNS rebinding, the page and
// /api/v1 answer only a Host that is an IP address, localhost or a name of
// --admin-allow-hosts (else 421); /metrics and /healthz answer any Host
// (scrapers and probes use names; they carry no client strings). Loopback by default: the admin address is
// not meant to face the network the TFTP clients are on. Client-chosen
// strings (file names, addresses) only ever leave as JSON string values.
//
// The dashboard's page and assets (`GET /`, `/assets/*`) are served by the
// `page` hook, tried before the 404.

import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { hostAllowed, listenHttp } from "@tftpkit/http-kit";
import type { FlowQuery, ServerEvent } from "@tftpkit/server";
import { openApiDocument } from "./openapi.js";
import type { AdminSource } from "./source.js";

export const ADMIN_DEFAULT = "127.0.0.1:9069";

export interface AdminAddress {
  host: string;
  port: number;
}

/** Parses `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback); `off` gives undefined. */
export function parseAdminAddress(v: string): AdminAddress | undefined {
  if (v === "off") return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--admin needs HOST:PORT, [IPv6]:PORT or off (got "${v}")`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/** The smallest token accepted from --admin-token-file. */
export const TOKEN_MIN_LENGTH = 16;

/** Reads the bearer token of the mutating endpoints (surrounding white space trimmed). */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`--admin-token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.trim();
  if (token.length < TOKEN_MIN_LENGTH || /\s/.test(token)) {
    throw new Error(`--admin-token-file ${path}: the token must be one word of at least ${TOKEN_MIN_LENGTH} characters`);
  }
  return token;
}

const SECRET_KEY = /token|secret|password|passwd|credential|apikey|api_key/i;

/** The configuration without anything secret: values of keys that name a token, secret or password are replaced. */
export function redactConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined || typeof v === "function") continue;
    out[k] = SECRET_KEY.test(k) ? "[redacted]" : v;
  }
  return out;
}

export interface AdminOptions extends AdminAddress {
  source: AdminSource;
  /** The bearer token of POST drain/reload (read at each request: it may change on reload); undefined turns them off. */
  token?: () => string | undefined;
  /** A tracing UI's trace URL, `{traceId}` replaced (the dashboard links flows to it). */
  traceUrlTemplate?: () => string | undefined;
  /** tftpkit's version, for /api/v1/info. */
  version: string;
  /**
   * Serves what the admin API does not (the dashboard's `GET /` and
   * `/assets/*`); returns false to let the request fall through to the 404.
   */
  page?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** ms between `stats` events on /api/v1/events (default 1000). */
  statsIntervalMs?: number;
  /** Host names (besides IP addresses and localhost) the page and /api/v1 answer to. */
  allowHosts?: () => readonly string[];
}

export interface AdminServer {
  /** The bound address (port resolved when 0 was asked). */
  address: AdminAddress;
  /** `http://host:port` */
  url: string;
  close(): Promise<void>;
}

/** SSE streams at once; more are refused (503) so that watchers cannot grow memory without bound. */
export const MAX_EVENT_STREAMS = 64;
/** A stream whose socket holds more than this unsent is closed (a stalled watcher). */
const MAX_STREAM_BACKLOG = 4 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;
const FLOWS_LIMIT_MAX = 10_000;

const API_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
} as const;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { ...API_HEADERS, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(res.req.method === "HEAD" ? undefined : text);
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

/** True when the request carries `Authorization: Bearer <token>` (compared in constant time). */
function authorized(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(req.headers.authorization ?? "");
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

function flowQuery(params: URLSearchParams): FlowQuery {
  const q: FlowQuery = {};
  const client = params.get("client");
  if (client !== null) {
    if (client.length === 0 || client.length > 200) throw new HttpError(400, "client must be an address (1 to 200 characters)");
    q.client = client;
  }
  const limit = params.get("limit");
  if (limit !== null) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > FLOWS_LIMIT_MAX) throw new HttpError(400, `limit must be an integer from 1 to ${FLOWS_LIMIT_MAX}`);
    q.limit = n;
  }
  return q;
}

/**
 * The open /api/v1/events streams: one subscription to the source and one
 * stats tick for all of them (while there is at least one), each event
 * serialised once; a stream that stops reading is closed.
 */
class EventStreams {
  private readonly open = new Set<ServerResponse>();
  private unsubscribe: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly source: AdminSource,
    private readonly statsBody: () => Promise<unknown>,
    private readonly statsIntervalMs: number,
  ) {}

  get size(): number {
    return this.open.size;
  }

  add(req: IncomingMessage, res: ServerResponse): void {
    this.open.add(res);
    const stop = (): void => this.remove(res);
    req.on("close", stop);
    res.on("error", stop);
    if (this.open.size > 1) return;
    this.unsubscribe = this.source.subscribe((e: ServerEvent) => this.broadcast(e.type, e));
    const tick = (): void => {
      this.statsBody().then((b) => this.broadcast("stats", b), () => {
        // A worker that did not answer: the next tick tries again.
      });
    };
    this.timers = [
      setInterval(tick, this.statsIntervalMs),
      setInterval(() => this.write(": keep-alive\n\n"), HEARTBEAT_MS),
    ];
  }

  sendTo(res: ServerResponse, event: string, data: unknown): void {
    if (this.open.has(res)) this.writeTo(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(event: string, data: unknown): void {
    if (this.open.size) this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(text: string): void {
    for (const res of [...this.open]) this.writeTo(res, text);
  }

  private writeTo(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_STREAM_BACKLOG) return this.remove(res);
    res.write(text);
  }

  private remove(res: ServerResponse): void {
    if (!this.open.delete(res)) return;
    res.end();
    if (this.open.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  closeAll(): void {
    for (const res of [...this.open]) this.remove(res);
  }
}

type Route = { method: "GET" | "POST"; run: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void };

export async function startAdmin(o: AdminOptions): Promise<AdminServer> {
  const started = performance.now();
  const source = o.source;
  const uptimeSeconds = (): number => Math.round((performance.now() - started) / 10) / 100;
  let drained: "no" | "draining" | "drained" = "no";

  const statsBody = async () => {
    const [stats, summary] = await Promise.all([source.stats(), source.summary()]);
    return {
      stats,
      uptimeSeconds: uptimeSeconds(),
      outcomes: stats.outcomes,
      errorsByCode: summary.errorsByCode,
      topFiles: summary.topFiles,
      topFailingClients: summary.topFailingClients,
    };
  };

  const streams = new EventStreams(source, statsBody, o.statsIntervalMs ?? 1000);

  const mutating = (run: (res: ServerResponse) => Promise<void>): Route["run"] => async (req, res) => {
    req.resume(); // no body is read
    const token = o.token?.();
    if (token === undefined) throw new HttpError(404, "mutating endpoints are off: start tftpkit with --admin-token-file");
    if (!authorized(req, token)) {
      throw new HttpError(401, "a valid Authorization: Bearer <token> is required", { "www-authenticate": 'Bearer realm="tftpkit"' });
    }
    await run(res);
  };

  const events: Route["run"] = (req, res) => {
    if (req.method === "HEAD") {
      res.writeHead(200, { ...API_HEADERS, "content-type": "text/event-stream; charset=utf-8" }).end();
      return;
    }
    if (streams.size >= MAX_EVENT_STREAMS) throw new HttpError(503, `too many event streams (${MAX_EVENT_STREAMS})`, { "retry-after": "10" });
    res.writeHead(200, {
      ...API_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.write("retry: 2000\n\n");
    streams.add(req, res);
    // The newcomer's first stats at once; the others get theirs with the next tick.
    statsBody().then((b) => streams.sendTo(res, "stats", b), () => {});
  };

  const routes: Record<string, Route> = {
    "/healthz": {
      method: "GET",
      run: async (_req, res) => {
        const s = await source.stats();
        json(res, drained === "no" ? 200 : 503, {
          status: drained === "no" ? "ok" : drained,
          uptimeSeconds: uptimeSeconds(),
          activeSessions: s.sessionsActive,
          sessionsStarted: s.sessionsStarted,
          sessionsOk: s.sessionsOk,
          sessionsFailed: s.sessionsFailed,
        });
      },
    },
    "/metrics": {
      method: "GET",
      run: async (req, res) => {
        const text = source.metrics ? await source.metrics() : undefined;
        if (text === undefined) {
          res.writeHead(404, { "content-type": "text/plain" }).end("metrics are off (OTEL_SDK_DISABLED)\n");
          return;
        }
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      },
    },
    "/api/v1/info": {
      method: "GET",
      run: (_req, res) =>
        json(res, 200, {
          name: "tftpkit",
          version: o.version,
          pid: process.pid,
          workers: source.workers,
          traceUrlTemplate: o.traceUrlTemplate?.() ?? null,
        }),
    },
    "/api/v1/stats": { method: "GET", run: async (_req, res) => json(res, 200, await statsBody()) },
    "/api/v1/sessions": { method: "GET", run: async (_req, res) => json(res, 200, { sessions: await source.sessions() }) },
    "/api/v1/flows": {
      method: "GET",
      run: async (_req, res, url) => json(res, 200, { flows: await source.flows(flowQuery(url.searchParams)) }),
    },
    "/api/v1/config": { method: "GET", run: async (_req, res) => json(res, 200, { config: redactConfig(await source.config()) }) },
    "/api/v1/events": { method: "GET", run: events },
    "/api/v1/openapi.json": { method: "GET", run: (_req, res) => json(res, 200, openApiDocument(o.version)) },
    "/api/v1/drain": {
      method: "POST",
      run: mutating(async (res) => {
        const active = (await source.stats()).sessionsActive;
        if (drained === "no") {
          drained = "draining";
          source.drain().then(
            () => (drained = "drained"),
            () => (drained = "drained"),
          );
        }
        json(res, 202, { status: drained, activeSessions: active });
      }),
    },
    "/api/v1/reload": {
      method: "POST",
      run: mutating(async (res) => {
        const r = await source.reload();
        json(res, r.ok ? 200 : 422, r);
      }),
    },
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://admin.invalid");
    } catch {
      return json(res, 400, { error: "bad request target" });
    }
    if (url.pathname !== "/metrics" && url.pathname !== "/healthz") {
      const allow = new Set((o.allowHosts?.() ?? []).map((h) => h.toLowerCase()));
      if (!hostAllowed(req.headers.host, allow)) {
        return json(res, 421, { error: "this Host is not served: use an IP address or localhost, or start tftpkit with --admin-allow-hosts NAME" });
      }
    }
    const route = Object.prototype.hasOwnProperty.call(routes, url.pathname) ? routes[url.pathname] : undefined;
    if (!route) {
      if (o.page?.(req, res)) return;
      return json(res, 404, { error: "not found (see /api/v1/openapi.json)" });
    }
    const allowed = route.method === "GET" ? ["GET", "HEAD"] : ["POST"];
    if (!allowed.includes(req.method ?? "")) {
      return json(res, 405, { error: `method not allowed (${allowed.join(", ")})` }, { allow: allowed.join(", ") });
    }
    Promise.resolve()
      .then(() => route.run(req, res, url))
      .catch((err: unknown) => {
        if (res.headersSent) return void res.end();
        if (err instanceof HttpError) return json(res, err.status, { error: err.message }, err.headers);
        json(res, 500, { error: (err as Error)?.message ?? String(err) });
      });
  };

  const server: Server = createServer(handle);
  return listenHttp(server, o.host, o.port, () => streams.closeAll());
}
