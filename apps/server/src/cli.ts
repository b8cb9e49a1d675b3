// The `tftpkit` command.

import { parseArgs } from "node:util";
import { createServer, type ServerOptions, type SessionStats } from "@tftpkit/server";
import { ADMIN_DEFAULT, parseAdminAddress, startAdmin, type AdminServer } from "./admin.js";
import { loadHandler } from "./handler-module.js";
import { startTelemetry } from "./telemetry.js";

const USAGE = `Usage: tftpkit serve [options]

Serve files from a root folder, or what a handler module answers.

Options:
  --root DIR             folder to serve (read-only; nothing outside it is reachable)
  --handler FILE         ES module whose default export decides each read (falls back to --root)
  --host ADDR            address to bind (default ::, dual stack)
  --port N               UDP port (default 69)
  --max-blksize N        largest blksize granted, 8..65464 (default 65464)
  --max-windowsize N     largest windowsize granted, 1..65535 (default 64)
  --timeout S            retransmission timeout in seconds when the client sets none (default 1)
  --retries N            retransmissions before a session gives up (default 5)
  --log FORMAT           json (default), text or off: one line per finished session
  --admin HOST:PORT      admin HTTP server with Prometheus /metrics and /healthz
                         (default ${ADMIN_DEFAULT}; "off" to disable)
  --trace-console        print every session span to stdout (OpenTelemetry ConsoleSpanExporter)
  -h, --help             show this help

Telemetry (OpenTelemetry, standard environment variables):
  OTEL_EXPORTER_OTLP_ENDPOINT            export traces and metrics over OTLP/HTTP (e.g. http://collector:4318);
                                         nothing is exported when no endpoint is set
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     ... traces only (full URL, e.g. http://collector:4318/v1/traces)
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT    ... metrics only (full URL, .../v1/metrics)
  OTEL_EXPORTER_OTLP_PROTOCOL            http/protobuf (default) or http/json
  OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER   otlp, console or none (override the above)
  OTEL_METRIC_EXPORT_INTERVAL            ms between OTLP metric exports (default 60000)
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED=true, ...
  A file name ending in -00-<trace id>-<span id>-<flags> (W3C traceparent) joins that trace.
`;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`--${name} needs a whole number (got "${v}")`);
  return Number(v);
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} needs a number (got "${v}")`);
  return n;
}

export function formatSession(s: SessionStats, format: "json" | "text"): string {
  if (format === "json") {
    return JSON.stringify({
      time: new Date(s.startedAt + s.durationMs).toISOString(),
      event: "session",
      id: s.id,
      kind: s.kind,
      outcome: s.outcome,
      peer: `${s.peer.address}:${s.peer.port}`,
      local: s.local.address,
      path: s.path,
      mode: s.mode,
      asked: s.optionsAsked,
      acked: s.optionsAcked,
      bytes: s.bytesSent,
      packets: s.packetsSent,
      retransmits: s.retransmits,
      ms: Math.round(s.durationMs * 10) / 10,
      ...(s.error ? { error: s.error } : {}),
      ...(s.finalAckMissing ? { finalAckMissing: true } : {}),
    });
  }
  const err = s.error ? ` error=${s.error.code}:${JSON.stringify(s.error.message)}` : "";
  return `${s.outcome} ${s.peer.address}:${s.peer.port} ${JSON.stringify(s.path)} ${s.bytesSent}B ${s.durationMs.toFixed(1)}ms blksize=${s.blksize} window=${s.windowsize} retransmits=${s.retransmits}${err}`;
}

export async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      root: { type: "string" },
      handler: { type: "string" },
      host: { type: "string", default: "::" },
      port: { type: "string", default: "69" },
      "max-blksize": { type: "string" },
      "max-windowsize": { type: "string" },
      timeout: { type: "string" },
      retries: { type: "string" },
      log: { type: "string", default: "json" },
      admin: { type: "string", default: ADMIN_DEFAULT },
      "trace-console": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.root && !values.handler) throw new Error("serve needs --root DIR or --handler FILE (see --help)");
  const log = values.log;
  if (log !== "json" && log !== "text" && log !== "off") throw new Error(`--log must be json, text or off`);
  const adminAt = parseAdminAddress(values.admin);
  // Before the handler module loads, so that its HTTP requests are traced.
  const telemetry = startTelemetry(process.env, { traceConsole: values["trace-console"], prometheus: adminAt !== undefined });
  const options: ServerOptions = {
    root: values.root,
    maxBlksize: int("max-blksize", values["max-blksize"]),
    maxWindowsize: int("max-windowsize", values["max-windowsize"]),
    timeout: num("timeout", values.timeout),
    retries: int("retries", values.retries),
    onSessionEnd: log === "off" ? undefined : (s) => process.stdout.write(formatSession(s, log) + "\n"),
    instrumentation: telemetry.instrumentation,
  };
  if (values.handler) options.handler = await loadHandler(values.handler, values.root);
  const server = createServer(options);
  const port = int("port", values.port)!;
  const addr = await server.listen({ host: values.host, port });
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  process.stderr.write(
    `tftpkit serving ${values.handler ? `handler ${values.handler}` : ""}${values.handler && values.root ? " + " : ""}${values.root ? `root ${values.root}` : ""} on ${shown}:${addr.port} (udp)\n`,
  );
  let admin: AdminServer | undefined;
  if (adminAt) {
    try {
      admin = await startAdmin({ ...adminAt, prometheus: telemetry.prometheus, stats: () => server.stats() });
    } catch (err) {
      await server.close();
      await telemetry.shutdown();
      throw new Error(`--admin ${values.admin}: ${(err as Error).message} (choose another HOST:PORT or --admin off)`);
    }
    process.stderr.write(`tftpkit admin on ${admin.url} (/metrics, /healthz)\n`);
  }
  process.stderr.write(`tftpkit ${telemetry.describe()}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      server
        .close({ graceMs: 5000 })
        .then(() => admin?.close())
        .then(() => telemetry.shutdown())
        .then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new Error(`unknown command "${command}" (try: tftpkit serve --help)`);
  }
}
