// Free loopback ports and the real TFTP clients and servers the tests drive.

import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
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
