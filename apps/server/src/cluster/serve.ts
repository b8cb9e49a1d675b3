// `tftpkit serve --workers N` (N > 1): the primary's side of the command.
// It binds the listening sockets and the admin server, drops privileges,
// then forks the workers (which run as the dropped user), reloads every
// worker on SIGHUP and drains every worker on SIGTERM/SIGINT.

import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { parseAdminAddress, readTokenFile, type AdminServer } from "../admin/admin.js";
import { adminSource, type AdminSource, type ReloadResult } from "../admin/source.js";
import type { ParsedArgs } from "../config/args.js";
import { resolveConfig, version } from "../config/settings.js";
import { announce } from "../announce.js";
import { TftpCluster } from "./cluster.js";
import type { SessionLimits } from "./ledger.js";
import { parseHttpAddress, type Config } from "../config/config.js";
import { checkRoots, dropPrivileges, httpListenError, listenError, startAdminServer, type Account } from "../startup.js";

/**
 * The HTTP stage's listening socket in the primary: connections wait,
 * unread, until `serve` is set (the workers are up), then each goes to
 * the worker that owns the client's address.
 */
async function listenHttp(http: string): Promise<{ server: NetServer; address: AddressInfo; serve: (accept: (s: Socket) => void) => void }> {
  const at = parseHttpAddress(http)!;
  const held: Socket[] = [];
  let accept: ((s: Socket) => void) | undefined;
  const server = createNetServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    if (accept) accept(s);
    else held.push(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw httpListenError(err, http);
  });
  server.on("error", () => {});
  return {
    server,
    address: server.address() as AddressInfo,
    serve: (fn) => {
      accept = fn;
      for (const s of held.splice(0)) if (!s.destroyed) fn(s);
    },
  };
}

const write = (line: string): void => void process.stderr.write(line + "\n");

/** The admin API's view of a cluster: the primary's answers aggregate the workers'. */
export function clusterAdminSource(
  c: TftpCluster,
  o: { config: () => Record<string, unknown>; reload: () => Promise<ReloadResult>; drainMs: () => number; metrics: boolean },
): AdminSource {
  return adminSource(c, {
    workers: c.workers().length,
    config: o.config,
    reload: o.reload,
    drain: () => c.drain({ graceMs: o.drainMs() }),
    metrics: o.metrics ? () => c.metrics() : undefined,
  });
}

/** The primary's flow table bounds and session limits of a configuration. */
export function primaryBounds(c: Config): { routing: { idleMs: number; max: number }; limits: SessionLimits } {
  return {
    routing: { idleMs: c.flowIdleSeconds * 1000, max: Math.max(1024, c.maxFlows) },
    limits: { maxSessions: c.maxSessions, maxSessionsPerClient: c.maxSessionsPerClient },
  };
}

export async function serveCluster(args: ParsedArgs, config: Config, workers: number, account?: Account): Promise<number> {
  let current = config;
  // The HTTP stage's socket first: the workers learn its address when they are forked.
  const http = config.http && config.http !== "off" ? await listenHttp(config.http) : undefined;
  const wildcard = http && (http.address.address === "::" || http.address.address === "0.0.0.0");
  const cluster = new TftpCluster({
    workers,
    args: { config: args.config, values: args.values, verbose: args.verbose },
    recvBufferBytes: config.recvBufferBytes,
    http: http ? { host: wildcard ? undefined : http.address.address, port: http.address.port } : undefined,
    ...primaryBounds(config),
    fullReports: parseAdminAddress(config.admin) !== undefined,
    warmUpMs: config.warmUpMs,
  });
  const addr = await cluster.listen({ host: config.host, port: config.port }).catch((err: unknown) => {
    http?.server.close();
    throw listenError(err, config);
  });
  const adminAt = parseAdminAddress(config.admin);
  // The bearer token of POST /api/v1/drain and /reload: read before privileges are dropped; a bad file stops the start.
  const readToken = (c: Config): Promise<string | undefined> => (c.adminTokenFile ? readTokenFile(c.adminTokenFile) : Promise.resolve(undefined));
  let token: string | undefined;
  try {
    token = await readToken(config);
  } catch (err) {
    http?.server.close();
    await cluster.close();
    throw err;
  }
  let admin: AdminServer | undefined;
  const notices: string[] = [];
  const metricsOff = process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true";
  // Set below: what SIGHUP and POST /api/v1/reload do.
  let reloadAll: () => Promise<ReloadResult> = () => Promise.resolve({ ok: false, error: "not started" });
  if (adminAt) {
    const source = clusterAdminSource(cluster, {
      config: () => ({ ...current, workers }),
      reload: () => reloadAll(),
      drainMs: () => current.drainSeconds * 1000,
      metrics: !metricsOff,
    });
    try {
      admin = await startAdminServer({ at: adminAt, source, current: () => current, token: () => token, version: version() }, notices);
    } catch (err) {
      http?.server.close();
      await cluster.close();
      throw err;
    }
  }
  // Before the fork: the workers (and the handler module they load) run as the user too.
  try {
    if (account) {
      dropPrivileges(account); // checked: every uid and gid is the account's, no root group left
      checkRoots(config, account.user);
    }
    await cluster.start();
    http?.serve((s) => cluster.acceptHttp(s));
  } catch (err) {
    http?.server.close();
    await admin?.close();
    await cluster.close();
    throw err;
  }
  const reload = async (): Promise<ReloadResult> => {
    try {
      const next = await resolveConfig(args); // fails here already when the file is bad
      checkRoots(next, account?.user); // a root that went missing or unreadable: refused here, the workers keep theirs
      const nextToken = await readToken(next);
      const r = await cluster.reload();
      if (!r.ok) throw new Error(r.error);
      current = next;
      token = nextToken;
      cluster.configure(primaryBounds(next));
      write(`tftpkit reloaded the configuration in ${r.workers} workers${r.fixed?.length ? ` (${r.fixed.join(", ")}: need a restart, unchanged)` : ""}`);
      return { ok: true };
    } catch (err) {
      write(`tftpkit reload failed, the previous configuration stays: ${(err as Error).message}`);
      return { ok: false, error: (err as Error).message };
    }
  };
  reloadAll = reload;
  const onHup = (): void => void reload();
  process.on("SIGHUP", onHup);

  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.off("SIGHUP", onHup);
      cluster.windDown();
      void cluster
        .stats()
        .then((s) =>
          write(
            `tftpkit ${signal}: draining ${s.sessionsActive} session(s) in ${workers} workers for up to ${current.drainSeconds} s` +
              (cluster.dropped ? ` (${cluster.dropped} datagrams were dropped in the primary: no live worker, or one too far behind)` : ""),
          ),
        )
        .then(() => http?.server.close())
        .then(() => cluster.close({ graceMs: current.drainSeconds * 1000 }))
        .then(() => admin?.close())
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
    workerPids: cluster.workers().map((w) => w.pid),
    receiveBuffer: cluster.receiveBuffer(),
    http: http?.address,
    admin: admin && { url: admin.url, token: !!token },
    telemetry: cluster.telemetry,
    account,
  });
  await stopped;
  return 0;
}
