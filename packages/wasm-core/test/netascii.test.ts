// netascii: LF <-> CR LF, CR <-> CR NUL, with a pending CR carried across chunks.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NetasciiDecoder, NetasciiEncoder } from "../src/index.js";
import { codecs, hex, toHex } from "./util.js";

const text = (s: string) => Uint8Array.from(Buffer.from(s, "latin1"));

/** Bytes rich in CR, LF and NUL so the interesting cases come up often. */
const wireish = fc.uint8Array({ maxLength: 300 }).map((raw) => raw.map((b) => [13, 10, 0, 13, b][b % 5]));

/** Split points in [0, len], sorted, duplicates allowed (empty chunks). */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(bytes.subarray(from, p));
    from = p;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

describe.each(codecs)("%s", (_name, codec) => {
  describe("encode", () => {
    it("a\\nb\\r\\nc\\rd\\n -> a CR LF b CR NUL CR LF c CR NUL d CR LF", () => {
      expect(toHex(codec.netasciiEncode(text("a\nb\r\nc\rd\n")))).toBe(toHex(hex("61 0d0a 62 0d00 0d0a 63 0d00 64 0d0a")));
    });
    it("leaves other bytes alone, NUL included", () => {
      expect(toHex(codec.netasciiEncode(hex("00 ff 7f 09 0b 0c")))).toBe("00ff7f090b0c");
    });
    it("empty in, empty out", () => {
      expect(codec.netasciiEncode(new Uint8Array(0)).length).toBe(0);
    });
    it("large input (more than one core chunk) doubles exactly on all-LF input", () => {
      const input = new Uint8Array(200_000).fill(10);
      const out = codec.netasciiEncode(input);
      expect(out.length).toBe(400_000);
      expect(out[0]).toBe(13);
      expect(out[1]).toBe(10);
      expect(out[399_998]).toBe(13);
      expect(out[399_999]).toBe(10);
    });
  });

  describe("decode (one chunk)", () => {
    it("reverses the encoding example", () => {
      const r = codec.netasciiDecode(hex("61 0d0a 62 0d00 0d0a 63 0d00 64 0d0a"), false);
      expect(Buffer.from(r.data).toString("latin1")).toBe("a\nb\r\nc\rd\n");
      expect(r.pendingCR).toBe(false);
    });
    it("CR followed by another byte is kept as it is", () => {
      expect(toHex(codec.netasciiDecode(hex("0d 41 0d 0d 0a"), false).data)).toBe("0d410d0a");
    });
    it("a final CR is pending, not output", () => {
      const r = codec.netasciiDecode(hex("41 0d"), false);
      expect(toHex(r.data)).toBe("41");
      expect(r.pendingCR).toBe(true);
    });
    it("an empty chunk keeps the pending CR", () => {
      const r = codec.netasciiDecode(new Uint8Array(0), true);
      expect(r.data.length).toBe(0);
      expect(r.pendingCR).toBe(true);
      expect(codec.netasciiDecode(new Uint8Array(0), false).pendingCR).toBe(false);
    });
    it("a pending CR is resolved by the first byte", () => {
      expect(toHex(codec.netasciiDecode(hex("0a 41"), true).data)).toBe("0a41");
      expect(toHex(codec.netasciiDecode(hex("00 41"), true).data)).toBe("0d41");
      expect(toHex(codec.netasciiDecode(hex("41"), true).data)).toBe("0d41");
      const r = codec.netasciiDecode(hex("0d"), true);
      expect(toHex(r.data)).toBe("0d");
      expect(r.pendingCR).toBe(true);
    });
  });

  describe("NetasciiDecoder across chunk boundaries", () => {
    it("CR | LF -> LF", () => {
      const d = new NetasciiDecoder(codec);
      expect(toHex(d.push(hex("61 0d")))).toBe("61");
      expect(toHex(d.push(hex("0a 62")))).toBe("0a62");
      expect(d.end().length).toBe(0);
    });
    it("CR | NUL -> CR", () => {
      const d = new NetasciiDecoder(codec);
      expect(toHex(d.push(hex("61 0d")))).toBe("61");
      expect(toHex(d.push(hex("00 62")))).toBe("0d62");
      expect(d.end().length).toBe(0);
    });
    it("CR | other -> CR other", () => {
      const d = new NetasciiDecoder(codec);
      expect(toHex(d.push(hex("0d")))).toBe("");
      expect(toHex(d.push(hex("7a")))).toBe("0d7a");
    });
    it("CR | (empty) | LF -> LF", () => {
      const d = new NetasciiDecoder(codec);
      d.push(hex("0d"));
      expect(d.push(new Uint8Array(0)).length).toBe(0);
      expect(toHex(d.push(hex("0a")))).toBe("0a");
    });
    it("a trailing CR is output by end(), once", () => {
      const d = new NetasciiDecoder(codec);
      expect(toHex(d.push(hex("61 0d")))).toBe("61");
      expect(toHex(d.end())).toBe("0d");
      expect(d.end().length).toBe(0);
    });
    it("NetasciiEncoder is stateless: chunks encode independently", () => {
      const e = new NetasciiEncoder(codec);
      expect(toHex(e.push(text("a\r")))).toBe("610d00");
      expect(toHex(e.push(text("\nb")))).toBe("0d0a62");
    });
  });

  describe("properties", () => {
    it("decode(encode(x)) == x for random bytes split at random points on both sides", () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 400 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          (input, encCuts, decCuts) => {
            const enc = new NetasciiEncoder(codec);
            const wire = concat(splitAt(input, encCuts).map((p) => enc.push(p)));
            expect(toHex(wire)).toBe(toHex(codec.netasciiEncode(input)));
            const dec = new NetasciiDecoder(codec);
            const out = concat([...splitAt(wire, decCuts).map((p) => dec.push(p)), dec.end()]);
            expect(toHex(out)).toBe(toHex(input));
          },
        ),
        { numRuns: 300 },
      );
    });

    it("chunked decoding of any wire bytes equals one-shot decoding", () => {
      fc.assert(
        fc.property(wireish, fc.array(fc.nat(), { maxLength: 8 }), (wire, cuts) => {
          const whole = new NetasciiDecoder(codec);
          const expected = concat([whole.push(wire), whole.end()]);
          const dec = new NetasciiDecoder(codec);
          const out = concat([...splitAt(wire, cuts).map((p) => dec.push(p)), dec.end()]);
          expect(toHex(out)).toBe(toHex(expected));
        }),
        { numRuns: 300 },
      );
    });

    it("encoded output never has a bare CR or a bare LF, and grows by one byte per CR/LF", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
          const wire = codec.netasciiEncode(input);
          const crlf = input.filter((b) => b === 10 || b === 13).length;
          expect(wire.length).toBe(input.length + crlf);
          for (let i = 0; i < wire.length; i++) {
            if (wire[i] === 13) expect([0, 10]).toContain(wire[i + 1]);
            if (wire[i] === 10) expect(wire[i - 1]).toBe(13);
          }
        }),
        { numRuns: 200 },
      );
    });
  });
});
