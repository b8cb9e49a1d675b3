// The upstream cache: a memory tier for small files, a disk tier for the rest,
// both byte-bounded LRUs keyed by URL, and single flight in front of them.
//
//   open(url) ─┬─ fresh entry ───────────────────────────► serve it (memory bytes, or the file)
//              ├─ a flight for url ──► wait for its head ─► follow its download as it grows
//              └─ otherwise start a flight: GET (conditional when a stale entry exists)
//                   304 ─► entry fresh again, serve it
//                   200 ─► Content-Length ≤ memory entry limit ─► download into memory chunks
//                          otherwise, disk tier ─────────────► download into a .tmp file
//                          no room in either ────────────────► hand the stream to this reader only
//                   error ─► every waiting reader gets it; nothing is stored
//                            (a stale entry is served instead when staleIfError, except on 404/401/403)
//
// A download runs at the upstream's pace, independent of its readers, and
// goes on when they leave (the next boot of the storm will want it): it ends
// when complete or when the upstream fails or stays silent for timeoutMs.
// Readers follow it from the start; the flight is dropped only once the entry
// is stored, so that no request falls between the two and fetches again.

import { open as openFile, unlink } from "node:fs/promises";
import { TftpConfigError, TftpError, type SizedBody } from "@tftpkit/server";
import type { UpstreamResponse, Validators } from "../upstream.js";
import { DiskStore, type DiskEntry } from "./disk.js";
import { ChunkFollower, FileFollower, Growing, SharedHandle } from "./follow.js";
import { ByteLru } from "./lru.js";

export interface CacheOptions {
  /** Small files, kept in memory. */
  memory?: {
    /** Bound of the bytes held (stored entries and downloads running). */
    maxBytes: number;
    /** Largest file kept in memory; larger ones go to disk. Default min(1 MiB, maxBytes). */
    maxEntryBytes?: number;
  };
  /** Everything else, in a folder of its own (created if missing). */
  disk?: {
    dir: string;
    /** Bound of the bytes in the folder (stored entries and downloads running). */
    maxBytes: number;
  };
  /** ms an entry is served without asking the upstream; then revalidated with If-None-Match / If-Modified-Since. */
  ttlMs?: number;
  /** Serve a stale entry when revalidation fails (unreachable, 5xx, timeout); never on 404/401/403. */
  staleIfError?: boolean;
}

export const CACHE_DEFAULTS = Object.freeze({
  ttlMs: 60_000, // ms an entry counts as fresh
  staleIfError: true, // serve stale bytes when the upstream is down
  maxMemoryEntryBytes: 1024 * 1024, // bytes: default largest file kept in memory
});

export interface CacheStats {
  /** Served from a fresh entry. */
  hits: number;
  /** Flights started (one upstream GET each, redirects aside). */
  misses: number;
  /** Readers that joined a flight started by another request. */
  joined: number;
  /** Stale entries confirmed by a 304. */
  revalidated: number;
  /** Stale entries served because the upstream failed. */
  staleServed: number;
  /** Downloads into a tier (memory or disk). */
  downloads: number;
  /** Flights or downloads that failed (nothing stored). */
  failures: number;
  /** Responses streamed past the cache (no room, or unknown size with no disk tier). */
  bypassed: number;
  memory: TierStats | undefined;
  disk: TierStats | undefined;
  /** Why the disk tier was turned off (its folder could not be created or read). */
  diskError: string | undefined;
}

export interface TierStats {
  entries: number;
  bytes: number;
  reserved: number;
  maxBytes: number;
  evictions: number;
}

interface MemoryEntry {
  kind: "memory";
  url: string;
  bytes: Buffer;
  etag?: string;
  lastModified?: string;
  fetchedAt: number;
}

type Entry = MemoryEntry | DiskEntry;

/** A download in progress that readers can follow. */
interface Download {
  growing: Growing;
  reader(signal?: AbortSignal): SizedBody;
}

type FlightResult =
  | { kind: "download"; download: Download }
  | { kind: "entry"; entry: Entry }
  | { kind: "bypass"; response: UpstreamResponse; claimed: boolean };

/** Fetches the key's upstream; conditional when validators are given. */
export type Fetcher = (validators?: Validators) => Promise<UpstreamResponse>;

interface Resolved {
  memory: { maxBytes: number; maxEntryBytes: number } | undefined;
  disk: { dir: string; maxBytes: number } | undefined;
  ttlMs: number;
  staleIfError: boolean;
}

function resolve(o: CacheOptions): Resolved {
  const bytes = (name: string, v: unknown): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new TftpConfigError(`${name} must be a whole number of bytes (got ${String(v)})`);
    }
    return v;
  };
  if (!o.memory && !o.disk) throw new TftpConfigError("cache: give memory, disk or both");
  let memory: Resolved["memory"];
  if (o.memory) {
    const maxBytes = bytes("cache.memory.maxBytes", o.memory.maxBytes);
    const maxEntryBytes = bytes(
      "cache.memory.maxEntryBytes",
      o.memory.maxEntryBytes ?? Math.min(CACHE_DEFAULTS.maxMemoryEntryBytes, maxBytes),
    );
    if (maxEntryBytes > maxBytes) {
      throw new TftpConfigError(`cache.memory.maxEntryBytes (${maxEntryBytes}) exceeds cache.memory.maxBytes (${maxBytes})`);
    }
    memory = { maxBytes, maxEntryBytes };
  }
  let disk: Resolved["disk"];
  if (o.disk) {
    if (typeof o.disk.dir !== "string" || o.disk.dir === "") throw new TftpConfigError("cache.disk.dir must be a folder path");
    disk = { dir: o.disk.dir, maxBytes: bytes("cache.disk.maxBytes", o.disk.maxBytes) };
  }
  const ttlMs = o.ttlMs ?? CACHE_DEFAULTS.ttlMs;
  if (typeof ttlMs !== "number" || Number.isNaN(ttlMs) || ttlMs < 0) {
    throw new TftpConfigError(`cache.ttlMs must be a number of ms, 0 or more, or Infinity (got ${String(ttlMs)})`);
  }
  return Object.freeze({ memory, disk, ttlMs, staleIfError: o.staleIfError ?? CACHE_DEFAULTS.staleIfError });
}

export class UpstreamCache {
  private readonly o: Resolved;
  private readonly mem: ByteLru<MemoryEntry> | undefined;
  private disk: DiskStore | undefined;
  private diskError: string | undefined;
  private readonly flights = new Map<string, Promise<FlightResult>>();
  private readonly running = new Set<Promise<void>>();
  private readonly counts = { hits: 0, misses: 0, joined: 0, revalidated: 0, staleServed: 0, downloads: 0, failures: 0, bypassed: 0 };

  constructor(options: CacheOptions) {
    this.o = resolve(options);
    if (this.o.memory) this.mem = new ByteLru(this.o.memory.maxBytes, () => {});
    if (this.o.disk) this.disk = new DiskStore(this.o.disk.dir, this.o.disk.maxBytes);
  }

  /** Serves `key`: from the cache, by following a download in progress, or by fetching it once. */
  async open(key: string, fetch: Fetcher, signal?: AbortSignal): Promise<SizedBody> {
    await this.disk?.init().catch((err: unknown) => {
      // An unusable folder turns the disk tier off (see stats().diskError); serving goes on.
      this.diskError = `${this.o.disk!.dir}: ${(err as Error).message}`;
      this.disk = undefined;
    });
    // A disk entry can vanish between lookup and open (evicted): look again.
    for (let attempt = 0; ; attempt++) {
      const entry = this.lookup(key);
      if (entry && this.fresh(entry)) {
        this.counts.hits++;
        const served = await this.serve(entry, signal);
        if (served) return served;
        continue;
      }
      let flight = this.flights.get(key);
      if (flight) this.counts.joined++;
      else flight = this.fly(key, fetch, entry);
      const r = await untilAborted(flight, signal);
      if (r.kind === "download") return r.download.reader(signal);
      if (r.kind === "entry") {
        const served = await this.serve(r.entry, signal);
        if (served) return served;
        if (attempt < 3) continue;
        throw new TftpError(0, "Cache entry vanished");
      }
      if (!r.claimed) {
        r.claimed = true;
        return bypass(r.response, signal);
      }
      // Another reader took the stream that could not be cached: fetch our own.
      this.counts.bypassed++;
      return bypass(await fetch(), signal);
    }
  }

  stats(): CacheStats {
    const tier = <V>(lru: ByteLru<V> | undefined): TierStats | undefined =>
      lru && { entries: lru.size, bytes: lru.bytes, reserved: lru.reserved, maxBytes: lru.maxBytes, evictions: lru.evictions };
    return { ...this.counts, memory: tier(this.mem), disk: tier(this.disk?.lru), diskError: this.diskError };
  }

  /** The URLs stored, least recently used first. */
  keys(): { memory: string[]; disk: string[] } {
    return { memory: this.mem?.keys() ?? [], disk: this.disk?.lru.keys() ?? [] };
  }

  /** Resolves once no flight or download is in progress (each stored or failed): for tests and shutdown. */
  async settled(): Promise<void> {
    while (this.flights.size > 0 || this.running.size > 0) {
      await Promise.allSettled([...this.flights.values(), ...this.running]);
    }
  }

  /** Drops every stored entry (downloads in progress finish and are stored). */
  async clear(): Promise<void> {
    await this.disk?.init().catch(() => {});
    for (const k of this.mem?.keys() ?? []) this.mem!.evict(k);
    for (const k of this.disk?.lru.keys() ?? []) this.disk!.lru.evict(k);
  }

  private lookup(key: string): Entry | undefined {
    return this.mem?.get(key) ?? this.disk?.lru.get(key);
  }

  private fresh(e: Entry): boolean {
    return Date.now() - e.fetchedAt < this.o.ttlMs;
  }

  private forget(e: Entry): void {
    if (e.kind === "memory") {
      if (this.mem?.peek(e.url) === e) this.mem.delete(e.url);
    } else this.disk?.remove(e);
  }

  /** A stored entry as a body; undefined when its file is gone. */
  private async serve(e: Entry, signal?: AbortSignal): Promise<SizedBody | undefined> {
    if (e.kind === "memory") return { body: e.bytes, size: e.bytes.length };
    try {
      const handle = new SharedHandle(await openFile(e.file, "r"));
      return { body: new FileFollower(Growing.complete(e.size), handle, signal), size: e.size };
    } catch {
      this.forget(e);
      return undefined;
    }
  }

  private fly(key: string, fetch: Fetcher, stale: Entry | undefined): Promise<FlightResult> {
    this.counts.misses++;
    const flight = this.takeOff(key, fetch, stale);
    this.flights.set(key, flight);
    const land = (): void => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    // A download lands when stored (see toMemory, toDisk); anything else lands now.
    flight.then((r) => {
      if (r.kind !== "download") land();
      if (r.kind === "bypass") {
        // Waiters take it in the microtasks that follow; if all of them had gone, nobody will.
        setImmediate(() => {
          if (!r.claimed) {
            r.claimed = true;
            r.response.destroy();
          }
        });
      }
    }, land);
    return flight;
  }

  private async takeOff(key: string, fetch: Fetcher, stale: Entry | undefined): Promise<FlightResult> {
    let response: UpstreamResponse;
    try {
      response = await fetch(stale ? { etag: stale.etag, lastModified: stale.lastModified } : undefined);
    } catch (err) {
      if (stale) {
        const gone = err instanceof TftpError && (err.wireCode === 1 || err.wireCode === 2);
        if (gone) this.forget(stale);
        else if (this.o.staleIfError) {
          this.counts.staleServed++;
          return { kind: "entry", entry: stale };
        }
      }
      this.counts.failures++;
      throw err;
    }
    if (response.status === 304 && stale) {
      stale.fetchedAt = Date.now();
      this.counts.revalidated++;
      return { kind: "entry", entry: stale };
    }
    if (stale) this.forget(stale);
    const download = this.toMemory(key, response) ?? (await this.toDisk(key, response));
    if (download) {
      this.counts.downloads++;
      return { kind: "download", download };
    }
    this.counts.bypassed++;
    return { kind: "bypass", response, claimed: false };
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Ends the flight of a download once its entry is stored (or its failure known). */
  private land(key: string): void {
    this.flights.delete(key);
  }

  /** Downloads a small file into memory chunks; undefined when it does not belong there. */
  private toMemory(key: string, response: UpstreamResponse): Download | undefined {
    const size = response.size;
    const mem = this.mem;
    if (!mem || size === undefined || size > this.o.memory!.maxEntryBytes || !mem.reserve(size)) return undefined;
    const growing = new Growing(size);
    const chunks: Buffer[] = [];
    const run = async (): Promise<void> => {
      try {
        for await (const c of response.body) {
          chunks.push(c);
          growing.grew(c.length);
        }
        growing.end();
        mem.unreserve(size);
        mem.set(key, {
          kind: "memory", url: key, bytes: Buffer.concat(chunks, growing.written),
          etag: response.etag, lastModified: response.lastModified, fetchedAt: Date.now(),
        }, size);
      } catch (err) {
        mem.unreserve(size);
        this.counts.failures++;
        growing.fail(err);
      } finally {
        this.land(key);
      }
    };
    this.track(run());
    return { growing, reader: (signal) => ({ body: new ChunkFollower(growing, chunks, signal), size }) };
  }

  /**
   * Downloads into a .tmp file of the disk tier. With Content-Length the bytes
   * are reserved up front (no room: undefined); without, they are reserved as
   * they arrive, and a file that outgrows the room is served to its readers
   * and then dropped.
   */
  private async toDisk(key: string, response: UpstreamResponse): Promise<Download | undefined> {
    const disk = this.disk;
    if (!disk) return undefined;
    const size = response.size;
    if (size !== undefined && !disk.lru.reserve(size)) return undefined;
    let tmp: Awaited<ReturnType<DiskStore["createTemp"]>>;
    try {
      tmp = await disk.createTemp(key);
    } catch {
      if (size !== undefined) disk.lru.unreserve(size);
      return undefined;
    }
    const growing = new Growing(size);
    const handle = new SharedHandle(tmp.fh);
    handle.acquire();
    let reserved = size ?? 0;
    let keep = true;
    const run = async (): Promise<void> => {
      try {
        for await (const c of response.body) {
          if (size === undefined && keep) {
            if (disk.lru.reserve(c.length)) reserved += c.length;
            else keep = false;
          }
          for (let off = 0; off < c.length; ) {
            const { bytesWritten } = await tmp.fh.write(c, off, c.length - off, growing.written + off);
            off += bytesWritten;
          }
          growing.grew(c.length);
        }
        growing.end();
        if (keep) {
          const entry = await disk.place(tmp.base, tmp.tmp, {
            url: key, size: growing.written, etag: response.etag, lastModified: response.lastModified, fetchedAt: Date.now(),
          });
          // The reservation turns into the entry in one step: no other download can take the room between.
          disk.lru.unreserve(reserved);
          reserved = 0;
          disk.lru.set(key, entry, entry.size);
        } else {
          disk.lru.unreserve(reserved);
          reserved = 0;
          await unlink(tmp.tmp).catch(() => {});
        }
      } catch (err) {
        disk.lru.unreserve(reserved);
        if (growing.state === "running") {
          this.counts.failures++;
          growing.fail(err);
        }
        await unlink(tmp.tmp).catch(() => {});
      } finally {
        // Readers that joined until now hold the handle; later ones open the stored file.
        this.land(key);
        handle.release();
      }
    };
    this.track(run());
    return { growing, reader: (signal) => ({ body: new FileFollower(growing, handle, signal), size }) };
  }
}

/** A response that could not be cached, streamed to one reader (aborted with it). */
function bypass(response: UpstreamResponse, signal?: AbortSignal): SizedBody {
  if (signal) {
    if (signal.aborted) response.destroy();
    else signal.addEventListener("abort", () => response.destroy(), { once: true });
  }
  return { body: response.body, size: response.size };
}

function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new TftpError(0, "Transfer aborted", "TFTP_ERR_ABORTED"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A cache for httpSource: memory for small files, disk for the rest, one upstream fetch per file at a time. */
export function createCache(options: CacheOptions): UpstreamCache {
  return new UpstreamCache(options);
}
