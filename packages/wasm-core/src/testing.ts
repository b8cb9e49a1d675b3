// @tftpkit/wasm-core/testing: the pure TypeScript reference codec. It has the
// semantics of the WebAssembly codec and exists for differential tests and
// the codec benchmark; servers and clients use `wasmCodec`.

export { referenceCodec } from "./reference.js";
