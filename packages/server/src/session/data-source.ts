// Data sources behind a read session. Each fills the session's packet slots
// in order: `read(targets)` resolves the number of bytes written. Every target
// filled is full, except a short one at the end of the data (then `ended` is
// true). A source whose data is not ready yet (a slow stream) may resolve
// early after one or more whole targets, so that blocks already produced go
// out without waiting for the rest. File data is read straight into the
// packet buffers with one readv per batch.
//
// File reads from the page cache take microseconds; through the thread pool
// each one also costs two thread hand-overs and an event-loop wake-up, which
// on a lock-step transfer is a large part of the time per block. So a file
// session reads on the event loop (readvSync) while reads stay fast, and
// through the thread pool when they are not: its first read always goes to
// the pool (it may touch the disk), and SYNC_SLOW_STRIKES reads on the loop
// within SYNC_BACKOFF_MS that each took over SYNC_SLOW_MS (the data was not
// cached; a single one may just be the thread losing its CPU) send every
// session of the process back to the pool for SYNC_BACKOFF_MS. Storage that
// is slow holds the loop for a few slow reads per second at most.

import { open, fstat, readv, readvSync, close as closeFd, constants } from "node:fs";
import { Readable } from "node:stream";
import { NetasciiEncoder, TftpError, toTftpError, type BlockSource } from "@tftpkit/wasm-core";
import type { FileCache } from "../files/file-cache.js";
import { type Body, FileResponse } from "../handler.js";

export interface DataSource extends BlockSource {
  /** Bytes the client will receive, when known. */
  readonly size: number | undefined;
  close(): void;
}

export class BytesSource implements DataSource {
  private pos = 0;
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  read(targets: Buffer[]): Promise<number> {
    return Promise.resolve(this.readNow(targets));
  }
  readNow(targets: Buffer[]): number {
    const bytes = this.bytes;
    let total = 0;
    for (const t of targets) {
      const n = Math.min(t.length, bytes.length - this.pos);
      if (n <= 0) break;
      t.set(n === bytes.length ? bytes : bytes.subarray(this.pos, this.pos + n));
      this.pos += n;
      total += n;
      if (n < t.length) break;
    }
    return total;
  }
  get ended(): boolean {
    return this.pos >= this.bytes.length;
  }
  close(): void {}
}

// O_NONBLOCK: opening a FIFO or a device must not block a pool thread; it
// changes nothing for regular files, the only kind served.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

const SYNC_SLOW_MS = 1; // a read on the event loop slower than this was probably not served from memory
const SYNC_SLOW_STRIKES = 3; // this many within SYNC_BACKOFF_MS: the storage is slow
const SYNC_BACKOFF_MS = 1000; // then every file session reads through the pool this long

/** Whether reads may run on the event loop now, judged by how long the recent ones took. */
export class LoopReadGuard {
  private until = 0;
  private readonly slowAt: number[] = []; // times of the recent slow reads

  constructor(
    readonly slowMs = SYNC_SLOW_MS,
    readonly strikes = SYNC_SLOW_STRIKES,
    readonly backoffMs = SYNC_BACKOFF_MS,
  ) {}

  allowed(now: number): boolean {
    return now >= this.until;
  }

  /** A read on the loop took `ms`, ending at `now`; true if it counted as slow. */
  took(ms: number, now: number): boolean {
    if (ms <= this.slowMs) return false;
    const a = this.slowAt;
    a.push(now);
    while (a.length > 0 && now - a[0] > this.backoffMs) a.shift();
    if (a.length >= this.strikes) {
      this.until = now + this.backoffMs;
      a.length = 0;
    }
    return true;
  }

  /** Forgets the slow reads and any backoff (reads may run on the loop at once). */
  reset(): void {
    this.until = 0;
    this.slowAt.length = 0;
  }
}

const loopReads = new LoopReadGuard();

/**
 * The warm-up's reads (its own small files, on a JIT that is still
 * compiling the read path, often on a machine busy starting up) tell
 * nothing of the served storage: once it ends, the guard forgets them, so
 * that they cannot send the first second of real reads to the pool.
 */
export function forgetWarmUpReads(): void {
  loopReads.reset();
}

/**
 * A server's file reads: on the event loop, in the thread pool, and the
 * reads on the loop that turned out slow (each then sent reads to the pool
 * for a while).
 */
export interface FileReadCounters {
  onLoop: number;
  inPool: number;
  slowOnLoop: number;
}

/**
 * A size from fs.Stats as V8 keeps a size taken from a buffer: fs.Stats
 * hands every number over as a double, a buffer's length is a small
 * integer, and code compiled for sessions of one kind (the warm-up's) was
 * sent back to the interpreter by the first session of the other.
 */
function smallInt(n: number): number {
  return n >= 0 && n <= 0x3fffffff ? n | 0 : n;
}

export class FileSource implements DataSource {
  private pos = 0;
  ended = false;
  private reads = 0;
  private constructor(private fd: number, readonly size: number, private readonly syncReads: boolean, private readonly counters: FileReadCounters) {}

  static open(path: string, syncReads: boolean, counters: FileReadCounters): Promise<FileSource> {
    return new Promise((resolve, reject) => {
      open(path, OPEN_FLAGS, (err, fd) => {
        if (err) return reject(toTftpError(err));
        fstat(fd, (err2, st) => {
          if (err2 || !st.isFile()) {
            closeFd(fd, () => {});
            return reject(err2 ? toTftpError(err2) : TftpError.notFound("Not a regular file"));
          }
          resolve(new FileSource(fd, smallInt(st.size), syncReads, counters));
        });
      });
    });
  }

  read(targets: Buffer[]): Promise<number> {
    if (this.syncReads && this.reads++ > 0 && loopReads.allowed(performance.now())) return this.readOnLoop(targets);
    this.counters.inPool++;
    const want = targets.reduce((s, t) => s + t.length, 0);
    return new Promise((resolve, reject) => {
      const step = (bufs: Buffer[], got: number): void => {
        readv(this.fd, bufs, this.pos, (err, n) => {
          if (err) return reject(toTftpError(err));
          this.pos += n;
          got += n;
          if (n === 0) this.ended = true;
          if (n === 0 || got >= want) return resolve(got);
          // Short read before the end: continue where it stopped.
          step(after(bufs, n), got);
        });
      };
      step(targets, 0);
    });
  }

  /** readvSync until the targets are full or the file ends; a slow read backs every session off to the pool. */
  private readOnLoop(targets: Buffer[]): Promise<number> {
    this.counters.onLoop++;
    const t0 = performance.now();
    let got = 0;
    let bufs = targets;
    try {
      for (;;) {
        const n = readvSync(this.fd, bufs, this.pos);
        this.pos += n;
        got += n;
        if (n === 0) {
          this.ended = true;
          break;
        }
        bufs = after(bufs, n);
        if (bufs.length === 0) break;
      }
    } catch (err) {
      return Promise.reject(toTftpError(err));
    }
    const t1 = performance.now();
    if (loopReads.took(t1 - t0, t1)) this.counters.slowOnLoop++;
    return Promise.resolve(got);
  }

  close(): void {
    if (this.fd >= 0) {
      closeFd(this.fd, () => {});
      this.fd = -1;
    }
  }
}

/** What is left of `bufs` after `n` bytes were written into them. */
function after(bufs: Buffer[], n: number): Buffer[] {
  let skip = n;
  const rest: Buffer[] = [];
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    rest.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return rest;
}

/**
 * A Node Readable or any async iterable of bytes, pulled as the window needs
 * it (backpressure). A read returns as soon as at least one whole target is
 * filled and the chunks at hand are used up; the next chunk is already asked for.
 */
export class StreamSource implements DataSource {
  private readonly it: AsyncIterator<Uint8Array | string>;
  private chunk: Uint8Array = new Uint8Array(0);
  private off = 0;
  private next: Promise<IteratorResult<Uint8Array | string>> | undefined;
  ended = false;
  private closed = false;
  constructor(iterable: AsyncIterable<Uint8Array | string>, readonly size: number | undefined) {
    this.it = iterable[Symbol.asyncIterator]();
  }

  private pull(): Promise<IteratorResult<Uint8Array | string>> {
    const p = this.next ?? this.it.next();
    this.next = undefined;
    return p;
  }

  /** Moves to the next chunk; false at the end of the stream. */
  private async advance(): Promise<boolean> {
    for (;;) {
      const r = await this.pull();
      if (r.done || this.closed) {
        this.ended = true;
        return false;
      }
      const v = r.value;
      this.chunk = typeof v === "string" ? Buffer.from(v) : v;
      this.off = 0;
      if (this.chunk.length > 0) return true;
    }
  }

  async read(targets: Buffer[]): Promise<number> {
    let total = 0;
    for (const t of targets) {
      if (total > 0 && this.chunk.length - this.off < t.length && !this.ended) {
        // Whole blocks are ready and the bytes at hand cannot fill the next
        // one: hand them over now, and ask for the next chunk meanwhile.
        this.next ??= this.it.next();
        this.next.catch(() => {});
        return total;
      }
      let filled = 0;
      while (filled < t.length) {
        if (this.off >= this.chunk.length) {
          if (this.ended || !(await this.advance())) return total + filled;
          continue;
        }
        const n = Math.min(t.length - filled, this.chunk.length - this.off);
        t.set(this.chunk.subarray(this.off, this.off + n), filled);
        this.off += n;
        filled += n;
      }
      total += filled;
    }
    return total;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.ended) {
      this.ended = true;
      this.it.return?.().catch(() => {});
    }
  }
}

/** Translates another source to netascii on the fly (size unknown: the OACK then leaves tsize out). */
export class NetasciiSource implements DataSource {
  readonly size = undefined;
  get ended(): boolean {
    return this.eof && this.off >= this.pending.length;
  }
  private readonly enc = new NetasciiEncoder();
  private pending: Uint8Array = new Uint8Array(0);
  private off = 0;
  private eof = false;
  private readonly raw = Buffer.allocUnsafe(32768);
  constructor(private readonly inner: DataSource) {}
  async read(targets: Buffer[]): Promise<number> {
    let total = 0;
    for (const t of targets) {
      let filled = 0;
      while (filled < t.length) {
        if (this.off >= this.pending.length) {
          if (this.eof) return total + filled;
          const n = await this.inner.read([this.raw]);
          if (this.inner.ended) this.eof = true;
          if (n === 0) continue;
          this.pending = this.enc.push(this.raw.subarray(0, n));
          this.off = 0;
          continue;
        }
        const n = Math.min(t.length - filled, this.pending.length - this.off);
        t.set(this.pending.subarray(this.off, this.off + n), filled);
        this.off += n;
        filled += n;
      }
      total += filled;
    }
    return total;
  }
  close(): void {
    this.inner.close();
  }
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Uint8Array> {
  return typeof v === "object" && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/**
 * Turns what a handler answered into a source: at once for bytes, a string
 * or a file the cache holds (its stat known), else once the file is opened.
 */
export function toSource(
  body: Body, size: number | undefined, netascii: boolean, cache: FileCache | undefined, syncReads: boolean, counters: FileReadCounters,
): DataSource | Promise<DataSource> {
  if (typeof body === "string") body = Buffer.from(body, "utf8");
  if (body instanceof FileResponse && cache && body.stats) {
    // A small file unchanged since the handler's stat: no system call at all.
    const data = cache.hit(body.path, body.stats);
    if (data) body = data;
  }
  if (body instanceof Uint8Array) return bytesSource(body, netascii);
  return openSource(body, size, netascii, cache, syncReads, counters);
}

/** Bytes in memory as a source (netascii-encoded first when asked). */
function bytesSource(bytes: Uint8Array, netascii: boolean): BytesSource {
  return new BytesSource(netascii ? new NetasciiEncoder().push(bytes) : bytes);
}

async function openSource(
  body: Exclude<Body, string | Uint8Array>, size: number | undefined, netascii: boolean, cache: FileCache | undefined, syncReads: boolean, counters: FileReadCounters,
): Promise<DataSource> {
  if (body instanceof FileResponse && cache) {
    // Small files come from the cache (a stat per request while unchanged).
    const small = await cache.read(body.path, body.stats);
    if (small) return bytesSource(small, netascii);
  }
  let src: DataSource;
  if (body instanceof FileResponse) src = await FileSource.open(body.path, syncReads, counters);
  else if (body instanceof Readable || isAsyncIterable(body)) src = new StreamSource(body, size);
  else throw new TypeError("handler answered something that is not bytes, a string, a stream or a file");
  return netascii ? new NetasciiSource(src) : src;
}
