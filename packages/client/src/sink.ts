// Where a get delivers its bytes. A sink's write returns false when the
// consumer wants the sender held back: the receiver then withholds its next
// ACK until `drain`.

import { createWriteStream, unlink } from "node:fs";
import type { Writable } from "node:stream";

/** Called with each in-order chunk (a view into the received packet). */
export type ChunkSink = (chunk: Uint8Array) => void;

export interface Sink {
  write(chunk: Uint8Array): boolean;
  /** Calls `cb` once when a write that returned false has drained. */
  onDrain(cb: () => void): void;
  end(): Promise<void>;
  destroy(err: Error): void;
}

export class BufferSink implements Sink {
  private chunks: Uint8Array[] = [];
  private size = 0;
  data: Buffer = Buffer.alloc(0);
  write(chunk: Uint8Array): boolean {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    return true;
  }
  onDrain(cb: () => void): void {
    cb();
  }
  end(): Promise<void> {
    this.data = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    return Promise.resolve();
  }
  destroy(): void {
    this.chunks = [];
  }
}

export class FunctionSink implements Sink {
  constructor(private readonly fn: ChunkSink) {}
  write(chunk: Uint8Array): boolean {
    this.fn(chunk);
    return true;
  }
  onDrain(cb: () => void): void {
    cb();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {}
}

export class WritableSink implements Sink {
  private error: Error | undefined;
  constructor(
    private readonly w: Writable,
    private readonly endIt: boolean,
    private readonly onDestroy?: () => void,
  ) {
    w.on("error", (e) => {
      this.error = e;
    });
  }
  write(chunk: Uint8Array): boolean {
    if (this.error) throw this.error;
    return this.w.write(chunk);
  }
  onDrain(cb: () => void): void {
    this.w.once("drain", cb);
  }
  end(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (!this.endIt) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.w.once("error", reject);
      this.w.end(() => resolve());
    });
  }
  destroy(err: Error): void {
    if (this.endIt) this.w.destroy(err);
    this.onDestroy?.();
  }
}

/** A file written as the blocks arrive; removed again if the transfer fails. */
export function fileSink(path: string): Sink {
  const w = createWriteStream(path);
  w.on("error", () => {});
  return new WritableSink(w, true, () => w.once("close", () => unlink(path, () => {})));
}
