// The disk tier: one data file and one metadata file per entry in the cache
// folder, indexed in memory by an LRU bounded in bytes. Names carry a hash of
// the key and a generation, so that a replaced entry never shares a name with
// its successor:
//
//   <sha256(url)[0..24]>-<generation>.data   the bytes, renamed in place when complete
//   <sha256(url)[0..24]>-<generation>.json   { url, size, etag, lastModified, fetchedAt }
//   <sha256(url)[0..24]>-<generation>.tmp    a download in progress
//
// The folder is scanned once on first use: complete pairs are taken back (in
// the order they were fetched), leftovers (.tmp, a .data without its .json)
// are removed; files with other names are left alone. One process per folder.

import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { ByteLru } from "./lru.js";

export interface Meta {
  url: string;
  size: number;
  etag?: string;
  lastModified?: string;
  /** ms since the epoch when the upstream last confirmed the bytes (fetch or 304). */
  fetchedAt: number;
}

export interface DiskEntry extends Meta {
  kind: "disk";
  /** Path of the data file. */
  file: string;
  /** Path of the metadata file. */
  metaFile: string;
}

/** Names this store writes: anything else in the folder is never touched. */
const OURS = /^([0-9a-f]{24}-[0-9a-z]+)\.(data|json|tmp|json\.tmp)$/;

export class DiskStore {
  readonly lru: ByteLru<DiskEntry>;
  private ready: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    maxBytes: number,
  ) {
    this.lru = new ByteLru(maxBytes, (_key, e) => this.unlinkEntry(e));
  }

  /** Scans the folder once (later calls share the first scan). */
  init(): Promise<void> {
    this.ready ??= this.scan();
    return this.ready;
  }

  private async scan(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const found: DiskEntry[] = [];
    const keep = new Set<string>();
    for (const name of names) {
      const m = OURS.exec(name);
      if (!m || m[2] !== "json") continue;
      const base = m[1];
      try {
        const meta = JSON.parse(await readFile(join(this.dir, name), "utf8")) as Meta;
        const file = join(this.dir, base + ".data");
        const st = await stat(file);
        if (typeof meta.url !== "string" || st.size !== meta.size || typeof meta.fetchedAt !== "number") throw new Error("stale");
        found.push({ kind: "disk", ...meta, file, metaFile: join(this.dir, name) });
        keep.add(base);
      } catch {
        // unreadable or incomplete: removed below
      }
    }
    // Oldest first, so that the newest end up most recently used; one generation per URL.
    found.sort((a, b) => a.fetchedAt - b.fetchedAt);
    const newest = new Map<string, DiskEntry>();
    for (const e of found) newest.set(e.url, e);
    for (const e of found) {
      if (newest.get(e.url) === e) this.lru.set(e.url, e, e.size);
      else keep.delete(baseOf(e.file));
    }
    for (const name of names) {
      const m = OURS.exec(name);
      if (m && (m[2] === "tmp" || m[2] === "json.tmp" || !keep.has(m[1]))) await unlink(join(this.dir, name)).catch(() => {});
    }
    // Entries evicted while loading (a smaller bound than last time) were unlinked by onEvict.
  }

  /** A temporary file for a download of `url`. */
  async createTemp(url: string): Promise<{ base: string; tmp: string; fh: FileHandle }> {
    const base = createHash("sha256").update(url).digest("hex").slice(0, 24) + "-" +
      Date.now().toString(36) + randomBytes(4).toString("hex");
    const tmp = join(this.dir, base + ".tmp");
    const fh = await open(tmp, "w+", 0o600);
    return { base, tmp, fh };
  }

  /** Moves a finished download into place; the caller indexes the entry (lru.set) when it gives up its reservation. */
  async place(base: string, tmp: string, meta: Meta): Promise<DiskEntry> {
    const file = join(this.dir, base + ".data");
    const metaFile = join(this.dir, base + ".json");
    await rename(tmp, file);
    await writeFile(metaFile + ".tmp", JSON.stringify(meta), { mode: 0o600 });
    await rename(metaFile + ".tmp", metaFile);
    return { kind: "disk", ...meta, file, metaFile };
  }

  /** Drops an entry from the index and the folder (readers with an open handle keep reading). */
  remove(entry: DiskEntry): void {
    if (this.lru.peek(entry.url) === entry) this.lru.delete(entry.url);
    this.unlinkEntry(entry);
  }

  private unlinkEntry(e: DiskEntry): void {
    unlink(e.file).catch(() => {});
    unlink(e.metaFile).catch(() => {});
  }
}

function baseOf(file: string): string {
  return basename(file, ".data");
}
