// The listener: receives requests, starts sessions, keeps server-wide stats.

import { createSocket, type Socket, type RemoteInfo } from "node:dgram";
import { isIPv6 } from "node:net";
import { networkInterfaces } from "node:os";
import { Opcode, WireError, scheduler, statusMessage, wasmCodec, type Scheduler } from "@tftpkit/wasm-core";
import type { ReadHandler } from "./handler.js";
import { resolveOptions, type ResolvedOptions, type ServerOptions } from "./options.js";
import { rootHandler } from "./root.js";
import { ReadSession, type SessionHost } from "./session.js";
import { emptyServerStats, type ServerStats, type SessionStats } from "./stats.js";

const codec = wasmCodec;

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

interface Listener {
  socket: Socket;
  /** The address this socket is bound to, undefined for a wildcard. */
  local: string | undefined;
}

function isWildcard(host: string): boolean {
  return host === "::" || host === "0.0.0.0";
}

function bindSocket(type: "udp4" | "udp6", address: string, port: number, reuseAddr: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, reuseAddr, ipv6Only: false });
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

/** Interface addresses worth a socket of their own (link-local IPv6 needs a scope and goes through the wildcard). */
function interfaceAddresses(v6: boolean): Array<{ address: string; family: "IPv4" | "IPv6" }> {
  const out: Array<{ address: string; family: "IPv4" | "IPv6" }> = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === "IPv4") out.push({ address: a.address, family: "IPv4" });
      else if (v6 && !a.address.toLowerCase().startsWith("fe80")) out.push({ address: a.address, family: "IPv6" });
    }
  }
  return out;
}

export class TftpServer implements SessionHost {
  readonly options: ResolvedOptions;
  readonly handler: ReadHandler;
  readonly scheduler: Scheduler;
  private listeners: Listener[] = [];
  private readonly sessions = new Map<string, ReadSession>();
  private counters: ServerStats = emptyServerStats();
  private nextId = 1;
  private statsTimer: NodeJS.Timeout | undefined;
  private bound: BoundAddress | undefined;
  private closing = false;

  constructor(options: ServerOptions) {
    this.options = resolveOptions(options);
    this.handler = this.options.handler ?? rootHandler(this.options.root!);
    this.scheduler = scheduler();
  }

  /** Binds the listening socket(s). Resolves the primary bound address. */
  async listen(opts: ListenOptions = {}): Promise<BoundAddress> {
    if (this.listeners.length) throw new Error("already listening");
    const host = opts.host ?? "::";
    const port = opts.port ?? 69;
    const v6 = isIPv6(host);
    const wildcard = isWildcard(host);
    const reuse = wildcard && this.options.bindInterfaces;
    const primary = await bindSocket(v6 ? "udp6" : "udp4", host, port, reuse);
    const addr = primary.address();
    this.bound = { address: addr.address, port: addr.port, family: v6 ? "IPv6" : "IPv4" };
    this.attach(primary, wildcard ? undefined : host);
    if (reuse) {
      // Replies must leave from the address the request arrived on: a socket
      // per interface address tells which one it was (the kernel delivers to
      // the most specific bind); the wildcard catches anything else.
      for (const a of interfaceAddresses(v6)) {
        try {
          const s = await bindSocket(a.family === "IPv6" ? "udp6" : "udp4", a.address, addr.port, true);
          this.attach(s, a.address);
        } catch {
          // An address that cannot be bound (tentative, removed) stays on the wildcard.
        }
      }
    }
    this.closing = false;
    if (this.options.onStats) {
      this.statsTimer = setInterval(() => this.options.onStats?.(this.stats()), this.options.statsIntervalMs);
      this.statsTimer.unref();
    }
    return this.bound;
  }

  private attach(socket: Socket, local: string | undefined): void {
    const port = socket.address().port;
    socket.on("message", (msg, rinfo) => this.onRequest(msg, rinfo, local, port, socket));
    socket.on("error", () => {});
    this.listeners.push({ socket, local });
  }

  /** The primary bound address. */
  address(): BoundAddress {
    if (!this.bound) throw new Error("not listening");
    return this.bound;
  }

  /** Every listening socket's address (the wildcard and, with bindInterfaces, one per interface address). */
  addresses(): BoundAddress[] {
    return this.listeners.map((l) => {
      const a = l.socket.address();
      return { address: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
    });
  }

  stats(): ServerStats {
    return {
      ...this.counters,
      sessionsActive: this.sessions.size,
      outcomes: { ...this.counters.outcomes },
    };
  }

  private reply(socket: Socket, code: number, message: string, rinfo: RemoteInfo): void {
    socket.send(codec.encodeError(code, message), rinfo.port, rinfo.address);
  }

  private onRequest(msg: Buffer, rinfo: RemoteInfo, local: string | undefined, port: number, socket: Socket): void {
    if (this.closing) return;
    const p = codec.decode(msg);
    if (p.opcode === 0) {
      this.counters.malformedPackets++;
      // Never answer what may itself be an error packet (no error ping-pong).
      if (p.claimed !== Opcode.ERROR) this.reply(socket, WireError.ILLEGAL_OPERATION, `Malformed request: ${statusMessage(p.status)}`, rinfo);
      return;
    }
    switch (p.opcode) {
      case Opcode.RRQ: {
        const key = `${rinfo.address}|${rinfo.port}`;
        if (this.sessions.has(key)) {
          this.counters.duplicateRequests++; // a retransmitted RRQ: the session answers it
          return;
        }
        if (p.mode === "mail") {
          this.counters.malformedPackets++;
          this.reply(socket, WireError.ILLEGAL_OPERATION, "Mail mode is not supported", rinfo);
          return;
        }
        const session = new ReadSession(this, this.nextId++, p, rinfo, { address: local, port });
        this.sessions.set(session.key, session);
        this.counters.sessionsStarted++;
        session.start();
        return;
      }
      case Opcode.WRQ:
        this.counters.writeRequestsRefused++;
        this.reply(socket, WireError.ACCESS_VIOLATION, "Writes are disabled on this server", rinfo);
        return;
      case Opcode.ERROR:
        return;
      default:
        this.counters.unknownTidPackets++;
        this.reply(socket, WireError.UNKNOWN_TID, "Unknown transfer ID", rinfo);
    }
  }

  sessionEnded(session: ReadSession, s: SessionStats): void {
    if (this.sessions.get(session.key) === session) this.sessions.delete(session.key);
    const c = this.counters;
    c.outcomes[s.outcome]++;
    if (s.outcome === "ok") c.sessionsOk++;
    else if (s.outcome === "probe") c.probes++;
    else c.sessionsFailed++;
    c.bytesSent += s.bytesSent;
    c.packetsSent += s.packetsSent;
    c.retransmits += s.retransmits;
    try {
      this.options.onSessionEnd?.(s);
    } catch {
      // A throwing hook must not take the server down.
    }
  }

  countUnknownTid(): void {
    this.counters.unknownTidPackets++;
  }

  countMalformed(): void {
    this.counters.malformedPackets++;
  }

  /**
   * Stops accepting requests; running sessions get `graceMs` to finish, then
   * each is ended with ERROR 0 "Server shutting down".
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    this.closing = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    await Promise.all(this.listeners.map((l) => new Promise<void>((r) => l.socket.close(() => r()))));
    this.listeners = [];
    const deadline = Date.now() + (opts.graceMs ?? 0);
    while (this.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of [...this.sessions.values()]) s.shutdown();
  }
}

export function createServer(options: ServerOptions): TftpServer {
  return new TftpServer(options);
}
