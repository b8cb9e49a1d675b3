// Block scheduler for many sessions at once (RFC 1350 lock-step, RFC 7440
// windows), as a table of slots in linear memory.
//
// Sender (tx) slot: blocks are numbered absolutely from 1 (u32); the wire
// carries abs & 0xffff, so numbers roll over past 65535 to 0. Block 0 stands
// for the OACK when one was sent: it is "acknowledged" by ACK 0.
//
//      base-1        base           next          base+window
//   ----|-------------|--------------|----------------|-----
//    last block     lowest block   next block to    send limit
//    acknowledged   not yet acked  send
//
// An ACK k with base-1 < k < next advances base to k+1 (cumulative). If
// k < next-1 the receiver saw a gap: next goes back to k+1. An ACK of base-1
// (duplicate) or of a block never sent (stale) changes nothing, so duplicate
// ACKs never cause extra sends (Sorcerer's Apprentice, RFC 1123 4.2.3.1);
// only a timeout resends, with bounded retries.
//
// Recovery: a timeout or a gap sends blocks [next, highSent) again. A peer
// that answers every duplicate with an ACK of its last in-order block (EDK2's
// Mtftp4 does; it also restarts its window count at every ACK it sends) then
// ACKs blocks inside that resent range while the later resent blocks are
// still on the way. Such an ACK is no gap: base moves, next stays, and only
// new blocks fill the window, so the sender's windows stay in step with the
// peer's ACK points. Only a gap at or past recoverTo (the end of the last
// resent range) makes next go back; inside it, a lost resent block is left
// to the (short, adaptive) timeout.
//
// Receiver (rx) slot: base is the next block expected; the receiver ACKs at
// the end of each window, at the last (short) block, and once per gap.
//
// A session may reserve its slot before it knows what it will transfer
// (while its handler runs): the slot is then IDLE and only its session
// deadline runs; txStart/rxStart make it a sender or a receiver.
//
// Retransmission timeout: fixed (the slot's timeout, e.g. a client's RFC
// 2349 timeout) or adaptive (adaptRto): RFC 6298 estimation, SRTT and
// RTTVAR from one sample at a time (tx: a newly sent block until an ACK
// covers it; rx: a fresh ACK until the next in-order block), never from a
// packet sent twice (Karn); RTO = max(floor, SRTT + 4 RTTVAR), at most the
// slot's timeout (the ceiling), which is also the RTO before any sample.
//
// Two deadlines, one for the path and one for stalls. The RTO proper
// follows the session's own round trip: RTO = max(SRTT + 4 RTTVAR, floor),
// floor a small fixed minimum (timer granularity). The guard covers a stall
// of the peer's machine or of this one: GUARD = floor + 2 PEAK, PEAK the
// largest recent sample of this slot or of any slot of this thread (it
// halves towards the newer samples every PEAK_HOLD_MS). When the RTO passes
// (holdBack), the slot resends at once only if the guard is no longer than
// the RTO; otherwise it is held: it resends at the guard, or one RTO after
// another slot of this thread hears from its peer (but no sooner than the
// slot's own PEAK after its send: its own path answered that late within
// the last second), whichever comes first (heard: then it resends only if
// some peer was heard within its RTO or no other slot's RTO has passed, or
// it is held again until the guard); a slot whose own peer sent a
// duplicate or stale packet since the slot last sent (the peer is there,
// and waits for what was lost) is not held. Other peers answering while
// this one is silent tell of a lost packet on this path, and a lost packet
// then costs about two RTOs (or its PEAK, if longer); every
// peer silent at once tells of a stall (a busy machine, a descheduled
// client), which the guard waits out without a spurious resend. When such a
// stall ends, the stalled peers answer one after another as they work
// through what queued: an answer from a peer whose slot's RTO had passed
// (late, not lost) keeps a released slot waiting one more RTO, up to one
// guard after its release, so a slot resends one RTO after the late answers
// stop. A session alone waits for the guard, as the thread knows no better. A stall of this
// thread itself (noteStall: the glue saw it busy, reading nothing) is left
// out of the samples across it: answers that arrived during it are read
// before a deadline resends, so it needs no guard, and counting it would
// raise every slot's guard for seconds after one garbage collection.
//
// A session may start from an earlier session's estimate of the same peer
// (seedRtt) instead of the ceiling. A seed is a guess: until the first
// sample of the session's own the slot is never released early (it waits
// for the guard), and that first sample replaces the seed (RFC 6298 2.2).
//
// Each timeout doubles the RTO (up to the ceiling) until a new sample. In
// adaptive mode the quick timeouts below the ceiling do not count against
// the retries: a silent peer is given up on no sooner than with the fixed
// timeout (at most about two ceilings later), while a lost packet costs
// about one RTO instead of one timeout.
//
// Each slot has two deadlines in the timer heap: the retransmission deadline
// (timer id = slot) and the session deadline (timer id = cap + slot), used for
// the handler's deadline and for the no-progress limit: with a limit set, the
// session deadline moves to now + limit whenever the transfer progresses (an
// ACK moves the sender's base, an in-order block reaches the receiver).

import * as S from "./status";
import { timersInit, timerSet, timerCancel, timerAt, expire as expireTimers } from "./timers";
import { RES_EXPIRED, resGet } from "./layout";

export const KIND_FREE: i32 = 0;
export const KIND_TX: i32 = 1;
export const KIND_RX: i32 = 2;
export const KIND_IDLE: i32 = 3;

export const ACK_ADVANCED: i32 = 1;
export const ACK_DONE: i32 = 2;
export const ACK_DUPLICATE: i32 = 3;
export const ACK_STALE: i32 = 4;
export const ACK_GAP: i32 = 5;

export const TO_RETRANSMIT: i32 = 1;
export const TO_GIVE_UP: i32 = 2;

export const RX_DELIVER: i32 = 1;
export const RX_ACK: i32 = 2;
export const RX_DONE: i32 = 4;
export const RX_DUPLICATE: i32 = 8;
export const RX_GAP: i32 = 16;

const UNKNOWN: u32 = 0xffffffff;
const FLAG_DUP_ACKED: i32 = 1;
const FLAG_GAP_ACKED: i32 = 2;
/** The RTO passed and the slot waits for the guard or another peer's answer (holdBack). */
const FLAG_HELD: i32 = 4;
/** SRTT, RTTVAR and PEAK come from seedRtt, not from a sample of this session. */
const FLAG_SEEDED: i32 = 8;
/** The peer sent something that moved nothing (a duplicate or stale ACK, a duplicate or early block) since the slot last sent or acked. */
const FLAG_PEER_ALIVE: i32 = 16;
/** A held slot was released by another peer's answer (heard). */
const FLAG_RELEASED: i32 = 32;
/** How long the largest recent RTT sample holds before it halves (ms). */
const PEAK_HOLD_MS: f64 = 1000;

let cap: i32 = 0;
let kind: usize = 0; // i32
let window: usize = 0; // i32
let base: usize = 0; // u32
let next: usize = 0; // u32
let last: usize = 0; // u32
let retries: usize = 0; // i32
let maxRetries: usize = 0; // i32
let flags: usize = 0; // i32
let sinceAck: usize = 0; // i32
let timeout: usize = 0; // f64
let progressLimit: usize = 0; // f64, 0 = none
// adaptive retransmission timeout
let rtoFloor: usize = 0; // f64, 0 = fixed timeout
let rtoNow: usize = 0; // f64: the current RTO (adaptive mode)
let srtt: usize = 0; // f64, -1 before the first sample
let rttvar: usize = 0; // f64
let sampleAt: usize = 0; // f64: when the sampled packet left, -1 = no sample running
let sampleMark: usize = 0; // u32: tx: the sampled block; rx: base when the last ACK left
let highSent: usize = 0; // u32: tx: first block never sent
let recoverTo: usize = 0; // u32: tx: end of the last range sent again (timeout or gap)
let peak: usize = 0; // f64: the largest recent RTT sample (halves every PEAK_HOLD_MS)
let peakAt: usize = 0; // f64: when peak was last set or halved
let heldAt: usize = 0; // f64: when the slot's RTO passed and it was held (holdBack)
let releasedUntil: usize = 0; // f64: a released slot waits for late peers until then (one guard after its release)
// The largest recent sample of every slot of this thread (halves like PEAK):
// a machine under load answers late on every session at once, so a session
// that has not yet seen it is covered by the others (the stall guard).
let threadPeak: f64 = 0;
let threadPeakAt: f64 = 0;
let freeList: usize = 0; // i32 stack
let freeTop: i32 = 0;
let heldList: usize = 0; // i32: slots that were held since a peer was last heard (at most cap)
let heldCount: i32 = 0;
/** When a peer of any slot of this thread was last heard. */
let lastHeard: f64 = -Infinity;
/** When a peer was last heard late: after its slot's RTO had passed (the slot held, not yet resent). */
let lastLate: f64 = -Infinity;
/** Retransmission deadlines popped by expire() at the time overdueAt (the slots' deadlines due together). */
let overdueAt: f64 = NaN;
let overdueCount: i32 = 0;
/** The latest stall of this thread (noteStall): busy from stallFrom to stallTo, reading nothing. */
let stallFrom: f64 = 0;
let stallTo: f64 = 0;
let openCount: i32 = 0;

@inline function gi(region: usize, slot: i32): i32 {
  return load<i32>(region + (<usize>slot << 2));
}
@inline function si(region: usize, slot: i32, v: i32): void {
  store<i32>(region + (<usize>slot << 2), v);
}
@inline function gu(region: usize, slot: i32): u32 {
  return load<u32>(region + (<usize>slot << 2));
}
@inline function su(region: usize, slot: i32, v: u32): void {
  store<u32>(region + (<usize>slot << 2), v);
}
@inline function gf(region: usize, slot: i32): f64 {
  return load<f64>(region + (<usize>slot << 3));
}
@inline function gfSet(region: usize, slot: i32, v: f64): void {
  store<f64>(region + (<usize>slot << 3), v);
}

/** The next free byte of the slot table while init() lays it out. */
let cursor: usize = 0;

/** Takes `size` bytes of the slot table for one per-slot field. */
function carve(size: usize): usize {
  const r = cursor;
  cursor += size;
  return r;
}

/**
 * Reserves the slot table for `slots` sessions at the end of memory (done
 * once, so the glue's memory views never detach afterwards). Returns the
 * number of bytes reserved, or -E_ARGUMENT.
 */
export function schedInit(slots: i32): i32 {
  if (slots <= 0 || slots > (1 << 20) || cap != 0) return -S.E_ARGUMENT;
  const bytes4 = <usize>slots << 2;
  const bytes8 = <usize>slots << 3;
  // 14 i32 regions per slot, the timer heap's 2 i32 and 1 f64 regions per
  // timer (two timers per slot), 11 f64 regions per slot, one spare i32
  // region to 8-align the f64 ones.
  const need = bytes4 * 19 + bytes8 * 13;
  cursor = <usize>memory.size() << 16;
  const pages = <i32>((need + 0xffff) >> 16);
  if (memory.grow(pages) < 0) return -S.E_NO_SLOT;
  // One region per per-slot field, in this order (i32 fields, then f64 ones).
  kind = carve(bytes4); window = carve(bytes4); base = carve(bytes4); next = carve(bytes4);
  last = carve(bytes4); retries = carve(bytes4); maxRetries = carve(bytes4); flags = carve(bytes4);
  sinceAck = carve(bytes4); freeList = carve(bytes4); sampleMark = carve(bytes4); highSent = carve(bytes4);
  recoverTo = carve(bytes4); heldList = carve(bytes4);
  const heapRegion = carve(bytes4 * 2);
  const posRegion = carve(bytes4 * 2);
  cursor = (cursor + 7) & ~<usize>7; // 8-align the f64 regions (`need` counts one spare i32 region for this)
  timeout = carve(bytes8); progressLimit = carve(bytes8); rtoFloor = carve(bytes8); rtoNow = carve(bytes8);
  srtt = carve(bytes8); rttvar = carve(bytes8); sampleAt = carve(bytes8); peak = carve(bytes8); peakAt = carve(bytes8);
  heldAt = carve(bytes8); releasedUntil = carve(bytes8);
  const deadlineRegion = carve(bytes8 * 2);
  timersInit(slots * 2, heapRegion, posRegion, deadlineRegion);
  cap = slots;
  // Free list: pop gives slot 0 first.
  for (let i = 0; i < slots; i++) si(freeList, i, slots - 1 - i);
  freeTop = slots;
  openCount = 0;
  heldCount = 0;
  return <i32>need;
}

/** Takes a slot off the free list as IDLE (no transfer yet), or -E_NO_SLOT. */
export function reserve(): i32 {
  if (freeTop == 0) return -S.E_NO_SLOT;
  freeTop--;
  const slot = gi(freeList, freeTop);
  si(kind, slot, KIND_IDLE);
  store<f64>(progressLimit + (<usize>slot << 3), 0);
  openCount++;
  return slot;
}

@inline function badStart(win: i32, timeoutMs: f64, maxTries: i32): bool {
  return win < 1 || win > 65535 || !(timeoutMs > 0) || maxTries < 0;
}

/** Makes an IDLE slot a sender or receiver; its session deadline is cleared (the wait before the transfer is over). */
function start(slot: i32, k: i32, win: i32, timeoutMs: f64, maxTries: i32): void {
  timerCancel(cap + slot);
  si(kind, slot, k);
  si(window, slot, win);
  su(base, slot, 1);
  su(next, slot, 1);
  su(last, slot, UNKNOWN);
  si(retries, slot, 0);
  si(maxRetries, slot, maxTries);
  si(flags, slot, 0);
  si(sinceAck, slot, 0);
  store<f64>(timeout + (<usize>slot << 3), timeoutMs);
  gfSet(rtoFloor, slot, 0);
  gfSet(rtoNow, slot, timeoutMs);
  gfSet(srtt, slot, -1);
  gfSet(rttvar, slot, 0);
  gfSet(sampleAt, slot, -1);
  su(sampleMark, slot, UNKNOWN);
  su(highSent, slot, 1);
  su(recoverTo, slot, 0);
  gfSet(peak, slot, 0);
  gfSet(peakAt, slot, 0);
}

function open(k: i32, win: i32, timeoutMs: f64, maxTries: i32): i32 {
  if (freeTop == 0) return -S.E_NO_SLOT;
  if (badStart(win, timeoutMs, maxTries)) return -S.E_ARGUMENT;
  const slot = reserve();
  start(slot, k, win, timeoutMs, maxTries);
  return slot;
}

@inline function isKind(slot: i32, k: i32): bool {
  return slot >= 0 && slot < cap && gi(kind, slot) == k;
}

@inline function isOpen(slot: i32): bool {
  return slot >= 0 && slot < cap && gi(kind, slot) != KIND_FREE;
}

/** Frees a slot of any kind and drops both its deadlines. */
export function close(slot: i32): i32 {
  if (!isOpen(slot)) return -S.E_BAD_SLOT;
  timerCancel(slot);
  timerCancel(cap + slot);
  si(kind, slot, KIND_FREE);
  si(freeList, freeTop, slot);
  freeTop++;
  openCount--;
  return S.OK;
}

export function slotsOpen(): i32 {
  return openCount;
}

@inline function adaptive(slot: i32): bool {
  return gf(rtoFloor, slot) > 0;
}

/** The retransmission timeout now: the fixed timeout, or the adaptive RTO. */
@inline function rtoOf(slot: i32): f64 {
  return adaptive(slot) ? gf(rtoNow, slot) : gf(timeout, slot);
}

@inline function arm(slot: i32, now: f64): void {
  si(flags, slot, gi(flags, slot) & ~(FLAG_HELD | FLAG_PEER_ALIVE | FLAG_RELEASED));
  timerSet(slot, now + rtoOf(slot));
}

/** Changes the retransmission timeout of an open slot to a fixed one (e.g. for a dally period). */
export function setTimeout(slot: i32, timeoutMs: f64): i32 {
  if (!isOpen(slot) || !(timeoutMs > 0)) return -S.E_BAD_SLOT;
  gfSet(timeout, slot, timeoutMs);
  gfSet(rtoFloor, slot, 0);
  return S.OK;
}

/**
 * Makes a sender or receiver retransmit adaptively between a floor learnt
 * from the path (floorMs + 2 PEAK) and its timeout (the ceiling, and the RTO
 * until the first sample or a seed). A floor of 0, one at or above the
 * timeout, or a slot without retries (nothing to resend, so it waits the
 * whole timeout) keeps the fixed timeout.
 */
export function adaptRto(slot: i32, floorMs: f64): i32 {
  const k = isOpen(slot) ? gi(kind, slot) : KIND_FREE;
  if ((k != KIND_TX && k != KIND_RX) || !(floorMs >= 0)) return -S.E_BAD_SLOT;
  const ceiling = gf(timeout, slot);
  if (floorMs == 0 || floorMs >= ceiling || gi(maxRetries, slot) == 0) {
    gfSet(rtoFloor, slot, 0);
    return S.OK;
  }
  gfSet(rtoFloor, slot, floorMs);
  gfSet(rtoNow, slot, ceiling);
  gfSet(srtt, slot, -1);
  gfSet(rttvar, slot, 0);
  gfSet(sampleAt, slot, -1);
  gfSet(peak, slot, 0);
  return S.OK;
}

/** Halves `p` (set at `at`) once per PEAK_HOLD_MS passed by `now`, never below `r`. Returns the new value; PEAK_AT holds when. */
let decayedAt: f64 = 0;
function decay(p: f64, at: f64, r: f64, now: f64): f64 {
  if (now - at >= 32 * PEAK_HOLD_MS) {
    p = 0;
  } else {
    while (now - at >= PEAK_HOLD_MS && p > r) {
      p /= 2;
      at += PEAK_HOLD_MS;
    }
  }
  if (r >= p) {
    p = r;
    at = now;
  }
  decayedAt = at;
  return p;
}

/** RTO from the slot's estimates: max(SRTT + 4 RTTVAR, floor), within the ceiling. */
function computeRto(slot: i32): void {
  let rto = gf(srtt, slot) + 4 * gf(rttvar, slot);
  const floor = gf(rtoFloor, slot);
  if (rto < floor) rto = floor;
  const ceiling = gf(timeout, slot);
  if (rto > ceiling) rto = ceiling;
  gfSet(rtoNow, slot, rto);
}

/** The stall guard of an adaptive slot: floor + 2 max(PEAK, the thread's peak), within the ceiling. */
function guardOf(slot: i32): f64 {
  const p = gf(peak, slot);
  const g = gf(rtoFloor, slot) + 2 * (p > threadPeak ? p : threadPeak);
  const ceiling = gf(timeout, slot);
  return g > ceiling ? ceiling : g;
}

/** The stall guard (ms) of a sender or receiver: how long a held slot waits at most; -1 for another slot. */
export function rtoGuard(slot: i32): f64 {
  const k = isOpen(slot) ? gi(kind, slot) : KIND_FREE;
  if (k != KIND_TX && k != KIND_RX) return -1;
  return adaptive(slot) ? guardOf(slot) : gf(timeout, slot);
}

/**
 * The retransmission deadline of `slot` passed (call before acting on it).
 * Returns 1 when the slot is held instead (its deadline moved to the guard,
 * or sooner once another peer is heard), 0 when it resends now: a fixed
 * timeout, a guard no longer than the RTO, a slot held already, or no room.
 */
export function holdBack(slot: i32, now: f64): i32 {
  if (!moving(slot) || !adaptive(slot) || now != now) return 0;
  const f = gi(flags, slot);
  if ((f & FLAG_HELD) != 0) {
    // Released, but nothing heard from any peer for a whole RTO since, and another slot's RTO
    // passed too (held, or due at this very moment): the machine stalled after all (right after
    // the answer that released it): hold again, until the guard. Peers that are silent within
    // their own RTO are no sign of a stall: they have had nothing to answer yet.
    const r = gf(rtoNow, slot);
    if ((f & FLAG_RELEASED) != 0 && now - lastHeard > r && heldCount < cap && (otherHeld(slot) || (now == overdueAt && overdueCount > 1))) {
      const again = guardOf(slot) - r;
      if (again > 0) {
        si(flags, slot, f & ~FLAG_RELEASED);
        si(heldList, heldCount, slot);
        heldCount++;
        timerSet(slot, now + again);
        return 1;
      }
    }
    // Released, and peers whose RTO had passed as well are still answering (late, not lost): they
    // were stalled together and work through what queued meanwhile. Wait for them one RTO at a
    // time, up to a guard after the release.
    const until = lastLate + r;
    if ((f & FLAG_RELEASED) != 0 && until > now && now < gf(releasedUntil, slot)) {
      timerSet(slot, until);
      return 1;
    }
    si(flags, slot, f & ~(FLAG_HELD | FLAG_RELEASED));
    return 0;
  }
  // The peer itself answered since the slot sent (e.g. EDK2 ACKs every block past a hole at once): it is
  // not stalled, and what it waits for was lost.
  if ((f & FLAG_PEER_ALIVE) != 0) return 0;
  const wait = guardOf(slot) - gf(rtoNow, slot);
  if (!(wait > 0) || heldCount >= cap) return 0;
  si(flags, slot, f | FLAG_HELD);
  si(heldList, heldCount, slot);
  heldCount++;
  gfSet(heldAt, slot, now);
  timerSet(slot, now + wait);
  return 1;
}

/** Whether a slot other than `slot` is held now (its RTO passed, not resent yet; the held list may keep stale entries). */
function otherHeld(slot: i32): bool {
  for (let i = 0; i < heldCount; i++) {
    const h = gi(heldList, i);
    if (h != slot && moving(h) && (gi(flags, h) & FLAG_HELD) != 0) return true;
  }
  return false;
}

/**
 * The peer of `speaker` was heard: every other held slot (with an estimate
 * of its own) resends one RTO from now, unless its guard comes sooner.
 */
function heard(speaker: i32, now: f64): void {
  lastHeard = now;
  if ((gi(flags, speaker) & FLAG_HELD) != 0) lastLate = now;
  if (heldCount == 0) return;
  let kept = 0;
  for (let i = 0; i < heldCount; i++) {
    const h = gi(heldList, i);
    if (!moving(h)) continue;
    const f = gi(flags, h);
    if ((f & FLAG_HELD) == 0) continue; // re-armed since (or listed twice): no longer held
    if (h == speaker || (f & FLAG_SEEDED) != 0) {
      // Still held: its own peer's packet is no news of another path, and a seed is only a guess.
      si(flags, h, f & ~FLAG_HELD); // so that a second entry of it is dropped
      si(heldList, kept, h);
      kept++;
      continue;
    }
    // One RTO from now, but no sooner than the slot's own PEAK after its send: an answer that
    // late came on this very path within the last second.
    const r = gf(rtoNow, h);
    let at = now + r;
    const byPeak = gf(heldAt, h) - r + gf(peak, h);
    if (byPeak > at) at = byPeak;
    if (at < timerAt(h)) timerSet(h, at);
    si(flags, h, f | FLAG_RELEASED);
    gfSet(releasedUntil, h, now + guardOf(h));
  }
  for (let i = 0; i < kept; i++) {
    const h = gi(heldList, i);
    si(flags, h, gi(flags, h) | FLAG_HELD);
  }
  heldCount = kept;
}

/**
 * Starts an adaptive slot from an earlier estimate of the same peer (ms;
 * e.g. its previous session's): SRTT, RTTVAR and PEAK as if measured, so the
 * first packet's RTO is the learnt one instead of the ceiling. Ignored (OK)
 * on a fixed-timeout slot or with values that are not plain non-negative
 * numbers; the first real sample carries on from the seed.
 */
export function seedRtt(slot: i32, srttMs: f64, rttvarMs: f64, peakMs: f64, now: f64): i32 {
  const k = isOpen(slot) ? gi(kind, slot) : KIND_FREE;
  if (k != KIND_TX && k != KIND_RX) return -S.E_BAD_SLOT;
  if (!adaptive(slot) || !(srttMs >= 0) || !(rttvarMs >= 0) || !(peakMs >= 0) || now != now) return S.OK;
  if (srttMs == Infinity || rttvarMs == Infinity || peakMs == Infinity) return S.OK;
  gfSet(srtt, slot, srttMs);
  gfSet(rttvar, slot, rttvarMs);
  gfSet(peak, slot, peakMs > srttMs ? peakMs : srttMs);
  gfSet(peakAt, slot, now);
  si(flags, slot, gi(flags, slot) | FLAG_SEEDED);
  computeRto(slot);
  return S.OK;
}

/**
 * Pops every deadline that passed, as the timers' expire() (ids: slot for a
 * retransmission deadline, cap + slot for a session deadline), and counts
 * the retransmission deadlines due at `now` (holdBack tells a stall by them).
 */
export function expire(now: f64): i32 {
  const n = expireTimers(now);
  if (now != overdueAt) {
    overdueAt = now;
    overdueCount = 0;
  }
  for (let i = 0; i < n; i++) if (resGet(RES_EXPIRED + i) < cap) overdueCount++;
  return n;
}

/** Forgets the thread's recent peak RTT (the stall guard) and its held slots: for a fresh start, e.g. between tests on a fake clock. */
export function rttGuardReset(): void {
  threadPeak = 0;
  threadPeakAt = 0;
  heldCount = 0;
  lastHeard = -Infinity;
  lastLate = -Infinity;
  overdueAt = NaN;
  overdueCount = 0;
  stallFrom = 0;
  stallTo = 0;
}

/**
 * This thread was busy from `from` to `to` (ms) without reading its sockets
 * (a long task, a garbage collection, the process descheduled): an answer
 * that arrived meanwhile waited in the socket. A round-trip sample taken
 * across it leaves that time out, as it tells of this machine, not of the
 * path or the peer; a deadline that passes during a stall is handled apart
 * (the glue reads what arrived before it resends). The latest stall only.
 */
export function noteStall(from: f64, to: f64): void {
  if (!(to > from)) return;
  stallFrom = from;
  stallTo = to;
}

/**
 * RFC 6298 (2.2, 2.3): one round-trip sample r (ms) updates SRTT, RTTVAR,
 * PEAK and the RTO; the backoff ends. The part of r during this thread's
 * latest stall (noteStall) is left out. Returns the sample used (-1: none).
 */
function rttSample(slot: i32, r: f64, now: f64): f64 {
  if (!(r >= 0)) return -1; // a clock value missing (NaN) or going backwards
  const sent = now - r;
  const a = sent > stallFrom ? sent : stallFrom;
  const b = now < stallTo ? now : stallTo;
  if (b > a) r -= b - a;
  // PEAK: the largest sample, halved every PEAK_HOLD_MS (never below this sample); the thread's too.
  gfSet(peak, slot, decay(gf(peak, slot), gf(peakAt, slot), r, now));
  gfSet(peakAt, slot, decayedAt);
  threadPeak = decay(threadPeak, threadPeakAt, r, now);
  threadPeakAt = decayedAt;
  const f = gi(flags, slot);
  if ((f & FLAG_SEEDED) != 0) {
    // The session's own first sample replaces the seed (a guess), PEAK included.
    si(flags, slot, f & ~FLAG_SEEDED);
    gfSet(srtt, slot, -1);
    gfSet(peak, slot, r);
    gfSet(peakAt, slot, now);
  }
  const s0 = gf(srtt, slot);
  let s = r;
  let v = r / 2;
  if (s0 >= 0) {
    const d = s0 - r;
    v = 0.75 * gf(rttvar, slot) + 0.25 * (d < 0 ? -d : d);
    s = 0.875 * s0 + 0.125 * r;
  }
  gfSet(srtt, slot, s);
  gfSet(rttvar, slot, v);
  computeRto(slot);
  return r;
}

/**
 * A deadline passed: counts a retry, doubles an adaptive RTO (up to the
 * ceiling) and drops the running sample (Karn: what answers next may answer
 * either copy). Returns true when the retries are used up.
 */
function timedOut(slot: i32): bool {
  gfSet(sampleAt, slot, -1);
  if (adaptive(slot)) {
    const rto = gf(rtoNow, slot);
    const ceiling = gf(timeout, slot);
    if (rto < ceiling) {
      // Below the ceiling: a quick retry that the retries do not count.
      gfSet(rtoNow, slot, rto * 2 < ceiling ? rto * 2 : ceiling);
      return false;
    }
  }
  const r = gi(retries, slot) + 1;
  si(retries, slot, r);
  return r > gi(maxRetries, slot);
}

/** The current retransmission timeout (ms), or -1 for a slot that is not sending or receiving. */
export function rto(slot: i32): f64 {
  const k = isOpen(slot) ? gi(kind, slot) : KIND_FREE;
  return k == KIND_TX || k == KIND_RX ? rtoOf(slot) : -1;
}

/** A sender or receiver (not free, not reserved): its estimates belong to its own transfer. */
@inline function moving(slot: i32): bool {
  return isKind(slot, KIND_TX) || isKind(slot, KIND_RX);
}

/** The smoothed round-trip time (ms), -1 before the first sample or for a fixed timeout. */
export function srttOf(slot: i32): f64 {
  return moving(slot) && adaptive(slot) ? gf(srtt, slot) : -1;
}

/** The round-trip variation (ms), -1 before the first sample or for a fixed timeout. */
export function rttvarOf(slot: i32): f64 {
  return moving(slot) && adaptive(slot) && gf(srtt, slot) >= 0 ? gf(rttvar, slot) : -1;
}

/** The largest recent round-trip sample (ms), -1 before the first sample or for a fixed timeout. */
export function rttPeakOf(slot: i32): f64 {
  return moving(slot) && adaptive(slot) && gf(srtt, slot) >= 0 ? gf(peak, slot) : -1;
}

// ------------------------------------------------------ session deadline

/** Arms the session deadline of an open slot at `at` (ms, the glue's clock). */
export function sessionDeadline(slot: i32, at: f64): i32 {
  if (!isOpen(slot) || at != at) return -S.E_BAD_SLOT;
  timerSet(cap + slot, at);
  return S.OK;
}

export function clearSessionDeadline(slot: i32): i32 {
  if (!isOpen(slot)) return -S.E_BAD_SLOT;
  timerCancel(cap + slot);
  return S.OK;
}

/**
 * Sets the no-progress limit (ms; 0 removes it) and arms the session
 * deadline at now + limit. From then on every progress moves it again.
 */
export function setProgressLimit(slot: i32, limitMs: f64, now: f64): i32 {
  if (!isOpen(slot) || !(limitMs >= 0)) return -S.E_BAD_SLOT;
  store<f64>(progressLimit + (<usize>slot << 3), limitMs);
  if (limitMs > 0) timerSet(cap + slot, now + limitMs);
  else timerCancel(cap + slot);
  return S.OK;
}

/** The transfer moved on: the no-progress limit starts again. */
@inline function progressed(slot: i32, now: f64): void {
  const limit = load<f64>(progressLimit + (<usize>slot << 3));
  if (limit > 0 && now == now) timerSet(cap + slot, now + limit);
}

/** Slots this table holds (timer ids at or above it are session deadlines). */
export function schedCapacity(): i32 {
  return cap;
}

// ---------------------------------------------------------------- sender

@inline function txWithOack(slot: i32, withOack: i32): void {
  if (withOack != 0) {
    su(base, slot, 0);
    su(next, slot, 0);
    su(highSent, slot, 0);
  }
}

/** Opens a sender. withOack: block 0 (the OACK) must be acknowledged first. */
export function txOpen(win: i32, timeoutMs: f64, maxTries: i32, withOack: i32): i32 {
  const slot = open(KIND_TX, win, timeoutMs, maxTries);
  if (slot >= 0) txWithOack(slot, withOack);
  return slot;
}

/** Makes a reserved (IDLE) slot a sender, as txOpen would open it. */
export function txStart(slot: i32, win: i32, timeoutMs: f64, maxTries: i32, withOack: i32): i32 {
  if (!isKind(slot, KIND_IDLE)) return -S.E_BAD_SLOT;
  if (badStart(win, timeoutMs, maxTries)) return -S.E_ARGUMENT;
  start(slot, KIND_TX, win, timeoutMs, maxTries);
  txWithOack(slot, withOack);
  return S.OK;
}

/** The last block's absolute number, once the glue knows where the data ends. */
export function txSetLast(slot: i32, lastAbs: f64): i32 {
  if (!isKind(slot, KIND_TX) || lastAbs < 1 || lastAbs >= <f64>UNKNOWN) return -S.E_BAD_SLOT;
  su(last, slot, <u32>lastAbs);
  return S.OK;
}

export function txSetWindow(slot: i32, win: i32): i32 {
  if (!isKind(slot, KIND_TX) || win < 1 || win > 65535) return -S.E_BAD_SLOT;
  si(window, slot, win);
  return S.OK;
}

export function txOnAck(slot: i32, block: i32, now: f64): i32 {
  if (!isKind(slot, KIND_TX)) return -S.E_BAD_SLOT;
  if (now == now) heard(slot, now);
  const b = gu(base, slot);
  const n = gu(next, slot);
  // Absolute block k with low 16 bits == block, in [b - 1, n - 1].
  const from = b == 0 ? 0 : b - 1;
  const k: u32 = from + ((<u32>(block - <i32>(from & 0xffff))) & <u32>0xffff);
  if (b == 0) {
    // Waiting for ACK 0 of the OACK.
    if (k != 0 || n == 0) return ACK_STALE;
  } else {
    if (k == b - 1 || k >= n) {
      // Moves nothing (never a resend: Sorcerer's Apprentice), but tells that the peer is there.
      si(flags, slot, gi(flags, slot) | FLAG_PEER_ALIVE);
      return k == b - 1 ? ACK_DUPLICATE : ACK_STALE;
    }
  }
  su(base, slot, k + 1);
  si(retries, slot, 0);
  progressed(slot, now);
  const at = gf(sampleAt, slot);
  if (at >= 0 && k >= gu(sampleMark, slot) && now == now) {
    rttSample(slot, now - at, now);
    gfSet(sampleAt, slot, -1);
  }
  const l = gu(last, slot);
  if (l != UNKNOWN && k >= l) {
    timerCancel(slot);
    return ACK_DONE;
  }
  if (k + 1 < n) {
    // Inside the range just sent again, the ACK may answer a duplicate while
    // the rest is on the way: no gap (see Recovery above).
    if (k + 1 < gu(recoverTo, slot)) return ACK_ADVANCED;
    su(next, slot, k + 1);
    su(recoverTo, slot, gu(highSent, slot));
    return ACK_GAP;
  }
  return ACK_ADVANCED;
}

/**
 * Block 0 was answered otherwise than by ACK 0 (an ERROR: e.g. a size probe
 * that aborts after the OACK): the running sample of block 0 is taken, so the
 * peer's round trip is known to its next session. Returns the RTT or -1.
 */
export function txFirstAnswered(slot: i32, now: f64): f64 {
  if (!isKind(slot, KIND_TX) || gu(base, slot) != 0 || !adaptive(slot)) return -1;
  const at = gf(sampleAt, slot);
  if (at < 0 || gu(sampleMark, slot) != 0 || now != now || now < at) return -1;
  heard(slot, now);
  const r = rttSample(slot, now - at, now);
  gfSet(sampleAt, slot, -1);
  return r;
}

/** How many blocks may be sent now, starting at txNext. When base is 0 (OACK unacknowledged) only a resend of block 0 is allowed. */
export function txSendable(slot: i32): i32 {
  if (!isKind(slot, KIND_TX)) return 0;
  const b = gu(base, slot);
  const n = gu(next, slot);
  if (b == 0) return n == 0 ? 1 : 0;
  let limit = <u64>b + <u64>gi(window, slot);
  const l = gu(last, slot);
  if (l != UNKNOWN && <u64>l + 1 < limit) limit = <u64>l + 1;
  return limit > <u64>n ? <i32>(limit - <u64>n) : 0;
}

export function txNext(slot: i32): f64 {
  return <f64>gu(next, slot);
}

export function txBase(slot: i32): f64 {
  return <f64>gu(base, slot);
}

/** Records `count` blocks sent from txNext and re-arms the deadline. */
export function txSent(slot: i32, count: i32, now: f64): i32 {
  if (!isKind(slot, KIND_TX) || count < 0) return -S.E_BAD_SLOT;
  const from = gu(next, slot);
  const to = from + <u32>count; // exclusive
  su(next, slot, to);
  if (adaptive(slot)) {
    const high = gu(highSent, slot);
    const at = gf(sampleAt, slot);
    const mark = gu(sampleMark, slot);
    if (at >= 0 && mark >= from && mark < to) {
      // The sampled block went again: its ACK would not say which copy it answers (Karn).
      gfSet(sampleAt, slot, -1);
    } else if (at < 0 && to > high && now == now) {
      // Time the newest block of this burst until an ACK covers it.
      gfSet(sampleAt, slot, now);
      su(sampleMark, slot, to - 1);
    }
  }
  if (to > gu(highSent, slot)) su(highSent, slot, to);
  arm(slot, now);
  return S.OK;
}

/** After a deadline passed: go back to base and resend, or give up. */
export function txOnTimeout(slot: i32): i32 {
  if (!isKind(slot, KIND_TX)) return -S.E_BAD_SLOT;
  if (timedOut(slot)) return TO_GIVE_UP;
  su(next, slot, gu(base, slot));
  su(recoverTo, slot, gu(highSent, slot));
  return TO_RETRANSMIT;
}

// -------------------------------------------------------------- receiver

export function rxOpen(win: i32, timeoutMs: f64, maxTries: i32): i32 {
  return open(KIND_RX, win, timeoutMs, maxTries);
}

/** Makes a reserved (IDLE) slot a receiver, as rxOpen would open it. */
export function rxStart(slot: i32, win: i32, timeoutMs: f64, maxTries: i32): i32 {
  if (!isKind(slot, KIND_IDLE)) return -S.E_BAD_SLOT;
  if (badStart(win, timeoutMs, maxTries)) return -S.E_ARGUMENT;
  start(slot, KIND_RX, win, timeoutMs, maxTries);
  return S.OK;
}

/** Changes the window of a receiver (e.g. once the OACK granted one). */
export function rxSetWindow(slot: i32, win: i32): i32 {
  if (!isKind(slot, KIND_RX) || win < 1 || win > 65535) return -S.E_BAD_SLOT;
  si(window, slot, win);
  return S.OK;
}

/**
 * A DATA block arrived. Returns RX_* flags: DELIVER (in order: hand the
 * payload on), ACK (send rxAckBlock now), DONE (the short last block),
 * DUPLICATE (already had it), GAP (a block is missing).
 */
export function rxOnData(slot: i32, block: i32, len: i32, blksize: i32, now: f64): i32 {
  if (!isKind(slot, KIND_RX)) return -S.E_BAD_SLOT;
  if (now == now) heard(slot, now);
  const b = gu(base, slot);
  const d = <u32>(block - <i32>(b & 0xffff)) & 0xffff;
  const f = gi(flags, slot);
  if (d == 0) {
    su(base, slot, b + 1);
    si(retries, slot, 0);
    si(flags, slot, f & FLAG_SEEDED);
    const at = gf(sampleAt, slot);
    if (at >= 0 && now == now) {
      // The first block after a fresh ACK: one round trip.
      rttSample(slot, now - at, now);
      gfSet(sampleAt, slot, -1);
    }
    const since = gi(sinceAck, slot) + 1;
    si(sinceAck, slot, since);
    arm(slot, now);
    progressed(slot, now);
    if (len < blksize) return RX_DELIVER | RX_ACK | RX_DONE;
    if (since >= gi(window, slot)) return RX_DELIVER | RX_ACK;
    return RX_DELIVER;
  }
  // A duplicate or a block past a gap: the sender resent or lost something; what comes next is no clean sample.
  gfSet(sampleAt, slot, -1);
  const g = f | FLAG_PEER_ALIVE;
  si(flags, slot, g);
  if (d >= 0x8000) {
    // Old block: the sender missed our ACK. Re-ACK once per run of duplicates.
    if ((g & FLAG_DUP_ACKED) != 0) return RX_DUPLICATE;
    si(flags, slot, g | FLAG_DUP_ACKED);
    return RX_DUPLICATE | RX_ACK;
  }
  if ((g & FLAG_GAP_ACKED) != 0) return RX_GAP;
  si(flags, slot, g | FLAG_GAP_ACKED);
  return RX_GAP | RX_ACK;
}

/** Block number (16-bit) the receiver acknowledges: the last in-order block. */
export function rxAckBlock(slot: i32): i32 {
  return <i32>((gu(base, slot) - 1) & 0xffff);
}

/** Blocks received in order so far. */
export function rxReceived(slot: i32): f64 {
  return <f64>(gu(base, slot) - 1);
}

/** An ACK was sent: restart the window count and the deadline. */
export function rxAcked(slot: i32, now: f64): i32 {
  if (!isKind(slot, KIND_RX)) return -S.E_BAD_SLOT;
  si(sinceAck, slot, 0);
  if (adaptive(slot)) {
    // Only an ACK of blocks not acknowledged before starts a sample (a repeated ACK is ambiguous: Karn).
    const b = gu(base, slot);
    gfSet(sampleAt, slot, b != gu(sampleMark, slot) && now == now ? now : -1);
    su(sampleMark, slot, b);
  }
  arm(slot, now);
  return S.OK;
}

/** After a deadline passed: resend the last ACK (or request), or give up. */
export function rxOnTimeout(slot: i32): i32 {
  if (!isKind(slot, KIND_RX)) return -S.E_BAD_SLOT;
  if (timedOut(slot)) return TO_GIVE_UP;
  si(flags, slot, gi(flags, slot) & FLAG_SEEDED);
  return TO_RETRANSMIT;
}

/** Arms a slot's retransmission deadline without other changes (e.g. after sending a request). */
export function touch(slot: i32, now: f64): i32 {
  if (!isOpen(slot) || gi(kind, slot) == KIND_IDLE) return -S.E_BAD_SLOT;
  arm(slot, now);
  return S.OK;
}
