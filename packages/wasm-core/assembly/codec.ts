// TFTP packet codec (RFC 1350, RFC 2347 options).
//
//  RRQ/WRQ   2 bytes    string   1 byte  string  1 byte  string  1 byte  string  1 byte
//           +--------+----------+------+-------+------+-------+------+-------+------+ ...
//           | 01/02  | filename |  0   | mode  |  0   | opt1  |  0   | val1  |  0   |
//           +--------+----------+------+-------+------+-------+------+-------+------+
//  DATA     | 03     | block #  | data (0..blksize bytes)  |
//  ACK      | 04     | block #  |   (WDS clients append one extra byte: accepted)
//  ERROR    | 05     | code     | message | 0 |
//  OACK     | 06     | opt1 | 0 | val1 | 0 | ... |

import {
  IN, OUT, OPTS, PACKET_MAX, MAX_OPTIONS,
  RES_OPCODE, RES_BLOCK, RES_OFF, RES_LEN, RES_MODE, RES_NOPTS, RES_MODE_OFF, RES_MODE_LEN, RES_RANK,
  RESF_ASKED, resSet, resGet, resfSet,
} from "./layout";
import * as S from "./status";
import { KNOWN_OPTIONS, optionIndex, parseDecimal } from "./options";

export const OP_RRQ: i32 = 1;
export const OP_WRQ: i32 = 2;
export const OP_DATA: i32 = 3;
export const OP_ACK: i32 = 4;
export const OP_ERROR: i32 = 5;
export const OP_OACK: i32 = 6;

export const MODE_OCTET: i32 = 1;
export const MODE_NETASCII: i32 = 2;
export const MODE_MAIL: i32 = 3;

@inline function u16be(p: usize): i32 {
  return (<i32>load<u8>(p) << 8) | <i32>load<u8>(p + 1);
}
@inline function putU16be(p: usize, v: i32): void {
  store<u8>(p, <u8>(v >>> 8));
  store<u8>(p + 1, <u8>v);
}

/** Offset of the first NUL in [from, end), or -1. */
function findNul(from: usize, end: usize): isize {
  for (let p = from; p < end; p++) {
    if (load<u8>(p) == 0) return <isize>p;
  }
  return -1;
}

@inline function lower(c: i32): i32 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Case-insensitive compare of [p, p+len) against an ASCII literal held in OUT-free static data. */
function matchWord(p: usize, len: i32, word: string): bool {
  if (len != word.length) return false;
  for (let i = 0; i < len; i++) {
    if (lower(<i32>load<u8>(p + <usize>i)) != <i32>word.charCodeAt(i)) return false;
  }
  return true;
}

function modeOf(p: usize, len: i32): i32 {
  if (matchWord(p, len, "octet")) return MODE_OCTET;
  if (matchWord(p, len, "netascii")) return MODE_NETASCII;
  if (matchWord(p, len, "mail")) return MODE_MAIL;
  return 0;
}

function clearOptionResults(): void {
  resSet(RES_NOPTS, 0);
  for (let i = 0; i < KNOWN_OPTIONS; i++) {
    resSet(RES_RANK + i, -1);
    resfSet(RESF_ASKED + i, -1);
  }
}

/**
 * Parses the option list in [p, end) into the OPTS table. Known options
 * (blksize, tsize, timeout, windowsize) also get their numeric value and
 * rank; a repeated known option keeps its first value.
 */
function decodeOptions(p: usize, end: usize): i32 {
  let n = 0;
  while (p < end) {
    const nameEnd = findNul(p, end);
    if (nameEnd < 0) return S.E_OPTION_UNTERMINATED;
    const nameLen = <i32>(<usize>nameEnd - p);
    if (nameLen == 0) {
      // Some clients pad requests with trailing NULs; tolerate only padding.
      for (let q = p; q < end; q++) if (load<u8>(q) != 0) return S.E_OPTION_EMPTY_NAME;
      break;
    }
    const v = <usize>nameEnd + 1;
    if (v >= end) return S.E_OPTION_NO_VALUE;
    const valEnd = findNul(v, end);
    if (valEnd < 0) return S.E_OPTION_UNTERMINATED;
    if (n == MAX_OPTIONS) return S.E_TOO_MANY_OPTIONS;
    const valLen = <i32>(<usize>valEnd - v);
    const t = OPTS + (<usize>n << 4);
    store<i32>(t, <i32>(p - IN));
    store<i32>(t + 4, nameLen);
    store<i32>(t + 8, <i32>(v - IN));
    store<i32>(t + 12, valLen);
    const k = optionIndex(p, nameLen);
    if (k >= 0) {
      if (resGet(RES_RANK + k) < 0) {
        resSet(RES_RANK + k, n);
        const num = parseDecimal(v, valLen);
        resfSet(RESF_ASKED + k, num < 0 ? -2 : num);
      }
    }
    n++;
    p = <usize>valEnd + 1;
  }
  resSet(RES_NOPTS, n);
  return S.OK;
}

/**
 * Decodes the packet of `len` bytes at IN. Results go to RES/RESF/OPTS.
 * Returns OK or an E_* status; never traps.
 */
export function decode(len: i32): i32 {
  clearOptionResults();
  resSet(RES_OPCODE, 0);
  if (len < 2) return S.E_TOO_SHORT;
  if (len > PACKET_MAX) return S.E_TOO_LONG;
  const end = IN + <usize>len;
  const op = u16be(IN);
  resSet(RES_OPCODE, op);
  switch (op) {
    case OP_RRQ:
    case OP_WRQ: {
      const f = IN + 2;
      const fEnd = findNul(f, end);
      if (fEnd < 0) return S.E_FILENAME_UNTERMINATED;
      const fLen = <i32>(<usize>fEnd - f);
      resSet(RES_OFF, 2);
      resSet(RES_LEN, fLen);
      if (fLen == 0) return S.E_FILENAME_EMPTY;
      const m = <usize>fEnd + 1;
      const mEnd = findNul(m, end);
      if (mEnd < 0) return S.E_MODE_UNTERMINATED;
      const mLen = <i32>(<usize>mEnd - m);
      resSet(RES_MODE_OFF, <i32>(m - IN));
      resSet(RES_MODE_LEN, mLen);
      const mode = modeOf(m, mLen);
      resSet(RES_MODE, mode);
      if (mode == 0) return S.E_MODE_UNKNOWN;
      return decodeOptions(<usize>mEnd + 1, end);
    }
    case OP_DATA: {
      if (len < 4) return S.E_TOO_SHORT;
      resSet(RES_BLOCK, u16be(IN + 2));
      resSet(RES_OFF, 4);
      resSet(RES_LEN, len - 4);
      return S.OK;
    }
    case OP_ACK: {
      if (len < 4) return S.E_TOO_SHORT;
      resSet(RES_BLOCK, u16be(IN + 2));
      return S.OK;
    }
    case OP_ERROR: {
      if (len < 4) return S.E_TOO_SHORT;
      const code = u16be(IN + 2);
      resSet(RES_BLOCK, code);
      resSet(RES_OFF, 4);
      const e = findNul(IN + 4, end);
      // A missing terminator is common in the wild: take the rest as the message.
      resSet(RES_LEN, e < 0 ? len - 4 : <i32>(<usize>e - IN) - 4);
      if (e < 0) return S.E_MESSAGE_UNTERMINATED;
      return code > 8 ? S.E_BAD_ERROR_CODE : S.OK;
    }
    case OP_OACK:
      return decodeOptions(IN + 2, end);
    default:
      return S.E_BAD_OPCODE;
  }
}

/**
 * Fast path for the busiest packet: returns the block number of an ACK at IN
 * (any length >= 4), or -(status) / -(100 + opcode) for anything else.
 */
export function decodeAck(len: i32): i32 {
  if (len < 4) return -S.E_TOO_SHORT;
  const op = u16be(IN);
  if (op != OP_ACK) return -(100 + op);
  return u16be(IN + 2);
}

/** DATA header at OUT; the caller has put `payloadLen` bytes at OUT + 4. */
export function encodeData(block: i32, payloadLen: i32): i32 {
  if (payloadLen < 0 || payloadLen > 65464) return -S.E_ARGUMENT;
  putU16be(OUT, OP_DATA);
  putU16be(OUT + 2, block & 0xffff);
  return payloadLen + 4;
}

export function encodeAck(block: i32): i32 {
  putU16be(OUT, OP_ACK);
  putU16be(OUT + 2, block & 0xffff);
  return 4;
}

/** ERROR at OUT; the caller has put the UTF-8 message at OUT + 4 (NULs in it are cut). */
export function encodeError(code: i32, msgLen: i32): i32 {
  if (code < 0 || code > 0xffff || msgLen < 0) return -S.E_ARGUMENT;
  if (msgLen > 500) msgLen = 500;
  const cut = findNul(OUT + 4, OUT + 4 + <usize>msgLen);
  if (cut >= 0) msgLen = <i32>(<usize>cut - OUT) - 4;
  putU16be(OUT, OP_ERROR);
  putU16be(OUT + 2, code);
  store<u8>(OUT + 4 + <usize>msgLen, 0);
  return msgLen + 5;
}

/** Appends "name\0value\0" at p; returns the new end. */
function putOption(p: usize, name: string, value: f64): usize {
  for (let i = 0; i < name.length; i++) store<u8>(p++, <u8>name.charCodeAt(i));
  store<u8>(p++, 0);
  p = putDecimal(p, value);
  store<u8>(p++, 0);
  return p;
}

/** Writes a non-negative integer (exact up to 2^53) in decimal at p. */
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

function optionName(k: i32): string {
  switch (k) {
    case 0: return "blksize";
    case 1: return "tsize";
    case 2: return "timeout";
    default: return "windowsize";
  }
}

/**
 * RRQ/WRQ at OUT; the caller has put the file name bytes at IN. Each option
 * value < 0 is left out; the order is blksize, tsize, timeout, windowsize.
 */
export function encodeRequest(opcode: i32, nameLen: i32, mode: i32, blksize: f64, tsize: f64, timeout: f64, windowsize: f64): i32 {
  if ((opcode != OP_RRQ && opcode != OP_WRQ) || nameLen <= 0 || nameLen > 1024) return -S.E_ARGUMENT;
  if (findNul(IN, IN + <usize>nameLen) >= 0) return -S.E_ARGUMENT;
  putU16be(OUT, opcode);
  memory.copy(OUT + 2, IN, <usize>nameLen);
  let p = OUT + 2 + <usize>nameLen;
  store<u8>(p++, 0);
  const modeName = mode == MODE_NETASCII ? "netascii" : mode == MODE_MAIL ? "mail" : "octet";
  for (let i = 0; i < modeName.length; i++) store<u8>(p++, <u8>modeName.charCodeAt(i));
  store<u8>(p++, 0);
  if (blksize >= 0) p = putOption(p, "blksize", blksize);
  if (tsize >= 0) p = putOption(p, "tsize", tsize);
  if (timeout >= 0) p = putOption(p, "timeout", timeout);
  if (windowsize >= 0) p = putOption(p, "windowsize", windowsize);
  return <i32>(p - OUT);
}

/** OACK at OUT with the given values (< 0 left out), in the order of `ranks` (4 x i32 at RES_RANK). */
export function encodeOackRanked(values: usize /* f64[4] */, ranks: usize /* i32[4] */): i32 {
  putU16be(OUT, OP_OACK);
  let p = OUT + 2;
  // Emit in ascending rank; options with rank -1 keep the canonical order after ranked ones.
  let emitted = 0;
  for (let pass = 0; pass < 4; pass++) {
    let best = -1;
    let bestRank = 0;
    for (let k = 0; k < 4; k++) {
      const v = load<f64>(values + (<usize>k << 3));
      if (v < 0) continue;
      const r = load<i32>(ranks + (<usize>k << 2));
      const key = r < 0 ? 1000 + k : r;
      if ((emitted & (1 << k)) == 0 && (best < 0 || key < bestRank)) { bestRank = key; best = k; }
    }
    if (best < 0) break;
    emitted |= 1 << best;
    p = putOption(p, optionName(best), load<f64>(values + (<usize>best << 3)));
  }
  return <i32>(p - OUT);
}
