// Shared helpers of the client tests: fixture files, a scripted UDP peer,
// and a tftpd-hpa started on a loopback port.

import { spawn, type ChildProcess } from "node:child_process";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { existsSync, mkdtempSync, writeFileSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LossInjector } from "../src/index.js";

/** Deterministic pseudo-random bytes (not crypto: fixtures only). */
export function bytes(n: number, seed = n): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export function tempRoot(files: Record<string, Uint8Array | string>): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "tftpkit-client-"));
  chmodSync(dir, 0o777);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ""), "hex");
}

/** A UDP socket on loopback that records what it receives, for scripted servers. */
export class Peer {
  readonly socket: Socket;
  private queue: Array<{ msg: Buffer; rinfo: RemoteInfo }> = [];
  private waiters: Array<(p: { msg: Buffer; rinfo: RemoteInfo }) => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("message", (msg, rinfo) => {
      const w = this.waiters.shift();
      if (w) w({ msg, rinfo });
      else this.queue.push({ msg, rinfo });
    });
  }

  static async open(address = "127.0.0.1"): Promise<Peer> {
    const s = createSocket(address.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((r) => s.bind(0, address, () => r()));
    return new Peer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The next packet received (rejects after `ms`). */
  next(ms = 3000): Promise<{ msg: Buffer; rinfo: RemoteInfo }> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no packet within ${ms} ms`));
      }, ms);
      const done = (p: { msg: Buffer; rinfo: RemoteInfo }): void => {
        clearTimeout(t);
        resolve(p);
      };
      this.waiters.push(done);
    });
  }

  /** Packets already queued or arriving within `ms`. */
  async drain(ms: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    const end = Date.now() + ms;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) break;
      try {
        out.push((await this.next(left)).msg);
      } catch {
        break;
      }
    }
    return out;
  }

  send(msg: Uint8Array, to: RemoteInfo | { port: number; address: string }): void {
    this.socket.send(msg, to.port, to.address);
  }

  close(): void {
    this.socket.close();
  }
}

export function data(block: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt16BE(3, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  b.set(payload, 4);
  return b;
}

export function ack(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

export function oack(options: Record<string, string>): Buffer {
  const parts = [Buffer.from([0, 6])];
  for (const [k, v] of Object.entries(options)) parts.push(Buffer.from(`${k}\0${v}\0`, "latin1"));
  return Buffer.concat(parts);
}

export function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, 0, code]), Buffer.from(`${message}\0`)]);
}

export const IN_TFTPD = "/usr/sbin/in.tftpd";
export const hasHpa = existsSync(IN_TFTPD);

/** A free UDP port on loopback (bound and released: a small race, fine for tests). */
export async function freePort(address = "127.0.0.1"): Promise<number> {
  const s = createSocket(address.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** tftpd-hpa in the foreground on a loopback port, writes allowed (-c), as root. */
export async function startHpa(root: string, address = "127.0.0.1", extra: string[] = []): Promise<{ port: number; stop(): Promise<void> }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(address);
    const bind = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    const child: ChildProcess = spawn(IN_TFTPD, ["-L", "-a", bind, "-s", root, "-c", "-p", "-u", "root", "-U", "000", ...extra], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    // Ready once something listens on the port.
    const ok = await Promise.race([waitBound(port, address), exited.then(() => false)]);
    if (ok) {
      return {
        port,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      };
    }
    child.kill("SIGKILL");
    if (!/address already in use/i.test(stderr)) throw new Error(`in.tftpd failed to start: ${stderr}`);
  }
  throw new Error("in.tftpd: no free port");
}

async function waitBound(port: number, address: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const s = createSocket(address.includes(":") ? "udp6" : "udp4");
    const free = await new Promise<boolean>((r) => {
      s.once("error", () => r(false));
      s.bind(port, address, () => r(true));
    });
    try {
      s.close();
    } catch {
      // never bound
    }
    if (!free) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/**
 * Injected loss that drops exactly the n-th DATA-side and ACK-side packets
 * (counted from 1 in the order the client meets them), for tests that lose
 * one chosen packet: the OACK or first DATA of a get, ACK 0 of a put, ...
 */
export class ScriptedLoss extends LossInjector {
  private dataSeen = 0;
  private acksSeen = 0;

  constructor(
    private readonly dataAt: number[],
    private readonly ackAt: number[],
  ) {
    super();
  }

  override dropData(): boolean {
    if (!this.dataAt.includes(++this.dataSeen)) return false;
    this.dataDropped++;
    return true;
  }

  override dropAck(): boolean {
    if (!this.ackAt.includes(++this.acksSeen)) return false;
    this.acksDropped++;
    return true;
  }
}
