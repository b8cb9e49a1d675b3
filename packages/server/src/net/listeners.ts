// The listening sockets of a server: one socket for a host, or one per
// interface address on a wildcard host (each bound exclusively, rescanned for
// addresses that come and go), each with a receive buffer as large as asked
// (by default as large as the kernel allows, so that a burst of requests
// waits in the kernel instead of being dropped). Every datagram goes to one
// callback. TftpServer listens through this; a cluster primary uses it to
// receive requests that it routes to worker processes.

import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { networkInterfaces } from "node:os";

export interface ListenOptions {
  /** Address to bind; "::" is dual stack (IPv4 and IPv6). Default "::". */
  host?: string;
  /** UDP port; 0 picks a free one. Default 69. */
  port?: number;
}

export interface BoundAddress {
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

export interface Listener {
  /** Unique for the life of the UdpListeners (a socket added by a rescan gets a new one). */
  readonly id: number;
  readonly socket: Socket;
  /** The address this socket is bound to, undefined for a wildcard. */
  readonly local: string | undefined;
  readonly port: number;
}

export interface UdpListenersOptions {
  /** On a wildcard host, one socket per interface address (see TftpServer.listen). */
  bindInterfaces: boolean;
  rescanIntervalMs: number;
  /** Receive buffer asked for each socket, in bytes; 0: as large as the kernel allows. */
  recvBufferBytes: number;
  onMessage(msg: Buffer, rinfo: RemoteInfo, listener: Listener): void;
}

/** What the receive buffer of the listening sockets is. */
export interface ReceiveBuffer {
  /** Bytes asked (SO_RCVBUF). */
  asked: number;
  /** Bytes the kernel granted, read back (Linux doubles the ask for its bookkeeping and caps it at net.core.rmem_max). */
  granted: number;
  /** net.core.rmem_max when readable (the cap for an unprivileged ask). */
  kernelMax: number | undefined;
}

/** Asked when the kernel's cap cannot be read: the kernel lowers it to what it allows. */
const FALLBACK_RECV_BUFFER = 8 * 1024 * 1024;

function kernelRecvBufferMax(): number | undefined {
  try {
    const n = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function isWildcard(host: string): boolean {
  return host === "::" || host === "0.0.0.0";
}

function bindSocket(type: "udp4" | "udp6", address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, ipv6Only: false });
    const onError = (err: Error): void => {
      s.close();
      reject(err);
    };
    s.once("error", onError);
    s.bind({ address, port, exclusive: true }, () => {
      s.off("error", onError);
      resolve(s);
    });
  });
}

interface LocalAddress {
  /** Bindable form (link-local IPv6 carries its %scope). */
  address: string;
  family: "IPv4" | "IPv6";
}

/** The machine's addresses, loopback first. */
function interfaceAddresses(v6: boolean): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === "IPv4") out.push({ address: a.address, family: "IPv4" });
      else if (v6) {
        const linkLocal = a.address.toLowerCase().startsWith("fe80");
        out.push({ address: linkLocal ? `${a.address}%${name}` : a.address, family: "IPv6" });
      }
    }
  }
  return out.sort((a, b) => Number(!a.address.startsWith("127.")) - Number(!b.address.startsWith("127.")));
}

export class UdpListeners {
  private listeners: Listener[] = [];
  private bound: BoundAddress | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private nextId = 1;
  private buffer: ReceiveBuffer | undefined;

  constructor(private readonly o: UdpListenersOptions) {}

  /**
   * Binds the socket(s) and resolves the primary bound address.
   *
   * On a wildcard host with bindInterfaces, each interface address gets a
   * socket of its own, bound exclusively, so that every reply leaves from the
   * address its request arrived on (Node has no IP_PKTINFO) and no other
   * process can share the port; addresses that appear later are picked up by
   * a periodic rescan. Without bindInterfaces a wildcard host is one socket
   * ("::" is dual stack) and the kernel picks the reply's source address.
   */
  async listen(opts: ListenOptions = {}): Promise<BoundAddress> {
    if (this.listeners.length) throw new Error("already listening");
    const host = opts.host ?? "::";
    const port = opts.port ?? 69;
    const v6 = isIPv6(host);
    const family = v6 ? "IPv6" : "IPv4";
    this.closing = false;
    if (isWildcard(host) && this.o.bindInterfaces) {
      const bound = await this.bindAll(interfaceAddresses(v6), port);
      this.bound = { address: host, port: bound, family };
      this.rescanTimer = setInterval(() => void this.rescan(v6), this.o.rescanIntervalMs);
      this.rescanTimer.unref();
    } else {
      const s = await bindSocket(v6 ? "udp6" : "udp4", host, port);
      this.attach(s, isWildcard(host) ? undefined : host);
      this.bound = { address: s.address().address, port: s.address().port, family };
    }
    return this.bound;
  }

  /** Binds every address on one port (a free one when port is 0, retried if another address has it taken). */
  private async bindAll(addresses: LocalAddress[], port: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      let chosen = port;
      const bound: Array<{ socket: Socket; local: string }> = [];
      let conflict: Error | undefined;
      for (const a of addresses) {
        try {
          const s = await bindSocket(a.family === "IPv6" ? "udp6" : "udp4", a.address, chosen);
          chosen = s.address().port;
          bound.push({ socket: s, local: a.address });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "EADDRINUSE") {
            conflict = err as Error;
            break;
          }
          // EADDRNOTAVAIL and the like: an address that cannot be bound now (tentative, going away).
        }
      }
      if (!conflict && bound.length > 0) {
        for (const l of bound) this.attach(l.socket, l.local);
        return chosen;
      }
      await Promise.all(bound.map((l) => new Promise<void>((r) => l.socket.close(() => r()))));
      if (conflict && port === 0 && attempt < 8) continue;
      throw conflict ?? new Error("no interface address could be bound");
    }
  }

  /** Binds addresses that appeared since listen() and drops those that went away. */
  private async rescan(v6: boolean): Promise<void> {
    if (this.closing || !this.bound) return;
    const now = interfaceAddresses(v6);
    const have = new Set(this.listeners.map((l) => l.local));
    for (const a of now) {
      if (have.has(a.address)) continue;
      try {
        const s = await bindSocket(a.family === "IPv6" ? "udp6" : "udp4", a.address, this.bound.port);
        if (this.closing) s.close();
        else this.attach(s, a.address);
      } catch {
        // Taken or not bindable: try again at the next scan.
      }
    }
    const keep = new Set(now.map((a) => a.address));
    for (const l of [...this.listeners]) {
      if (l.local !== undefined && !keep.has(l.local)) {
        this.listeners.splice(this.listeners.indexOf(l), 1);
        l.socket.close();
      }
    }
  }

  private attach(socket: Socket, local: string | undefined): void {
    this.sizeReceiveBuffer(socket);
    const listener: Listener = { id: this.nextId++, socket, local, port: socket.address().port };
    const onMessage = this.o.onMessage;
    socket.on("message", (msg, rinfo) => onMessage(msg, rinfo, listener));
    socket.on("error", () => {});
    this.listeners.push(listener);
  }

  /** Asks for the configured receive buffer and reads back what was granted. */
  private sizeReceiveBuffer(socket: Socket): void {
    const kernelMax = kernelRecvBufferMax();
    const asked = this.o.recvBufferBytes > 0 ? this.o.recvBufferBytes : kernelMax ?? FALLBACK_RECV_BUFFER;
    try {
      socket.setRecvBufferSize(asked);
    } catch {
      // Refused outright (some kernels reject above their cap): keep what the socket has.
    }
    let granted = 0;
    try {
      granted = socket.getRecvBufferSize();
    } catch {
      // Not readable here.
    }
    this.buffer = { asked, granted, kernelMax };
  }

  /** The receive buffer of the listening sockets (undefined before listen()). */
  receiveBuffer(): ReceiveBuffer | undefined {
    return this.buffer;
  }

  /** The primary bound address. */
  address(): BoundAddress {
    if (!this.bound) throw new Error("not listening");
    return this.bound;
  }

  /** Every listening socket's address (one per interface address with bindInterfaces on a wildcard host). */
  addresses(): BoundAddress[] {
    return this.listeners.map((l) => {
      const a = l.socket.address();
      return { address: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
    });
  }

  /** Stops rescanning (sockets stay open: close() closes them). */
  stopRescan(): void {
    this.closing = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
  }

  async close(): Promise<void> {
    this.stopRescan();
    await Promise.all(this.listeners.map((l) => new Promise<void>((r) => l.socket.close(() => r()))));
    this.listeners = [];
  }
}
