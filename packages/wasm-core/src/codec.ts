// The WebAssembly implementation of the Codec surface. Packets are copied into
// the core's IN region, results read back from RES, OPTS and the known-option
// table as numbers and (offset, length) pairs.

import { core, type Core } from "./core.js";
import { Status } from "./status.js";
import {
  type AskedOptions, type Codec, type Decoded, type Mode, type Negotiated, type NegotiationLimits,
  type RequestFields, BLKSIZE_MAX, KNOWN_OPTIONS, Opcode, refuseBits,
} from "./types.js";

// RES indexes (assembly/layout.ts)
const RES_OPCODE = 0;
const RES_BLOCK = 1;
const RES_OFF = 2;
const RES_LEN = 3;
const RES_MODE = 4;
const RES_NOPTS = 5;
const RES_PENDING_CR = 12;

// Known-option table rows (assembly/layout.ts KNOWN): asked f64 at +0, value f64 at +8, rank i32 at +16.
const K_ASKED = 0; // f64 index in a row
const K_VALUE = 1; // f64 index
const K_RANK = 4; // i32 index

// Limits structure (assembly/options.ts Limits): tsize f64, then i32 fields.
const L_TSIZE = 0; // f64 index
const L_MAX_BLKSIZE = 2; // i32 indexes
const L_MAX_WINDOWSIZE = 3;
const L_MAX_TIMEOUT = 4;
const L_WRITE = 5;
const L_REFUSE = 6;

/** Default NegotiationLimits.maxTimeout: the RFC 2349 maximum. */
const TIMEOUT_MAX = 255;

const MODES: Record<number, Mode> = { 1: "octet", 2: "netascii", 3: "mail" };
const MODE_CODE: Record<Mode, number> = { octet: 1, netascii: 2, mail: 3 };

function copyIn(c: Core, packet: Uint8Array): number {
  const len = Math.min(packet.length, c.PACKET_MAX + 1);
  c.u8.set(len === packet.length ? packet : packet.subarray(0, len), c.IN);
  return packet.length > c.PACKET_MAX ? c.PACKET_MAX + 1 : len;
}

function outCopy(c: Core, len: number): Uint8Array {
  return Uint8Array.prototype.slice.call(c.u8, c.OUT, c.OUT + len);
}

/** f64 index of row k's field `f` in the known-option table. */
function kf(c: Core, k: number, f: number): number {
  return ((c.KNOWN + k * c.KNOWN_STRIDE) >> 3) + f;
}
/** i32 index of row k's field `f`. */
function ki(c: Core, k: number, f: number): number {
  return ((c.KNOWN + k * c.KNOWN_STRIDE) >> 2) + f;
}

// Rows of the known-option table, in KNOWN_OPTIONS order.
const K_BLKSIZE = 0;
const K_TSIZE = 1;
const K_TIMEOUT = 2;
const K_WINDOWSIZE = 3;

function readAsked(c: Core): AskedOptions {
  const f = c.f64;
  const i = c.i32;
  return {
    blksize: f[kf(c, K_BLKSIZE, K_ASKED)],
    tsize: f[kf(c, K_TSIZE, K_ASKED)],
    timeout: f[kf(c, K_TIMEOUT, K_ASKED)],
    windowsize: f[kf(c, K_WINDOWSIZE, K_ASKED)],
    ranks: [i[ki(c, K_BLKSIZE, K_RANK)], i[ki(c, K_TSIZE, K_RANK)], i[ki(c, K_TIMEOUT, K_RANK)], i[ki(c, K_WINDOWSIZE, K_RANK)]],
  };
}

/** Puts values (and ranks, when given) of the known options into the table. */
function writeKnown(c: Core, values: readonly (number | undefined)[], ranks?: readonly number[]): void {
  for (let k = 0; k < KNOWN_OPTIONS.length; k++) {
    c.f64[kf(c, k, K_ASKED)] = values[k] ?? -1;
    c.f64[kf(c, k, K_VALUE)] = values[k] ?? -1;
    c.i32[ki(c, k, K_RANK)] = ranks ? ranks[k] : -1;
  }
}

function readOptions(c: Core): Array<[string, string]> {
  const n = c.i32[(c.RES >> 2) + RES_NOPTS];
  const t = c.OPTS >> 2;
  const out: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const no = c.IN + c.i32[t + i * 4];
    const nl = c.i32[t + i * 4 + 1];
    const vo = c.IN + c.i32[t + i * 4 + 2];
    const vl = c.i32[t + i * 4 + 3];
    out.push([c.u8.toString("latin1", no, no + nl).toLowerCase(), c.u8.toString("utf8", vo, vo + vl)]);
  }
  return out;
}

function decode(packet: Uint8Array): Decoded {
  const c = core();
  const len = copyIn(c, packet);
  const status = c.x.decode(len);
  const r = c.RES >> 2;
  const opcode = c.i32[r + RES_OPCODE];
  if (status !== Status.OK && status !== Status.MESSAGE_UNTERMINATED && status !== Status.BAD_ERROR_CODE) {
    return { opcode: 0, status, claimed: opcode };
  }
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const off = c.IN + c.i32[r + RES_OFF];
      return {
        opcode,
        filename: c.u8.toString("utf8", off, off + c.i32[r + RES_LEN]),
        mode: MODES[c.i32[r + RES_MODE]],
        options: readOptions(c),
        asked: readAsked(c),
      };
    }
    case Opcode.DATA:
      return { opcode, block: c.i32[r + RES_BLOCK], data: packet.subarray(4) };
    case Opcode.ACK:
      return { opcode, block: c.i32[r + RES_BLOCK] };
    case Opcode.ERROR: {
      const off = c.IN + c.i32[r + RES_OFF];
      return { opcode, code: c.i32[r + RES_BLOCK], message: c.u8.toString("utf8", off, off + c.i32[r + RES_LEN]) };
    }
    default:
      return { opcode: Opcode.OACK, options: readOptions(c), asked: readAsked(c) };
  }
}

function decodeAck(packet: Uint8Array): number {
  const c = core();
  const n = packet.length < 8 ? packet.length : 8;
  for (let i = 0; i < n; i++) c.u8[c.IN + i] = packet[i];
  return c.x.decodeAck(packet.length);
}

function encodeData(block: number, payload: Uint8Array): Uint8Array {
  const c = core();
  if (payload.length > BLKSIZE_MAX) throw new RangeError(`DATA payload larger than ${BLKSIZE_MAX} bytes`);
  c.u8.set(payload, c.OUT + 4);
  return outCopy(c, c.x.encodeData(block, payload.length));
}

function encodeAck(block: number): Uint8Array {
  const c = core();
  return outCopy(c, c.x.encodeAck(block));
}

function encodeError(code: number, message: string): Uint8Array {
  const c = core();
  const msg = Buffer.from(message, "utf8");
  // At most 500 bytes, without cutting a UTF-8 sequence in two.
  let len = Math.min(msg.length, 500);
  if (len < msg.length) while (len > 0 && (msg[len] & 0xc0) === 0x80) len--;
  c.u8.set(msg.subarray(0, len), c.OUT + 4);
  const n = c.x.encodeError(code, len);
  if (n < 0) throw new RangeError(`bad TFTP error code ${code}`);
  return outCopy(c, n);
}

function encodeRequest(f: RequestFields): Uint8Array {
  const c = core();
  const name = Buffer.from(f.filename, "utf8");
  if (name.length === 0 || name.length > 1024) throw new RangeError("file name must be 1..1024 bytes");
  c.u8.set(name, c.IN);
  writeKnown(c, KNOWN_OPTIONS.map((k) => f[k]));
  const n = c.x.encodeRequest(f.opcode, name.length, MODE_CODE[f.mode]);
  if (n < 0) throw new RangeError("bad request fields (NUL in file name?)");
  return outCopy(c, n);
}

export function refuseMask(refuse: NegotiationLimits["refuse"]): number {
  let m = 0;
  for (const r of refuse ?? []) m |= refuseBits[r];
  return m;
}

/**
 * `x` itself, as an int32 when it is one (V8 then keeps it unboxed). Any other
 * number (a fraction, -0, a huge one) is returned as it is.
 */
function smallInt(x: number): number {
  const i = x | 0;
  return Object.is(i, x) ? i : x;
}

function negotiate(a: AskedOptions, l: NegotiationLimits): Negotiated {
  const c = core();
  writeKnown(c, [a.blksize, a.tsize, a.timeout, a.windowsize], a.ranks);
  const f = c.LIMITS >> 3;
  const i = c.LIMITS >> 2;
  c.f64[f + L_TSIZE] = l.tsize;
  c.i32[i + L_MAX_BLKSIZE] = l.maxBlksize;
  c.i32[i + L_MAX_WINDOWSIZE] = l.maxWindowsize;
  c.i32[i + L_MAX_TIMEOUT] = l.maxTimeout ?? TIMEOUT_MAX;
  c.i32[i + L_WRITE] = l.write ? 1 : 0;
  c.i32[i + L_REFUSE] = refuseMask(l.refuse);
  const n = c.x.negotiate(c.LIMITS);
  const v = c.f64;
  // The granted blksize, timeout and windowsize are small integers (or -1) for any request
  // from the wire: smallInt hands them on as V8 stores small integers, and `oack` comes first
  // so that this object's hidden class is not the asked options' (same first keys, values
  // that may be any number). Otherwise compiled code boxes them, and every field they reach (a
  // session's blksize, its sender's ring sizes, the buffer budget's byte counts) changes to
  // boxed numbers during the warm-up: the server's own objects, made before it, then met
  // compiled code that expects the new hidden class, and it was thrown away at the first real
  // session.
  return {
    oack: n > 0 ? outCopy(c, n) : null,
    blksize: smallInt(v[kf(c, K_BLKSIZE, K_VALUE)]),
    tsize: v[kf(c, K_TSIZE, K_VALUE)],
    timeout: smallInt(v[kf(c, K_TIMEOUT, K_VALUE)]),
    windowsize: smallInt(v[kf(c, K_WINDOWSIZE, K_VALUE)]),
  };
}

/** Largest chunk translated per core call (output may be twice as long). */
const NETASCII_CHUNK = 65536;

function netasciiEncode(chunk: Uint8Array): Uint8Array {
  const c = core();
  const parts: Uint8Array[] = [];
  for (let o = 0; o < chunk.length; o += NETASCII_CHUNK) {
    const piece = chunk.subarray(o, o + NETASCII_CHUNK);
    c.u8.set(piece, c.IN);
    parts.push(outCopy(c, c.x.netasciiEncode(piece.length)));
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

function netasciiDecode(chunk: Uint8Array, pendingCR: boolean): { data: Uint8Array; pendingCR: boolean } {
  const c = core();
  const parts: Uint8Array[] = [];
  let cr = pendingCR;
  for (let o = 0; o < chunk.length || (o === 0 && chunk.length === 0); o += NETASCII_CHUNK) {
    const piece = chunk.subarray(o, o + NETASCII_CHUNK);
    c.u8.set(piece, c.IN);
    parts.push(outCopy(c, c.x.netasciiDecode(piece.length, cr ? 1 : 0)));
    cr = c.i32[(c.RES >> 2) + RES_PENDING_CR] === 1;
    if (chunk.length === 0) break;
  }
  return { data: parts.length === 1 ? parts[0] : Buffer.concat(parts), pendingCR: cr };
}

/** The codec backed by the WebAssembly core. */
export const wasmCodec: Codec = {
  decode, decodeAck, encodeData, encodeAck, encodeError, encodeRequest, negotiate, netasciiEncode, netasciiDecode,
};
