// The upstream cache on its own (no TFTP): tiers, bounds, LRU order, single
// flight, failures, revalidation, persistence.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { TftpConfigError, type SizedBody } from "@tftpkit/server";
import { UpstreamError, createCache, httpSource, type CacheOptions, type UpstreamCache } from "../src/index.js";
import { failure, pattern, startUpstream, type Upstream } from "./helpers/upstream.js";

let up: Upstream;
let dir: string;
const dirs: string[] = [];

beforeEach(async () => {
  up = await startUpstream();
  dir = mkdtempSync(join(tmpdir(), "tftpkit-cache-"));
  dirs.push(dir);
});
afterEach(() => up.close());
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function read(r: SizedBody): Promise<Buffer> {
  if (r.body instanceof Uint8Array) return Buffer.from(r.body);
  const parts: Buffer[] = [];
  for await (const c of r.body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function setup(o: Omit<CacheOptions, "disk"> & { disk?: number }): { cache: UpstreamCache; get: (p: string) => Promise<Buffer> } {
  const cache = createCache({ ...o, disk: o.disk === undefined ? undefined : { dir, maxBytes: o.disk } });
  const src = httpSource({ baseUrl: up.url, cache });
  // Each read waits until the file is stored, so that the next one sees it.
  return {
    cache,
    get: async (p) => {
      const b = await read(await src(p));
      await cache.settled();
      return b;
    },
  };
}

const dataFiles = (): string[] => readdirSync(dir).filter((n) => n.endsWith(".data")).sort();

describe("memory tier", () => {
  it("keeps small files within maxBytes, evicting the least recently used", async () => {
    for (const n of [1, 2, 3, 4]) up.routes.set(`/f${n}`, { body: pattern(30_000, n) });
    const { cache, get } = setup({ memory: { maxBytes: 100_000, maxEntryBytes: 40_000 } });
    for (const n of [1, 2, 3]) expect((await get(`f${n}`)).equals(pattern(30_000, n))).toBe(true);
    expect(cache.stats().memory).toMatchObject({ entries: 3, bytes: 90_000 });
    await get("f1"); // f1 most recently used: f2 goes first
    await get("f4");
    const s = cache.stats();
    expect(s.memory!.bytes).toBeLessThanOrEqual(100_000);
    expect(s.memory!.evictions).toBe(1);
    expect(cache.keys().memory).toEqual([`${up.url}f3`, `${up.url}f1`, `${up.url}f4`]);
    expect(up.count("/f1")).toBe(1);
    await get("f2");
    expect(up.count("/f2")).toBe(2);
    expect(s.hits).toBe(1);
  });

  it("a file larger than maxEntryBytes, or of unknown size, bypasses a memory-only cache", async () => {
    up.routes.set("/big", { body: pattern(50_000) });
    up.routes.set("/chunked", { body: pattern(1000), noLength: true });
    const { cache, get } = setup({ memory: { maxBytes: 100_000, maxEntryBytes: 40_000 } });
    expect((await get("big")).equals(pattern(50_000))).toBe(true);
    expect((await get("chunked")).equals(pattern(1000))).toBe(true);
    await get("big");
    expect(up.count("/big")).toBe(2);
    expect(cache.stats()).toMatchObject({ bypassed: 3, memory: { entries: 0, bytes: 0, reserved: 0 } });
  });

  it("serves stored bytes without a copy (the same Uint8Array)", async () => {
    up.routes.set("/s", { body: Buffer.from("small") });
    const { cache } = setup({ memory: { maxBytes: 1000 } });
    const src = httpSource({ baseUrl: up.url, cache });
    await read(await src("s"));
    const a = await src("s");
    const b = await src("s");
    expect(a.body).toBeInstanceOf(Uint8Array);
    expect(a.body).toBe(b.body);
    expect(a.size).toBe(5);
  });
});

describe("disk tier", () => {
  it("keeps files within maxBytes, evicting the least recently used, and deletes their files", async () => {
    for (const n of [1, 2, 3]) up.routes.set(`/k${n}`, { body: pattern(100_000, n) });
    const { cache, get } = setup({ disk: 250_000 });
    await get("k1");
    await get("k2");
    expect(dataFiles()).toHaveLength(2);
    expect((await get("k1")).equals(pattern(100_000, 1))).toBe(true); // hit: k1 most recent
    await get("k3"); // evicts k2
    expect(cache.keys().disk).toEqual([`${up.url}k1`, `${up.url}k3`]);
    const s = cache.stats();
    expect(s.disk).toMatchObject({ entries: 2, bytes: 200_000, reserved: 0, evictions: 1 });
    await until(() => dataFiles().length === 2);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect((await get("k2")).equals(pattern(100_000, 2))).toBe(true);
    expect([up.count("/k1"), up.count("/k2"), up.count("/k3")]).toEqual([1, 2, 1]);
  });

  it("small files go to memory, larger ones to disk", async () => {
    up.routes.set("/small", { body: pattern(1000) });
    up.routes.set("/large", { body: pattern(200_000) });
    const { cache, get } = setup({ memory: { maxBytes: 10_000, maxEntryBytes: 5000 }, disk: 1_000_000 });
    await get("small");
    await get("large");
    expect(cache.keys()).toEqual({ memory: [`${up.url}small`], disk: [`${up.url}large`] });
    expect(cache.stats().memory!.bytes).toBe(1000);
  });

  it("a file larger than the disk bound is streamed past the cache", async () => {
    up.routes.set("/huge", { body: pattern(300_000) });
    const { cache, get } = setup({ disk: 250_000 });
    expect((await get("huge")).equals(pattern(300_000))).toBe(true);
    expect(cache.stats()).toMatchObject({ bypassed: 1, downloads: 0 });
    expect(dataFiles()).toEqual([]);
  });

  it("a file of unknown size is stored once complete", async () => {
    up.routes.set("/chunked", { body: pattern(100_000), noLength: true, pieceBytes: 16_384 });
    const { cache, get } = setup({ disk: 250_000 });
    expect((await get("chunked")).equals(pattern(100_000))).toBe(true);
    await until(() => cache.stats().disk!.entries === 1);
    expect((await get("chunked")).equals(pattern(100_000))).toBe(true);
    expect(up.count("/chunked")).toBe(1);
    expect(cache.stats().disk).toMatchObject({ bytes: 100_000, reserved: 0 });
  });

  it("a file of unknown size that outgrows the bound is served, then dropped", async () => {
    up.routes.set("/chunked", { body: pattern(300_000), noLength: true, pieceBytes: 16_384 });
    const { cache, get } = setup({ disk: 250_000 });
    expect((await get("chunked")).equals(pattern(300_000))).toBe(true);
    await until(() => readdirSync(dir).length === 0);
    expect(cache.stats().disk).toMatchObject({ entries: 0, bytes: 0, reserved: 0 });
  });

  it("a second cache on the same folder finds the stored files, and removes leftovers", async () => {
    up.routes.set("/p", { body: pattern(20_000) });
    const first = setup({ disk: 100_000 });
    await first.get("p");
    await until(() => first.cache.stats().disk!.entries === 1);
    const leftover = "0123456789abcdef01234567-leftover1.tmp";
    const orphan = "0123456789abcdef01234567-orphan1.data";
    writeFileSync(join(dir, leftover), "x");
    writeFileSync(join(dir, orphan), "x");
    writeFileSync(join(dir, "notes.json"), "{}"); // not ours: left alone
    const second = setup({ disk: 100_000 });
    expect((await second.get("p")).equals(pattern(20_000))).toBe(true);
    expect(up.count("/p")).toBe(1);
    expect(second.cache.stats()).toMatchObject({ hits: 1, disk: { entries: 1, bytes: 20_000 } });
    expect(readdirSync(dir).filter((n) => n === leftover || n === orphan)).toEqual([]);
    expect(readdirSync(dir)).toContain("notes.json");
  });

  it("a reader of a replaced entry keeps its bytes", async () => {
    up.routes.set("/v", { body: pattern(200_000, 1), etag: '"v1"' });
    const { cache } = setup({ disk: 1_000_000, ttlMs: 0 });
    const src = httpSource({ baseUrl: up.url, cache });
    await read(await src("v"));
    await cache.settled();
    const old = await src("v"); // revalidated (304), then held open
    up.routes.set("/v", { body: pattern(200_000, 2), etag: '"v2"' });
    const fresh = await src("v"); // 200: replaces the entry and deletes the old file
    expect((await read(fresh)).equals(pattern(200_000, 2))).toBe(true);
    expect((await read(old)).equals(pattern(200_000, 1))).toBe(true);
    await until(() => dataFiles().length === 1);
    expect(cache.stats()).toMatchObject({ revalidated: 1, downloads: 2 });
  });
});

describe("single flight", () => {
  it("concurrent readers share one upstream GET and get data while it downloads", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const body = pattern(2 * 1024 * 1024);
    up.routes.set("/kernel", { body, gateAfter: 512 * 1024, gate, pieceBytes: 64 * 1024 });
    const { cache } = setup({ memory: { maxBytes: 1_000_000, maxEntryBytes: 100_000 }, disk: 10_000_000 });
    const src = httpSource({ baseUrl: up.url, cache });
    const readers = await Promise.all(Array.from({ length: 10 }, () => src("kernel")));
    // Every reader gets its first bytes while the upstream is held at the gate.
    const its = readers.map((r) => (r.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]());
    const firsts = await Promise.all(its.map((it) => it.next()));
    for (const f of firsts) expect(f.done).toBe(false);
    open();
    const all = await Promise.all(its.map(async (it, i) => {
      const parts = [Buffer.from(firsts[i].value as Uint8Array)];
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        parts.push(Buffer.from(r.value));
      }
      return Buffer.concat(parts);
    }));
    for (const b of all) expect(b.equals(body)).toBe(true);
    expect(up.count("/kernel")).toBe(1);
    expect(cache.stats()).toMatchObject({ misses: 1, joined: 9, downloads: 1 });
    expect(cache.stats().memory!.bytes).toBe(0);
    for (const r of readers) expect(r.size).toBe(body.length);
  });

  it("a failed download is not stored and every waiting reader gets the error", async () => {
    up.routes.set("/flaky", { body: pattern(400_000), resetAfter: 100_000 });
    const { cache } = setup({ memory: { maxBytes: 1_000_000 }, disk: 10_000_000 });
    const src = httpSource({ baseUrl: up.url, cache });
    const errors = await Promise.all(Array.from({ length: 5 }, async () => failure(src("flaky").then(read))));
    for (const e of errors) {
      expect(e).toBeInstanceOf(UpstreamError);
      expect(e.message).toMatch(/^Upstream transfer failed after \d+ of 400000 bytes$/);
    }
    expect(up.count("/flaky")).toBe(1);
    await until(() => readdirSync(dir).length === 0);
    expect(cache.stats()).toMatchObject({ failures: 1, disk: { entries: 0, bytes: 0, reserved: 0 } });
    up.routes.set("/flaky", { body: pattern(400_000) });
    expect((await read(await src("flaky"))).equals(pattern(400_000))).toBe(true);
    expect(up.count("/flaky")).toBe(2);
  });

  it("a failed small download in memory: same", async () => {
    up.routes.set("/flaky", { body: pattern(40_000), closeAfter: 10_000 });
    const { cache } = setup({ memory: { maxBytes: 1_000_000 } });
    const src = httpSource({ baseUrl: up.url, cache });
    const errors = await Promise.all(Array.from({ length: 5 }, async () => failure(src("flaky").then(read))));
    for (const e of errors) expect(e.message).toMatch(/^Upstream transfer failed after \d+ of 40000 bytes$/);
    expect(up.count("/flaky")).toBe(1);
    expect(cache.stats()).toMatchObject({ failures: 1, memory: { entries: 0, bytes: 0, reserved: 0 } });
  });

  it("an error status is shared by the readers waiting for it, and not stored", async () => {
    const { cache } = setup({ memory: { maxBytes: 1_000_000 } });
    const src = httpSource({ baseUrl: up.url, cache });
    const errors = await Promise.all(Array.from({ length: 5 }, () => failure(src("missing"))));
    for (const e of errors) expect(e.wireCode).toBe(1);
    expect(up.count("/missing")).toBe(1);
    await failure(src("missing"));
    expect(up.count("/missing")).toBe(2);
    expect(cache.stats()).toMatchObject({ misses: 2, joined: 4, failures: 2 });
  });
});

describe("freshness", () => {
  it("within ttlMs no request goes upstream", async () => {
    up.routes.set("/t", { body: pattern(100) });
    const { cache, get } = setup({ memory: { maxBytes: 1000 }, ttlMs: Infinity });
    for (let i = 0; i < 5; i++) await get("t");
    expect(up.count("/t")).toBe(1);
    expect(cache.stats().hits).toBe(4);
  });

  it("after ttlMs a conditional GET revalidates; 304 keeps the entry", async () => {
    up.routes.set("/t", { body: pattern(100), etag: '"e1"' });
    const { cache, get } = setup({ memory: { maxBytes: 1000 }, ttlMs: 0 });
    await get("t");
    expect((await get("t")).equals(pattern(100))).toBe(true);
    expect(up.count("/t")).toBe(2);
    expect(up.lastHeaders.get("/t")?.["if-none-match"]).toBe('"e1"');
    expect(up.lastHeaders.get("/t")?.["if-modified-since"]).toBe(new Date(0).toUTCString());
    expect(cache.stats()).toMatchObject({ revalidated: 1, downloads: 1 });
  });

  it("a changed file (new ETag) replaces the entry", async () => {
    up.routes.set("/t", { body: pattern(100, 1), etag: '"e1"' });
    const { cache, get } = setup({ memory: { maxBytes: 1000 }, ttlMs: 0 });
    await get("t");
    up.routes.set("/t", { body: pattern(100, 2), etag: '"e2"' });
    expect((await get("t")).equals(pattern(100, 2))).toBe(true);
    expect(cache.stats()).toMatchObject({ revalidated: 0, downloads: 2, memory: { entries: 1, bytes: 100 } });
  });

  it("a stale entry is served when the upstream fails, dropped when it says 404", async () => {
    up.routes.set("/t", { body: pattern(100) });
    const { cache, get } = setup({ memory: { maxBytes: 1000 }, ttlMs: 0 });
    await get("t");
    up.routes.set("/t", { status: 503 });
    expect((await get("t")).equals(pattern(100))).toBe(true);
    expect(cache.stats().staleServed).toBe(1);
    up.routes.delete("/t");
    expect((await failure(get("t"))).wireCode).toBe(1);
    expect(cache.stats().memory!.entries).toBe(0);
  });

  it("staleIfError: false passes the failure on", async () => {
    up.routes.set("/t", { body: pattern(100) });
    const { get } = setup({ memory: { maxBytes: 1000 }, ttlMs: 0, staleIfError: false });
    await get("t");
    up.routes.set("/t", { status: 503 });
    expect((await failure(get("t"))).message).toBe("Upstream answered HTTP 503");
  });
});

describe("an unusable cache folder", () => {
  it("turns the disk tier off and says why; files are still served", async () => {
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "x");
    up.routes.set("/f", { body: pattern(1000) });
    const cache = createCache({ disk: { dir: join(blocker, "cache"), maxBytes: 1_000_000 } });
    const src = httpSource({ baseUrl: up.url, cache });
    expect((await read(await src("f"))).equals(pattern(1000))).toBe(true);
    expect(cache.stats()).toMatchObject({ bypassed: 1, disk: undefined });
    expect(cache.stats().diskError).toMatch(/a-file\/cache: .*ENOTDIR/);
  });
});

describe("createCache options", () => {
  it("are validated once, with clear messages", () => {
    expect(() => createCache({})).toThrow(TftpConfigError);
    expect(() => createCache({ memory: { maxBytes: -1 } })).toThrow(/cache.memory.maxBytes/);
    expect(() => createCache({ memory: { maxBytes: 10, maxEntryBytes: 20 } })).toThrow(/exceeds/);
    expect(() => createCache({ disk: { dir: "", maxBytes: 10 } })).toThrow(/cache.disk.dir/);
    expect(() => createCache({ disk: { dir: "/tmp/x", maxBytes: 1.5 } })).toThrow(/cache.disk.maxBytes/);
    expect(() => createCache({ memory: { maxBytes: 10 }, ttlMs: -1 })).toThrow(/ttlMs/);
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
