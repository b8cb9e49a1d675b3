// Errors of a transfer: a TftpError (stable TFTP_ERR_* code, wire code 0-8)
// with the transfer's stats and whether the server sent it.

import { TftpError, hasBrand, type TftpErrorCode } from "@tftpkit/wasm-core";
import type { TransferStats } from "./stats.js";

const kTftpTransferError = Symbol.for("tftpkit.error.TftpTransferError");

export class TftpTransferError extends TftpError {
  /** True for a TftpTransferError of any installed copy of this package (a Symbol.for brand). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, kTftpTransferError);
  }
  get [kTftpTransferError](): true {
    return true;
  }
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
