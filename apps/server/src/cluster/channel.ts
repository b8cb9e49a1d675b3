// The datagram channel between the cluster primary and one worker: a stream
// socket pair of its own (the worker's fd 4, beside node:cluster's IPC
// channel, which stays for control messages), carrying length-prefixed
// binary frames. Requests go primary -> worker, answers a worker sends from
// a listening socket (single-port sessions, errors to bad requests) go
// worker -> primary. Per datagram that is a copy into a slab and no object
// serialization; per turn of the event loop one write, from a slab shared
// by many turns.
//
// Frame: u32 length of the rest (big-endian), u8 kind, u8 family (4 or 6),
// u8 address length, u8 0, u32 listener id, u16 port, the address (ASCII),
// the payload.

import { createServer, connect, type Server, type Socket } from "node:net";

/** The fd of the datagram channel in a worker (stdio entry 4; 3 is node:cluster's IPC). */
export const CHANNEL_FD = 4;
/** node:cluster stdio for workers: inherited 0-2, IPC, the datagram channel. */
export const WORKER_STDIO = ["inherit", "inherit", "inherit", "ipc", "pipe"] as const;

export const FrameKind = {
  /** A datagram: in from a client (primary -> worker) or out to one (worker -> primary). */
  DATAGRAM: 0,
  /** A listening socket the worker has not been told of: `address` is its local address (empty for a wildcard). */
  LISTENER: 1,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const HEADER = 14;
const SLAB = 64 * 1024;

export interface Frame {
  kind: FrameKind;
  family: number;
  listener: number;
  port: number;
  address: string;
  payload: Buffer;
}

/**
 * Frames written into a slab; take() hands over the bytes written since the
 * last take, as a view of the slab, and the next frames follow in the same
 * slab (a new one only when it is full): a busy primary allocates one slab
 * per 64 KiB of frames, not one per turn of the event loop (each a 64 KiB
 * allocation outside V8's heap that pushed it into a full GC every few
 * hundred requests).
 */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(SLAB);
  /** Where the frames not yet taken start. */
  private base = 0;
  private used = 0;

  get empty(): boolean {
    return this.used === this.base;
  }

  push(kind: FrameKind, listener: number, port: number, family: number, address: string, payload: Uint8Array): void {
    const alen = address.length;
    const size = HEADER + alen + payload.length;
    let o = this.reserve(size);
    const b = this.buf;
    b.writeUInt32BE(size - 4, o);
    b[o + 4] = kind;
    b[o + 5] = family;
    b[o + 6] = alen;
    b[o + 7] = 0;
    b.writeUInt32BE(listener, o + 8);
    b.writeUInt16BE(port, o + 12);
    o += HEADER;
    // A short ASCII address: a loop costs less than Buffer.write's way into native code.
    for (let i = 0; i < alen; i++) b[o + i] = address.charCodeAt(i);
    o += alen;
    b.set(payload, o);
    this.used = o + payload.length;
  }

  /**
   * A LISTENER frame (`local`: the socket's address, "" for a wildcard). Its
   * own method, so that push() only ever sees the address strings node:dgram
   * makes (the code the JIT compiles for it stays valid).
   */
  pushListener(listener: number, port: number, local: string): void {
    const alen = local.length;
    const size = HEADER + alen;
    let o = this.reserve(size);
    const b = this.buf;
    b.writeUInt32BE(size - 4, o);
    b[o + 4] = FrameKind.LISTENER;
    b[o + 5] = 0;
    b[o + 6] = alen;
    b[o + 7] = 0;
    b.writeUInt32BE(listener, o + 8);
    b.writeUInt16BE(port, o + 12);
    o += HEADER;
    for (let i = 0; i < alen; i++) b[o + i] = local.charCodeAt(i);
    this.used = o + alen;
  }

  /** Room for a frame of `size` bytes: where it starts in this.buf. */
  private reserve(size: number): number {
    if (this.used + size > this.buf.length) {
      // A new slab; the bytes not yet taken move with it (the old slab stays with what was taken from it).
      const next = Buffer.allocUnsafe(Math.max(SLAB, this.used - this.base + size));
      this.buf.copy(next, 0, this.base, this.used);
      this.used -= this.base;
      this.base = 0;
      this.buf = next;
    }
    return this.used;
  }

  /** The frames written since the last take (undefined when none): a view the writer never writes into again. */
  take(): Buffer | undefined {
    if (this.used === this.base) return undefined;
    const out = this.buf.subarray(this.base, this.used);
    this.base = this.used;
    return out;
  }
}

/** Reassembles frames from stream chunks (a frame may span chunks). */
export class FrameReader {
  private rest: Buffer | undefined;

  /** Calls onFrame for every complete frame; payloads are views of the chunk (valid after the call). */
  feed(chunk: Buffer, onFrame: (f: Frame) => void): void {
    let b = chunk;
    if (this.rest) {
      b = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let o = 0;
    while (b.length - o >= 4) {
      const len = b.readUInt32BE(o);
      if (b.length - o - 4 < len) break;
      const alen = b[o + 6];
      const start = o + HEADER;
      onFrame({
        kind: b[o + 4] as FrameKind,
        family: b[o + 5],
        listener: b.readUInt32BE(o + 8),
        port: b.readUInt16BE(o + 12),
        address: b.toString("latin1", start, start + alen),
        payload: b.subarray(start + alen, o + 4 + len),
      });
      o += 4 + len;
    }
    if (o < b.length) this.rest = b.subarray(o);
  }
}

/** Two ends of a private stream socket: what a warm-up uses in place of a worker's channel. */
export interface StreamPair {
  /** The end that connected (the primary's side of a channel). */
  near: Socket;
  /** The end that was accepted (the worker's side). */
  far: Socket;
  /** Destroys both ends and closes the listening socket. */
  close(): Promise<void>;
}

/**
 * A private stream socket pair: a unix socket in Linux's abstract namespace,
 * as the workers' channels are (a stream of the same kind keeps the read
 * and write paths the JIT compiles monomorphic); elsewhere loopback TCP.
 * Nothing else can reach it (an unguessable name, or an ephemeral port on
 * 127.0.0.1 taken by the first connection); it rejects when neither can be
 * opened.
 */
export async function privateStreamPair(tag: string): Promise<StreamPair> {
  let sink: Server | undefined;
  let near: Socket | undefined;
  const close = async (): Promise<void> => {
    near?.destroy();
    await new Promise<void>((r) => (sink ? sink.close(() => r()) : r()));
  };
  try {
    const farEnd = new Promise<Socket>((resolve) => {
      sink = createServer((s) => {
        sink!.close(); // the first connection is the only one
        resolve(s);
      });
    });
    const listen = (o: { path: string } | { host: string; port: number }): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        sink!.once("error", reject);
        sink!.listen(o, () => {
          sink!.off("error", reject);
          resolve();
        });
      });
    const path = process.platform === "linux" ? `\0tftpkit-${tag}-${process.pid}-${Math.random().toString(36).slice(2)}` : undefined;
    let at: { path: string } | { host: string; port: number };
    try {
      if (!path) throw new Error("no abstract unix sockets here");
      await listen({ path });
      at = { path };
    } catch {
      await listen({ host: "127.0.0.1", port: 0 });
      const a = sink!.address();
      if (!a || typeof a === "string") throw new Error("no loopback port");
      at = { host: "127.0.0.1", port: a.port };
    }
    const n = connect(at);
    near = n;
    // A connection that fails rejects (the accept would never come).
    const far = await new Promise<Socket>((resolve, reject) => {
      n.once("error", reject);
      void farEnd.then(resolve);
    });
    n.on("error", () => {});
    far.on("error", () => {});
    return {
      near: n,
      far,
      close: async () => {
        far.destroy();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
