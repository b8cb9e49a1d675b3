// Errors of a transfer: a TftpError (stable TFTP_ERR_* code, wire code 0-8)
// with the transfer's stats and whether the server sent it.

import { TftpError, type TftpErrorCode } from "@tftpkit/wasm-core";
import type { TransferStats } from "./stats.js";

export class TftpTransferError extends TftpError {
  /** True when the server answered an ERROR packet; false for local failures (timeout, abort, bad packets). */
  readonly remote: boolean;
  /** Filled in when the transfer ends. */
  stats!: TransferStats;
  constructor(wireCode: number, message: string, remote: boolean, code?: TftpErrorCode, options?: { cause?: unknown }) {
    super(wireCode, message, code, options);
    this.name = "TftpTransferError";
    this.remote = remote;
  }
}
