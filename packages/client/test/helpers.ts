// Shared helpers of the client tests: fixture files, a scripted UDP peer,
// and a tftpd-hpa started on a loopback port.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { IN_TFTPD, UdpPeer, freeUdpPort, tempTree, waitUdpBound, type TempTree } from "@tftpkit/test-support";
import { LossInjector } from "../src/index.js";

export {
  IN_TFTPD,
  ackPacket as ack,
  bytes,
  dataPacket as data,
  errorPacket,
  freeUdpPort as freePort,
  hasInTftpd as hasHpa,
  hex,
  oackPacket as oack,
} from "@tftpkit/test-support";

/** A temporary root open to every user (tftpd-hpa writes there as another user). */
export function tempRoot(files: Record<string, Uint8Array | string>): TempTree {
  return tempTree(files, { prefix: "tftpkit-client-", mode: 0o777 });
}

/** A scripted server for the client's tests: the shared raw UDP peer, speaking in (msg, rinfo) pairs. */
export class Peer {
  private constructor(private readonly udp: UdpPeer) {}

  static async open(address = "127.0.0.1"): Promise<Peer> {
    return new Peer(await UdpPeer.open(address));
  }

  get port(): number {
    return this.udp.port;
  }

  /** The next packet received (rejects after `ms`). */
  async next(ms = 3000): Promise<{ msg: Buffer; rinfo: { address: string; port: number } }> {
    const r = await this.udp.recv(ms);
    return { msg: r.buf, rinfo: { address: r.address, port: r.port } };
  }

  /** Packets already queued or arriving within `ms`. */
  async drain(ms: number): Promise<Buffer[]> {
    return (await this.udp.drain(ms)).map((r) => r.buf);
  }

  send(msg: Uint8Array, to: { port: number; address: string }): void {
    this.udp.send(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength), to.port, to.address);
  }

  close(): void {
    this.udp.close();
  }
}

/** tftpd-hpa in the foreground on a loopback port, writes allowed (-c), as root. */
export async function startHpa(root: string, address = "127.0.0.1", extra: string[] = []): Promise<{ port: number; stop(): Promise<void> }> {
  let last = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    // The port may be taken between freeUdpPort() and in.tftpd's bind (its
    // error then goes to syslog, not stderr): any failed start tries again.
    const port = await freeUdpPort(address);
    const bind = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    const child: ChildProcess = spawn(IN_TFTPD, ["-L", "-a", bind, "-s", root, "-c", "-p", "-u", "root", "-U", "000", ...extra], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d));
    child.on("error", (e) => (stderr += String(e)));
    const exited = new Promise<void>((r) => child.once("close", () => r()));
    if (await waitUdpBound(child, port)) {
      return {
        port,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      };
    }
    child.kill("SIGKILL");
    await exited;
    last = `exit ${child.exitCode ?? child.signalCode}, stderr: ${stderr.trim() || "(empty)"}`;
  }
  throw new Error(`in.tftpd failed to start on ${address} in 5 tries (last: ${last})`);
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

// tftpd-hpa sends its last ACK before it closes (and so flushes) the file it
// writes: read the file once it has all its bytes, or after 2 s as it is.
export async function written(path: string, size: number): Promise<Buffer> {
  const until = Date.now() + 2000;
  for (;;) {
    let got = Buffer.alloc(0);
    try { got = readFileSync(path); } catch { /* not created yet */ }
    if (got.length >= size || Date.now() > until) return got;
    await new Promise((r) => setTimeout(r, 10));
  }
}
