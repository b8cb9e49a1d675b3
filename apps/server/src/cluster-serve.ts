// `tftpkit serve --workers N` (N > 1): the primary's side of the command.
// It binds the listening sockets and the admin server, drops privileges,
// then forks the workers (which run as the dropped user), reloads every
// worker on SIGHUP and drains every worker on SIGTERM/SIGINT.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { emptyServerStats, type ServerStats } from "@tftpkit/server";
import { parseAdminAddress, startAdmin, type AdminServer } from "./admin.js";
import { dropPrivileges, resolveConfig } from "./cli.js";
import { TftpCluster } from "./cluster.js";
import type { Config } from "./config.js";

const write = (line: string): void => void process.stderr.write(line + "\n");

/** /metrics of the admin server, answered with the workers' merged text. */
function mergedMetrics(c: TftpCluster): PrometheusExporter {
  const handler = {
    getMetricsRequestHandler(_req: IncomingMessage, res: ServerResponse): void {
      c.metrics().then(
        (text) => {
          res.statusCode = 200;
          res.setHeader("content-type", "text/plain");
          res.end(text ?? "");
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.end(`# failed to collect the workers' metrics: ${String(err)}\n`);
        },
      );
    },
  };
  // The admin server calls only getMetricsRequestHandler on it.
  return handler as unknown as PrometheusExporter;
}

export async function serveCluster(values: Record<string, string | boolean | undefined>, config: Config, workers: number): Promise<number> {
  let current = config;
  const cluster = new TftpCluster({
    workers,
    values,
    recvBufferBytes: (config as { recvBufferBytes?: number }).recvBufferBytes,
  });
  const addr = await cluster.listen({ host: config.host, port: config.port });
  const adminAt = parseAdminAddress(config.admin);
  // The admin server's /healthz is synchronous: it shows the counters of the last second.
  let stats: ServerStats = emptyServerStats();
  let statsTimer: NodeJS.Timeout | undefined;
  let admin: AdminServer | undefined;
  const telemetryOff = process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true";
  if (adminAt) {
    try {
      admin = await startAdmin({ ...adminAt, prometheus: telemetryOff ? undefined : mergedMetrics(cluster), stats: () => stats });
    } catch (err) {
      await cluster.close();
      throw new Error(`--admin ${config.admin}: ${(err as Error).message} (choose another HOST:PORT or --admin off)`);
    }
  }
  if (config.user) {
    dropPrivileges(config.user, config.group);
    write(`tftpkit running as ${config.user} (uid ${process.getuid?.()})`);
  }
  try {
    await cluster.start();
  } catch (err) {
    await admin?.close();
    await cluster.close();
    throw err;
  }
  if (admin) {
    const refresh = (): void => void cluster.stats().then((s) => (stats = s), () => {});
    refresh();
    statsTimer = setInterval(refresh, 1000);
    statsTimer.unref();
  }
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const what = [config.handler && `handler ${config.handler}`, config.root && `root ${config.root}`].filter(Boolean).join(" + ");
  const rb = cluster.receiveBuffer();
  write(
    `tftpkit serving ${what} on ${shown}:${addr.port} (udp${config.singlePort ? ", single-port" : ""}${config.allowWrite ? ", writes on" : ""}, ${workers} workers: ${cluster
      .workers()
      .map((w) => `pid ${w.pid}`)
      .join(", ")})`,
  );
  if (rb) write(`tftpkit receive buffer: asked ${rb.asked} bytes, granted ${rb.granted}${rb.kernelMax ? ` (net.core.rmem_max ${rb.kernelMax})` : ""}`);
  if (admin) write(`tftpkit admin on ${admin.url} (/metrics, /healthz)`);

  const reload = async (): Promise<void> => {
    try {
      const next = await resolveConfig(values); // fails here already when the file is bad
      const r = await cluster.reload();
      if (!r.ok) throw new Error(r.error);
      current = next;
      write(`tftpkit reloaded the configuration in ${r.workers} workers${r.fixed?.length ? ` (${r.fixed.join(", ")}: need a restart, unchanged)` : ""}`);
    } catch (err) {
      write(`tftpkit reload failed, the previous configuration stays: ${(err as Error).message}`);
    }
  };
  const onHup = (): void => void reload();
  process.on("SIGHUP", onHup);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.off("SIGHUP", onHup);
      if (statsTimer) clearInterval(statsTimer);
      void cluster
        .stats()
        .then((s) =>
          write(
            `tftpkit ${signal}: draining ${s.sessionsActive} session(s) in ${workers} workers for up to ${current.drainSeconds} s` +
              (cluster.dropped ? ` (${cluster.dropped} datagrams were dropped in the primary: no live worker, or one too far behind)` : ""),
          ),
        )
        .then(() => cluster.close({ graceMs: current.drainSeconds * 1000 }))
        .then(() => admin?.close())
        .then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return 0;
}
