// A raw UDP TFTP peer on loopback: a test's client or its scripted server.
// Every wait is bounded by a timeout.

import { createSocket, type Socket } from "node:dgram";
import { TimeoutError } from "./fixtures.js";
import { parse, type Pkt } from "./packets.js";

export interface Received {
  buf: Buffer;
  pkt: Pkt;
  address: string;
  port: number;
}

const open = new Set<UdpPeer>();

/** Closes every client a test forgot to close (call from afterEach). */
export function closeAllPeers(): void {
  for (const c of [...open]) c.close();
}

export class UdpPeer {
  private readonly queue: Received[] = [];
  /** Callers of recv() waiting for a packet, first come first served. */
  private waiters: Array<(r: Received) => void> = [];
  private closed = false;
  port = 0;

  private tap: ((r: Received) => void) | undefined;

  private constructor(private readonly socket: Socket, readonly host: string) {
    socket.on("message", (buf, rinfo) => {
      const r: Received = { buf, pkt: parse(buf), address: rinfo.address, port: rinfo.port };
      if (this.tap) return this.tap(r);
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    socket.on("error", () => {});
  }

  /**
   * A client socket on an ephemeral port of `host` (127.0.0.1 or ::1).
   * `keep`: not closed by closeAllPeers() (for a client that spans tests).
   */
  static open(host = "127.0.0.1", keep = false): Promise<UdpPeer> {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, host, () => {
        socket.off("error", reject);
        const c = new UdpPeer(socket, host);
        c.port = socket.address().port;
        if (!keep) open.add(c);
        resolve(c);
      });
    });
  }

  private pending = 0;

  send(buf: Buffer, port: number, host = this.host): void {
    if (this.closed) return;
    this.pending++;
    this.socket.send(buf, port, host, () => {
      if (--this.pending === 0 && this.closed) this.destroy();
    });
  }

  /**
   * Hands every packet to `fn` (first those already queued) instead of
   * queueing it, until the returned function is called. Used by get(): no
   * promise or timer per packet.
   */
  divert(fn: (r: Received) => void): () => void {
    if (this.tap) throw new Error("divert: already diverted");
    this.tap = fn;
    for (const r of this.queue.splice(0)) fn(r);
    return () => {
      if (this.tap === fn) this.tap = undefined;
    };
  }

  /** The next packet from anyone; rejects with TimeoutError after `timeoutMs`. */
  recv(timeoutMs = 2000): Promise<Received> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new TimeoutError("a packet", timeoutMs));
      }, timeoutMs);
      const waiter = (r: Received): void => {
        clearTimeout(t);
        resolve(r);
      };
      this.waiters.push(waiter);
    });
  }

  /** The next packet, or null when none comes within `timeoutMs` ("expect silence"). */
  async recvOrNull(timeoutMs: number): Promise<Received | null> {
    try {
      return await this.recv(timeoutMs);
    } catch (e) {
      if (e instanceof TimeoutError) return null;
      throw e;
    }
  }

  /** The packets already queued or arriving within `ms`. */
  async drain(ms: number): Promise<Received[]> {
    const out: Received[] = [];
    const end = Date.now() + ms;
    for (let left = ms; left > 0; left = end - Date.now()) {
      const r = await this.recvOrNull(left);
      if (!r) break;
      out.push(r);
    }
    return out;
  }

  /** Sends a request and returns the first answer (from whatever port). */
  async request(buf: Buffer, port: number, timeoutMs = 2000): Promise<Received> {
    this.send(buf, port);
    return this.recv(timeoutMs);
  }

  /** Closes the socket once the packets already handed to send() are out. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    this.waiters = [];
    if (this.pending === 0) this.destroy();
  }

  private destroy(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

