// Fixed regions of linear memory shared with the TypeScript glue.
//
// Everything crosses the boundary as (offset, length) inside these regions;
// the glue keeps one Uint8Array/Int32Array/Float64Array view of memory and
// rebuilds it only when memory.buffer changes.

/** Largest packet the core reads or writes: 4-byte header + 65464 data, rounded up. */
export const PACKET_MAX: i32 = 65536 + 64;

/** Most options one request may carry before it is refused as malformed. */
export const MAX_OPTIONS: i32 = 32;

/** Input scratch: the glue copies a received packet here before decoding. */
export const IN: usize = memory.data(PACKET_MAX * 2, 16);
/** Output scratch: encoders write the packet here (netascii may write 2x input). */
export const OUT: usize = memory.data(PACKET_MAX * 2, 16);
/** Integer results of the last call (see RES_* indexes). */
export const RES: usize = memory.data(64 * 4, 16);
/** Float results of the last call (see RESF_* indexes). */
export const RESF: usize = memory.data(16 * 8, 16);
/** Option table of the last decoded request: 4 x i32 per option. */
export const OPTS: usize = memory.data(MAX_OPTIONS * 16, 16);

// RES indexes (i32)
export const RES_OPCODE: i32 = 0;
export const RES_BLOCK: i32 = 1; // DATA/ACK block, ERROR code
export const RES_OFF: i32 = 2; // filename / payload / error message offset
export const RES_LEN: i32 = 3; // ... and length
export const RES_MODE: i32 = 4; // MODE_* of a request
export const RES_NOPTS: i32 = 5; // options in the OPTS table (request or OACK)
export const RES_MODE_OFF: i32 = 6;
export const RES_MODE_LEN: i32 = 7;
export const RES_RANK: i32 = 8; // 8..11: position of blksize, tsize, timeout, windowsize (-1 absent)
export const RES_PENDING_CR: i32 = 12; // netascii decoder carry
export const RES_EXPIRED: i32 = 16; // start of the expired-slot list written by expire()
export const RES_EXPIRED_MAX: i32 = 48;

// RESF indexes (f64): asked values of known options, then accepted ones.
// Asked: -1 absent, -2 present but not a valid value.
export const RESF_ASKED: i32 = 0; // 0..3 blksize, tsize, timeout, windowsize
export const RESF_ACCEPTED: i32 = 4; // 4..7 (0 when not accepted)

@inline export function resSet(i: i32, v: i32): void {
  store<i32>(RES + (<usize>i << 2), v);
}
@inline export function resGet(i: i32): i32 {
  return load<i32>(RES + (<usize>i << 2));
}
@inline export function resfSet(i: i32, v: f64): void {
  store<f64>(RESF + (<usize>i << 3), v);
}
@inline export function resfGet(i: i32): f64 {
  return load<f64>(RESF + (<usize>i << 3));
}
