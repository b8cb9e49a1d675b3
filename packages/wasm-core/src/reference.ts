// A pure-TypeScript implementation of the Codec surface with the same
// semantics as the WebAssembly core (assembly/codec.ts, options.ts,
// netascii.ts) and its glue (src/codec.ts). It serves as an executable
// specification: the tests run every table against both codecs and compare
// them on random input, and the benchmark compares their speed.
//
// Where the core works on fixed-width numbers, this file converts the same
// way the WebAssembly boundary does: i32 parameters go through ToInt32
// (`x | 0`), f64 parameters through ToNumber (`+x`), and f64 -> u64 decimal
// output saturates like i64.trunc_sat_f64_u.

import { Status } from "./status.js";
import {
  type AskedOptions, type Codec, type Decoded, type Mode, type Negotiated, type NegotiationLimits,
  type RequestFields, BLKSIZE_MAX, KNOWN_OPTIONS as KNOWN, Opcode, refuseBits,
} from "./types.js";

/** Largest packet decoded (assembly/layout.ts PACKET_MAX). */
const PACKET_MAX = 65536 + 64;
/** Most options one request may carry (assembly/layout.ts MAX_OPTIONS). */
const MAX_OPTIONS = 32;
const ERROR_MESSAGE_MAX = 500;
const FILENAME_MAX = 1024;

const BLKSIZE_MIN = 8;
const TIMEOUT_MIN = 1;
const TIMEOUT_MAX = 255;
const WINDOW_MIN = 1;
const WINDOW_MAX = 65535;

/** Decimal values above 2^53 are too large (assembly/wire.ts DECIMAL_MAX). */
const DECIMAL_MAX = 9007199254740992;

const CR = 13;
const LF = 10;

type Bytes = Buffer;

function asBuffer(u: Uint8Array): Bytes {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function malformed(status: number, claimed: number): Decoded {
  return { opcode: 0, status, claimed };
}

/** ASCII-only case-insensitive match of b[from, from+len) against a lower-case word. */
function matchWord(b: Bytes, from: number, len: number, word: string): boolean {
  if (len !== word.length) return false;
  for (let i = 0; i < len; i++) {
    let c = b[from + i];
    if (c >= 65 && c <= 90) c += 32;
    if (c !== word.charCodeAt(i)) return false;
  }
  return true;
}

function modeOf(b: Bytes, from: number, len: number): Mode | undefined {
  if (matchWord(b, from, len, "octet")) return "octet";
  if (matchWord(b, from, len, "netascii")) return "netascii";
  if (matchWord(b, from, len, "mail")) return "mail";
  return undefined;
}

function knownIndex(b: Bytes, from: number, len: number): number {
  for (let k = 0; k < KNOWN.length; k++) if (matchWord(b, from, len, KNOWN[k])) return k;
  return -1;
}

/** Any number of ASCII digits; -1 if empty or not all digits (the asked value becomes -2); Infinity above 2^53. */
function parseDecimal(b: Bytes, from: number, len: number): number {
  if (len <= 0) return -1;
  let v = 0;
  let tooLarge = false;
  for (let i = 0; i < len; i++) {
    const c = b[from + i];
    if (c < 48 || c > 57) return -1;
    const d = c - 48;
    if (tooLarge || v > (DECIMAL_MAX - d) / 10) tooLarge = true;
    else v = v * 10 + d;
  }
  return tooLarge ? Infinity : v;
}

function emptyAsked(): { values: number[]; ranks: [number, number, number, number] } {
  return { values: KNOWN.map(() => -1), ranks: [-1, -1, -1, -1] };
}

/**
 * Parses "name\0value\0" pairs in [p, end). A run of NULs at the end is
 * padding; an empty name followed by anything else is malformed.
 */
function decodeOptions(
  b: Bytes, p: number, end: number,
): { status: number; options: Array<[string, string]>; asked: AskedOptions } {
  const options: Array<[string, string]> = [];
  const { values, ranks } = emptyAsked();
  const result = (status: number) => ({
    status,
    options,
    asked: { blksize: values[0], tsize: values[1], timeout: values[2], windowsize: values[3], ranks },
  });
  while (p < end) {
    const nameEnd = b.indexOf(0, p);
    if (nameEnd < 0 || nameEnd >= end) return result(Status.OPTION_UNTERMINATED);
    const nameLen = nameEnd - p;
    if (nameLen === 0) {
      for (let q = p; q < end; q++) if (b[q] !== 0) return result(Status.OPTION_EMPTY_NAME);
      break;
    }
    const v = nameEnd + 1;
    if (v >= end) return result(Status.OPTION_NO_VALUE);
    const valEnd = b.indexOf(0, v);
    if (valEnd < 0 || valEnd >= end) return result(Status.OPTION_UNTERMINATED);
    if (options.length === MAX_OPTIONS) return result(Status.TOO_MANY_OPTIONS);
    const valLen = valEnd - v;
    const k = knownIndex(b, p, nameLen);
    if (k >= 0 && ranks[k] < 0) {
      ranks[k] = options.length;
      const num = parseDecimal(b, v, valLen);
      values[k] = num < 0 ? -2 : num;
    }
    options.push([b.toString("latin1", p, nameEnd).toLowerCase(), b.toString("utf8", v, valEnd)]);
    p = valEnd + 1;
  }
  return result(Status.OK);
}

function decode(packet: Uint8Array): Decoded {
  const len = packet.length;
  if (len < 2) return malformed(Status.TOO_SHORT, 0);
  if (len > PACKET_MAX) return malformed(Status.TOO_LONG, 0);
  const b = asBuffer(packet);
  const op = (b[0] << 8) | b[1];
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const fEnd = b.indexOf(0, 2);
      if (fEnd < 0) return malformed(Status.FILENAME_UNTERMINATED, op);
      if (fEnd === 2) return malformed(Status.FILENAME_EMPTY, op);
      const m = fEnd + 1;
      const mEnd = m < len ? b.indexOf(0, m) : -1;
      if (mEnd < 0) return malformed(Status.MODE_UNTERMINATED, op);
      const mode = modeOf(b, m, mEnd - m);
      if (mode === undefined) return malformed(Status.MODE_UNKNOWN, op);
      const o = decodeOptions(b, mEnd + 1, len);
      if (o.status !== Status.OK) return malformed(o.status, op);
      return { opcode: op, filename: b.toString("utf8", 2, fEnd), mode, options: o.options, asked: o.asked };
    }
    case Opcode.DATA:
      if (len < 4) return malformed(Status.TOO_SHORT, op);
      return { opcode: op, block: (b[2] << 8) | b[3], data: packet.subarray(4) };
    case Opcode.ACK:
      if (len < 4) return malformed(Status.TOO_SHORT, op);
      return { opcode: op, block: (b[2] << 8) | b[3] };
    case Opcode.ERROR: {
      if (len < 4) return malformed(Status.TOO_SHORT, op);
      // Unterminated message or code > 8: still decoded (the core's status is informative only).
      const e = len > 4 ? b.indexOf(0, 4) : -1;
      return { opcode: op, code: (b[2] << 8) | b[3], message: b.toString("utf8", 4, e < 0 ? len : e) };
    }
    case Opcode.OACK: {
      const o = decodeOptions(b, 2, len);
      if (o.status !== Status.OK) return malformed(o.status, op);
      return { opcode: op, options: o.options, asked: o.asked };
    }
    default:
      return malformed(Status.BAD_OPCODE, op);
  }
}

function decodeAck(packet: Uint8Array): number {
  if (packet.length < 4) return -Status.TOO_SHORT;
  const op = (packet[0] << 8) | packet[1];
  if (op !== Opcode.ACK) return -(100 + op);
  return (packet[2] << 8) | packet[3];
}

function encodeData(block: number, payload: Uint8Array): Uint8Array {
  if (payload.length > BLKSIZE_MAX) throw new RangeError(`DATA payload larger than ${BLKSIZE_MAX} bytes`);
  const out = Buffer.allocUnsafe(payload.length + 4);
  const blk = block & 0xffff;
  out[0] = 0;
  out[1] = Opcode.DATA;
  out[2] = blk >>> 8;
  out[3] = blk & 0xff;
  out.set(payload, 4);
  return out;
}

function encodeAck(block: number): Uint8Array {
  const out = Buffer.allocUnsafe(4);
  const blk = block & 0xffff;
  out[0] = 0;
  out[1] = Opcode.ACK;
  out[2] = blk >>> 8;
  out[3] = blk & 0xff;
  return out;
}

/** UTF-8 length of at most `max` bytes that does not split a character. */
export function utf8Cut(bytes: Uint8Array, max: number): number {
  if (bytes.length <= max) return bytes.length;
  let len = max;
  while (len > 0 && (bytes[len] & 0xc0) === 0x80) len--;
  return len;
}

function encodeError(code: number, message: string): Uint8Array {
  const msg = Buffer.from(message, "utf8");
  let len = utf8Cut(msg, ERROR_MESSAGE_MAX);
  const c = code | 0;
  if (c < 0 || c > 0xffff) throw new RangeError(`bad TFTP error code ${code}`);
  const nul = msg.indexOf(0);
  if (nul >= 0 && nul < len) len = nul;
  const out = Buffer.allocUnsafe(len + 5);
  out[0] = 0;
  out[1] = Opcode.ERROR;
  out[2] = c >>> 8;
  out[3] = c & 0xff;
  msg.copy(out, 4, 0, len);
  out[len + 4] = 0;
  return out;
}

const TWO_64 = 18446744073709551616;
const U64_MAX = "18446744073709551615";

/** Decimal text of a non-negative f64 as the core writes it (truncated, saturating u64). */
function decimal(value: number): string {
  if (!(value >= 0)) return "0";
  if (value < 9007199254740992) return String(Math.trunc(value));
  if (value >= TWO_64) return U64_MAX;
  return BigInt(value).toString();
}

const KNOWN_BYTES = KNOWN.map((n) => Buffer.from(n, "latin1"));

/** Appends "name\0value\0" for known option k at p; returns the new end. */
function putOption(out: Bytes, p: number, k: number, value: number): number {
  const name = KNOWN_BYTES[k];
  out.set(name, p);
  p += name.length;
  out[p++] = 0;
  if (value >= 0 && value < 9007199254740992) {
    // Integer digits, written backwards from the end.
    let v = Math.trunc(value);
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    for (let q = p + digits - 1; q >= p; q--) {
      out[q] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    p += digits;
  } else {
    p += out.write(decimal(value), p, "latin1");
  }
  out[p++] = 0;
  return p;
}

function encodeRequest(f: RequestFields): Uint8Array {
  const name = Buffer.from(f.filename, "utf8");
  if (name.length === 0 || name.length > FILENAME_MAX) throw new RangeError("file name must be 1..1024 bytes");
  const op = f.opcode | 0;
  if ((op !== Opcode.RRQ && op !== Opcode.WRQ) || name.indexOf(0) >= 0) {
    throw new RangeError("bad request fields (NUL in file name?)");
  }
  const modeName = f.mode === "netascii" ? "netascii" : f.mode === "mail" ? "mail" : "octet";
  const values = KNOWN.map((k) => +(f[k] ?? -1));
  // 2 + name + NUL + mode + NUL + per option: name (<= 10) + NUL + <= 20 digits + NUL
  const out = Buffer.allocUnsafe(2 + name.length + 1 + modeName.length + 1 + KNOWN.length * 32);
  out[0] = 0;
  out[1] = op;
  name.copy(out, 2);
  let p = 2 + name.length;
  out[p++] = 0;
  p += out.write(modeName, p, "latin1");
  out[p++] = 0;
  for (let k = 0; k < KNOWN.length; k++) if (values[k] >= 0) p = putOption(out, p, k, values[k]);
  return Uint8Array.prototype.slice.call(out, 0, p) as Uint8Array;
}

function refuseMaskOf(refuse: NegotiationLimits["refuse"]): number {
  let m = 0;
  for (const r of refuse ?? []) m |= refuseBits[r];
  return m;
}

/** Largest tsize echoed on a write (assembly/options.ts TSIZE_MAX). */
const TSIZE_MAX = 2 ** 53;

/** One rule per known option (assembly/options.ts grant*): what is granted for the value asked, -1 nothing. */
const rules: Record<(typeof KNOWN)[number], (asked: number, l: NegotiationLimits) => number> = {
  blksize(asked, l) {
    const max = l.maxBlksize | 0;
    if (!(asked >= BLKSIZE_MIN) || max < BLKSIZE_MIN) return -1;
    return Math.min(asked, max, BLKSIZE_MAX);
  },
  tsize(asked, l) {
    if (!(asked >= 0)) return -1;
    // A write echoes the size announced (if it can be written exactly); a read announces its own.
    if (l.write) return asked <= TSIZE_MAX ? asked : -1;
    const size = +l.tsize;
    return size >= 0 ? size : -1;
  },
  timeout(asked, l) {
    const cap = Math.min((l.maxTimeout ?? TIMEOUT_MAX) | 0, TIMEOUT_MAX);
    return asked >= TIMEOUT_MIN && asked <= cap ? asked : -1;
  },
  windowsize(asked, l) {
    const max = l.maxWindowsize | 0;
    if (!(asked >= WINDOW_MIN && asked <= WINDOW_MAX) || max < 1) return -1;
    return Math.min(asked, max, WINDOW_MAX);
  },
};

/**
 * Decides the OACK (assembly/options.ts): only options asked and accepted,
 * never larger than asked, in the order asked; unknown options never appear;
 * a timeout above maxTimeout is declined.
 */
function negotiate(a: AskedOptions, l: NegotiationLimits): Negotiated {
  const refuse = refuseMaskOf(l.refuse);
  const accepted = KNOWN.map((name, k) => ((refuse & (1 << k)) !== 0 ? -1 : rules[name](+a[name], l)));
  const [blk, ts, to, win] = accepted;
  if (!accepted.some((v) => v >= 0)) {
    return { blksize: blk, tsize: ts, timeout: to, windowsize: win, oack: null };
  }
  // Ascending rank; an accepted option without a rank (< 0) follows the
  // ranked ones in table order. Equal keys keep table order.
  const keys = KNOWN.map((_, k) => {
    const r = a.ranks[k] | 0;
    return r < 0 ? 2 ** 32 + k : r;
  });
  const out = oackScratch;
  out[0] = 0;
  out[1] = Opcode.OACK;
  let p = 2;
  let emitted = 0;
  for (;;) {
    let best = -1;
    for (let k = 0; k < KNOWN.length; k++) {
      if (!(accepted[k] >= 0) || (emitted & (1 << k)) !== 0) continue;
      if (best < 0 || keys[k] < keys[best]) best = k;
    }
    if (best < 0) break;
    emitted |= 1 << best;
    p = putOption(out, p, best, accepted[best]);
  }
  return {
    blksize: blk, tsize: ts, timeout: to, windowsize: win,
    oack: Uint8Array.prototype.slice.call(out, 0, p) as Uint8Array,
  };
}

/** OACK scratch: 2 + per known option (name + NUL + <= 20 digits + NUL). */
const oackScratch = Buffer.alloc(2 + KNOWN.length * 32);

function netasciiEncode(chunk: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i];
    if (c === LF || c === CR) extra++;
  }
  const out = Buffer.allocUnsafe(chunk.length + extra);
  if (extra === 0) {
    out.set(chunk);
    return out;
  }
  let o = 0;
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i];
    if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (c === CR) {
      out[o++] = CR;
      out[o++] = 0;
    } else {
      out[o++] = c;
    }
  }
  return out;
}

function netasciiDecode(chunk: Uint8Array, pendingCR: boolean): { data: Uint8Array; pendingCR: boolean } {
  const out = Buffer.allocUnsafe(chunk.length + 1);
  let o = 0;
  let cr = pendingCR;
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i];
    if (cr) {
      cr = false;
      if (c === LF) {
        out[o++] = LF;
        continue;
      }
      // CR NUL is a bare CR; CR followed by anything else is kept as it is.
      out[o++] = CR;
      if (c === 0) continue;
    }
    if (c === CR) cr = true;
    else out[o++] = c;
  }
  return { data: Uint8Array.prototype.slice.call(out, 0, o) as Uint8Array, pendingCR: cr };
}

/** The codec in plain TypeScript, with the semantics of the WebAssembly core. */
export const referenceCodec: Codec = {
  decode, decodeAck, encodeData, encodeAck, encodeError, encodeRequest, negotiate, netasciiEncode, netasciiDecode,
};
