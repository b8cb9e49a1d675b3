// The `tftpkit` command.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createServer, type SessionStats } from "@tftpkit/server";
import { dashboardHandler } from "@tftpkit/dashboard";
import { ADMIN_DEFAULT, parseAdminAddress, startAdmin, type AdminServer } from "./admin.js";
import { serverAdminSource, type ReloadResult } from "./admin-source.js";
import { CONFIG_DEFAULTS, loadConfig, validateConfig, type Config } from "./config.js";
import { buildServerOptions } from "./serve-options.js";
import { startTelemetry } from "./telemetry.js";

const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

const USAGE = `Usage: tftpkit serve [options]

Serve files from a root folder, or what a handler module answers.

Options (each also a key of the --config file, in camelCase; flags win):
  --config FILE              JSON configuration file (reloaded on SIGHUP)
  --root DIR                 folder to serve (read-only; nothing outside it is reachable)
  --handler FILE             ES module whose default export decides each read (falls back to --root)
  --host ADDR                address to bind (default ::, dual stack)
  --port N                   UDP port (default 69)
  --max-blksize N            largest blksize granted, 8..65464 (default 65464)
  --max-windowsize N         largest windowsize granted, 1..65535 (default 64)
  --mtu N                    cap blksize so DATA fits in one IP packet of N bytes
  --timeout S                retransmission timeout in seconds when the client sets none (default 1)
  --retries N                retransmissions before a session gives up (default 5)
  --handler-timeout-ms N     a handler that has not answered by then gets ERROR 0 (default 30000)
  --refuse-options LIST      options never granted, e.g. blksize,windowsize (like tftp-hpa -r)
  --allow-write              accept uploads of new files under --root (off by default)
  --allow-overwrite          uploads may also replace existing files
  --max-upload-bytes N       largest upload (default 268435456)
  --max-file-bytes N         largest file served (default: no limit)
  --file-cache-bytes N       memory for small files' contents, checked by a stat per request (default 67108864; 0 = off)
  --file-cache-max-file-bytes N  files up to this size are cached (default 262144)
  --single-port              run every session on the listening port (NAT, Kubernetes)
  --port-range LO-HI         bind session sockets to ports in this range
  --max-sessions N           sessions at once (default 10000; 0 = no limit)
  --max-sessions-per-client N  sessions at once from one address (default: no limit)
  --rate-limit R             requests per second per address; excess is dropped (default: off)
  --rate-burst N             burst of the rate limit (default 2 x rate)
  --remap FILE               tftp-hpa style remap rules (reloaded on SIGHUP)
  --case-insensitive         match file names ignoring case when the exact name is missing
  --user NAME, --group NAME  drop privileges to this user (and group) after binding
  --drain-seconds S          on SIGTERM/SIGINT, time running sessions get to finish (default 10)
  --log FORMAT               json (default), text or off: one line per finished session
  --admin HOST:PORT          admin HTTP server: JSON API /api/v1/* (sessions, boot flows, stats, events),
                             Prometheus /metrics, /healthz (default ${ADMIN_DEFAULT}; "off" to disable)
  --trace-console            print every session span to stdout (OpenTelemetry ConsoleSpanExporter)
  -h, --help                 show this help

Signals: SIGHUP reloads --config and --remap (running sessions keep their settings);
SIGTERM/SIGINT stop accepting and drain.

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
      bytes: s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent,
      packets: s.packetsSent,
      retransmits: s.retransmits,
      ms: Math.round(s.durationMs * 10) / 10,
      ...(s.error ? { error: s.error } : {}),
      ...(s.finalAckMissing ? { finalAckMissing: true } : {}),
    });
  }
  const err = s.error ? ` error=${s.error.code}:${JSON.stringify(s.error.message)}` : "";
  const bytes = s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent;
  return `${s.kind} ${s.outcome} ${s.peer.address}:${s.peer.port} ${JSON.stringify(s.path)} ${bytes}B ${s.durationMs.toFixed(1)}ms blksize=${s.blksize} window=${s.windowsize} retransmits=${s.retransmits}${err}`;
}

/** Flags as given (kebab-case), without defaults: the config file and CONFIG_DEFAULTS fill the rest. */
const FLAGS = {
  config: { type: "string" },
  root: { type: "string" },
  handler: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "max-blksize": { type: "string" },
  "max-windowsize": { type: "string" },
  mtu: { type: "string" },
  timeout: { type: "string" },
  retries: { type: "string" },
  "handler-timeout-ms": { type: "string" },
  "refuse-options": { type: "string" },
  "allow-write": { type: "boolean" },
  "allow-overwrite": { type: "boolean" },
  "max-upload-bytes": { type: "string" },
  "max-file-bytes": { type: "string" },
  "file-cache-bytes": { type: "string" },
  "file-cache-max-file-bytes": { type: "string" },
  "single-port": { type: "boolean" },
  "port-range": { type: "string" },
  "max-sessions": { type: "string" },
  "max-sessions-per-client": { type: "string" },
  "rate-limit": { type: "string" },
  "rate-burst": { type: "string" },
  remap: { type: "string" },
  "case-insensitive": { type: "boolean" },
  user: { type: "string" },
  group: { type: "string" },
  "drain-seconds": { type: "string" },
  log: { type: "string" },
  admin: { type: "string" },
  "trace-console": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Flags to the config file's shape: numbers as numbers, lists as lists. Values are checked by validateConfig. */
export function flagsToInput(values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, v] of Object.entries(values)) {
    if (v === undefined || flag === "config" || flag === "help") continue;
    const key = camel(flag);
    const kind = FLAGS[flag as keyof typeof FLAGS]?.type;
    if (kind === "boolean" || typeof v === "boolean") out[key] = v;
    else if (key === "refuseOptions") out[key] = v.split(",").map((x) => x.trim()).filter(Boolean);
    else if (key === "portRange") {
      const m = /^(\d+)-(\d+)$/.exec(v);
      out[key] = m ? [Number(m[1]), Number(m[2])] : v;
    } else if (["root", "handler", "host", "remap", "user", "group", "log", "admin"].includes(key)) out[key] = v;
    else out[key] = v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

/** The configuration in force: the file (if any), then the flags over it. */
export async function resolveConfig(values: Record<string, string | boolean | undefined>): Promise<Config> {
  const file = typeof values.config === "string" ? await loadConfig(values.config) : CONFIG_DEFAULTS;
  return validateConfig(flagsToInput(values), "command line", process.cwd(), file);
}

/** Drops root privileges to `user` (and `group`, else the user's primary group). */
export function dropPrivileges(user: string, group: string | undefined): void {
  if (typeof process.setuid !== "function" || typeof process.setgid !== "function") {
    throw new Error("--user is not supported on this platform");
  }
  let gid: string | number | undefined = group;
  if (gid === undefined) {
    const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.split(":")[0] === user);
    if (!line) throw new Error(`--user ${user}: no such user`);
    gid = Number(line.split(":")[3]);
  }
  process.setgroups?.([gid]);
  process.setgid(gid);
  process.setuid(user);
}

export async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config = await resolveConfig(values);
  let log = config.log;
  const onSessionEnd = (s: SessionStats): void => {
    if (log !== "off") process.stdout.write(formatSession(s, log) + "\n");
  };
  const adminAt = parseAdminAddress(config.admin);
  // Before the handler module loads, so that its HTTP requests are traced.
  const telemetry = startTelemetry(process.env, { traceConsole: config.traceConsole, prometheus: adminAt !== undefined });
  const extras = { onSessionEnd, instrumentation: telemetry.instrumentation };
  const server = createServer(await buildServerOptions(config, extras));
  const addr = await server.listen({ host: config.host, port: config.port });
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const what = [config.handler && `handler ${config.handler}`, config.root && `root ${config.root}`].filter(Boolean).join(" + ");
  process.stderr.write(`tftpkit serving ${what} on ${shown}:${addr.port} (udp${config.singlePort ? ", single-port" : ""}${config.allowWrite ? ", writes on" : ""})\n`);
  let admin: AdminServer | undefined;
  // Set below: what SIGHUP and POST /api/v1/reload do.
  let reloadConfig: () => Promise<ReloadResult> = async () => ({ ok: false, error: "not started" });
  if (adminAt) {
    const source = serverAdminSource(server, {
      config: () => ({ ...config }),
      reload: () => reloadConfig(),
      drainMs: () => config.drainSeconds * 1000,
      prometheus: telemetry.prometheus,
    });
    try {
      admin = await startAdmin({ ...adminAt, source, version: VERSION, page: dashboardHandler() });
    } catch (err) {
      await server.close();
      await telemetry.shutdown();
      throw new Error(`--admin ${config.admin}: ${(err as Error).message} (choose another HOST:PORT or --admin off)`);
    }
    process.stderr.write(`tftpkit admin on ${admin.url} (dashboard /, /api/v1, /metrics, /healthz)\n`);
  }
  process.stderr.write(`tftpkit ${telemetry.describe()}\n`);
  if (config.user) {
    dropPrivileges(config.user, config.group);
    process.stderr.write(`tftpkit running as ${config.user} (uid ${process.getuid?.()})\n`);
  }

  const reload = async (): Promise<ReloadResult> => {
    try {
      const next = await resolveConfig(values);
      const fixed = (["host", "port", "singlePort", "admin", "user", "group", "traceConsole"] as const).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]),
      );
      server.reconfigure(await buildServerOptions({ ...next, singlePort: config.singlePort }, extras));
      config = next;
      log = next.log;
      process.stderr.write(
        `tftpkit reloaded the configuration${fixed.length ? ` (${fixed.join(", ")}: need a restart, unchanged)` : ""}\n`,
      );
      return { ok: true };
    } catch (err) {
      process.stderr.write(`tftpkit reload failed, the previous configuration stays: ${(err as Error).message}\n`);
      return { ok: false, error: (err as Error).message };
    }
  };
  reloadConfig = reload;
  const onHup = (): void => void reload();
  process.on("SIGHUP", onHup);

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.off("SIGHUP", onHup);
      const active = server.stats().sessionsActive;
      process.stderr.write(`tftpkit ${signal}: draining ${active} session(s) for up to ${config.drainSeconds} s\n`);
      server
        .close({ graceMs: config.drainSeconds * 1000 })
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
