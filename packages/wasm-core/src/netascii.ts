// Streaming netascii on top of the core's translators: state carried across
// chunks (a CR at the end of one chunk is decided by the first byte of the next).

import { wasmCodec } from "./codec.js";
import type { Codec } from "./types.js";

/** Local bytes -> netascii wire bytes (LF -> CR LF, CR -> CR NUL). */
export class NetasciiEncoder {
  constructor(private readonly codec: Codec = wasmCodec) {}
  push(chunk: Uint8Array): Uint8Array {
    return this.codec.netasciiEncode(chunk);
  }
}

/** Netascii wire bytes -> local bytes (CR LF -> LF, CR NUL -> CR). */
export class NetasciiDecoder {
  private pendingCR = false;
  constructor(private readonly codec: Codec = wasmCodec) {}
  push(chunk: Uint8Array): Uint8Array {
    const r = this.codec.netasciiDecode(chunk, this.pendingCR);
    this.pendingCR = r.pendingCR;
    return r.data;
  }
  /** At the end of the data: a CR still pending stands for itself. */
  end(): Uint8Array {
    const tail = this.pendingCR ? Uint8Array.of(13) : new Uint8Array(0);
    this.pendingCR = false;
    return tail;
  }
}
