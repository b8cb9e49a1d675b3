// Unit tests: seeded loss, traceparent names, option checks, OACK checks, the chunker.

import fc from "fast-check";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { wasmCodec } from "@tftpkit/wasm-core";
import { LossInjector, randomTraceparent, withTraceparent, createClient, TftpConfigError } from "../src/index.js";
import { mixSeed, prng } from "../src/internal.js";
import { resolveTransferOptions } from "../src/options.js";
import { makeChunker } from "../src/put-body.js";
import { checkOack } from "../src/transfer.js";

describe("seeded loss", () => {
  it("prng is deterministic per seed and uniform enough", () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(Array.from({ length: 5 }, prng(43))).not.toEqual(xs.slice(0, 5));
  });

  it("drops about the share asked, the same packets for the same seed", () => {
    const run = (seed: number): boolean[] => {
      const l = new LossInjector({ data: 0.1, ack: 0.02, seed });
      return Array.from({ length: 10_000 }, () => l.dropData());
    };
    const one = run(7);
    expect(run(7)).toEqual(one);
    expect(run(8)).not.toEqual(one);
    const dropped = one.filter(Boolean).length;
    expect(dropped).toBeGreaterThan(850);
    expect(dropped).toBeLessThan(1150);
  });

  it("DATA and ACK decisions come from independent streams", () => {
    const a = new LossInjector({ data: 0.5, ack: 0.5, seed: 9 });
    const b = new LossInjector({ data: 0.5, ack: 0.5, seed: 9 });
    const acksA = Array.from({ length: 200 }, () => a.dropAck());
    for (let i = 0; i < 500; i++) b.dropData(); // DATA draws do not shift the ACK stream
    const acksB = Array.from({ length: 200 }, () => b.dropAck());
    expect(acksB).toEqual(acksA);
    expect(a.acksDropped).toBe(acksA.filter(Boolean).length);
  });

  it("rate 0 never drops and 1 always drops", () => {
    const l = new LossInjector({ data: 0, ack: 1 });
    for (let i = 0; i < 100; i++) {
      expect(l.dropData()).toBe(false);
      expect(l.dropAck()).toBe(true);
    }
    expect(() => new LossInjector({ data: 1.5 })).toThrow(RangeError);
  });

  it("mixSeed spreads neighbouring streams", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(mixSeed(1, i));
    expect(seen.size).toBe(1000);
    expect(mixSeed(1, 5)).toBe(mixSeed(1, 5));
  });
});

describe("traceparent", () => {
  it("a fresh one has the W3C shape and non-zero ids", () => {
    for (let i = 0; i < 50; i++) {
      const tp = randomTraceparent();
      expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(tp).not.toMatch(/^00-0{32}-/);
    }
  });
  it("is appended to the name with a dash", () => {
    const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    expect(withTraceparent("pxelinux.cfg/default", tp)).toBe(`pxelinux.cfg/default-${tp}`);
  });
  it("a malformed one is refused", () => {
    expect(() => resolveTransferOptions({ traceparent: "00-abc-def-01" })).toThrow(TftpConfigError);
    expect(() => resolveTransferOptions({ traceparent: `00-${"0".repeat(32)}-b7ad6b7169203331-01` })).toThrow(TftpConfigError);
  });
});

describe("options", () => {
  it("are validated once, with clear errors", () => {
    expect(() => resolveTransferOptions({ blksize: 7 })).toThrow(/blksize must be an integer from 8 to 65464/);
    expect(() => resolveTransferOptions({ blksize: 65465 })).toThrow(TftpConfigError);
    expect(() => resolveTransferOptions({ windowsize: 0 })).toThrow(/windowsize/);
    expect(() => resolveTransferOptions({ timeoutSeconds: 0 })).toThrow(/timeout/);
    expect(() => resolveTransferOptions({ timeoutOptionSeconds: 256 })).toThrow(/timeoutOption/);
    expect(() => resolveTransferOptions({ retries: -1 })).toThrow(/retries/);
    expect(() => createClient({ host: "127.0.0.1", port: 70000 })).toThrow(/port/);
    const r = resolveTransferOptions({});
    expect(r).toMatchObject({ blksize: -1, windowsize: -1, tsize: false, timeoutMs: 1000, retries: 5, mode: "octet" });
    expect(Object.isFrozen(r)).toBe(true);
  });

  it("no timeout set: an adaptive RTO (floor rtoFloorMs, ceiling the default timeout); a timeout set: fixed", () => {
    expect(resolveTransferOptions({})).toMatchObject({ timeoutMs: 1000, rtoFloorMs: 50 });
    expect(resolveTransferOptions({ rtoFloorMs: 5 })).toMatchObject({ timeoutMs: 1000, rtoFloorMs: 5 });
    expect(resolveTransferOptions({ timeoutSeconds: 2 })).toMatchObject({ timeoutMs: 2000, rtoFloorMs: 0 });
    expect(resolveTransferOptions({ timeoutSeconds: 1, rtoFloorMs: 5 }).rtoFloorMs).toBe(0);
    expect(() => resolveTransferOptions({ rtoFloorMs: 0 })).toThrow(/rtoFloorMs/);
  });

  it("an old option name still works for one release (timeout, timeoutOption), with a DeprecationWarning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on("warning", onWarning);
    try {
      expect(resolveTransferOptions({ timeout: 2, timeoutOption: 3 } as never)).toMatchObject({ timeoutMs: 2000, rtoFloorMs: 0, timeoutOption: 3 });
      expect(createClient({ host: "127.0.0.1", timeout: 1 } as never).host).toBe("127.0.0.1");
      expect(() => resolveTransferOptions({ timeout: 2, timeoutSeconds: 2 } as never)).toThrow("timeout is the old name of timeoutSeconds");
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    const lines = warnings.filter((w) => w.name === "DeprecationWarning").map((w) => w.message);
    expect(lines).toContain("@tftpkit/client: timeout is deprecated: use timeoutSeconds");
    expect(lines).toContain("@tftpkit/client: timeoutOption is deprecated: use timeoutOptionSeconds");
  });
});

describe("OACK check", () => {
  const asked = { blksize: "1468", tsize: "0", timeout: "2", windowsize: "16" };
  it.each<[string, Array<[string, string]>, string | object]>([
    ["all granted", [["blksize", "1468"], ["tsize", "1234"], ["timeout", "2"], ["windowsize", "16"]], { blksize: 1468, tsize: 1234, timeout: 2, windowsize: 16 }],
    ["smaller blksize and window", [["blksize", "1024"], ["windowsize", "4"]], { blksize: 1024, windowsize: 4, tsize: -1, timeout: -1 }],
    ["none", [], { blksize: 512, windowsize: 1, tsize: -1, timeout: -1 }],
    ["larger blksize", [["blksize", "1469"]], "blksize 1469 outside 8..1468"],
    ["blksize below 8", [["blksize", "7"]], "blksize 7 outside 8..1468"],
    ["larger window", [["windowsize", "17"]], "windowsize 17 outside 1..16"],
    ["changed timeout", [["timeout", "3"]], "timeout 3 differs from the 2 asked"],
    ["option not asked", [["utimeout", "1000"]], "option utimeout was not asked"],
    ["non-numeric", [["tsize", "enable"]], 'option tsize has a bad value "enable"'],
  ])("%s", (_name, options, want) => {
    const g = checkOack(options, asked);
    if (typeof want === "string") expect(g).toBe(want);
    else expect(g).toEqual(want);
  });
  it("an option never asked is refused whatever its value", () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9]{1,5}$/), (v) => typeof checkOack([["blksize", v]], {}) === "string"));
  });
});

describe("chunker", () => {
  async function blocks(body: Uint8Array | Readable, blksize: number, netascii = false): Promise<Buffer[]> {
    const c = makeChunker(body, netascii, wasmCodec);
    const out: Buffer[] = [];
    for (;;) {
      const b = Buffer.alloc(blksize);
      let n = 0;
      while (n < blksize) {
        if (c.available() > 0) n += c.take(b, n, blksize - n);
        else if (c.ended) break;
        else await c.pull();
      }
      out.push(b.subarray(0, n));
      if (n < blksize) return out;
    }
  }
  it("cuts bytes into full blocks and a short (maybe empty) last one", async () => {
    expect((await blocks(Buffer.alloc(0), 512)).map((b) => b.length)).toEqual([0]);
    expect((await blocks(Buffer.alloc(512), 512)).map((b) => b.length)).toEqual([512, 0]);
    expect((await blocks(Buffer.alloc(513), 512)).map((b) => b.length)).toEqual([512, 1]);
  });
  it("gives the same blocks from a stream of odd chunks", () =>
    fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 8, max: 600 }), async (data, cut, blksize) => {
        const parts: Buffer[] = [];
        for (let i = 0; i < data.length; i += cut) parts.push(Buffer.from(data.subarray(i, i + cut)));
        const fromBytes = await blocks(Buffer.from(data), blksize);
        const fromStream = await blocks(Readable.from(parts), blksize);
        expect(Buffer.concat(fromStream)).toEqual(Buffer.from(data));
        expect(fromStream.map((b) => b.length)).toEqual(fromBytes.map((b) => b.length));
      }),
      { numRuns: 60 },
    ));
  it("translates netascii before cutting (LF -> CR LF, CR -> CR NUL)", async () => {
    const out = Buffer.concat(await blocks(Buffer.from("a\nb\r\nc\rd\n"), 8, true));
    expect(out).toEqual(Buffer.from("a\r\nb\r\0\r\nc\r\0d\r\n", "latin1"));
  });
});
