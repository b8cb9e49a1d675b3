// What a put reads from: bytes, a file or a stream, cut into blocks. The
// chunker is the sender's block source: it copies straight from the source's
// chunks into the sender's packet ring; it only waits (pull) when its
// current chunk is used up.

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { NetasciiEncoder, type BlockSource, type Codec } from "@tftpkit/wasm-core";

export type PutBody = Uint8Array | Readable | AsyncIterable<Uint8Array>;

export class Chunker implements BlockSource {
  private chunk: Uint8Array | null;
  private off = 0;
  /** True once the source has nothing more. */
  ended: boolean;
  /** Local bytes read from the source (before netascii translation). */
  bytesIn = 0;
  private readonly it: AsyncIterator<Uint8Array> | undefined;

  constructor(body: PutBody, private readonly encoder: NetasciiEncoder | undefined) {
    if (body instanceof Uint8Array) {
      this.bytesIn = body.length;
      this.chunk = encoder ? encoder.push(body) : body;
      this.ended = true;
      this.it = undefined;
    } else {
      this.chunk = null;
      this.ended = false;
      this.it = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    }
  }

  /** Bytes ready without waiting. */
  available(): number {
    return this.chunk ? this.chunk.length - this.off : 0;
  }

  /** Copies up to `max` ready bytes into target at `at`; returns how many. */
  take(target: Uint8Array, at: number, max: number): number {
    const c = this.chunk;
    if (!c) return 0;
    const n = Math.min(max, c.length - this.off);
    target.set(n === c.length && this.off === 0 ? c : c.subarray(this.off, this.off + n), at);
    this.off += n;
    if (this.off >= c.length) {
      this.chunk = null;
      this.off = 0;
    }
    return n;
  }

  /** Waits for the next chunk (or the end). */
  async pull(): Promise<void> {
    if (!this.it || this.ended) return;
    for (;;) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return;
      }
      const v = typeof r.value === "string" ? Buffer.from(r.value) : r.value;
      if (v.length === 0) continue;
      this.bytesIn += v.length;
      this.chunk = this.encoder ? this.encoder.push(v) : v;
      this.off = 0;
      return;
    }
  }

  /**
   * Fills targets in order, each whole but a short last one at the end.
   * Waits for the stream only with no whole target filled yet; else hands
   * over what is ready.
   */
  async read(targets: Buffer[]): Promise<number> {
    let total = 0;
    for (const t of targets) {
      let filled = 0;
      while (filled < t.length) {
        if (this.available() > 0) filled += this.take(t, filled, t.length - filled);
        else if (this.ended) return total + filled;
        else if (total > 0 && filled === 0) return total;
        else await this.pull();
      }
      total += filled;
    }
    return total;
  }

  /** Stops reading (a stream source is destroyed). */
  close(): void {
    if (this.it?.return) void this.it.return().catch(() => {});
  }

  /** Wire bytes already known for a bytes source (after translation), else -1. */
  knownWireSize(): number {
    return this.it === undefined ? (this.chunk?.length ?? 0) : -1;
  }
}

export function makeChunker(body: PutBody, netascii: boolean, codec: Codec): Chunker {
  return new Chunker(body, netascii ? new NetasciiEncoder(codec) : undefined);
}

/** A file as a put body, with its size. */
export async function fileBody(path: string): Promise<{ body: Readable; size: number }> {
  const st = await stat(path);
  if (!st.isFile()) throw Object.assign(new Error(`not a regular file: ${path}`), { code: "EISDIR" });
  return { body: createReadStream(path, { highWaterMark: 256 * 1024 }), size: st.size };
}
