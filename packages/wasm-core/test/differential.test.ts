// Differential properties: the WebAssembly codec and the TypeScript reference
// give identical results on random and structured random input.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { wasmCodec as wasm, type AskedOptions, type NegotiationLimits } from "../src/index.js";
import { referenceCodec as ref } from "../src/testing.js";
import { norm, outcome, toHex } from "./util.js";

const RUNS = { numRuns: 1000 };

function sameDecode(p: Uint8Array): void {
  expect(norm(wasm.decode(p))).toEqual(norm(ref.decode(p)));
  expect(wasm.decodeAck(p)).toBe(ref.decodeAck(p));
}

// ------------------------------------------------------------ packets

const utf8 = (s: string) => Uint8Array.from(Buffer.from(s, "utf8"));

/** Strings of any code point (NUL included), as UTF-8. */
const anyText = (maxLength: number) => fc.string({ unit: "binary", maxLength }).map(utf8);

const optionName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("blksize", "BLKSIZE", "tsize", "TSize", "timeout", "TimeOut", "windowsize", "WINDOWSIZE").map(utf8) },
  { weight: 2, arbitrary: fc.constantFrom("multicast", "rollover", "x-vendor", "blksize2", "tsiz", "ÀÉ").map((s) => Uint8Array.from(Buffer.from(s, "latin1"))) },
  { weight: 2, arbitrary: anyText(10) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }) },
);

const optionValue = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 70000 }).map((n) => utf8(String(n))) },
  { weight: 3, arbitrary: fc.constantFrom("", "0", "1", "7", "8", "255", "256", "65464", "65465", "65535", "65536", "enable", "-1", "+5", " 5", "5 ", "1e3", "000000000000004", "0000000000000001", "999999999999999", "1000000000000000").map(utf8) },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9]{1,17}$/).map(utf8) },
  { weight: 2, arbitrary: anyText(12) },
);

const mode = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("octet", "OCTET", "netascii", "NetAscii", "mail", "MAIL").map(utf8) },
  { weight: 2, arbitrary: fc.constantFrom("", "binary", "octets", "octe", "net ascii", "ASCII").map(utf8) },
  { weight: 1, arbitrary: anyText(8) },
);

/** Mostly terminated; sometimes the NUL is missing. */
const terminated = fc.oneof({ weight: 12, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

const option = fc.tuple(optionName, terminated, optionValue, terminated);
/** Well-formed options, for lists long enough to reach the 32-option limit. */
const wellFormed = fc.tuple(
  fc.constantFrom("blksize", "tsize", "x", "Timeout", "windowsize", "y-opt").map(utf8),
  fc.constant(true),
  fc.stringMatching(/^[0-9a-z]{0,6}$/).map(utf8),
  fc.constant(true),
);
const options = fc.oneof(
  { weight: 8, arbitrary: fc.array(option, { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.array(wellFormed, { minLength: 30, maxLength: 36 }) },
);

const opcode = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 7, 0x100, 0xffff) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);

const structured = fc
  .record({
    op: opcode,
    filename: fc.oneof({ weight: 5, arbitrary: anyText(24) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) }),
    fileTerm: terminated,
    mode,
    modeTerm: terminated,
    options,
    padding: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
    number: fc.integer({ min: 0, max: 0xffff }),
    body: fc.oneof(anyText(40), fc.uint8Array({ maxLength: 40 })),
    bodyTerm: terminated,
    tail: fc.oneof({ weight: 5, arbitrary: fc.constant(new Uint8Array(0)) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
    cut: fc.option(fc.nat(), { freq: 6 }),
  })
  .map((r) => {
    const parts: Uint8Array[] = [Uint8Array.of(r.op >> 8, r.op & 0xff)];
    const nul = Uint8Array.of(0);
    if (r.op === 1 || r.op === 2 || r.op === 6) {
      if (r.op !== 6) parts.push(r.filename, r.fileTerm ? nul : new Uint8Array(0), r.mode, r.modeTerm ? nul : new Uint8Array(0));
      for (const [n, nt, v, vt] of r.options) parts.push(n, nt ? nul : new Uint8Array(0), v, vt ? nul : new Uint8Array(0));
      parts.push(new Uint8Array(r.padding));
    } else {
      parts.push(Uint8Array.of(r.number >> 8, r.number & 0xff), r.body, r.bodyTerm ? nul : new Uint8Array(0));
    }
    parts.push(r.tail);
    const p = Uint8Array.from(Buffer.concat(parts));
    return r.cut === null ? p : p.subarray(0, r.cut % (p.length + 1));
  });

describe("decode: wasmCodec == referenceCodec", () => {
  it("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (p) => sameDecode(p)), RUNS);
  });

  it("random bytes after a plausible opcode", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 120 }), (op, rest) => {
        sameDecode(Uint8Array.from([0, op, ...rest]));
      }),
      RUNS,
    );
  });

  it("structured random packets (opcodes, strings with and without NULs, options)", () => {
    fc.assert(fc.property(structured, (p) => sameDecode(p)), { numRuns: 3000 });
  });

  it("structured packets cover every outcome", () => {
    // Guard against a generator that only ever produces one kind of packet.
    const seen = new Set<string>();
    fc.assert(
      fc.property(structured, (p) => {
        const d = wasm.decode(p);
        seen.add(d.opcode === 0 ? `status ${d.status}` : `opcode ${d.opcode}`);
      }),
      { numRuns: 3000, seed: 42 },
    );
    for (const k of ["opcode 1", "opcode 2", "opcode 3", "opcode 4", "opcode 5", "opcode 6"]) expect(seen).toContain(k);
    for (const s of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) expect(seen).toContain(`status ${s}`);
  });

  it("sizes around the 65600-byte limit", () => {
    fc.assert(
      fc.property(fc.integer({ min: 65590, max: 65610 }), fc.integer({ min: 0, max: 7 }), fc.nat(), (len, op, fill) => {
        const p = new Uint8Array(len).fill(fill & 0xff);
        p[0] = 0;
        p[1] = op;
        sameDecode(p);
      }),
      { numRuns: 100 },
    );
  });
});

// ----------------------------------------------------------- negotiate

const askedValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(-2, -1) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 70000 }) },
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 7, 8, 255, 256, 65464, 65465, 65535, 65536, 999999999999999) },
  { weight: 1, arbitrary: fc.double() },
);
const rank = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -1, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(2147483647, -2147483648, 999, 1000, 1001, 1003) },
  { weight: 1, arbitrary: fc.integer() },
);
const asked: fc.Arbitrary<AskedOptions> = fc.record({
  blksize: askedValue,
  tsize: askedValue,
  timeout: askedValue,
  windowsize: askedValue,
  ranks: fc.tuple(rank, rank, rank, rank),
});
const limitInt = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -5, max: 70000 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, 7, 8, 16, 1468, 65464, 65465, 65535, 65536, 1e10) },
  { weight: 1, arbitrary: fc.integer() },
);
const limits: fc.Arbitrary<NegotiationLimits> = fc.record({
  maxBlksize: limitInt,
  maxWindowsize: limitInt,
  tsize: fc.oneof(
    { weight: 3, arbitrary: fc.constant(-1) },
    { weight: 4, arbitrary: fc.nat() },
    { weight: 2, arbitrary: fc.constantFrom(0, 2 ** 53, 2 ** 60, 2 ** 64 - 2048, 2 ** 64, 1e300, Infinity) },
    { weight: 1, arbitrary: fc.double() },
  ),
  write: fc.boolean(),
  refuse: fc.option(fc.subarray(["blksize", "tsize", "timeout", "windowsize"] as const), { nil: undefined }),
});

describe("negotiate: wasmCodec == referenceCodec", () => {
  it("random asked options and limits", () => {
    fc.assert(
      fc.property(asked, limits, (a, l) => {
        const w = wasm.negotiate(a, l);
        const r = ref.negotiate(a, l);
        expect({ ...w, oack: toHex(w.oack) }).toEqual({ ...r, oack: toHex(r.oack) });
      }),
      { numRuns: 3000 },
    );
  });

  it("asked options decoded from random requests", () => {
    fc.assert(
      fc.property(structured, limits, (p, l) => {
        const d = wasm.decode(p);
        if (d.opcode !== 1 && d.opcode !== 2) return;
        expect(ref.decode(p)).toEqual(d);
        const w = wasm.negotiate(d.asked, l);
        const r = ref.negotiate(d.asked, l);
        expect({ ...w, oack: toHex(w.oack) }).toEqual({ ...r, oack: toHex(r.oack) });
        // The OACK itself decodes, in both codecs, to the granted options.
        if (w.oack) expect(norm(wasm.decode(w.oack))).toEqual(norm(ref.decode(w.oack)));
      }),
      RUNS,
    );
  });
});

// ------------------------------------------------------------ encoders

const optionNumber = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -2, max: 70000 }) },
    { weight: 1, arbitrary: fc.constantFrom(999999999999999, 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 2048, 2 ** 64, Infinity, -0, 0.5, 1468.9) },
    { weight: 1, arbitrary: fc.double() },
  ),
  { nil: undefined },
);

describe("encoders: wasmCodec == referenceCodec", () => {
  it("encodeRequest", () => {
    fc.assert(
      fc.property(
        fc.record({
          opcode: fc.constantFrom(1, 2, 1, 2, 0, 3, 1.5) as fc.Arbitrary<1 | 2>,
          filename: fc.oneof(
            { weight: 6, arbitrary: fc.string({ unit: "binary", maxLength: 24 }) },
            { weight: 1, arbitrary: fc.integer({ min: 1020, max: 1030 }).map((n) => "f".repeat(n)) },
            { weight: 1, arbitrary: fc.integer({ min: 508, max: 514 }).map((n) => "é".repeat(n)) },
          ),
          mode: fc.constantFrom("octet", "netascii", "mail", "NETASCII", "bogus") as fc.Arbitrary<"octet">,
          blksize: optionNumber,
          tsize: optionNumber,
          timeout: optionNumber,
          windowsize: optionNumber,
        }),
        (f) => {
          expect(outcome(() => wasm.encodeRequest(f), toHex)).toEqual(outcome(() => ref.encodeRequest(f), toHex));
        },
      ),
      RUNS,
    );
  });

  it("encodeError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: -3, max: 70000 }) },
          { weight: 1, arbitrary: fc.constantFrom(65535, 65536, 2 ** 32 + 1, -0.5, 8.9, NaN, Infinity) },
          { weight: 1, arbitrary: fc.double() },
        ),
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 40 }),
          fc.string({ unit: "binary", minLength: 120, maxLength: 260 }),
          fc.tuple(fc.integer({ min: 494, max: 501 }), fc.constantFrom("é", "€", "😀", "\0", "a")).map(([n, c]) => "x".repeat(n) + c + "yz"),
        ),
        (code, message) => {
          expect(outcome(() => wasm.encodeError(code, message), toHex)).toEqual(
            outcome(() => ref.encodeError(code, message), toHex),
          );
        },
      ),
      RUNS,
    );
  });

  it("encodeData and encodeAck", () => {
    const block = fc.oneof(fc.integer({ min: -70000, max: 200000 }), fc.integer(), fc.double());
    fc.assert(
      fc.property(block, fc.uint8Array({ maxLength: 600 }), (b, payload) => {
        expect(toHex(wasm.encodeData(b, payload))).toBe(toHex(ref.encodeData(b, payload)));
        expect(toHex(wasm.encodeAck(b))).toBe(toHex(ref.encodeAck(b)));
      }),
      RUNS,
    );
  });
});

// ------------------------------------------------------------ netascii

const crlfRich = fc.uint8Array({ maxLength: 300 }).map((raw) => raw.map((b) => [13, 10, 0, 13, b][b % 5]));

describe("netascii: wasmCodec == referenceCodec", () => {
  it("encode", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), crlfRich), (input) => {
        expect(toHex(wasm.netasciiEncode(input))).toBe(toHex(ref.netasciiEncode(input)));
      }),
      RUNS,
    );
  });

  it("decode with and without a pending CR", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), crlfRich), fc.boolean(), (input, cr) => {
        const w = wasm.netasciiDecode(input, cr);
        const r = ref.netasciiDecode(input, cr);
        expect({ data: toHex(w.data), pendingCR: w.pendingCR }).toEqual({ data: toHex(r.data), pendingCR: r.pendingCR });
      }),
      RUNS,
    );
  });

  it("decode of inputs larger than one core chunk", () => {
    fc.assert(
      fc.property(fc.integer({ min: 65530, max: 140000 }), fc.nat(), fc.boolean(), (len, seed, cr) => {
        const input = new Uint8Array(len);
        let x = seed | 1;
        for (let i = 0; i < len; i++) {
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          input[i] = [13, 10, 0, 65][x & 3];
        }
        input[65535] = 13; // a CR exactly at the glue's chunk boundary
        const w = wasm.netasciiDecode(input, cr);
        const r = ref.netasciiDecode(input, cr);
        expect(w.pendingCR).toBe(r.pendingCR);
        expect(Buffer.compare(w.data, r.data)).toBe(0);
        expect(Buffer.compare(wasm.netasciiEncode(input), ref.netasciiEncode(input))).toBe(0);
      }),
      { numRuns: 10 },
    );
  });
});
