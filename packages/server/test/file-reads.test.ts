// Large files read on the event loop while reads are fast (syncFileReads),
// through the thread pool otherwise: the same bytes either way, and the
// guard that sends reads back to the pool when storage turns out slow.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { UdpClient, closeAllClients, get } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";
import { LoopReadGuard } from "../src/session/data-source.js";

// Both above the maxCachedFileBytes these servers run with: streamed from the file.
const CACHE_UP_TO = 256 * 1024;
const big = bytes(2 * 1024 * 1024 + 77);
const exact = bytes(1468 * 400); // ends on a block boundary: an empty last block
const { root, cleanup } = makeRoot({ "big.bin": big, "exact.bin": exact });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});
afterAll(() => cleanup());

async function fetch(port: number, name: string, options: Array<[string, string]> = []): Promise<Buffer> {
  const r = await get(await UdpClient.open(), port, name, { options, totalTimeoutMs: 60_000 });
  if (r.error) throw new Error(`ERROR ${r.error.code} ${r.error.message}`);
  return r.data;
}

describe("file reads on the event loop", () => {
  it("by default a large file is read on the loop after its first read, byte for byte (lock-step, windowed, block-boundary end)", async () => {
    const s = await startServer({ root, maxCachedFileBytes: CACHE_UP_TO });
    const before = s.server.stats();
    expect((await fetch(s.port, "big.bin")).equals(big)).toBe(true);
    expect((await fetch(s.port, "big.bin", [["blksize", "1468"], ["windowsize", "16"]])).equals(big)).toBe(true);
    expect((await fetch(s.port, "exact.bin", [["blksize", "1468"]])).equals(exact)).toBe(true);
    const after = s.server.stats();
    const onLoop = after.fileReadsOnLoop - before.fileReadsOnLoop;
    const inPool = after.fileReadsInPool - before.fileReadsInPool;
    // Each session's first read goes to the pool (it may have to touch the disk).
    expect(inPool).toBeGreaterThanOrEqual(3);
    if (after.fileReadsSlowOnLoop - before.fileReadsSlowOnLoop < 3) {
      expect(onLoop).toBeGreaterThan(10);
    } else {
      // A busy machine made three reads on the loop slower than 1 ms (the thread lost its CPU):
      // the guard then sends the next reads to the pool, as for slow storage (beyond the three
      // sessions' first reads).
      expect(inPool).toBeGreaterThan(3);
    }
  });

  it("syncFileReads false: every read goes through the thread pool, the same bytes", async () => {
    const s = await startServer({ root, syncFileReads: false, maxCachedFileBytes: CACHE_UP_TO });
    const before = s.server.stats();
    expect((await fetch(s.port, "big.bin", [["blksize", "1468"]])).equals(big)).toBe(true);
    expect((await fetch(s.port, "exact.bin", [["blksize", "1468"], ["windowsize", "8"]])).equals(exact)).toBe(true);
    const after = s.server.stats();
    expect(after.fileReadsOnLoop - before.fileReadsOnLoop).toBe(0);
    expect(after.fileReadsInPool - before.fileReadsInPool).toBeGreaterThan(10);
  });

  it("each server counts its own reads: a second server's transfers leave the first's counters as they were", async () => {
    const a = await startServer({ root, maxCachedFileBytes: CACHE_UP_TO });
    const b = await startServer({ root, maxCachedFileBytes: CACHE_UP_TO });
    expect((await fetch(a.port, "big.bin", [["blksize", "1468"]])).equals(big)).toBe(true);
    const first = a.server.stats();
    expect(first.fileReadsOnLoop + first.fileReadsInPool).toBeGreaterThan(10);
    const fresh = b.server.stats();
    expect([fresh.fileReadsOnLoop, fresh.fileReadsInPool, fresh.fileReadsSlowOnLoop]).toEqual([0, 0, 0]);
    expect((await fetch(b.port, "big.bin", [["blksize", "1468"]])).equals(big)).toBe(true);
    const again = a.server.stats();
    expect([again.fileReadsOnLoop, again.fileReadsInPool]).toEqual([first.fileReadsOnLoop, first.fileReadsInPool]);
    expect(b.server.stats().fileReadsOnLoop + b.server.stats().fileReadsInPool).toBeGreaterThan(10);
  });
});

describe("LoopReadGuard", () => {
  it("reset forgets the slow reads and the backoff (what the warm-up's reads leave behind)", () => {
    const g = new LoopReadGuard(1, 3, 1000);
    for (const t of [10, 20, 30]) g.took(5, t);
    expect(g.allowed(31)).toBe(false);
    g.reset();
    expect(g.allowed(31)).toBe(true);
    // The strikes went too: two more slow reads do not trip it.
    g.took(5, 40);
    g.took(5, 50);
    expect(g.allowed(51)).toBe(true);
  });

  it("one or two slow reads (the thread lost its CPU) keep reads on the loop", () => {
    const g = new LoopReadGuard(1, 3, 1000);
    expect(g.took(0.05, 10)).toBe(false);
    expect(g.took(4, 20)).toBe(true);
    expect(g.took(4, 30)).toBe(true);
    expect(g.allowed(31)).toBe(true);
  });

  it("three slow reads within the backoff span send reads to the pool for that span, then back to the loop", () => {
    const g = new LoopReadGuard(1, 3, 1000);
    g.took(5, 100);
    g.took(5, 400);
    g.took(5, 900);
    expect(g.allowed(901)).toBe(false);
    expect(g.allowed(1899)).toBe(false);
    expect(g.allowed(1900)).toBe(true);
    // The strikes were spent: a single slow read later does not back off again.
    g.took(5, 2000);
    expect(g.allowed(2001)).toBe(true);
  });

  it("slow reads spread wider than the span never add up", () => {
    const g = new LoopReadGuard(1, 3, 1000);
    for (let t = 0; t < 10_000; t += 600) {
      g.took(5, t);
      expect(g.allowed(t + 1)).toBe(true);
    }
  });
});
