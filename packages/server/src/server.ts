// The listener: receives requests, starts sessions, keeps server-wide stats.

import { createSocket, type Socket, type RemoteInfo } from "node:dgram";
import { isIPv6 } from "node:net";
import { networkInterfaces } from "node:os";
import { Opcode, WireError, scheduler, statusMessage, wasmCodec, type Scheduler } from "@tftpkit/wasm-core";
import type { Session, SessionHost } from "./base-session.js";
import { FileCache } from "./file-cache.js";
import type { ReadHandler } from "./handler.js";
import { resolveOptions, type ResolvedOptions, type ServerOptions } from "./options.js";
import { ReadSession } from "./read-session.js";
import { rootHandler } from "./root.js";
import { emptyServerStats, type ServerStats, type SessionStats } from "./stats.js";
import { rootWriteHandler, type WriteHandler } from "./write.js";
import { WriteSession } from "./write-session.js";

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

/** Token buckets of the per-address request rate limit. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly rate: number, private readonly burst: number) {}
  allow(address: string, now: number): boolean {
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= 100_000) this.prune(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(address, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    }
    if (this.buckets.size >= 100_000) this.buckets.clear();
  }
}

function fileCacheOf(o: ResolvedOptions): FileCache | undefined {
  return o.fileCacheBytes > 0 && o.fileCacheMaxFileBytes > 0 ? new FileCache(o.fileCacheBytes, o.fileCacheMaxFileBytes) : undefined;
}

function writeHandlerOf(o: ResolvedOptions): WriteHandler | undefined {
  if (o.writeHandler) return o.writeHandler;
  if (o.allowWrite && o.root) return rootWriteHandler(o.root, { overwrite: o.allowOverwrite });
  return undefined;
}

export class TftpServer implements SessionHost {
  options: ResolvedOptions;
  handler: ReadHandler;
  writeHandler: WriteHandler | undefined;
  readonly scheduler: Scheduler;
  fileCache: FileCache | undefined;
  private listeners: Listener[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly perClient = new Map<string, number>();
  private limiter: RateLimiter | undefined;
  private counters: ServerStats = emptyServerStats();
  private nextId = 1;
  private statsTimer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private bound: BoundAddress | undefined;
  private closing = false;

  constructor(options: ServerOptions) {
    this.options = resolveOptions(options);
    this.handler = this.options.handler ?? rootHandler(this.options.root!);
    this.writeHandler = writeHandlerOf(this.options);
    this.fileCache = fileCacheOf(this.options);
    this.limiter = this.options.rateLimit > 0 ? new RateLimiter(this.options.rateLimit, this.options.rateBurst) : undefined;
    this.scheduler = scheduler();
  }

  /**
   * Replaces the options (e.g. on SIGHUP). Running sessions keep the options
   * they started with; new requests get the new ones. Listening addresses do
   * not change (host, port and singlePort need a restart).
   */
  reconfigure(options: ServerOptions): void {
    const next = resolveOptions(options);
    if (next.singlePort !== this.options.singlePort) throw new Error("singlePort cannot change while listening");
    this.options = next;
    this.handler = next.handler ?? rootHandler(next.root!);
    this.writeHandler = writeHandlerOf(next);
    this.fileCache = fileCacheOf(next);
    this.limiter = next.rateLimit > 0 ? new RateLimiter(next.rateLimit, next.rateBurst) : undefined;
  }

  /**
   * Binds the listening socket(s) and resolves the primary bound address.
   *
   * On a wildcard host with bindInterfaces (the default), each interface
   * address gets a socket of its own, bound exclusively, so that every reply
   * leaves from the address its request arrived on (Node has no IP_PKTINFO)
   * and no other process can share the port; addresses that appear later
   * are picked up by a periodic rescan. Without bindInterfaces a wildcard
   * host is one socket ("::" is dual stack) and the kernel picks the reply's
   * source address.
   */
  async listen(opts: ListenOptions = {}): Promise<BoundAddress> {
    if (this.listeners.length) throw new Error("already listening");
    const host = opts.host ?? "::";
    const port = opts.port ?? 69;
    const v6 = isIPv6(host);
    const family = v6 ? "IPv6" : "IPv4";
    if (isWildcard(host) && this.options.bindInterfaces) {
      const bound = await this.bindAll(interfaceAddresses(v6), port);
      this.bound = { address: host, port: bound, family };
      this.rescanTimer = setInterval(() => void this.rescan(v6), this.options.rescanIntervalMs);
      this.rescanTimer.unref();
    } else {
      const s = await bindSocket(v6 ? "udp6" : "udp4", host, port);
      this.attach(s, isWildcard(host) ? undefined : host);
      this.bound = { address: s.address().address, port: s.address().port, family };
    }
    this.closing = false;
    if (this.options.onStats) {
      this.statsTimer = setInterval(() => this.options.onStats?.(this.stats()), this.options.statsIntervalMs);
      this.statsTimer.unref();
    }
    return this.bound;
  }

  /** Binds every address on one port (a free one when port is 0, retried if another address has it taken). */
  private async bindAll(addresses: LocalAddress[], port: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      let chosen = port;
      const bound: Listener[] = [];
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

  /** Every listening socket's address (one per interface address with bindInterfaces on a wildcard host). */
  addresses(): BoundAddress[] {
    return this.listeners.map((l) => {
      const a = l.socket.address();
      return { address: a.address, port: a.port, family: a.family === "IPv6" ? "IPv6" : "IPv4" };
    });
  }

  stats(): ServerStats {
    const cache = this.fileCache?.stats();
    return {
      ...this.counters,
      fileCacheHits: cache?.hits ?? 0,
      fileCacheMisses: cache?.misses ?? 0,
      sessionsActive: this.sessions.size,
      outcomes: { ...this.counters.outcomes },
    };
  }

  private reply(socket: Socket, code: number, message: string, rinfo: RemoteInfo): void {
    socket.send(codec.encodeError(code, message), rinfo.port, rinfo.address);
  }

  private onRequest(msg: Buffer, rinfo: RemoteInfo, local: string | undefined, port: number, socket: Socket): void {
    if (this.closing) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    const op = msg.length >= 2 ? (msg[0] << 8) | msg[1] : 0;
    const existing = this.sessions.get(key);
    if (existing) {
      if (op === Opcode.RRQ || op === Opcode.WRQ) {
        this.counters.duplicateRequests++; // a retransmitted request: the session answers it
      } else if (this.options.singlePort) {
        existing.onPacket(msg, rinfo); // single-port mode: the listener carries the session
      } else if (op !== Opcode.ERROR) {
        this.counters.unknownTidPackets++;
        this.reply(socket, WireError.UNKNOWN_TID, "Unknown transfer ID", rinfo);
      }
      return;
    }
    const p = codec.decode(msg);
    if (p.opcode === 0) {
      this.counters.malformedPackets++;
      this.options.instrumentation?.malformed({ address: rinfo.address, port: rinfo.port });
      // Never answer what may itself be an error packet (no error ping-pong).
      if (p.claimed !== Opcode.ERROR) this.reply(socket, WireError.ILLEGAL_OPERATION, `Malformed request: ${statusMessage(p.status)}`, rinfo);
      return;
    }
    if (p.opcode !== Opcode.RRQ && p.opcode !== Opcode.WRQ) {
      if (p.opcode !== Opcode.ERROR) {
        this.counters.unknownTidPackets++;
        this.reply(socket, WireError.UNKNOWN_TID, "Unknown transfer ID", rinfo);
      }
      return;
    }
    const o = this.options;
    if (this.limiter && !this.limiter.allow(rinfo.address, Date.now())) {
      // Dropped unanswered: a spoofed flood gets nothing back to amplify.
      this.counters.rateLimited++;
      return;
    }
    if (p.mode === "mail") {
      this.counters.malformedPackets++;
      this.reply(socket, WireError.ILLEGAL_OPERATION, "Mail mode is not supported", rinfo);
      return;
    }
    if (p.opcode === Opcode.WRQ && !this.writeHandler) {
      this.counters.writeRequestsRefused++;
      this.reply(socket, WireError.ACCESS_VIOLATION, "Writes are disabled on this server", rinfo);
      return;
    }
    if (o.maxSessions > 0 && this.sessions.size >= o.maxSessions) {
      this.counters.refusedBusy++;
      this.reply(socket, WireError.UNDEFINED, "Server busy: too many sessions, try again later", rinfo);
      return;
    }
    const fromClient = this.perClient.get(rinfo.address) ?? 0;
    if (o.maxSessionsPerClient > 0 && fromClient >= o.maxSessionsPerClient) {
      this.counters.refusedBusy++;
      this.reply(socket, WireError.UNDEFINED, "Too many sessions from this client, try again later", rinfo);
      return;
    }
    const shared = o.singlePort ? socket : undefined;
    const where = { address: local, port };
    const session: Session = p.opcode === Opcode.RRQ
      ? new ReadSession(this, this.nextId++, p, rinfo, where, shared)
      : new WriteSession(this, this.nextId++, p, rinfo, where, shared);
    this.sessions.set(session.key, session);
    this.perClient.set(rinfo.address, fromClient + 1);
    this.counters.sessionsStarted++;
    if (p.opcode === Opcode.WRQ) this.counters.writesStarted++;
    session.start();
  }

  sessionEnded(session: Session, s: SessionStats): void {
    if (this.sessions.get(session.key) === session) {
      this.sessions.delete(session.key);
      const address = s.peer.address;
      const n = (this.perClient.get(address) ?? 1) - 1;
      if (n <= 0) this.perClient.delete(address);
      else this.perClient.set(address, n);
    }
    const c = this.counters;
    c.outcomes[s.outcome]++;
    if (s.outcome === "ok") c.sessionsOk++;
    else if (s.outcome === "probe") c.probes++;
    else c.sessionsFailed++;
    c.bytesSent += s.bytesSent;
    c.packetsSent += s.packetsSent;
    c.retransmits += s.retransmits;
    c.bytesReceived += s.bytesReceived ?? 0;
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
    this.closing = true; // no new sessions from here on
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.statsTimer = undefined;
    this.rescanTimer = undefined;
    const deadline = Date.now() + (opts.graceMs ?? 0);
    while (this.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of [...this.sessions.values()]) s.shutdown();
    // Listeners last: in single-port mode they carry the sessions' last packets.
    await Promise.all(this.listeners.map((l) => new Promise<void>((r) => l.socket.close(() => r()))));
    this.listeners = [];
  }

}

export function createServer(options: ServerOptions): TftpServer {
  return new TftpServer(options);
}
