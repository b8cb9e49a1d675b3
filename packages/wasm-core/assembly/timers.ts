// One timer structure for every session: a binary min-heap of timers keyed by
// their deadline (ms, the glue's monotonic clock). Each slot has two timers:
// id `slot` is its retransmission deadline, id `cap + slot` its session
// deadline (handler wait, no-progress limit). The glue keeps a single Node
// timer armed at the earliest deadline and calls expire(now) when it fires.

import { RES_EXPIRED, RES_EXPIRED_MAX, resSet } from "./layout";

let heap: usize = 0; // i32[ids]: timer ids
let pos: usize = 0; // i32[ids]: index of a timer in heap, -1 if not queued
let deadline: usize = 0; // f64[ids]
let size: i32 = 0;

/** Sets up `ids` timers over regions of ids x i32, ids x i32 and ids x f64. */
export function timersInit(ids: i32, heapRegion: usize, posRegion: usize, deadlineRegion: usize): void {
  heap = heapRegion;
  pos = posRegion;
  deadline = deadlineRegion;
  size = 0;
  for (let i = 0; i < ids; i++) store<i32>(pos + (<usize>i << 2), -1);
}

@inline function hAt(i: i32): i32 {
  return load<i32>(heap + (<usize>i << 2));
}
@inline function dOf(id: i32): f64 {
  return load<f64>(deadline + (<usize>id << 3));
}
@inline function place(i: i32, id: i32): void {
  store<i32>(heap + (<usize>i << 2), id);
  store<i32>(pos + (<usize>id << 2), i);
}

function up(i: i32): void {
  const id = hAt(i);
  const d = dOf(id);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const ps = hAt(parent);
    if (dOf(ps) <= d) break;
    place(i, ps);
    i = parent;
  }
  place(i, id);
}

function down(i: i32): void {
  const id = hAt(i);
  const d = dOf(id);
  for (;;) {
    let c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && dOf(hAt(c + 1)) < dOf(hAt(c))) c++;
    const cs = hAt(c);
    if (dOf(cs) >= d) break;
    place(i, cs);
    i = c;
  }
  place(i, id);
}

/** Queues or moves a timer to a new deadline. */
export function timerSet(id: i32, at: f64): void {
  const old = dOf(id);
  store<f64>(deadline + (<usize>id << 3), at);
  const i = load<i32>(pos + (<usize>id << 2));
  if (i < 0) {
    place(size, id);
    size++;
    up(size - 1);
  } else if (at < old) {
    up(i);
  } else {
    down(i);
  }
}

export function timerCancel(id: i32): void {
  const i = load<i32>(pos + (<usize>id << 2));
  if (i < 0) return;
  store<i32>(pos + (<usize>id << 2), -1);
  size--;
  if (i == size) return;
  place(i, hAt(size));
  const moved = hAt(i);
  if (i > 0 && dOf(hAt((i - 1) >> 1)) > dOf(moved)) up(i);
  else down(i);
}

/** The deadline of a queued timer, or +Infinity when it is not queued. */
export function timerAt(id: i32): f64 {
  return load<i32>(pos + (<usize>id << 2)) < 0 ? Infinity : dOf(id);
}

/** Earliest deadline queued, or +Infinity. */
export function nextDeadline(): f64 {
  return size == 0 ? Infinity : dOf(hAt(0));
}

/**
 * Pops every timer whose deadline is <= now (at most RES_EXPIRED_MAX per
 * call; call again while it returns that many) into RES[RES_EXPIRED..], as
 * timer ids: a slot number for a retransmission deadline, cap + slot for a
 * session deadline.
 */
export function expire(now: f64): i32 {
  let n = 0;
  while (size > 0 && n < RES_EXPIRED_MAX) {
    const id = hAt(0);
    if (dOf(id) > now) break;
    timerCancel(id);
    resSet(RES_EXPIRED + n, id);
    n++;
  }
  return n;
}

export function timersQueued(): i32 {
  return size;
}
