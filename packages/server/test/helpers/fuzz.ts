// Hostile packets for the fuzz suite (test/fuzz.test.ts), as fast-check
// arbitraries: random bytes, every opcode, requests with odd names, modes
// and options (hostile values, duplicates, giant lists), then truncated or
// stripped of their NULs. Built with plain Buffers, independent of the codec.

import fc from "fast-check";

const NUL = Buffer.from([0]);
const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);

/** File names: the served ones, missing ones, traversal, odd bytes, very long. */
export function fileNameArb(served: readonly string[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...served).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.constantFrom("../etc/passwd", "/../../etc/shadow", "..\\..\\x", "a/../../b", "//", ".", "", "dir/", "nothere.bin").map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => Buffer.from(s, "utf8")) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => Buffer.from(b.map((x) => x || 1))) },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 3000 }).map((n) => Buffer.from("x".repeat(n))) },
    { weight: 1, arbitrary: fc.constantFrom(...served).map((s) => Buffer.from(`${s}-00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`)) },
  );
}

const modeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("octet", "netascii", "OCTET", "NetAscii") },
  { weight: 1, arbitrary: fc.constantFrom("mail", "binary", "", "octet ", "octe") },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

const OPTION_NAMES = ["blksize", "tsize", "timeout", "windowsize", "utimeout", "multicast", "msftwindow", "rollover", "BLKSIZE", "TimeOut"];

/** Option values a client should never send: 0, negative, huge, padded, not decimal, very long digit runs. */
const hostileValueArb = fc.oneof(
  fc.constantFrom("0", "-1", "1", "7", "8", "255", "256", "512", "1468", "65464", "65465", "65535", "65536", "99999", "4294967296",
    "1e3", "0x200", " 512", "512 ", "+512", "00000000512", "NaN", "Infinity", "", "enable", "9".repeat(16), "9".repeat(40), "1".repeat(300)),
  fc.integer({ min: -1000, max: 100_000_000 }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 60n }).map(String),
  fc.string({ maxLength: 20 }),
);

const optionArb: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...OPTION_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 16 }) }),
  hostileValueArb,
);

/** How a request is spoiled after it was built. */
type Spoil = { kind: "none" } | { kind: "truncate"; at: number } | { kind: "strip-nuls" } | { kind: "no-final-nul" };

const spoilArb: fc.Arbitrary<Spoil> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Spoil>({ kind: "none" }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((at): Spoil => ({ kind: "truncate", at })) },
  { weight: 1, arbitrary: fc.constant<Spoil>({ kind: "strip-nuls" }) },
  { weight: 1, arbitrary: fc.constant<Spoil>({ kind: "no-final-nul" }) },
);

function spoil(b: Buffer, s: Spoil): Buffer {
  switch (s.kind) {
    case "none":
      return b;
    case "truncate":
      return b.subarray(0, Math.floor(s.at * b.length));
    case "strip-nuls":
      return Buffer.from(b.filter((x, i) => i < 2 || x !== 0));
    case "no-final-nul":
      return b.subarray(0, b.length - 1);
  }
}

function request(opcode: number, name: Buffer, mode: string, options: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts = [u16(opcode), name, NUL, Buffer.from(mode, "latin1"), NUL];
  for (const [k, v] of options) parts.push(Buffer.from(k, "latin1"), NUL, Buffer.from(v, "latin1"), NUL);
  return Buffer.concat(parts);
}

/** A UDP payload stays below 65,507 bytes (IPv4). */
const MAX_UDP = 65_000;

/** RRQ / WRQ with hostile parts: odd options, duplicated ones, giant lists; maybe truncated or NUL-less. */
export function requestArb(served: readonly string[]): fc.Arbitrary<Buffer> {
  const options = fc.oneof(
    { weight: 6, arbitrary: fc.array(optionArb, { maxLength: 8 }) },
    // Duplicated options: the same names again with other values.
    { weight: 2, arbitrary: fc.array(optionArb, { minLength: 1, maxLength: 4 }).chain((o) => fc.array(hostileValueArb, { minLength: 1, maxLength: 6 }).map((vs) => [...o, ...vs.map((v, i): [string, string] => [o[i % o.length][0], v])])) },
    // Giant lists: hundreds to thousands of options.
    { weight: 1, arbitrary: fc.tuple(fc.array(optionArb, { minLength: 1, maxLength: 5 }), fc.integer({ min: 50, max: 4000 })).map(([o, n]) => Array.from({ length: n }, (_, i) => o[i % o.length])) },
  );
  return fc
    .tuple(fc.constantFrom(1, 2), fileNameArb(served), modeArb, options, spoilArb)
    .map(([op, name, mode, opts, s]) => spoil(request(op, name, mode, opts), s).subarray(0, MAX_UDP));
}

/** Every opcode (0 to 11 and 0xffff) with a random body; ACK/DATA/ERROR shapes with random block numbers. */
export const opcodeArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff, 0x100, 0xffff), fc.uint8Array({ maxLength: 600 }))
    .map(([op, body]) => Buffer.concat([u16(op), body])),
  fc.integer({ min: 0, max: 0xffff }).map((b) => Buffer.concat([u16(4), u16(b)])), // ACK
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 1500 })).map(([b, d]) => Buffer.concat([u16(3), u16(b), d])), // DATA
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.string({ maxLength: 60 })).map(([c, m]) => Buffer.concat([u16(5), u16(c), Buffer.from(m), NUL])), // ERROR
  fc.array(optionArb, { maxLength: 6 }).map((o) => Buffer.concat([u16(6), ...o.flatMap(([k, v]) => [Buffer.from(k), NUL, Buffer.from(v), NUL])])), // OACK
);

/** Anything a hostile client might send to the listening port. */
export function packetArb(served: readonly string[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 1500 }).map((b) => Buffer.from(b)) },
    { weight: 2, arbitrary: opcodeArb },
    { weight: 6, arbitrary: requestArb(served) },
  );
}

/** Packets for a session port from a stranger: ACK/DATA/ERROR of plausible blocks, requests, junk. */
export function strangerArb(served: readonly string[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 64 }).map((b) => Buffer.concat([u16(4), u16(b)])) },
    { weight: 2, arbitrary: opcodeArb },
    { weight: 1, arbitrary: requestArb(served) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  );
}

/** `n` samples of `arb` from `seed` (deterministic for a given seed). */
export function samples<T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] {
  return fc.sample(arb, { numRuns: n, seed });
}
