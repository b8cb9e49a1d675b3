export { createClient, TftpClient, type ClientOptions, type GetResult, type GetToOptions, type PutOptions, type TransferResult } from "./client.js";
export {
  CLIENT_DEFAULTS, RENAMED_TRANSFER_OPTIONS, SHARED_TRANSFER_KEYS, TRANSFER_OPTIONS, TftpConfigError, transferOptionTable,
  type SharedTransferOptions, type TransferOptions,
} from "./options.js";
export { LossInjector, prng, mixSeed, type LossOptions } from "./loss.js";
export { randomTraceparent, withTraceparent } from "./traceparent.js";
export { TftpTransferError } from "./errors.js";
export type { ChunkSink } from "./sink.js";
export type { PutBody } from "./put-body.js";
export type { TransferOutcome, TransferStats } from "./stats.js";
export { TftpError, WireError, type TftpErrorCode } from "@tftpkit/wasm-core";
