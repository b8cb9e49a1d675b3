/**
 * `@tftpkit/client`: a TFTP client (get and put) on the WebAssembly core.
 *
 * `@tftpkit/client/internal` holds what the load generator needs beyond this
 * surface (the transfer option table and the seeded random helpers); it
 * carries no compatibility promise.
 *
 * @packageDocumentation
 */

export { createClient, TftpClient, type ClientOptions, type GetResult, type GetToOptions, type PutOptions, type TransferResult } from "./client.js";
export { CLIENT_DEFAULTS, RENAMED_TRANSFER_OPTIONS, TftpConfigError, type TransferOptions } from "./options.js";
export { LossInjector, type LossOptions } from "./loss.js";
export { randomTraceparent, withTraceparent } from "./traceparent.js";
export { TftpTransferError } from "./errors.js";
export type { ChunkSink } from "./sink.js";
export type { PutBody } from "./put-body.js";
export type { TransferOutcome, TransferStats } from "./stats.js";
export { TftpError, WireError, type TftpErrorCode } from "@tftpkit/wasm-core";
