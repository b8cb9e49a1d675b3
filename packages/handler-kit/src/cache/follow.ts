// Data that grows while it is read: a download in progress, followed by any
// number of readers, each at its own pace. A reader takes what has arrived,
// then waits for more; when the download fails, every reader throws its error
// at once (before the bytes it has not read yet).

import type { FileHandle } from "node:fs/promises";
import { TftpError } from "@tftpkit/server";

export type GrowState = "running" | "done" | "failed";

export class Growing {
  /** Bytes available to readers. */
  written = 0;
  state: GrowState = "running";
  error: unknown;
  private waiters: Array<() => void> = [];

  constructor(
    /** The final size, when announced. */
    readonly size: number | undefined,
  ) {}

  /** A finished source of `size` bytes (a file already in the cache). */
  static complete(size: number): Growing {
    const g = new Growing(size);
    g.written = size;
    g.state = "done";
    return g;
  }

  grew(n: number): void {
    this.written += n;
    this.wake();
  }

  end(): void {
    this.state = "done";
    this.wake();
  }

  fail(err: unknown): void {
    if (this.state !== "running") return;
    this.state = "failed";
    this.error = err;
    this.wake();
  }

  /** Resolves at the next change; rejects when `signal` aborts first. */
  changed(signal?: AbortSignal): Promise<void> {
    if (this.state !== "running") return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(aborted());
      const onAbort = (): void => reject(aborted());
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function aborted(): TftpError {
  return new TftpError(0, "Transfer aborted", "TFTP_ERR_ABORTED");
}

/** A file handle closed when its last user lets go. */
export class SharedHandle {
  private refs = 0;
  constructor(readonly fh: FileHandle) {}
  acquire(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs === 0) this.fh.close().catch(() => {});
  }
}

const CHUNK = 64 * 1024; // bytes read per step: memory per reader stays at about one chunk

/** Reads a file as it grows (positional reads on a shared handle). */
export class FileFollower implements AsyncIterableIterator<Uint8Array> {
  private pos = 0;
  private released = false;
  private closing = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly src: Growing,
    private readonly handle: SharedHandle,
    private readonly signal?: AbortSignal,
  ) {
    handle.acquire();
    signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    // Calls are served one at a time, in order.
    const p = this.queue.then(() => this.step());
    this.queue = p.catch(() => {});
    return p;
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.closing = true; // a step waiting for data stops at the next change
    const p = this.queue.then(() => this.release());
    this.queue = p;
    return p.then(() => ({ done: true, value: undefined }));
  }

  private readonly onAbort = (): void => {
    void this.return();
  };

  private async step(): Promise<IteratorResult<Uint8Array>> {
    try {
      for (;;) {
        if (this.released || this.closing) {
          this.release();
          return { done: true, value: undefined };
        }
        const src = this.src;
        if (src.state === "failed") throw src.error;
        if (this.pos < src.written) {
          const n = Math.min(CHUNK, src.written - this.pos);
          const buf = Buffer.allocUnsafe(n);
          const { bytesRead } = await this.handle.fh.read(buf, 0, n, this.pos);
          if (bytesRead === 0) throw new TftpError(0, "Cache file truncated");
          this.pos += bytesRead;
          return { done: false, value: buf.subarray(0, bytesRead) };
        }
        if (src.state === "done") {
          this.release();
          return { done: true, value: undefined };
        }
        await src.changed(this.signal);
      }
    } catch (err) {
      this.release();
      throw err;
    }
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.signal?.removeEventListener("abort", this.onAbort);
    this.handle.release();
  }
}

/** Reads chunks kept in memory as they arrive. */
export class ChunkFollower implements AsyncIterableIterator<Uint8Array> {
  private i = 0;
  private closed = false;
  constructor(
    private readonly src: Growing,
    private readonly chunks: readonly Buffer[],
    private readonly signal?: AbortSignal,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      if (this.src.state === "failed") throw this.src.error;
      if (this.i < this.chunks.length) return { done: false, value: this.chunks[this.i++] };
      if (this.src.state === "done") return { done: true, value: undefined };
      await this.src.changed(this.signal);
    }
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.closed = true;
    return Promise.resolve({ done: true, value: undefined });
  }
}
