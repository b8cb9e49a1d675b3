// Servers the interop matrix runs against: tftpkit (the product) and Debian's
// tftpd-hpa (`in.tftpd`, a known-good baseline that shows the client command
// lines themselves are right). Both bind loopback (or "::" for the dual-stack
// case) on a free port and are stopped by pid.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import type { ServerOptions, ServerStats, SessionStats } from "@tftpkit/server";
import { IN_TFTPD, freeUdpPort, sleep, waitUdpBound } from "@tftpkit/test-support";

export interface RunningServer {
  /** Port the server listens on. */
  port: number;
  close(): Promise<void>;
}

export interface Target {
  name: string;
  /** The server negotiates RFC 7440 windowsize (tftpd-hpa does not). */
  windowsize: boolean;
  /** Largest blksize the server is configured to grant. */
  maxBlksize: number;
  start(root: string, host: string): Promise<RunningServer>;
  /** Extra text for failure messages (e.g. recent session stats). */
  diagnostics?(): string;
}

// ---------------------------------------------------------------- tftpkit

export const TFTPKIT_MAX_BLKSIZE = 1468;
export const TFTPKIT_MAX_WINDOWSIZE = 16;

export interface TftpkitTarget extends Target {
  /** SessionStats of every finished session, all servers started by this target. */
  readonly sessions: SessionStats[];
}

export function tftpkitTarget(): TftpkitTarget {
  const sessions: SessionStats[] = [];
  return {
    sessions,
    name: "tftpkit",
    windowsize: true,
    maxBlksize: TFTPKIT_MAX_BLKSIZE,
    async start(root, host) {
      // Dynamic import: the baseline suite must load even before @tftpkit/server builds.
      const { createServer } = await import("@tftpkit/server");
      const server = createServer({
        root,
        maxBlksize: TFTPKIT_MAX_BLKSIZE,
        maxWindowsize: TFTPKIT_MAX_WINDOWSIZE,
        onSessionEnd: (stats) => {
          if (sessions.length < 5000) sessions.push(stats);
        },
      });
      const addr = await server.listen({ host, port: 0 });
      return { port: addr.port, close: () => server.close() };
    },
    diagnostics() {
      const recent = sessions.slice(-5).map((s) => {
        try {
          return JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
        } catch {
          return String(s);
        }
      });
      return `last ${recent.length} tftpkit session stats:\n${recent.join("\n")}`;
    },
  };
}

/** One tftpkit server with options of the test's choosing (uploads, single-port mode...). */
export interface TftpkitServer extends RunningServer {
  host: string;
  root: string;
  /** SessionStats of every finished session of this server. */
  readonly sessions: SessionStats[];
  stats(): ServerStats;
  /** Wait (at most `timeoutMs`) until no session is active, e.g. write sessions dallying after the final ACK. */
  idle(timeoutMs?: number): Promise<boolean>;
  /** Recent session stats, for failure messages. */
  diagnostics(last?: number): string;
}

/**
 * Start tftpkit on `host` (port 0 unless given) serving `root`, with the same
 * blksize/windowsize caps as tftpkitTarget() unless `options` overrides them.
 */
export async function startTftpkit(
  root: string,
  host: string,
  options: Omit<ServerOptions, "root" | "onSessionEnd"> = {},
  port = 0,
): Promise<TftpkitServer> {
  const { createServer } = await import("@tftpkit/server");
  const sessions: SessionStats[] = [];
  const server = createServer({
    maxBlksize: TFTPKIT_MAX_BLKSIZE,
    maxWindowsize: TFTPKIT_MAX_WINDOWSIZE,
    ...options,
    root,
    onSessionEnd: (s) => {
      if (sessions.length < 5000) sessions.push(s);
    },
  });
  const addr = await server.listen({ host, port });
  return {
    host,
    root,
    port: addr.port,
    sessions,
    close: () => server.close(),
    stats: () => server.stats(),
    async idle(timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      while (server.stats().sessionsActive > 0) {
        if (Date.now() >= end) return false;
        await sleep(50);
      }
      return true;
    },
    diagnostics(last = 5) {
      const recent = sessions.slice(-last).map((s) => JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      return `tftpkit ${host}:${addr.port} stats ${JSON.stringify(server.stats())}\nlast ${recent.length} sessions:\n${recent.join("\n")}`;
    },
  };
}

// ---------------------------------------------------------------- in.tftpd

export { IN_TFTPD };

export function inTftpdAvailable(): boolean {
  try {
    accessSync(IN_TFTPD, constants.X_OK);
  } catch {
    return false;
  }
  // It drops privileges to "nobody" by default: only attempt it as root.
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }, 3000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  });
}

export function inTftpdTarget(): Target {
  return {
    name: "in.tftpd",
    windowsize: false,
    maxBlksize: 65464,
    async start(root, host) {
      const hostPart = host.includes(":") ? `[${host}]` : host;
      let lastErr = "";
      for (let attempt = 0; attempt < 3; attempt++) {
        const port = await freeUdpPort(host === "::" ? "::" : host);
        const child = spawn(IN_TFTPD, ["-L", "-a", `${hostPart}:${port}`, "-s", root], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr?.on("data", (d) => (stderr += d));
        child.on("error", (e) => (stderr += String(e)));
        // Wait (bounded: 2 s) until in.tftpd holds the port, or it dies.
        if (await waitUdpBound(child, port, 2000)) return { port, close: () => stopChild(child) };
        lastErr = `in.tftpd exit=${child.exitCode} signal=${child.signalCode} stderr=${stderr}`;
        await stopChild(child);
      }
      throw new Error(`could not start ${IN_TFTPD} on ${host}: ${lastErr}`);
    },
  };
}

/** Binaries the clients need; returns the missing ones. */
export function missingBinaries(names: string[]): string[] {
  return names.filter((n) => spawnSync("sh", ["-c", `command -v ${n}`], { stdio: "ignore", timeout: 5000 }).status !== 0);
}
