// The `tftpkit` command.

import { availableParallelism } from "node:os";
import { HttpStage, createServer } from "@tftpkit/server";
import { parseAdminAddress, readTokenFile, type AdminServer } from "./admin/admin.js";
import { serverAdminSource, type ReloadResult } from "./admin/source.js";
import { flagsToInput, parseServeArgs, usage, UsageError, type ParsedArgs } from "./config/args.js";
import { parseHttpAddress, printableConfig, type Config } from "./config/config.js";
import { announce } from "./announce.js";
import { serveCluster } from "./cluster/serve.js";
import { LineWriter } from "./observe/log-writer.js";
import { buildServerOptions } from "./config/serve-options.js";
import { checkRoots, dropPrivileges, httpListenError, listenError, lookupAccount, startAdminServer } from "./startup.js";
import { formatSession } from "./observe/session-log.js";
import { resolveConfig, version } from "./config/settings.js";
import { startTelemetry } from "./observe/telemetry.js";
import { SessionLog, warmUpHooks } from "./observe/warm-up-hooks.js";

export { flagsToInput };

export { formatSession, resolveConfig, version };

/**
 * What happens to an error nothing caught (a bug in tftpkit, or a handler
 * module's stray timer, never a handler's own exception: sessions answer
 * those with ERROR 0): its stack on stderr, then exit 70 (EX_SOFTWARE) so that
 * the supervisor restarts a clean process.
 */
export function exitOnInternalError(): void {
  const die = (kind: string) => (err: unknown): void => {
    const text = err instanceof Error ? err.stack ?? `${err.name}: ${err.message}` : String(err);
    process.stderr.write(`tftpkit: internal error (${kind}), exiting: ${text}\n`);
    process.exit(70);
  };
  process.on("uncaughtException", die("uncaught exception"));
  process.on("unhandledRejection", die("unhandled rejection"));
}

export async function serve(argv: string[]): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseServeArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`tftpkit: ${err.message}\n`);
    return err.exitCode;
  }
  if (args.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (args.version) {
    process.stdout.write(`tftpkit ${version()}\n`);
    return 0;
  }
  let config = await resolveConfig(args, args.notices);
  if (args.printConfig) {
    process.stdout.write(JSON.stringify(printableConfig(config), null, 2) + "\n");
    return 0;
  }
  for (const n of args.notices) process.stderr.write(`tftpkit: ${n}\n`);
  exitOnInternalError();
  // Everything that can be checked is checked before any socket is bound.
  const account = config.user ? lookupAccount(config.user, config.group) : undefined;
  checkRoots(config);
  // Every core: a primary and N worker processes, see cluster/serve.ts.
  const workers = config.workers ?? availableParallelism();
  if (workers > 1) return serveCluster(args, config, workers, account);
  const logOf = (c: Config): Config["log"] => (c.log === "off" && args.verbose > 0 ? "text" : c.log);
  let log = logOf(config);
  const logLines = new LineWriter();
  process.once("exit", () => logLines.flush());
  const sessionLog = new SessionLog(logLines, () => log);
  const adminAt = parseAdminAddress(config.admin);
  // The bearer token of POST /api/v1/drain and /reload: read before privileges are dropped; a bad file stops the start.
  const readToken = (c: Config): Promise<string | undefined> => (c.adminTokenFile ? readTokenFile(c.adminTokenFile) : Promise.resolve(undefined));
  let token = await readToken(config);
  // Before the handler module loads, so that its HTTP requests are traced.
  const telemetry = startTelemetry(process.env, { traceConsole: config.traceConsole, prometheus: adminAt !== undefined });
  // Where the HTTP stage listens, for handler modules (set once it is bound).
  let httpShown: { host: string | undefined; port: number } | undefined;
  const extras = {
    onSessionEnd: sessionLog.onSessionEnd, instrumentation: telemetry.instrumentation, http: () => httpShown,
    warmUpHooks: warmUpHooks(sessionLog, telemetry),
  };
  let server: ReturnType<typeof createServer>;
  try {
    server = createServer(await buildServerOptions(config, extras));
  } catch (err) {
    await telemetry.shutdown();
    throw err;
  }
  let admin: AdminServer | undefined;
  // Set below: what SIGHUP and POST /api/v1/reload do.
  let reloadConfig: () => Promise<ReloadResult> = () => Promise.resolve({ ok: false, error: "not started" });
  const notices: string[] = [];
  if (adminAt) {
    // The admin address is bound before the TFTP ports: a taken one stops the start before anything is served.
    const source = serverAdminSource(server, {
      config: () => ({ ...config }),
      reload: () => reloadConfig(),
      drainMs: () => config.drainSeconds * 1000,
      prometheus: telemetry.prometheus,
    });
    try {
      admin = await startAdminServer({ at: adminAt, source, current: () => config, token: () => token, version: version() }, notices);
    } catch (err) {
      await telemetry.shutdown();
      throw err;
    }
  }
  let addr: Awaited<ReturnType<typeof server.listen>>;
  // The HTTP stage binds first and holds its connections until privileges are dropped.
  const httpAt = config.http ? parseHttpAddress(config.http) : undefined;
  const stage = httpAt ? new HttpStage(server) : undefined;
  let httpAddr: Awaited<ReturnType<HttpStage["listen"]>> | undefined;
  try {
    if (stage && httpAt) {
      stage.hold();
      httpAddr = await stage.listen(httpAt).catch((err: unknown) => {
        throw httpListenError(err, config.http!);
      });
      httpShown = { host: isWildcard(httpAddr.address) ? undefined : httpAddr.address, port: httpAddr.port };
    }
    addr = await server.listen({ host: config.host, port: config.port });
    // At once, in the same turn as the bind completes: no request is answered before the drop.
    if (account) {
      dropPrivileges(account);
      checkRoots(config, account.user);
    }
    stage?.release();
  } catch (err) {
    await stage?.close().catch(() => {});
    await server.close().catch(() => {});
    await admin?.close().catch(() => {});
    await telemetry.shutdown();
    throw listenError(err, config);
  }
  const reload = async (): Promise<ReloadResult> => {
    try {
      const next = await resolveConfig(args);
      const nextToken = await readToken(next);
      const fixed = (["host", "port", "singlePort", "admin", "http", "httpMaxHeaderBytes", "user", "group", "traceConsole"] as const).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]),
      );
      checkRoots(next, account?.user);
      server.reconfigure(await buildServerOptions({ ...next, singlePort: config.singlePort }, extras));
      config = next;
      token = nextToken;
      log = logOf(next);
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

  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.off("SIGHUP", onHup);
      const active = server.stats().sessionsActive;
      process.stderr.write(`tftpkit ${signal}: draining ${active} session(s) for up to ${config.drainSeconds} s\n`);
      void stage?.close({ graceMs: config.drainSeconds * 1000 });
      server
        .close({ graceMs: config.drainSeconds * 1000 })
        .then(() => admin?.close())
        .then(() => telemetry.shutdown())
        .then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });

  // Announced once SIGHUP, SIGTERM and SIGINT are handled: a supervisor that reloads or stops
  // as soon as it reads these lines does not meet the default action, which ends the process.
  announce({
    notices,
    config,
    address: addr,
    receiveBuffer: server.receiveBuffer(),
    http: httpAddr,
    admin: admin && { url: admin.url, token: !!token },
    telemetry: telemetry.describe(),
    account,
  });

  await stopped;
  return 0;
}

const isWildcard = (a: string): boolean => a === "::" || a === "0.0.0.0";

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(usage());
      return command === undefined ? 1 : 0;
    case "-V":
    case "--version":
    case "version":
      process.stdout.write(`tftpkit ${version()}\n`);
      return 0;
    default:
      process.stderr.write(`tftpkit: unknown command "${command}" (try: tftpkit serve --help)\n`);
      return 2;
  }
}
