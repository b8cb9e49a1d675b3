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
  RES_OPCODE, RES_BLOCK, RES_OFF, RES_LEN, RES_MODE, RES_NOPTS, RES_MODE_OFF, RES_MODE_LEN,
  resSet, askedSet, rankGet, rankSet,
} from "./layout";
import * as S from "./status";
import { KNOWN_OPTIONS, clearKnown, optionIndex, putKnownOptions } from "./options";
import {
  BLKSIZE_MAX, OP_RRQ, OP_WRQ, OP_DATA, OP_ACK, OP_ERROR, OP_OACK,
  decimal, eqWord, findNul, nulStr, putU16be, u16be,
} from "./wire";

export const MODE_OCTET: i32 = 1;
export const MODE_NETASCII: i32 = 2;
export const MODE_MAIL: i32 = 3;

function modeOf(p: usize, len: i32): i32 {
  if (eqWord(p, len, "octet")) return MODE_OCTET;
  if (eqWord(p, len, "netascii")) return MODE_NETASCII;
  if (eqWord(p, len, "mail")) return MODE_MAIL;
  return 0;
}

/**
 * Parses the option list in [p, end) into the OPTS table. Known options
 * also get their numeric value and rank in the known-option table; a
 * repeated known option keeps its first value.
 */
function decodeOptions(p: usize, end: usize): i32 {
  let n = 0;
  while (p < end) {
    const v = nulStr(p, end); // the name
    if (v < 0) return S.E_OPTION_UNTERMINATED;
    const nameLen = <i32>(<usize>v - p) - 1;
    if (nameLen == 0) {
      // Some clients pad requests with trailing NULs; tolerate only padding.
      for (let q = p; q < end; q++) if (load<u8>(q) != 0) return S.E_OPTION_EMPTY_NAME;
      break;
    }
    if (<usize>v >= end) return S.E_OPTION_NO_VALUE;
    const rest = nulStr(<usize>v, end); // the value
    if (rest < 0) return S.E_OPTION_UNTERMINATED;
    if (n == MAX_OPTIONS) return S.E_TOO_MANY_OPTIONS;
    const valLen = <i32>(<usize>rest - <usize>v) - 1;
    const t = OPTS + (<usize>n << 4);
    store<i32>(t, <i32>(p - IN));
    store<i32>(t + 4, nameLen);
    store<i32>(t + 8, <i32>(<usize>v - IN));
    store<i32>(t + 12, valLen);
    const k = optionIndex(p, nameLen);
    if (k >= 0 && rankGet(k) < 0) {
      rankSet(k, n);
      const num = decimal(<usize>v, valLen);
      askedSet(k, num < 0 ? -2 : num);
    }
    n++;
    p = <usize>rest;
  }
  resSet(RES_NOPTS, n);
  return S.OK;
}

/**
 * Decodes the packet of `len` bytes at IN. Results go to RES, OPTS and the known-option table.
 * Returns OK or an E_* status; never traps.
 */
export function decode(len: i32): i32 {
  clearKnown();
  resSet(RES_NOPTS, 0);
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
  if (payloadLen < 0 || payloadLen > BLKSIZE_MAX) return -S.E_ARGUMENT;
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

/**
 * RRQ/WRQ at OUT; the caller has put the file name bytes at IN and each
 * known option's value in the known-option table (< 0: left out; ranks are
 * ignored: table order).
 */
export function encodeRequest(opcode: i32, nameLen: i32, mode: i32): i32 {
  if ((opcode != OP_RRQ && opcode != OP_WRQ) || nameLen <= 0 || nameLen > 1024) return -S.E_ARGUMENT;
  if (findNul(IN, IN + <usize>nameLen) >= 0) return -S.E_ARGUMENT;
  putU16be(OUT, opcode);
  memory.copy(OUT + 2, IN, <usize>nameLen);
  let p = OUT + 2 + <usize>nameLen;
  store<u8>(p++, 0);
  const modeName = mode == MODE_NETASCII ? "netascii" : mode == MODE_MAIL ? "mail" : "octet";
  for (let i = 0; i < modeName.length; i++) store<u8>(p++, <u8>modeName.charCodeAt(i));
  store<u8>(p++, 0);
  for (let k = 0; k < KNOWN_OPTIONS; k++) rankSet(k, -1);
  p = putKnownOptions(p);
  return <i32>(p - OUT);
}
