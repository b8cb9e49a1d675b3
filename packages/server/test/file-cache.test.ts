// The small-file cache: a stat per request while a file is unchanged (none
// at all within statCacheMs of the last one), fresh contents once it
// changes, large files streamed as before.

import { statSync, writeFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { UdpClient, closeAllClients, get } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";
import { FileCache } from "../src/files/file-cache.js";

const small = bytes(3000);
const large = bytes(300_000);
const { root, cleanup } = makeRoot({ "small.bin": small, "large.bin": large, "cfg.txt": "version 1\n" });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});
afterAll(() => cleanup());

async function fetch(port: number, name: string): Promise<Buffer> {
  const r = await get(await UdpClient.open(), port, name);
  if (r.error) throw new Error(`ERROR ${r.error.code} ${r.error.message}`);
  return r.data;
}

/** The request is refused with ERROR 2 and no byte of data. */
async function expectAccessViolation(port: number, name: string): Promise<void> {
  const r = await get(await UdpClient.open(), port, name);
  expect(r.error?.code).toBe(2);
  expect(r.data.length).toBe(0);
}

describe("small-file cache", () => {
  it("the first request reads the file, the next ones are served from memory", async () => {
    const s = await startServer({ root });
    for (let i = 0; i < 4; i++) expect((await fetch(s.port, "small.bin")).equals(small)).toBe(true);
    expect(s.server.stats()).toMatchObject({ fileCacheMisses: 1, fileCacheHits: 3 });
  });

  it("with statCacheMs 0 a changed file is read again at once", async () => {
    const dir = makeRoot({ "cfg.txt": "version 1\n" });
    try {
      const s = await startServer({ root: dir.root, statCacheMs: 0 });
      expect((await fetch(s.port, "cfg.txt")).toString()).toBe("version 1\n");
      expect((await fetch(s.port, "cfg.txt")).toString()).toBe("version 1\n");
      writeFileSync(join(dir.root, "cfg.txt"), "version 2\n"); // same size: mtime/ctime tell
      const later = new Date(Date.now() + 5000);
      utimesSync(join(dir.root, "cfg.txt"), later, later);
      expect((await fetch(s.port, "cfg.txt")).toString()).toBe("version 2\n");
      expect(s.server.stats()).toMatchObject({ fileCacheMisses: 2, fileCacheHits: 1 });
    } finally {
      dir.cleanup();
    }
  });

  it("within statCacheMs the last stat is trusted (the old contents are served); after it the change is seen", async () => {
    const dir = makeRoot({ "cfg.txt": "version 1\n" });
    try {
      const s = await startServer({ root: dir.root, statCacheMs: 1500 });
      expect((await fetch(s.port, "cfg.txt")).toString()).toBe("version 1\n");
      writeFileSync(join(dir.root, "cfg.txt"), "version 2\n");
      const later = new Date(Date.now() + 5000);
      utimesSync(join(dir.root, "cfg.txt"), later, later);
      expect((await fetch(s.port, "cfg.txt")).toString()).toBe("version 1\n");
      await new Promise((r) => setTimeout(r, 1600));
      expect((await fetch(s.port, "cfg.txt")).toString()).toBe("version 2\n");
      expect(s.server.stats()).toMatchObject({ fileCacheMisses: 2, fileCacheHits: 1 });
    } finally {
      dir.cleanup();
    }
  });

  it("files above maxCachedFileBytes are streamed from disk, not cached", async () => {
    const s = await startServer({ root, maxCachedFileBytes: 100_000 });
    for (let i = 0; i < 2; i++) expect((await fetch(s.port, "large.bin")).equals(large)).toBe(true);
    expect(s.server.stats()).toMatchObject({ fileCacheMisses: 0, fileCacheHits: 0 });
  });

  it("the byte bound evicts the least recently used file", async () => {
    const dir = makeRoot({ "a.bin": bytes(4000, 1), "b.bin": bytes(4000, 2), "c.bin": bytes(4000, 3) });
    try {
      const s = await startServer({ root: dir.root, fileCacheBytes: 9000 });
      for (const n of ["a.bin", "b.bin", "c.bin"]) await fetch(s.port, n); // c evicts a
      await fetch(s.port, "c.bin"); // hit
      await fetch(s.port, "b.bin"); // hit
      await fetch(s.port, "a.bin"); // miss again
      expect(s.server.stats()).toMatchObject({ fileCacheMisses: 4, fileCacheHits: 2 });
    } finally {
      dir.cleanup();
    }
  });

  it("fileCacheBytes 0 turns it off", async () => {
    const s = await startServer({ root, fileCacheBytes: 0 });
    for (let i = 0; i < 2; i++) expect((await fetch(s.port, "small.bin")).equals(small)).toBe(true);
    expect(s.server.stats()).toMatchObject({ fileCacheMisses: 0, fileCacheHits: 0 });
  });
});

describe("names resolved before", () => {
  it("a symlink swapped to lead outside the root after a first request is refused (ERROR 2)", async () => {
    const { symlinkSync, unlinkSync } = await import("node:fs");
    const outside = makeRoot({ "secret.txt": "secret\n" });
    const dir = makeRoot({ "a.txt": "inside a\n", "b.txt": "inside b\n" });
    try {
      symlinkSync(join(dir.root, "a.txt"), join(dir.root, "current"));
      const s = await startServer({ root: dir.root, statCacheMs: 0 });
      expect((await fetch(s.port, "current")).toString()).toBe("inside a\n");
      expect((await fetch(s.port, "current")).toString()).toBe("inside a\n");
      unlinkSync(join(dir.root, "current"));
      symlinkSync(join(dir.root, "b.txt"), join(dir.root, "current"));
      expect((await fetch(s.port, "current")).toString()).toBe("inside b\n");
      unlinkSync(join(dir.root, "current"));
      symlinkSync(join(outside.root, "secret.txt"), join(dir.root, "current"));
      await expectAccessViolation(s.port, "current");
    } finally {
      dir.cleanup();
      outside.cleanup();
    }
  });

  it("within statCacheMs a swapped symlink is not followed: the vetted file is served, never the new target outside", async () => {
    const { symlinkSync, unlinkSync } = await import("node:fs");
    const outside = makeRoot({ "secret.txt": "secret\n" });
    const dir = makeRoot({ "a.txt": "inside a\n" });
    try {
      symlinkSync(join(dir.root, "a.txt"), join(dir.root, "current"));
      const s = await startServer({ root: dir.root, statCacheMs: 1500 });
      expect((await fetch(s.port, "current")).toString()).toBe("inside a\n");
      unlinkSync(join(dir.root, "current"));
      symlinkSync(join(outside.root, "secret.txt"), join(dir.root, "current"));
      expect((await fetch(s.port, "current")).toString()).toBe("inside a\n");
      await new Promise((r) => setTimeout(r, 1600));
      await expectAccessViolation(s.port, "current");
    } finally {
      dir.cleanup();
      outside.cleanup();
    }
  });
});

describe("FileCache.read", () => {
  it("requests for a file being read wait for that one read: one buffer, one miss", async () => {
    const dir = makeRoot({ "boot.efi": bytes(200_000, 7) });
    try {
      const cache = new FileCache(1_000_000, 500_000);
      const path = join(dir.root, "boot.efi");
      const all = await Promise.all(Array.from({ length: 20 }, () => cache.read(path)));
      for (const b of all) expect(b).toBe(all[0]); // the same buffer: read once, held once
      expect(all[0]!.equals(bytes(200_000, 7))).toBe(true);
      expect(cache.stats()).toMatchObject({ misses: 1, hits: 19, entries: 1, bytes: 200_000 });
    } finally {
      dir.cleanup();
    }
  });

  it("a request that sees the file changed does not join the read under way", async () => {
    const dir = makeRoot({ "cfg.txt": "version 1\n" });
    try {
      const cache = new FileCache(1024, 512);
      const path = join(dir.root, "cfg.txt");
      const first = cache.read(path, statSync(path));
      writeFileSync(path, "version 2\n");
      const later = new Date(Date.now() + 5000);
      utimesSync(path, later, later);
      const second = cache.read(path, statSync(path));
      expect((await second)?.toString()).toBe("version 2\n");
      await first;
      expect(cache.stats().misses).toBe(2);
    } finally {
      dir.cleanup();
    }
  });

  it("reads under way hold at most the cache's bound: past it a file is streamed", async () => {
    const dir = makeRoot({ "a.bin": bytes(400, 1), "b.bin": bytes(400, 2), "c.bin": bytes(400, 3) });
    try {
      const cache = new FileCache(1000, 500);
      const [a, b, c] = ["a.bin", "b.bin", "c.bin"].map((n) => join(dir.root, n));
      // Each read is given its stat (as the root handler passes it): the three decide in call
      // order, not in the order the thread pool returns their stats.
      const [ra, rb, rc] = await Promise.all([cache.read(a, statSync(a)), cache.read(b, statSync(b)), cache.read(c, statSync(c))]);
      expect(ra?.equals(bytes(400, 1))).toBe(true);
      expect(rb?.equals(bytes(400, 2))).toBe(true);
      expect(rc).toBeUndefined(); // 1,200 bytes would be in flight: streamed
      expect(cache.stats()).toMatchObject({ misses: 2, entries: 2 });
      expect((await cache.read(c))?.equals(bytes(400, 3))).toBe(true); // later, with room: read and cached
    } finally {
      dir.cleanup();
    }
  });

  it("a file larger than half the cache is not cached (the caller streams it)", async () => {
    const dir = makeRoot({ "half.bin": bytes(600), "fits.bin": bytes(500) });
    try {
      const cache = new FileCache(1000, 1000);
      expect(cache.largest).toBe(500);
      expect(await cache.read(join(dir.root, "half.bin"))).toBeUndefined();
      expect((await cache.read(join(dir.root, "fits.bin")))?.length).toBe(500);
      expect(cache.stats()).toMatchObject({ misses: 1, entries: 1 });
    } finally {
      dir.cleanup();
    }
  });
});

describe("FileCache.hit (the answer without a system call)", () => {
  it("answers a cached file whose stat is unchanged, counts the hit, and misses once the stat differs", async () => {
    const dir = makeRoot({ "a.txt": "aaaa", "b.txt": "bbbb" });
    try {
      const cache = new FileCache(1024, 512);
      const a = join(dir.root, "a.txt");
      expect(cache.hit(a, statSync(a))).toBeUndefined(); // not read yet
      expect((await cache.read(a))?.toString()).toBe("aaaa");
      expect(cache.hit(a, statSync(a))?.toString()).toBe("aaaa");
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
      writeFileSync(a, "AAAA"); // same size: mtime/ctime tell
      const later = new Date(Date.now() + 5000);
      utimesSync(a, later, later);
      expect(cache.hit(a, statSync(a))).toBeUndefined();
      expect((await cache.read(a))?.toString()).toBe("AAAA");
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, entries: 1 });
      expect(cache.hit(join(dir.root, "b.txt"), statSync(a))).toBeUndefined(); // another path, same stat: not cached
    } finally {
      dir.cleanup();
    }
  });

  it("a hit keeps the entry the most recently used: the least recently used goes first", async () => {
    const dir = makeRoot({ "a.txt": "a".repeat(40), "b.txt": "b".repeat(40), "c.txt": "c".repeat(40) });
    try {
      const cache = new FileCache(100, 100); // room for two of the three
      const [a, b, c] = ["a.txt", "b.txt", "c.txt"].map((n) => join(dir.root, n));
      await cache.read(a);
      await cache.read(b);
      expect(cache.hit(a, statSync(a))).toBeDefined(); // a is now the most recently used
      expect(cache.hit(a, statSync(a))).toBeDefined(); // and stays so
      await cache.read(c); // b goes
      expect(cache.hit(b, statSync(b))).toBeUndefined();
      expect(cache.hit(a, statSync(a))?.toString()).toBe("a".repeat(40));
      expect(cache.hit(c, statSync(c))?.toString()).toBe("c".repeat(40));
      expect(cache.hit(a, statSync(a))).toBeDefined(); // a most recent again, then c
      await cache.read(b); // c goes
      expect(cache.hit(c, statSync(c))).toBeUndefined();
      expect(cache.hit(a, statSync(a))).toBeDefined();
      expect(cache.stats()).toMatchObject({ entries: 2, bytes: 80 });
    } finally {
      dir.cleanup();
    }
  });
});
