// What `tftpkit serve` checks before it answers anything: the account it
// drops to (looked up before any socket is bound), the root folders (they
// exist, are folders, can be read, also by that account), and, after the
// drop, that the process really runs as that user and group with none of
// root's supplementary groups. A failure is one TftpConfigError naming the
// flag (reason TFTP_ERR_CONFIG_START); the command exits non-zero.

import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { ConfigErrorCode, TftpConfigError } from "@tftpkit/options";
import { dashboardHandler } from "@tftpkit/dashboard";
import { ADMIN_DEFAULT, startAdmin, type AdminAddress, type AdminServer } from "./admin/admin.js";
import type { AdminSource } from "./admin/source.js";
import type { Config } from "./config/config.js";

const startError = (key: string, message: string): TftpConfigError => new TftpConfigError({ code: ConfigErrorCode.START, key, message });

export interface Account {
  user: string;
  uid: number;
  group: string;
  gid: number;
}

/** Entries of /etc/passwd or /etc/group: name and numeric id (third field), and the fourth field. */
function entries(file: string): Array<{ name: string; id: number; fourth: string }> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]))
    .map((f) => ({ name: f[0], id: Number(f[2]), fourth: f[3] }));
}

/**
 * The account of `--user` (and `--group`): a name or a numeric id each. Throws
 * before anything is bound when the user or group does not exist, or when this
 * process cannot switch to them (not root).
 */
export function lookupAccount(user: string, group: string | undefined, files = { passwd: "/etc/passwd", group: "/etc/group" }): Account {
  if (typeof process.setuid !== "function" || typeof process.setgid !== "function") {
    throw startError("user", "--user is not supported on this platform");
  }
  const users = entries(files.passwd);
  const u = users.find((e) => e.name === user) ?? (/^\d+$/.test(user) ? { name: user, id: Number(user), fourth: "" } : undefined);
  if (!u) throw startError("user", `--user ${user}: no such user`);
  const groups = entries(files.group);
  let g: { name: string; id: number } | undefined;
  if (group !== undefined) {
    g = groups.find((e) => e.name === group) ?? (/^\d+$/.test(group) ? { name: group, id: Number(group) } : undefined);
    if (!g) throw startError("group", `--group ${group}: no such group`);
  } else {
    if (!/^\d+$/.test(u.fourth)) throw startError("user", `--user ${user}: no primary group in ${files.passwd} (give --group)`);
    const gid = Number(u.fourth);
    g = { name: groups.find((e) => e.id === gid)?.name ?? String(gid), id: gid };
  }
  const me = process.getuid?.();
  if (me !== 0 && me !== u.id) throw startError("user", `--user ${user}: switching users needs root (tftpkit runs as uid ${me})`);
  return { user: u.name, uid: u.id, group: g.name, gid: g.id };
}

/** The Uid, Gid and Groups lines of /proc/self/status (Linux), or undefined elsewhere. */
export function procIds(pid: number | "self" = "self"): { uid: number[]; gid: number[]; groups: number[] } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const line = (name: string): number[] =>
    (new RegExp(`^${name}:\\s*(.*)$`, "m").exec(text)?.[1] ?? "").split(/\s+/).filter(Boolean).map(Number);
  return { uid: line("Uid"), gid: line("Gid"), groups: line("Groups") };
}

/**
 * Drops to the account (supplementary groups first, then the group, then the
 * user), then checks that every id of the process (real, effective, saved,
 * filesystem) is the account's and that no other group is left.
 */
export function dropPrivileges(a: Account): void {
  try {
    process.setgroups?.([a.gid]);
    process.setgid!(a.gid);
    process.setuid!(a.uid);
  } catch (err) {
    throw startError("user", `--user ${a.user}: cannot switch to uid ${a.uid} gid ${a.gid}: ${(err as Error).message}`);
  }
  const ids = procIds();
  const ok = ids
    ? ids.uid.every((x) => x === a.uid) && ids.gid.every((x) => x === a.gid) && ids.groups.every((x) => x === a.gid)
    : process.getuid?.() === a.uid && process.getgid?.() === a.gid && (process.getgroups?.() ?? []).every((x) => x === a.gid);
  if (!ok) {
    throw startError("user", `--user ${a.user}: after the switch the process still has other ids (${JSON.stringify(ids ?? { uid: process.getuid?.(), gid: process.getgid?.() })})`);
  }
}

/** Every root folder of the configuration (--root and those of --client-roots), with the key naming it. */
function roots(c: Config): Array<{ key: string; dir: string }> {
  return [
    ...(c.root ? [{ key: "root", dir: c.root }] : []),
    ...(c.clientRoots ?? []).map((r) => ({ key: `clientRoots ${r.match}`, dir: r.root })),
  ];
}

/**
 * Checks that every root exists, is a folder and can be listed and read (by
 * this process: call it again after dropping privileges). Every problem is
 * listed.
 */
export function checkRoots(c: Config, who?: string): void {
  const problems = [];
  for (const { key, dir } of roots(c)) {
    let why: string | undefined;
    try {
      if (!statSync(dir).isDirectory()) why = "is not a directory";
      else accessSync(dir, constants.R_OK | constants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? `cannot be read${who ? ` by ${who}` : ""}` : `cannot be used (${code ?? (err as Error).message})`;
    }
    if (why) problems.push({ code: ConfigErrorCode.START, key, message: `--${key === "root" ? "root" : "client-roots"} ${dir}: ${why}` });
  }
  if (problems.length) throw new TftpConfigError(problems);
}

/** What the admin server of `tftpkit serve` shows, single process or workers' primary. */
export interface AdminSetup {
  at: AdminAddress;
  source: AdminSource;
  /** The configuration in force (it changes on reload). */
  current: () => Config;
  token: () => string | undefined;
  version: string;
}

/** The admin server with the dashboard, the token, trace links and allowed hosts; the default port's fallback as below. */
export function startAdminServer(o: AdminSetup, notices: string[]): Promise<AdminServer> {
  const admin = o.current().admin;
  return startAdminAt(admin, admin === ADMIN_DEFAULT, o.at, (at) =>
    startAdmin({
      ...at,
      source: o.source,
      version: o.version,
      page: dashboardHandler(),
      token: o.token,
      traceUrlTemplate: () => o.current().traceUrlTemplate,
      allowHosts: () => o.current().adminAllowHosts ?? [],
    }), notices);
}

/**
 * Starts the admin server at `at`. When the address is the default one
 * (127.0.0.1:9069) and taken (a second instance), a free port of the same
 * host instead, with the line that says so in `notices`. Any other failure is
 * a start-up error naming --admin.
 */
export async function startAdminAt<T>(
  admin: string,
  isDefault: boolean,
  at: { host: string; port: number },
  start: (at: { host: string; port: number }) => Promise<T>,
  notices: string[],
): Promise<T> {
  try {
    return await start(at);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE" && isDefault) {
      const fallback = await start({ host: at.host, port: 0 }).catch(() => undefined);
      if (fallback !== undefined) {
        notices.push(`admin port ${at.port} is taken; admin on a free port instead (choose one with --admin HOST:PORT, or --admin off)`);
        return fallback;
      }
    }
    throw startError("admin", `--admin ${admin}: ${(err as Error).message} (choose another HOST:PORT or --admin off)`);
  }
}

/** A bind failure of the TFTP port as one line naming --port (others as they are). */
export function listenError(err: unknown, c: { host: string; port: number }): unknown {
  if ((err as NodeJS.ErrnoException | undefined)?.code !== "EADDRINUSE") return err;
  return startError("port", `--host ${c.host} --port ${c.port}: the UDP port is taken (another TFTP server?); choose another --port`);
}

/** A bind failure of the HTTP stage as one line naming --http. */
export function httpListenError(err: unknown, http: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code === "EADDRINUSE" ? "the TCP port is taken" : code === "EACCES" ? "no permission to bind it (a port below 1024 needs root)" : (err as Error)?.message;
  return startError("http", `--http ${http}: ${why}; choose another HOST:PORT`);
}
