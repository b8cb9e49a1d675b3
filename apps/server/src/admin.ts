// The admin HTTP server (`--admin HOST:PORT`, default 127.0.0.1:9069):
//   GET /metrics   Prometheus text exposition of the OpenTelemetry metrics
//   GET /healthz   {"status":"ok","uptimeSeconds":..,"activeSessions":..,...}
// The admin dashboard will live here too. Loopback by default: it is not
// meant to face the network the TFTP clients are on.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIPv6 } from "node:net";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import type { ServerStats } from "@tftpkit/server";

export const ADMIN_DEFAULT = "127.0.0.1:9069";

export interface AdminAddress {
  host: string;
  port: number;
}

/** Parses `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback); `off` gives undefined. */
export function parseAdminAddress(v: string): AdminAddress | undefined {
  if (v === "off") return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--admin needs HOST:PORT, [IPv6]:PORT or off (got "${v}")`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

export interface AdminOptions extends AdminAddress {
  /** The Prometheus reader of the SDK; /metrics answers 404 without one. */
  prometheus: PrometheusExporter | undefined;
  /** Server-wide counters for /healthz. */
  stats: () => ServerStats;
}

export interface AdminServer {
  /** The bound address (port resolved when 0 was asked). */
  address: AdminAddress;
  /** `http://host:port` */
  url: string;
  close(): Promise<void>;
}

export async function startAdmin(o: AdminOptions): Promise<AdminServer> {
  const started = performance.now();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    if (path === "/metrics") {
      if (!o.prometheus) {
        res.writeHead(404, { "content-type": "text/plain" }).end("metrics are off (OTEL_SDK_DISABLED)\n");
        return;
      }
      o.prometheus.getMetricsRequestHandler(req, res);
      return;
    }
    if (path === "/healthz") {
      const s = o.stats();
      const body = JSON.stringify({
        status: "ok",
        uptimeSeconds: Math.round((performance.now() - started) / 10) / 100,
        activeSessions: s.sessionsActive,
        sessionsStarted: s.sessionsStarted,
        sessionsOk: s.sessionsOk,
        sessionsFailed: s.sessionsFailed,
      });
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(body + "\n");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found (try /metrics or /healthz)\n");
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: o.host, port: o.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address();
  const address = typeof a === "object" && a ? { host: a.address, port: a.port } : { host: o.host, port: o.port };
  return {
    address,
    url: `http://${isIPv6(address.host) ? `[${address.host}]` : address.host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
