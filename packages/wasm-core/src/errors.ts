// The library's public error classes and the TFTP wire error codes.

import { statusMessage } from "./status.js";

// `instanceof` holds across two installed copies of a package (two versions
// in one node_modules tree, or a handler module that resolves its own copy):
// each class checks a brand registered with Symbol.for, not its prototype
// chain. A subclass declares its own brand, or the inherited check would take
// every TftpError for one of it.
const kTftpError = Symbol.for("tftpkit.error.TftpError");
const kTftpMalformedError = Symbol.for("tftpkit.error.TftpMalformedError");

/** Whether `value` is an object carrying `brand` (a Symbol.for key). */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** Stable string codes of library errors (like undici's UND_ERR_*). */
export type TftpErrorCode =
  /** A packet the core refused (`TftpMalformedError`, with the precise status); answered with ERROR 4. */
  | "TFTP_ERR_MALFORMED"
  /** ERROR 1: no such file (a handler's `TftpError.notFound()`, ENOENT). */
  | "TFTP_ERR_NOT_FOUND"
  /** ERROR 2: access violation (outside the root, a refused rule, EACCES, EPERM). */
  | "TFTP_ERR_ACCESS"
  /** ERROR 3: disk full or allocation exceeded (ENOSPC, an upload above maxUploadBytes). */
  | "TFTP_ERR_DISK_FULL"
  /** ERROR 4: illegal TFTP operation. */
  | "TFTP_ERR_ILLEGAL_OPERATION"
  /** ERROR 5: a packet from an unknown transfer ID. */
  | "TFTP_ERR_UNKNOWN_TID"
  /** ERROR 6: the file already exists (an upload without allowOverwrite, EEXIST). */
  | "TFTP_ERR_FILE_EXISTS"
  /** ERROR 7: no such user. */
  | "TFTP_ERR_NO_SUCH_USER"
  /** ERROR 8: option negotiation refused (RFC 2347), e.g. an OACK the client did not ask for. */
  | "TFTP_ERR_OPTION_REFUSED"
  /** ERROR 0 or an unknown wire code: not defined, see the message. */
  | "TFTP_ERR_UNDEFINED"
  /** Too long: the peer went silent (every retransmission unanswered), no progress within stallTimeoutMs, or the handler or its data source did not answer in time. */
  | "TFTP_ERR_TIMEOUT"
  /** The transfer was cut short: on this side (an AbortSignal, a drain, a closed server), or the peer closed its port (a session socket met ICMP port unreachable twice). */
  | "TFTP_ERR_ABORTED"
  /** The peer sent ERROR 0 (client side: `TftpTransferError` with `remote: true`). */
  | "TFTP_ERR_REMOTE"
  /** The WebAssembly core could not take the transfer (its session table is full). */
  | "TFTP_ERR_CORE";

/** TFTP error codes on the wire (RFC 1350, RFC 2347 for 8). */
export const WireError = {
  UNDEFINED: 0,
  NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;
export type WireError = (typeof WireError)[keyof typeof WireError];

const codeForWire: Record<number, TftpErrorCode> = {
  0: "TFTP_ERR_UNDEFINED",
  1: "TFTP_ERR_NOT_FOUND",
  2: "TFTP_ERR_ACCESS",
  3: "TFTP_ERR_DISK_FULL",
  4: "TFTP_ERR_ILLEGAL_OPERATION",
  5: "TFTP_ERR_UNKNOWN_TID",
  6: "TFTP_ERR_FILE_EXISTS",
  7: "TFTP_ERR_NO_SUCH_USER",
  8: "TFTP_ERR_OPTION_REFUSED",
};

/**
 * An error with a TFTP wire code (0-8) and a stable library code. Handlers
 * throw it to answer a request with that ERROR packet.
 */
export class TftpError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, kTftpError);
  }
  get [kTftpError](): true {
    return true;
  }
  readonly code: TftpErrorCode;
  readonly wireCode: number;
  constructor(wireCode: number, message: string, code?: TftpErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TftpError";
    this.wireCode = wireCode;
    this.code = code ?? codeForWire[wireCode] ?? "TFTP_ERR_UNDEFINED";
  }
  static notFound(message = "File not found"): TftpError {
    return new TftpError(WireError.NOT_FOUND, message);
  }
  static accessViolation(message = "Access violation"): TftpError {
    return new TftpError(WireError.ACCESS_VIOLATION, message);
  }
  static illegalOperation(message = "Illegal TFTP operation"): TftpError {
    return new TftpError(WireError.ILLEGAL_OPERATION, message);
  }
}

/** A packet the core refused, with the precise status. Wire code 4 (illegal operation). */
export class TftpMalformedError extends TftpError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, kTftpMalformedError);
  }
  get [kTftpMalformedError](): true {
    return true;
  }
  readonly status: number;
  constructor(status: number) {
    super(WireError.ILLEGAL_OPERATION, `Malformed packet: ${statusMessage(status)}`, "TFTP_ERR_MALFORMED");
    this.name = "TftpMalformedError";
    this.status = status;
  }
}
