// Option negotiation: RFC 2347 (extension), 2348 (blksize), 2349 (timeout,
// tsize), 7440 (windowsize).
//
// The OACK holds only what the client asked for and the server accepts, in
// the order asked, never a larger value than asked (EDK2 answers ERROR 4
// otherwise); unknown options are ignored.

import { OUT, RES, RESF, RES_RANK, RESF_ACCEPTED, resSet, resfSet } from "./layout";
import { encodeOackRanked } from "./codec";

export const KNOWN_OPTIONS: i32 = 4;
export const OPT_BLKSIZE: i32 = 0;
export const OPT_TSIZE: i32 = 1;
export const OPT_TIMEOUT: i32 = 2;
export const OPT_WINDOWSIZE: i32 = 3;

export const BLKSIZE_MIN: i32 = 8;
export const BLKSIZE_MAX: i32 = 65464;
export const TIMEOUT_MIN: i32 = 1;
export const TIMEOUT_MAX: i32 = 255;
export const WINDOW_MIN: i32 = 1;
export const WINDOW_MAX: i32 = 65535;

@inline function lower(c: i32): i32 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function eqi(p: usize, len: i32, word: string): bool {
  if (len != word.length) return false;
  for (let i = 0; i < len; i++) {
    if (lower(<i32>load<u8>(p + <usize>i)) != <i32>word.charCodeAt(i)) return false;
  }
  return true;
}

/** Index of a known option name (case-insensitive), or -1. */
export function optionIndex(p: usize, len: i32): i32 {
  if (eqi(p, len, "blksize")) return OPT_BLKSIZE;
  if (eqi(p, len, "tsize")) return OPT_TSIZE;
  if (eqi(p, len, "timeout")) return OPT_TIMEOUT;
  if (eqi(p, len, "windowsize")) return OPT_WINDOWSIZE;
  return -1;
}

/** Parses 1..15 ASCII digits; anything else (empty, sign, space, letters, too long) is -1. */
export function parseDecimal(p: usize, len: i32): f64 {
  if (len <= 0 || len > 15) return -1;
  let v: f64 = 0;
  for (let i = 0; i < len; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + <f64>(c - 48);
  }
  return v;
}

/**
 * Decides the OACK. Asked values: -1 absent, -2 invalid (as decode reports).
 * Ranks: the order the client listed them (-1 absent). maxBlksize and
 * maxWindowsize cap what is granted; tsizeValue is the size to announce on a
 * read (-1 unknown: tsize is then left out). refuseMask bits (1 blksize,
 * 2 tsize, 4 timeout, 8 windowsize) drop an option for clients that break on
 * it. Accepted values go to RESF_ACCEPTED (-1 not accepted); the OACK is
 * written at OUT. Returns its length, or 0 when nothing was accepted.
 */
export function negotiate(
  aBlk: f64, aTsize: f64, aTimeout: f64, aWin: f64,
  rBlk: i32, rTsize: i32, rTimeout: i32, rWin: i32,
  maxBlksize: i32, maxWindowsize: i32, tsizeValue: f64, isWrite: i32, refuseMask: i32,
): i32 {
  let blk: f64 = -1;
  if ((refuseMask & 1) == 0 && aBlk >= <f64>BLKSIZE_MIN && maxBlksize >= BLKSIZE_MIN) {
    blk = aBlk;
    const cap = <f64>min(maxBlksize, BLKSIZE_MAX);
    if (blk > cap) blk = cap;
  }
  let ts: f64 = -1;
  if ((refuseMask & 2) == 0 && aTsize >= 0) {
    if (isWrite != 0) ts = aTsize;
    else if (tsizeValue >= 0) ts = tsizeValue;
  }
  let to: f64 = -1;
  if ((refuseMask & 4) == 0 && aTimeout >= <f64>TIMEOUT_MIN && aTimeout <= <f64>TIMEOUT_MAX) to = aTimeout;
  let win: f64 = -1;
  if ((refuseMask & 8) == 0 && aWin >= <f64>WINDOW_MIN && aWin <= <f64>WINDOW_MAX && maxWindowsize >= 1) {
    win = aWin;
    const cap = <f64>min(maxWindowsize, WINDOW_MAX);
    if (win > cap) win = cap;
  }
  resfSet(RESF_ACCEPTED + OPT_BLKSIZE, blk);
  resfSet(RESF_ACCEPTED + OPT_TSIZE, ts);
  resfSet(RESF_ACCEPTED + OPT_TIMEOUT, to);
  resfSet(RESF_ACCEPTED + OPT_WINDOWSIZE, win);
  if (blk < 0 && ts < 0 && to < 0 && win < 0) return 0;
  resSet(RES_RANK + OPT_BLKSIZE, rBlk);
  resSet(RES_RANK + OPT_TSIZE, rTsize);
  resSet(RES_RANK + OPT_TIMEOUT, rTimeout);
  resSet(RES_RANK + OPT_WINDOWSIZE, rWin);
  return encodeOackRanked(RESF + (<usize>RESF_ACCEPTED << 3), RES + (<usize>RES_RANK << 2));
}
