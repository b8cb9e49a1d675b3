// Option negotiation: RFC 2347 (extension), 2348 (blksize), 2349 (timeout,
// tsize), 7440 (windowsize).
//
// The OACK holds only what the client asked for and the server accepts, in
// the order asked, never a larger value than asked (EDK2 answers ERROR 4
// otherwise); unknown options are ignored. A timeout above the server's
// maxTimeout is declined (left out of the OACK, as RFC 2347 allows), so no
// client can pin a session for minutes.
//
// Known options are rows of one table (NAMES, in the order of the known-option
// table in layout.ts); every loop runs over KNOWN_OPTIONS, and each option's
// rule is one function, chosen in grant(). Adding an option: a name, a rule.

import {
  OUT, askedGet, askedSet, valueGet, valueSet, rankGet, rankSet,
} from "./layout";
import { BLKSIZE_MAX, OP_OACK, eqWord, putDecimal, putU16be, putWord } from "./wire";

export const OPT_BLKSIZE: i32 = 0;
export const OPT_TSIZE: i32 = 1;
export const OPT_TIMEOUT: i32 = 2;
export const OPT_WINDOWSIZE: i32 = 3;

const NAMES: StaticArray<string> = ["blksize", "tsize", "timeout", "windowsize"];
/** Rows of the known-option table (at most layout.ts KNOWN_MAX; the glue's test checks both). */
export const KNOWN_OPTIONS: i32 = 4;

export const BLKSIZE_MIN: i32 = 8;
export const TIMEOUT_MIN: i32 = 1;
export const TIMEOUT_MAX: i32 = 255;
export const WINDOW_MIN: i32 = 1;
export const WINDOW_MAX: i32 = 65535;

/** Largest tsize that can be echoed exactly (2^53). */
const TSIZE_MAX: f64 = 9007199254740992;

/** What negotiate is told about this server and this request (at LIMITS). */
@unmanaged
export class Limits {
  /** Size announced for tsize on a read, -1 unknown (tsize is then left out). */
  tsize: f64;
  /** Largest blksize granted; below 8 refuses blksize. */
  maxBlksize: i32;
  /** Largest windowsize granted; below 1 refuses windowsize. */
  maxWindowsize: i32;
  /** Largest timeout (seconds) acknowledged; a larger one is declined. */
  maxTimeout: i32;
  /** 1 for a write request (tsize is echoed as asked). */
  write: i32;
  /** Bit k set: known option k is never granted (clients that break on it). */
  refuse: i32;
}

/** The name of known option k. */
export function optionName(k: i32): string {
  return unchecked(NAMES[k]);
}

/** Index of a known option name (case-insensitive), or -1. */
export function optionIndex(p: usize, len: i32): i32 {
  for (let k = 0; k < KNOWN_OPTIONS; k++) if (eqWord(p, len, unchecked(NAMES[k]))) return k;
  return -1;
}

/** Marks every known option absent (before decoding a request). */
export function clearKnown(): void {
  for (let k = 0; k < KNOWN_OPTIONS; k++) {
    askedSet(k, -1);
    valueSet(k, -1);
    rankSet(k, -1);
  }
}

// One rule per option: what is granted for the value asked (-1: nothing).

function grantBlksize(asked: f64, l: Limits): f64 {
  if (!(asked >= <f64>BLKSIZE_MIN) || l.maxBlksize < BLKSIZE_MIN) return -1;
  const cap = <f64>min(l.maxBlksize, BLKSIZE_MAX);
  return asked > cap ? cap : asked;
}

function grantTsize(asked: f64, l: Limits): f64 {
  if (!(asked >= 0)) return -1;
  // A write echoes the size announced (if it can be written exactly); a read announces its own.
  if (l.write != 0) return asked <= TSIZE_MAX ? asked : -1;
  return l.tsize >= 0 ? l.tsize : -1;
}

function grantTimeout(asked: f64, l: Limits): f64 {
  const cap = min(l.maxTimeout, TIMEOUT_MAX);
  return asked >= <f64>TIMEOUT_MIN && asked <= <f64>cap ? asked : -1;
}

function grantWindowsize(asked: f64, l: Limits): f64 {
  if (!(asked >= <f64>WINDOW_MIN && asked <= <f64>WINDOW_MAX) || l.maxWindowsize < 1) return -1;
  const cap = <f64>min(l.maxWindowsize, WINDOW_MAX);
  return asked > cap ? cap : asked;
}

function grant(k: i32, asked: f64, l: Limits): f64 {
  switch (k) {
    case OPT_BLKSIZE: return grantBlksize(asked, l);
    case OPT_TSIZE: return grantTsize(asked, l);
    case OPT_TIMEOUT: return grantTimeout(asked, l);
    case OPT_WINDOWSIZE: return grantWindowsize(asked, l);
    default: return -1;
  }
}

/**
 * Writes "name\0value\0" for every known option whose value is >= 0, at p:
 * in ascending rank, options without a rank (< 0) after the ranked ones in
 * table order (equal keys keep table order). Returns the end.
 */
export function putKnownOptions(p: usize): usize {
  let emitted = 0;
  for (let n = 0; n < KNOWN_OPTIONS; n++) {
    let best = -1;
    let bestKey: i64 = 0;
    for (let k = 0; k < KNOWN_OPTIONS; k++) {
      if ((emitted & (1 << k)) != 0 || !(valueGet(k) >= 0)) continue;
      const r = rankGet(k);
      const key: i64 = r < 0 ? <i64>0x100000000 + k : <i64>r;
      if (best < 0 || key < bestKey) { best = k; bestKey = key; }
    }
    if (best < 0) break;
    emitted |= 1 << best;
    p = putWord(p, unchecked(NAMES[best]));
    p = putDecimal(p, valueGet(best));
    store<u8>(p++, 0);
  }
  return p;
}

/**
 * Decides the OACK from the asked values and ranks in the known-option table
 * and the Limits structure at `limits`. Granted values go to the table's
 * `value` (-1: not granted); the OACK is written at OUT. Returns its length,
 * or 0 when nothing was granted.
 */
export function negotiate(limits: usize): i32 {
  const l = changetype<Limits>(limits);
  let any = false;
  for (let k = 0; k < KNOWN_OPTIONS; k++) {
    const v = (l.refuse & (1 << k)) != 0 ? -1 : grant(k, askedGet(k), l);
    valueSet(k, v);
    if (v >= 0) any = true;
  }
  if (!any) return 0;
  putU16be(OUT, OP_OACK);
  return <i32>(putKnownOptions(OUT + 2) - OUT);
}
