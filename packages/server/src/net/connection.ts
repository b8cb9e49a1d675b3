// A session's way to its peer, one face with two implementations: a socket
// of the session's own on an ephemeral port (the default: the port is the
// transfer ID), or the listening socket itself (single-port mode, for NAT and
// Kubernetes), which the server feeds with the session's packets. Either way
// the session's packets arrive at `Session.onPacket` and leave by `sendTo`.

import { createSocket, type Socket } from "node:dgram";
import type { SocketPool } from "./socket-pool.js";
import { UNCONNECTED, bindEphemeral, literalLookup, sessionSend, type SessionLink } from "./udp.js";

export interface Connection {
  /** Settles once packets can leave (the session's socket is bound). */
  readonly ready: Promise<void>;
  /** Packets can leave now (`ready` has resolved): a pooled socket, the shared one, or a bound one. */
  readyNow(): boolean;
  sendTo(buf: Uint8Array, offset: number, length: number, port: number, address: string): void;
  /**
   * From the next packet to the peer on, a socket of the session's own is
   * connected to the peer (a no-op for the shared listening socket).
   */
  connectNow(): void;
  /** Sends a last packet (an ERROR), then lets go. */
  closeAfter(packet: Uint8Array, port: number, address: string): void;
  close(): void;
}

export interface Inbound {
  onPacket(msg: Buffer, rinfo: { address: string; port: number }): void;
  onError(err: Error): void;
}

/** A socket of the session's own, bound to the address the request arrived on. */
class OwnSocket implements Connection {
  readonly ready: Promise<void>;
  private socket: Socket | undefined;
  private readonly link: SessionLink;
  private bound = false;

  constructor(
    ipv6: boolean, address: string | undefined, range: readonly [number, number] | undefined, inbound: Inbound,
    peer: { address: string; port: number },
  ) {
    this.link = { port: peer.port, address: peer.address, connect: false, connected: false };
    const socket = createSocket({ type: ipv6 ? "udp6" : "udp4", lookup: literalLookup });
    this.socket = socket;
    socket.on("message", (msg, rinfo) => inbound.onPacket(msg, rinfo));
    socket.on("error", (err) => inbound.onError(err));
    this.ready = bindEphemeral(socket, address, range).then(() => {
      this.bound = true;
    });
    this.ready.catch(() => {});
  }

  readyNow(): boolean {
    return this.bound;
  }

  sendTo(buf: Uint8Array, offset: number, length: number, port: number, address: string): void {
    if (this.socket) sessionSend(this.socket, this.link, buf, offset, length, port, address);
  }

  connectNow(): void {
    this.link.connect = true;
  }

  closeAfter(packet: Uint8Array, port: number, address: string): void {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) sessionSend(socket, this.link, packet, 0, packet.length, port, address, () => socket.close());
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
  }
}

/** The listening socket, shared by every session (single-port mode); the server routes packets by peer. */
class SharedSocket implements Connection {
  readonly ready = Promise.resolve();
  private open = true;
  constructor(private readonly socket: Socket) {}

  readyNow(): boolean {
    return true;
  }

  sendTo(buf: Uint8Array, offset: number, length: number, port: number, address: string): void {
    if (this.open) sessionSend(this.socket, UNCONNECTED, buf, offset, length, port, address);
  }

  connectNow(): void {
    // The listening socket serves every client: never connected.
  }

  closeAfter(packet: Uint8Array, port: number, address: string): void {
    if (this.open) sessionSend(this.socket, UNCONNECTED, packet, 0, packet.length, port, address);
    this.open = false;
  }

  close(): void {
    this.open = false; // the listener stays: it is not the session's
  }
}

/** The listening socket in single-port mode, else a socket of the session's own. */
export function connect(
  shared: Socket | undefined,
  peer: { family: string; address: string; port: number },
  local: string | undefined,
  range: readonly [number, number] | undefined,
  inbound: Inbound,
  /** Bound session sockets used again (socket-pool.ts); without one, a socket is bound and closed per session. */
  pool?: SocketPool,
): Connection {
  if (shared) return new SharedSocket(shared);
  if (pool) return pool.take(peer.family === "IPv6", local, range, peer, inbound);
  return new OwnSocket(peer.family === "IPv6", local, range, inbound, peer);
}
