// Loads the WebAssembly core once per thread and keeps views of its memory.
// The module reserves its slot table at start-up (schedInit), so memory does
// not grow afterwards; views are still rebuilt if memory.buffer ever changes.

import { readFileSync } from "node:fs";

export interface CoreExports {
  memory: WebAssembly.Memory;
  IN: WebAssembly.Global;
  OUT: WebAssembly.Global;
  RES: WebAssembly.Global;
  OPTS: WebAssembly.Global;
  KNOWN: WebAssembly.Global;
  KNOWN_STRIDE: WebAssembly.Global;
  KNOWN_OPTIONS: WebAssembly.Global;
  LIMITS: WebAssembly.Global;
  BLKSIZE_MAX: WebAssembly.Global;
  PACKET_MAX: WebAssembly.Global;
  MAX_OPTIONS: WebAssembly.Global;
  decode(len: number): number;
  decodeAck(len: number): number;
  encodeData(block: number, payloadLen: number): number;
  encodeAck(block: number): number;
  encodeError(code: number, msgLen: number): number;
  /** Option values are read from the known-option table. */
  encodeRequest(op: number, nameLen: number, mode: number): number;
  /** Asked values and ranks from the known-option table, limits from the Limits structure at `limits`. */
  negotiate(limits: number): number;
  netasciiEncode(len: number): number;
  netasciiDecode(len: number, pendingCR: number): number;
  schedInit(slots: number): number;
  schedCapacity(): number;
  reserve(): number;
  close(slot: number): number;
  slotsOpen(): number;
  setTimeout(slot: number, ms: number): number;
  adaptRto(slot: number, floorMs: number): number;
  rto(slot: number): number;
  srttOf(slot: number): number;
  rttvarOf(slot: number): number;
  rttPeakOf(slot: number): number;
  seedRtt(slot: number, srtt: number, rttvar: number, peak: number, now: number): number;
  txFirstAnswered(slot: number, now: number): number;
  rttGuardReset(): void;
  noteStall(from: number, to: number): void;
  rtoGuard(slot: number): number;
  holdBack(slot: number, now: number): number;
  touch(slot: number, now: number): number;
  sessionDeadline(slot: number, at: number): number;
  clearSessionDeadline(slot: number): number;
  setProgressLimit(slot: number, limitMs: number, now: number): number;
  txOpen(win: number, timeoutMs: number, maxRetries: number, withOack: number): number;
  txStart(slot: number, win: number, timeoutMs: number, maxRetries: number, withOack: number): number;
  txSetLast(slot: number, last: number): number;
  txSetWindow(slot: number, win: number): number;
  txOnAck(slot: number, block: number, now?: number): number;
  txSendable(slot: number): number;
  txNext(slot: number): number;
  txBase(slot: number): number;
  txSent(slot: number, count: number, now: number): number;
  txOnTimeout(slot: number): number;
  rxOpen(win: number, timeoutMs: number, maxRetries: number): number;
  rxStart(slot: number, win: number, timeoutMs: number, maxRetries: number): number;
  rxSetWindow(slot: number, win: number): number;
  rxOnData(slot: number, block: number, len: number, blksize: number, now: number): number;
  rxAckBlock(slot: number): number;
  rxReceived(slot: number): number;
  rxAcked(slot: number, now: number): number;
  rxOnTimeout(slot: number): number;
  nextDeadline(): number;
  expire(now: number): number;
  timersQueued(): number;
}

export interface Core {
  x: CoreExports;
  IN: number;
  OUT: number;
  RES: number; // byte offset
  OPTS: number;
  KNOWN: number; // byte offset of the known-option table
  KNOWN_STRIDE: number; // bytes per row
  KNOWN_OPTIONS: number; // rows
  LIMITS: number; // byte offset of negotiate's Limits structure
  PACKET_MAX: number;
  MAX_OPTIONS: number;
  u8: Buffer;
  i32: Int32Array;
  f64: Float64Array;
  /** Call after anything that may grow memory; cheap when nothing changed. */
  refresh(): void;
}

/** Session slots reserved in the core (per thread); TFTPKIT_CORE_SLOTS overrides. */
export const DEFAULT_SLOTS = 1 << 16;

let compiled: WebAssembly.Module | undefined;
let instance: Core | undefined;

function wasmPath(): URL {
  return new URL("../build/core.wasm", import.meta.url);
}

/** The compiled module (compiled once per process; shareable with worker threads). */
export function coreModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(wasmPath()));
  return compiled;
}

/** The core instance of this thread, created on first use. */
export function core(): Core {
  if (instance) return instance;
  const inst = new WebAssembly.Instance(coreModule(), {});
  const x = inst.exports as unknown as CoreExports;
  const slots = Number(process.env.TFTPKIT_CORE_SLOTS) || DEFAULT_SLOTS;
  const reserved = x.schedInit(slots);
  if (reserved < 0) throw new Error(`tftpkit core: cannot reserve ${slots} session slots (status ${-reserved})`);
  let buffer = x.memory.buffer;
  const c: Core = {
    x,
    IN: x.IN.value as number,
    OUT: x.OUT.value as number,
    RES: x.RES.value as number,
    OPTS: x.OPTS.value as number,
    KNOWN: x.KNOWN.value as number,
    KNOWN_STRIDE: x.KNOWN_STRIDE.value as number,
    KNOWN_OPTIONS: x.KNOWN_OPTIONS.value as number,
    LIMITS: x.LIMITS.value as number,
    PACKET_MAX: x.PACKET_MAX.value as number,
    MAX_OPTIONS: x.MAX_OPTIONS.value as number,
    u8: Buffer.from(buffer),
    i32: new Int32Array(buffer),
    f64: new Float64Array(buffer),
    refresh() {
      if (x.memory.buffer !== buffer) {
        buffer = x.memory.buffer;
        c.u8 = Buffer.from(buffer);
        c.i32 = new Int32Array(buffer);
        c.f64 = new Float64Array(buffer);
      }
    },
  };
  instance = c;
  return c;
}
