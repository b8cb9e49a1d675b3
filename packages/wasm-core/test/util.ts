// Shared helpers of the wasm-core tests.

import { wasmCodec, type Codec, type Decoded } from "../src/index.js";
import { referenceCodec } from "../src/testing.js";

/** Both implementations of the Codec surface: every table runs against each. */
export const codecs: Array<[string, Codec]> = [
  ["wasmCodec", wasmCodec],
  ["referenceCodec", referenceCodec],
];

/** Bytes from a hex string; spaces and `|` (field separators) are ignored. */
export { hex } from "@tftpkit/test-support";

/** Lower-case hex of bytes, no separators. */
export function toHex(b: Uint8Array | null): string | null {
  return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Hex of the ASCII/latin1 text (for building fixtures from readable parts). */
export function ascii(s: string): string {
  return Buffer.from(s, "latin1").toString("hex");
}

/** A decode result with byte arrays as hex, for deep equality across codecs. */
export function norm(d: Decoded): unknown {
  if (d.opcode === 3) return { ...d, data: toHex(d.data) };
  return d;
}

/** What a call did: its result, or the class and message of what it threw. */
export function outcome<T>(f: () => T, map: (v: T) => unknown = (v) => v): unknown {
  try {
    return { ok: map(f()) };
  } catch (e) {
    return { threw: (e as Error).constructor.name, message: (e as Error).message };
  }
}
