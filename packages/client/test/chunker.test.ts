// The chunker: a put's source cut into blocks.

import fc from "fast-check";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { wasmCodec } from "@tftpkit/wasm-core";
import { makeChunker } from "../src/put-body.js";

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
