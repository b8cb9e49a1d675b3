// One timer structure for every session: a binary min-heap of slots keyed by
// their retransmission deadline (ms, the glue's monotonic clock). The glue
// keeps a single Node timer armed at the earliest deadline and calls
// expire(now) when it fires.

import { RES_EXPIRED, RES_EXPIRED_MAX, resSet } from "./layout";

let heap: usize = 0; // i32[cap]: slot ids
let pos: usize = 0; // i32[cap]: index of a slot in heap, -1 if not queued
let deadline: usize = 0; // f64[cap]
let size: i32 = 0;

export function timersInit(cap: i32, heapRegion: usize, posRegion: usize, deadlineRegion: usize): void {
  heap = heapRegion;
  pos = posRegion;
  deadline = deadlineRegion;
  size = 0;
  for (let i = 0; i < cap; i++) store<i32>(pos + (<usize>i << 2), -1);
}

@inline function hAt(i: i32): i32 {
  return load<i32>(heap + (<usize>i << 2));
}
@inline function dOf(slot: i32): f64 {
  return load<f64>(deadline + (<usize>slot << 3));
}
@inline function place(i: i32, slot: i32): void {
  store<i32>(heap + (<usize>i << 2), slot);
  store<i32>(pos + (<usize>slot << 2), i);
}

function up(i: i32): void {
  const slot = hAt(i);
  const d = dOf(slot);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const ps = hAt(parent);
    if (dOf(ps) <= d) break;
    place(i, ps);
    i = parent;
  }
  place(i, slot);
}

function down(i: i32): void {
  const slot = hAt(i);
  const d = dOf(slot);
  for (;;) {
    let c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && dOf(hAt(c + 1)) < dOf(hAt(c))) c++;
    const cs = hAt(c);
    if (dOf(cs) >= d) break;
    place(i, cs);
    i = c;
  }
  place(i, slot);
}

/** Queues or moves a slot to a new deadline. */
export function timerSet(slot: i32, at: f64): void {
  const old = dOf(slot);
  store<f64>(deadline + (<usize>slot << 3), at);
  const i = load<i32>(pos + (<usize>slot << 2));
  if (i < 0) {
    place(size, slot);
    size++;
    up(size - 1);
  } else if (at < old) {
    up(i);
  } else {
    down(i);
  }
}

export function timerCancel(slot: i32): void {
  const i = load<i32>(pos + (<usize>slot << 2));
  if (i < 0) return;
  store<i32>(pos + (<usize>slot << 2), -1);
  size--;
  if (i == size) return;
  place(i, hAt(size));
  const moved = hAt(i);
  if (i > 0 && dOf(hAt((i - 1) >> 1)) > dOf(moved)) up(i);
  else down(i);
}

/** Earliest deadline queued, or +Infinity. */
export function nextDeadline(): f64 {
  return size == 0 ? Infinity : dOf(hAt(0));
}

/**
 * Pops every slot whose deadline is <= now (at most RES_EXPIRED_MAX per
 * call; call again while it returns that many) into RES[RES_EXPIRED..].
 */
export function expire(now: f64): i32 {
  let n = 0;
  while (size > 0 && n < RES_EXPIRED_MAX) {
    const slot = hAt(0);
    if (dOf(slot) > now) break;
    timerCancel(slot);
    resSet(RES_EXPIRED + n, slot);
    n++;
  }
  return n;
}

export function timersQueued(): i32 {
  return size;
}
