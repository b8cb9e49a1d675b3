// Small parsers and writers over bytes in linear memory, shared by the codec
// and option negotiation (they import this file, never each other's).
//
// A parser takes where to start and where the input ends and returns where
// the rest begins (-1: no match); what it parsed lies between. A writer
// takes where to write and returns where it stopped.

export const OP_RRQ: i32 = 1;
export const OP_WRQ: i32 = 2;
export const OP_DATA: i32 = 3;
export const OP_ACK: i32 = 4;
export const OP_ERROR: i32 = 5;
export const OP_OACK: i32 = 6;

/** Largest DATA payload and blksize: the upper bound of RFC 2348 (src/types.ts exports the same for TypeScript; a test checks both agree). */
export const BLKSIZE_MAX: i32 = 65464;

/** Decimal values above this are "too large" (2^53: the largest every f64 below is exact). */
export const DECIMAL_MAX: f64 = 9007199254740992;

/** What decimal() gives for a well-formed number above DECIMAL_MAX. */
export const TOO_LARGE: f64 = Infinity;

@inline export function u16be(p: usize): i32 {
  return (<i32>load<u8>(p) << 8) | <i32>load<u8>(p + 1);
}

@inline export function putU16be(p: usize, v: i32): void {
  store<u8>(p, <u8>(v >>> 8));
  store<u8>(p + 1, <u8>v);
}

/** Offset of the first NUL in [from, end), or -1. */
export function findNul(from: usize, end: usize): isize {
  for (let p = from; p < end; p++) {
    if (load<u8>(p) == 0) return <isize>p;
  }
  return -1;
}

/** A NUL-terminated string at p: returns the rest (just past its NUL), or -1 when [p, end) holds no NUL. Its bytes are [p, rest - 1). */
export function nulStr(p: usize, end: usize): isize {
  const nul = findNul(p, end);
  return nul < 0 ? -1 : nul + 1;
}

@inline function lower(c: i32): i32 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** [p, p + len) equals a lower-case ASCII word, ignoring ASCII case. */
export function eqWord(p: usize, len: i32, word: string): bool {
  if (len != word.length) return false;
  for (let i = 0; i < len; i++) {
    if (lower(<i32>load<u8>(p + <usize>i)) != <i32>word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * [p, p + len) as a decimal number: any number of ASCII digits (leading
 * zeros too). -1 when empty or anything but digits (sign, space, letters);
 * TOO_LARGE above DECIMAL_MAX, however many digits.
 */
export function decimal(p: usize, len: i32): f64 {
  if (len <= 0) return -1;
  let v: f64 = 0;
  let tooLarge = false;
  for (let i = 0; i < len; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c < 48 || c > 57) return -1;
    const d = <f64>(c - 48);
    // v * 10 + d > DECIMAL_MAX, decided before it is rounded (v is exact here).
    if (tooLarge || v > (DECIMAL_MAX - d) / 10) tooLarge = true;
    else v = v * 10 + d;
  }
  return tooLarge ? TOO_LARGE : v;
}

/** Writes a non-negative integer (exact up to 2^53; the f64 -> u64 conversion saturates) in decimal at p; returns the end. */
export function putDecimal(p: usize, value: f64): usize {
  let v = <u64>value;
  if (v == 0) {
    store<u8>(p, 48);
    return p + 1;
  }
  let digits = 0;
  let t = v;
  while (t > 0) { digits++; t /= 10; }
  let q = p + <usize>digits;
  while (v > 0) {
    q--;
    store<u8>(q, <u8>(48 + <i32>(v % 10)));
    v /= 10;
  }
  return p + <usize>digits;
}

/** Writes an ASCII word and its NUL at p; returns the end. */
export function putWord(p: usize, word: string): usize {
  for (let i = 0; i < word.length; i++) store<u8>(p++, <u8>word.charCodeAt(i));
  store<u8>(p++, 0);
  return p;
}
