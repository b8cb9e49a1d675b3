// Free loopback ports and the real TFTP clients and servers the tests drive.

import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";

/** A UDP port free on `address` right now (bound and released: a small race, fine for tests). */
export function freeUdpPort(address = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket(address.includes(":") ? "udp6" : "udp4");
    s.once("error", reject);
    s.bind(0, address, () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** The inodes of the UDP sockets (IPv4 and IPv6) bound to local port `port`, from /proc/net/udp{,6}. */
function udpInodes(port: number): Set<string> {
  const out = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].endsWith(`:${hexPort}`)) out.add(f[9]);
    }
  }
  return out;
}

/**
 * True when process `pid` itself holds a UDP socket bound to local port
 * `port` (/proc: its fds against the kernel's socket table). Unlike binding
 * the port to see whether it is taken, looking never takes the port from
 * the server that is about to bind it.
 */
export function udpBoundBy(pid: number, port: number): boolean {
  const inodes = udpInodes(port);
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    let link = "";
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(m[1])) return true;
  }
  return false;
}

/**
 * Waits until `child` holds a UDP socket on `port` (true), or it exits, or
 * `ms` pass (false). Polls /proc every 20 ms.
 */
export async function waitUdpBound(child: ChildProcess, port: number, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
    if (udpBoundBy(child.pid, port)) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP port free on `address` right now. */
export function freeTcpPort(address = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, address, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** curl, the TFTP client of the interop, app and deployment tests. */
export const CURL = "/usr/bin/curl";
export const hasCurl = existsSync(CURL);

/** tftpd-hpa's server binary. */
export const IN_TFTPD = "/usr/sbin/in.tftpd";
export const hasInTftpd = existsSync(IN_TFTPD);

export interface CurlResult {
  /** curl's exit code: 0 ok, 68 TFTP file not found; -1 when it did not exit on its own. */
  code: number;
  data: Buffer;
  stderr: string;
}

/** A curl TFTP download of `url` (tftp://host:port/path) to memory; `args` go before the URL. */
export function curlTftp(url: string, args: string[] = [], maxTimeSeconds = 20): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      CURL,
      ["-sS", "--max-time", String(maxTimeSeconds), ...args, "-o", "-", url],
      { encoding: "buffer", maxBuffer: 64 << 20, timeout: (maxTimeSeconds + 10) * 1000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, data: stdout, stderr: stderr.toString() });
      },
    );
  });
}
