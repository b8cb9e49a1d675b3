// Fixed regions of linear memory shared with the TypeScript glue.
//
// Everything crosses the boundary as (offset, length) inside these regions;
// the glue keeps one Uint8Array/Int32Array/Float64Array view of memory and
// rebuilds it only when memory.buffer changes.

/** Largest packet the core reads or writes: 4-byte header + BLKSIZE_MAX data, rounded up. */
export const PACKET_MAX: i32 = 65536 + 64;

/** Most options one request may carry before it is refused as malformed. */
export const MAX_OPTIONS: i32 = 32;

/** Input scratch: the glue copies a received packet here before decoding. */
export const IN: usize = memory.data(PACKET_MAX * 2, 16);
/** Output scratch: encoders write the packet here (netascii may write 2x input). */
export const OUT: usize = memory.data(PACKET_MAX * 2, 16);
/** Integer results of the last call (see RES_* indexes). */
export const RES: usize = memory.data(64 * 4, 16);
/** Option table of the last decoded request: 4 x i32 per option. */
export const OPTS: usize = memory.data(MAX_OPTIONS * 16, 16);

/** Room for this many known options (options.ts KNOWN_OPTIONS <= it). */
export const KNOWN_MAX: i32 = 8;
/**
 * Known-option table, one KNOWN_STRIDE-byte row per known option k (in the
 * order of options.ts): `asked` f64 at +0 (what the client asked: a number,
 * -1 absent, -2 not a decimal number, +Infinity above 2^53), `value` f64 at
 * +8 (granted by negotiate, or to send in a request; < 0: left out), `rank`
 * i32 at +16 (position in the request, -1 absent).
 */
export const KNOWN: usize = memory.data(KNOWN_MAX * 32, 16);
export const KNOWN_STRIDE: i32 = 32;
/** Input of negotiate: one options.ts Limits structure. */
export const LIMITS: usize = memory.data(32, 16);

// RES indexes (i32)
export const RES_OPCODE: i32 = 0;
export const RES_BLOCK: i32 = 1; // DATA/ACK block, ERROR code
export const RES_OFF: i32 = 2; // filename / payload / error message offset
export const RES_LEN: i32 = 3; // ... and length
export const RES_MODE: i32 = 4; // MODE_* of a request
export const RES_NOPTS: i32 = 5; // options in the OPTS table (request or OACK)
export const RES_MODE_OFF: i32 = 6;
export const RES_MODE_LEN: i32 = 7;
export const RES_PENDING_CR: i32 = 12; // netascii decoder carry
export const RES_EXPIRED: i32 = 16; // start of the expired-slot list written by expire()
export const RES_EXPIRED_MAX: i32 = 48;

@inline export function resSet(i: i32, v: i32): void {
  store<i32>(RES + (<usize>i << 2), v);
}
@inline export function resGet(i: i32): i32 {
  return load<i32>(RES + (<usize>i << 2));
}
@inline export function askedGet(k: i32): f64 {
  return load<f64>(KNOWN + <usize>(k * KNOWN_STRIDE));
}
@inline export function askedSet(k: i32, v: f64): void {
  store<f64>(KNOWN + <usize>(k * KNOWN_STRIDE), v);
}
@inline export function valueGet(k: i32): f64 {
  return load<f64>(KNOWN + <usize>(k * KNOWN_STRIDE + 8));
}
@inline export function valueSet(k: i32, v: f64): void {
  store<f64>(KNOWN + <usize>(k * KNOWN_STRIDE + 8), v);
}
@inline export function rankGet(k: i32): i32 {
  return load<i32>(KNOWN + <usize>(k * KNOWN_STRIDE + 16));
}
@inline export function rankSet(k: i32, v: i32): void {
  store<i32>(KNOWN + <usize>(k * KNOWN_STRIDE + 16), v);
}
