// A cache of small files' contents, so that a boot storm asking for the same
// configs and boot programs costs a stat per request instead of open, fstat,
// read and close. An entry is used only while the file's inode, size, mtime
// and ctime are what they were when it was read; otherwise it is read again.
// Bounded in bytes, least recently used first out. A file larger than half
// the bound is not cached (streamed instead), so that one file never empties
// the cache. Requests for a file being read wait for that one read: a storm
// of requests for a boot program not yet cached reads and holds it once.
// Reads under way hold at most the bound between them: past it a file is
// streamed, so that many different files asked at once cannot fill memory.

import { stat, open } from "node:fs/promises";
import { constants, type Stats } from "node:fs";
import { TftpError, toTftpError } from "@tftpkit/wasm-core";

const NO_DATA = Buffer.alloc(0);

/**
 * The identity of a file as a stat saw it (inode, size, times) and, once
 * read, its contents. A class, so that every entry has one hidden class
 * whichever server (the warm-up's or the real one) made it: with entries
 * made by an object spread, the code compiled for the warm-up's entries
 * rejected the real server's first one ("wrong map" at its first cache hit)
 * and went back to the interpreter.
 */
class Entry {
  readonly ino: number;
  readonly dev: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;

  constructor(
    st: Stats,
    /** The contents (NO_DATA for a read under way). */
    readonly data: Buffer = NO_DATA,
  ) {
    this.ino = st.ino;
    this.dev = st.dev;
    this.size = st.size;
    this.mtimeMs = st.mtimeMs;
    this.ctimeMs = st.ctimeMs;
  }
}

// O_NONBLOCK: a FIFO swapped in after the stat must not block a pool thread.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function same(e: Entry, st: Stats): boolean {
  return e.ino === st.ino && e.dev === st.dev && e.size === st.size && e.mtimeMs === st.mtimeMs && e.ctimeMs === st.ctimeMs;
}

export interface FileCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/** A read under way, and the identity of the file it was started for (joined only by requests that see the same file). */
interface Loading {
  file: Entry;
  data: Promise<Buffer>;
}

export class FileCache {
  private readonly entries = new Map<string, Entry>(); // insertion order = recency
  private readonly loading = new Map<string, Loading>();
  private loadingBytes = 0;
  /** The largest file cached: maxFileBytes, at most half of maxBytes. */
  readonly largest: number;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private lastPath: string | undefined; // the entry last moved to the end (most recently used)

  constructor(readonly maxBytes: number, readonly maxFileBytes: number) {
    this.largest = Math.min(maxFileBytes, Math.floor(maxBytes / 2));
  }

  /**
   * The contents of a regular file of at most `largest` bytes, from the
   * cache when still valid; undefined for a larger file (the caller streams
   * it). ERROR 1 for what is not a regular file. A miss while the same file
   * is being read waits for that read (and counts as a hit); undefined too
   * when the reads under way hold the cache's bound already.
   */
  async read(path: string, known?: Stats): Promise<Buffer | undefined> {
    let st: Stats;
    try {
      st = known ?? (await stat(path));
    } catch (err) {
      throw toTftpError(err);
    }
    if (!st.isFile()) throw TftpError.notFound("Not a regular file");
    if (st.size > this.largest || this.maxBytes === 0) return undefined;
    const cached = this.hit(path, st);
    if (cached) return cached;
    const under = this.loading.get(path);
    if (under && same(under.file, st)) {
      this.hits++;
      return under.data;
    }
    if (this.loadingBytes + st.size > this.maxBytes) return undefined; // streamed: memory for reads is spoken for
    this.misses++;
    const data = this.load(path, st.size);
    const mine: Loading = { file: new Entry(st), data };
    this.loading.set(path, mine);
    this.loadingBytes += st.size;
    try {
      const got = await data;
      if (got.length === st.size) this.put(path, new Entry(st, got));
      return got;
    } finally {
      this.loadingBytes -= st.size;
      if (this.loading.get(path) === mine) this.loading.delete(path);
    }
  }

  /**
   * The cached contents of a regular file whose stat is `st`, at once, when
   * the entry is still valid (counted as a hit); undefined otherwise (the
   * caller then goes through `read`, which counts the miss).
   */
  hit(path: string, st: Stats): Buffer | undefined {
    const e = this.entries.get(path);
    if (!e || !same(e, st) || !st.isFile()) return undefined;
    this.hits++;
    // Most recently used last; a hit on the newest entry keeps its place.
    if (this.lastPath !== path) {
      this.entries.delete(path);
      this.entries.set(path, e);
      this.lastPath = path;
    }
    return e.data;
  }

  private async load(path: string, size: number): Promise<Buffer> {
    let fh;
    try {
      fh = await open(path, OPEN_FLAGS);
    } catch (err) {
      throw toTftpError(err);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw TftpError.notFound("Not a regular file");
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await fh.read(buf, got, size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === size ? buf : buf.subarray(0, got);
    } catch (err) {
      throw toTftpError(err);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  private put(path: string, e: Entry): void {
    const old = this.entries.get(path);
    if (old) {
      this.bytes -= old.data.length;
      this.entries.delete(path);
    }
    if (e.data.length > this.maxBytes) return;
    this.entries.set(path, e);
    this.lastPath = path;
    this.bytes += e.data.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.data.length;
    }
  }

  stats(): FileCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size, bytes: this.bytes };
  }
}
