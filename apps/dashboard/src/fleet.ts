// The fleet server behind `tftpkit-dashboard`: the dashboard's page plus the
// GET endpoints of the admin API answered for several tftpkit servers at
// once. Every row carries the `server` it came from; counters add up; the
// event streams of all members merge into one. Read-only: drain and reload
// stay on each server's own admin address, behind its token.

import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createParser } from "eventsource-parser";
import { mergeFlows, mergeStats, tag, type MemberStats } from "./merge.js";
import { dashboardHandler } from "./static.js";
import { hostAllowed, listenHttp } from "@tftpkit/http-kit";
import type { BootFlow, InfoBody, LiveSession, StatsBody } from "./wire.js";

export interface FleetMember {
  /** The tag put on its rows: the name given as NAME=URL, else the URL. */
  name: string;
  /** Base URL of its admin API, without a trailing slash. */
  url: string;
}

export interface FleetOptions {
  members: FleetMember[];
  host: string;
  port: number;
  /** Per-request time limit towards a member (default 3000 ms). */
  timeoutMs?: number;
  /**
   * Host names the page may be reached by besides IP addresses and
   * `localhost` (e.g. a reverse proxy's name). Any other Host header is
   * refused, so a web page cannot reach the fleet through DNS rebinding.
   */
  allowHosts?: string[];
  /** Folder of the built page (default: this package's build). */
  assetsDir?: string;
}

export interface FleetServer {
  url: string;
  address: { host: string; port: number };
  close(): Promise<void>;
}

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Parses `URL` or `NAME=URL` (an http(s) admin address); throws one line naming the flag. */
export function parseMember(v: string): FleetMember {
  const m = /^([A-Za-z0-9._-]+)=(.*)$/.exec(v);
  const raw = m ? m[2] : v;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`--server needs URL or NAME=URL of a tftpkit admin address, e.g. http://127.0.0.1:9069 (got "${v}")`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`--server ${v}: only http: and https: admin addresses`);
  if (u.search || u.hash || u.username || u.password) throw new Error(`--server ${v}: no query, fragment or credentials in the URL`);
  const url = u.toString().replace(/\/+$/, "");
  return { name: m ? m[1] : url, url };
}

interface Answer<T> {
  server: string;
  body?: T;
  error?: string;
}

/** An error as one line: undici's "fetch failed" says why only in its cause. */
function reason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const why = e.cause?.code ?? e.cause?.message;
  return why ? `${e.message} (${why})` : e.message;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff" }).end(text + "\n");
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

/** Re-tags an event of a member: the `server` on the event and on the session or flow it carries. */
function retag(data: string, server: string): Record<string, unknown> | undefined {
  let e: unknown;
  try {
    e = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!e || typeof e !== "object" || Array.isArray(e)) return undefined;
  const o = e as Record<string, unknown>;
  for (const k of ["session", "flow"]) if (o[k] && typeof o[k] === "object") o[k] = { ...(o[k] as object), server };
  o.server = server;
  return o;
}

/** How long a member's last `stats` event counts in the fleet's sum. */
const STATS_STALE_MS = 5_000;
/** A watcher whose socket holds more than this unsent is dropped (a stalled tab cannot grow memory). */
const MAX_BACKLOG = 1 << 20;

/**
 * The merged event stream. Connects to the members' /api/v1/events only while
 * at least one browser watches; reconnects with a growing pause; sends the
 * fleet's summed `stats` once a second and a `member` event when a member's
 * stream opens or fails.
 */
class EventHub {
  private readonly watchers = new Set<ServerResponse>();
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly latest = new Map<string, { at: number; body: StatsBody }>();
  private readonly state = new Map<string, { ok: boolean; error?: string }>();

  constructor(private readonly members: FleetMember[]) {}

  add(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-content-type-options": "nosniff",
    });
    res.write("retry: 2000\n\n");
    this.watchers.add(res);
    for (const [server, s] of this.state) this.send(res, "member", { server, ...s });
    req.on("close", () => {
      this.watchers.delete(res);
      if (this.watchers.size === 0) this.stop();
    });
    if (!this.abort) this.start();
  }

  close(): void {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
    this.stop();
  }

  private send(to: ServerResponse, event: string, data: unknown): void {
    if (to.writableLength > MAX_BACKLOG) {
      this.watchers.delete(to);
      to.destroy();
      return;
    }
    to.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(event: string, data: unknown): void {
    for (const w of [...this.watchers]) this.send(w, event, data);
  }

  private setState(server: string, ok: boolean, error?: string): void {
    const was = this.state.get(server);
    if (was && was.ok === ok && was.error === error) return;
    this.state.set(server, error ? { ok, error } : { ok });
    this.broadcast("member", error ? { server, ok, error } : { server, ok });
  }

  private start(): void {
    const abort = (this.abort = new AbortController());
    for (const m of this.members) void this.follow(m, abort.signal);
    this.timer = setInterval(() => {
      const now = Date.now();
      const parts: MemberStats[] = this.members.map((m) => {
        const l = this.latest.get(m.name);
        return l && now - l.at < STATS_STALE_MS ? { server: m.name, body: l.body } : { server: m.name, error: this.state.get(m.name)?.error ?? "no recent stats" };
      });
      // No member streams stats: say nothing, and the page polls /api/v1/stats.
      if (parts.some((p) => p.body)) this.broadcast("stats", mergeStats(parts));
    }, 1000);
  }

  private stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    clearInterval(this.timer);
    this.latest.clear();
    this.state.clear();
  }

  /** One member's stream, for as long as `signal` is not aborted. */
  private async follow(m: FleetMember, signal: AbortSignal): Promise<void> {
    let pause = 500;
    while (!signal.aborted) {
      try {
        const res = await fetch(`${m.url}/api/v1/events`, { signal, headers: { accept: "text/event-stream" } });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        this.setState(m.name, true);
        pause = 500;
        const parser = createParser({
          onEvent: (e) => {
            const name = e.event ?? "message";
            const data = retag(e.data, m.name);
            if (!data) return;
            if (name === "stats") this.latest.set(m.name, { at: Date.now(), body: data as unknown as StatsBody });
            else this.broadcast(name, data);
          },
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        throw new Error("the event stream ended");
      } catch (err) {
        if (signal.aborted) return;
        this.latest.delete(m.name);
        this.setState(m.name, false, reason(err));
        await sleep(pause, signal);
        pause = Math.min(pause * 2, 10_000);
      }
    }
  }
}

export async function startFleet(o: FleetOptions): Promise<FleetServer> {
  if (o.members.length === 0) throw new Error("--server: name at least one tftpkit admin address");
  const names = new Set<string>();
  for (const m of o.members) {
    if (names.has(m.name)) throw new Error(`--server ${m.name}: named twice`);
    names.add(m.name);
  }
  const timeoutMs = o.timeoutMs ?? 3000;
  const page = dashboardHandler(o.assetsDir);
  const hub = new EventHub(o.members);

  const ask = <T>(path: string): Promise<Array<Answer<T>>> =>
    Promise.all(
      o.members.map(async (m): Promise<Answer<T>> => {
        try {
          const res = await fetch(`${m.url}${path}`, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
          if (!res.ok) return { server: m.name, error: `HTTP ${res.status}` };
          return { server: m.name, body: (await res.json()) as T };
        } catch (err) {
          return { server: m.name, error: reason(err) };
        }
      }),
    );
  const status = (a: Array<Answer<unknown>>) => a.map((x) => (x.body !== undefined ? { server: x.server, ok: true } : { server: x.server, ok: false, error: x.error }));

  const api = async (path: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    switch (path) {
      case "/healthz": {
        const a = await ask<unknown>("/healthz");
        json(res, 200, { status: a.some((x) => x.body) ? "ok" : "down", servers: status(a) });
        return;
      }
      case "/api/v1/info": {
        const a = await ask<InfoBody>("/api/v1/info");
        const templates = new Set(a.map((x) => x.body?.traceUrlTemplate ?? null));
        const body: InfoBody = {
          name: "tftpkit-dashboard",
          version: VERSION,
          pid: process.pid,
          workers: null,
          traceUrlTemplate: templates.size === 1 ? [...templates][0] : null,
          fleet: a.map((x, i) => ({
            server: x.server,
            url: o.members[i].url,
            ok: x.body !== undefined,
            ...(x.body ? { name: x.body.name, version: x.body.version, traceUrlTemplate: x.body.traceUrlTemplate ?? null } : { error: x.error }),
          })),
        };
        json(res, 200, body);
        return;
      }
      case "/api/v1/stats": {
        const a = await ask<StatsBody>("/api/v1/stats");
        json(res, 200, mergeStats(a));
        return;
      }
      case "/api/v1/sessions": {
        const a = await ask<{ sessions: LiveSession[] }>("/api/v1/sessions");
        json(res, 200, { sessions: a.flatMap((x) => tag(x.body?.sessions ?? [], x.server)), servers: status(a) });
        return;
      }
      case "/api/v1/flows": {
        const q = new URLSearchParams();
        for (const k of ["client", "limit"]) if (query.has(k)) q.set(k, query.get(k)!);
        const limit = query.has("limit") ? Number(query.get("limit")) : undefined;
        const a = await ask<{ flows: BootFlow[] }>(`/api/v1/flows${q.size ? `?${q}` : ""}`);
        const flows = mergeFlows(a.map((x) => ({ server: x.server, flows: x.body?.flows ?? [] })), Number.isInteger(limit) && limit! >= 0 ? limit : undefined);
        json(res, 200, { flows, servers: status(a) });
        return;
      }
      case "/api/v1/config": {
        const a = await ask<{ config: Record<string, unknown> }>("/api/v1/config");
        json(res, 200, { configs: a.flatMap((x) => (x.body ? [{ server: x.server, config: x.body.config }] : [])), servers: status(a) });
        return;
      }
      case "/api/v1/events":
        hub.add(req, res);
        return;
      default:
        json(res, 404, { error: `not found: the fleet view answers GET /api/v1/{info,stats,sessions,flows,config,events} and /healthz` });
    }
  };

  const allow = new Set((o.allowHosts ?? []).map((h) => h.toLowerCase()));
  const server: Server = createServer((req, res) => {
    if (!hostAllowed(req.headers.host, allow)) {
      res.writeHead(421, { "content-type": "text/plain" }).end("this Host is not served: reach the fleet view by IP address or localhost, or start it with --allow-host NAME\n");
      return;
    }
    if (page(req, res)) return;
    const url = new URL(req.url ?? "/", "http://fleet");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("the fleet view is read-only: drain and reload each server on its own admin address\n");
      return;
    }
    api(url.pathname, url.searchParams, req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  return listenHttp(server, o.host, o.port, () => hub.close());
}
