// The start-up lines of `tftpkit serve`, on standard error once the server
// answers: the same lines with and without workers, made in one place.
// They are written after the SIGHUP, SIGTERM and SIGINT handlers are in
// place (a supervisor may reload or stop the server as soon as it reads
// them); supervisors and tests read "tftpkit serving" and "tftpkit http on".

import type { ReceiveBuffer } from "@tftpkit/server";
import type { Config } from "./config/config.js";
import type { Account } from "./startup.js";

/** An address as node:dgram and node:net report it. */
export interface ListenAddress {
  address: string;
  port: number;
  family: string;
}

export interface Announcement {
  /** Notices gathered while starting (each its own line first). */
  notices: readonly string[];
  config: Pick<Config, "handler" | "root" | "singlePort" | "allowWrite">;
  /** The TFTP port's address. */
  address: ListenAddress;
  /** With workers: their pids (the serving line names them; their sessions run there). */
  workerPids?: ReadonlyArray<number | undefined>;
  receiveBuffer?: ReceiveBuffer;
  /** The HTTP stage's address, when it listens. */
  http?: ListenAddress;
  /** The admin server's URL, and whether POST drain/reload take a token. */
  admin?: { url: string; token: boolean };
  /** What telemetry exports (its describe()). */
  telemetry: string;
  account?: Account;
}

const hostOf = (a: ListenAddress): string => (a.family === "IPv6" ? `[${a.address}]` : a.address);

/** The HTTP stage's base URL as the start-up line shows it. */
export function httpUrlOf(a: ListenAddress): string {
  return `http://${hostOf(a)}:${a.port}`;
}

/** The start-up line about the listening sockets' receive buffer. */
export function describeReceiveBuffer(rb: ReceiveBuffer): string {
  return `tftpkit receive buffer: asked ${rb.asked} bytes, granted ${rb.granted}${rb.kernelMax ? ` (net.core.rmem_max ${rb.kernelMax})` : ""}`;
}

/** The start-up lines, in order. */
export function startupLines(a: Announcement): string[] {
  const c = a.config;
  const pids = a.workerPids;
  const what = [c.handler && `handler ${c.handler}`, c.root && `root ${c.root}`].filter(Boolean).join(" + ");
  const mode = [
    "udp",
    c.singlePort && "single-port",
    c.allowWrite && "writes on",
    pids && `${pids.length} workers: ${pids.map((p) => `pid ${p}`).join(", ")}`,
  ].filter(Boolean);
  const lines = a.notices.map((n) => `tftpkit: ${n}`);
  lines.push(`tftpkit serving ${what} on ${hostOf(a.address)}:${a.address.port} (${mode.join(", ")})`);
  if (a.receiveBuffer) lines.push(describeReceiveBuffer(a.receiveBuffer));
  if (a.http) lines.push(`tftpkit http on ${httpUrlOf(a.http)} (GET and HEAD of the same handler and root${pids ? ", in the worker of each client" : ""})`);
  if (a.admin) lines.push(`tftpkit admin on ${a.admin.url} (dashboard /, /api/v1, /metrics, /healthz${a.admin.token ? "; POST drain/reload with the token" : ""})`);
  lines.push(`tftpkit ${a.telemetry}${pids ? " (in each worker)" : ""}`);
  if (a.account) lines.push(`tftpkit running as ${a.account.user} (uid ${a.account.uid}, gid ${a.account.gid})`);
  return lines;
}

/** Writes the start-up lines to standard error. */
export function announce(a: Announcement): void {
  process.stderr.write(startupLines(a).join("\n") + "\n");
}
