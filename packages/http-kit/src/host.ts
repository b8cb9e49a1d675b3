// The Host check of tftpkit's HTTP servers (the admin API and the fleet
// view): a request must name the server by IP address, localhost or a name
// the operator allowed, so a page on another site cannot reach it through
// DNS rebinding.

import { isIP } from "node:net";

/** The host name of a Host header (`name:port`, `[v6]:port`), lower case. */
export function hostName(header: string | undefined): string {
  const h = (header ?? "").trim().toLowerCase();
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  return v6 ? v6[1] : h.replace(/:\d+$/, "");
}

/** Whether a Host header names this server: an IP address, localhost, or an allowed name. */
export function hostAllowed(header: string | undefined, allow: ReadonlySet<string>): boolean {
  const name = hostName(header);
  return name !== "" && (isIP(name) !== 0 || name === "localhost" || allow.has(name));
}
