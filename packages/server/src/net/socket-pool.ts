// Session sockets bound once and used again: a session that ends hands its
// socket back instead of closing it, and the next session takes it already
// bound (no socket, no bind, no close per session).
//
// What keeps this safe: a socket's packets go to the session that holds it
// now, and that session's TID check (peer address and port) rejects what
// the previous user still sends (ERROR 5, counted as an unknown TID). A
// socket is not handed to the client address that used it last: a client's
// next session never gets the transfer ID of its last one (RFC 1350 asks
// that a TID not come twice in immediate succession; clients ignore
// packets from their last transfer's server port as late ones of it), and
// the one case the TID check cannot tell apart, the same client address
// and port as the previous user, cannot arise. Packets that arrive while a socket is idle
// in the pool reach nobody and are counted. With connectSessionSockets (the
// default) a session that needs it (see CONNECT_AFTER_PACKETS in
// base-session.ts) has its lease connect the socket to its peer, so that the kernel itself keeps
// others' packets away and reports a closed port; giving such a socket back
// disconnects it, which also releases its ephemeral port (the next session
// gets a fresh one; a port from a port range is kept). A socket never
// connected keeps its port for the next peer.

import { createSocket, type Socket } from "node:dgram";
import { bindEphemeral, disconnectSession, isUnreachable, literalLookup, sessionSend, type SessionLink } from "./udp.js";

/** Where a leased socket delivers: the session holding it. */
export interface PoolInbound {
  onPacket(msg: Buffer, rinfo: { address: string; port: number }): void;
  onError(err: Error): void;
}

/** A session's hold on a pooled socket (the same face as a socket of its own). */
export interface PooledConnection {
  readonly ready: Promise<void>;
  /** The socket is bound now (`ready` has resolved). */
  readyNow(): boolean;
  /** The bound local port (the session's transfer ID); 0 until bound. */
  port(): number;
  sendTo(buf: Uint8Array, offset: number, length: number, port: number, address: string): void;
  /** From the next packet to the peer on, the socket is connected to it. */
  connectNow(): void;
  /** Sends a last packet (an ERROR), then gives the socket back. */
  closeAfter(packet: Uint8Array, port: number, address: string): void;
  /** Gives the socket back. */
  close(): void;
}

export interface SocketPoolStats {
  /** Sockets idle in the pool now. */
  idle: number;
  /** Sessions that got a socket from the pool / a new one. */
  reused: number;
  created: number;
  /** Datagrams that arrived on an idle socket (dropped). */
  strayWhileIdle: number;
}

class PooledSocket {
  readonly socket: Socket;
  ready: Promise<void>;
  bound = false;
  holder: PoolInbound | undefined;
  /** The address of the last client whose session held it. */
  lastClient = "";
  broken = false;
  /** The holder's peer; whether the socket is to be connected to it at the next send, and whether it is. */
  readonly link: SessionLink = { port: 0, address: "", connect: false, connected: false };

  constructor(readonly key: string, ipv6: boolean, address: string | undefined, range: readonly [number, number] | undefined, pool: SocketPool) {
    const socket = createSocket({ type: ipv6 ? "udp6" : "udp4", lookup: literalLookup });
    this.socket = socket;
    socket.on("message", (msg, rinfo) => {
      const h = this.holder;
      if (h) h.onPacket(msg, rinfo);
      else pool.strayWhileIdle++;
    });
    socket.on("error", (err) => {
      if (!isUnreachable(err)) this.broken = true;
      this.holder?.onError(err);
    });
    this.ready = bindEphemeral(socket, address, range).then(() => {
      this.bound = true;
    });
    this.ready.catch(() => {
      this.broken = true;
    });
  }
}

class Lease implements PooledConnection {
  private held: PooledSocket | undefined;
  readonly ready: Promise<void>;

  constructor(private readonly pool: SocketPool, s: PooledSocket) {
    this.held = s;
    this.ready = s.bound ? Promise.resolve() : s.ready;
  }

  readyNow(): boolean {
    return this.held?.bound === true;
  }

  port(): number {
    const s = this.held;
    return s?.bound ? s.socket.address().port : 0;
  }

  sendTo(buf: Uint8Array, offset: number, length: number, port: number, address: string): void {
    const s = this.held;
    if (!s) return;
    if (!sessionSend(s.socket, s.link, buf, offset, length, port, address)) s.broken = true; // closed under us (shutting down)
  }

  connectNow(): void {
    const s = this.held;
    if (s) s.link.connect = true;
  }

  closeAfter(packet: Uint8Array, port: number, address: string): void {
    const s = this.held;
    this.held = undefined;
    if (!s) return;
    s.holder = undefined;
    if (!sessionSend(s.socket, s.link, packet, 0, packet.length, port, address, () => this.pool.giveBack(s))) {
      s.broken = true;
      this.pool.giveBack(s);
    }
  }

  close(): void {
    const s = this.held;
    this.held = undefined;
    if (!s) return;
    s.holder = undefined;
    this.pool.giveBack(s);
  }
}

export class SocketPool {
  private readonly idle = new Map<string, PooledSocket[]>();
  private idleCount = 0;
  private closed = false;
  reused = 0;
  created = 0;
  strayWhileIdle = 0;

  /** `max`: sockets kept idle at most (0: none, every session binds and closes its own). */
  constructor(private max: number) {}

  setMax(max: number): void {
    this.max = max;
    this.trim();
  }

  /**
   * A bound socket for a session with `peer` on `local` (undefined: the
   * wildcard): an idle one whose last user was another client address, else
   * a new one.
   * `range`: session ports from this range (a pooled socket keeps its port).
   */
  take(
    ipv6: boolean,
    local: string | undefined,
    range: readonly [number, number] | undefined,
    peer: { address: string; port: number },
    holder: PoolInbound,
  ): PooledConnection {
    const key = `${ipv6 ? 6 : 4}|${local ?? ""}|${range ? `${range[0]}-${range[1]}` : ""}`;
    const list = this.idle.get(key);
    let s: PooledSocket | undefined;
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].lastClient !== peer.address) {
          s = list[i];
          list[i] = list[list.length - 1];
          list.pop();
          this.idleCount--;
          break;
        }
      }
    }
    if (s) this.reused++;
    else {
      s = new PooledSocket(key, ipv6, local, range, this);
      this.created++;
    }
    s.holder = holder;
    s.lastClient = peer.address;
    s.link.port = peer.port;
    s.link.address = peer.address;
    s.link.connect = false;
    return new Lease(this, s);
  }

  /** A socket back from its session: kept idle while there is room, else closed. */
  giveBack(s: PooledSocket): void {
    s.holder = undefined;
    disconnectSession(s.socket, s.link);
    if (this.closed || s.broken || !s.bound || this.idleCount >= this.max) {
      try {
        s.socket.close();
      } catch {
        // already closed
      }
      return;
    }
    let list = this.idle.get(s.key);
    if (!list) {
      list = [];
      this.idle.set(s.key, list);
    }
    list.push(s);
    this.idleCount++;
  }

  private trim(): void {
    for (const list of this.idle.values()) {
      while (this.idleCount > this.max && list.length > 0) {
        list.pop()!.socket.close();
        this.idleCount--;
      }
    }
  }

  stats(): SocketPoolStats {
    return { idle: this.idleCount, reused: this.reused, created: this.created, strayWhileIdle: this.strayWhileIdle };
  }

  /** Closes every idle socket; sockets given back later are closed. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const s of list) s.socket.close();
    this.idle.clear();
    this.idleCount = 0;
  }
}
