// Status numbers returned by the WebAssembly core (assembly/status.ts) and
// the one place they become typed errors.

export const Status = {
  OK: 0,
  TOO_SHORT: 1,
  BAD_OPCODE: 2,
  FILENAME_UNTERMINATED: 3,
  FILENAME_EMPTY: 4,
  MODE_UNTERMINATED: 5,
  MODE_UNKNOWN: 6,
  OPTION_UNTERMINATED: 7,
  OPTION_NO_VALUE: 8,
  OPTION_EMPTY_NAME: 9,
  TOO_MANY_OPTIONS: 10,
  MESSAGE_UNTERMINATED: 11,
  TOO_LONG: 12,
  BAD_ERROR_CODE: 13,
  ARGUMENT: 20,
  NO_SLOT: 30,
  BAD_SLOT: 31,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const messages: Record<number, string> = {
  [Status.TOO_SHORT]: "packet truncated",
  [Status.BAD_OPCODE]: "unknown opcode",
  [Status.FILENAME_UNTERMINATED]: "file name not terminated",
  [Status.FILENAME_EMPTY]: "empty file name",
  [Status.MODE_UNTERMINATED]: "mode not terminated",
  [Status.MODE_UNKNOWN]: "unknown transfer mode",
  [Status.OPTION_UNTERMINATED]: "option not terminated",
  [Status.OPTION_NO_VALUE]: "option without a value",
  [Status.OPTION_EMPTY_NAME]: "empty option name",
  [Status.TOO_MANY_OPTIONS]: "too many options",
  [Status.MESSAGE_UNTERMINATED]: "error message not terminated",
  [Status.TOO_LONG]: "packet too long",
  [Status.BAD_ERROR_CODE]: "error code out of range",
  [Status.ARGUMENT]: "argument out of range",
  [Status.NO_SLOT]: "session table full",
  [Status.BAD_SLOT]: "no such session slot",
};

export function statusMessage(status: number): string {
  return messages[status] ?? `status ${status}`;
}

/** Stable string codes of library errors (like undici's UND_ERR_*). */
export type TftpErrorCode =
  | "TFTP_ERR_MALFORMED"
  | "TFTP_ERR_NOT_FOUND"
  | "TFTP_ERR_ACCESS"
  | "TFTP_ERR_DISK_FULL"
  | "TFTP_ERR_ILLEGAL_OPERATION"
  | "TFTP_ERR_UNKNOWN_TID"
  | "TFTP_ERR_FILE_EXISTS"
  | "TFTP_ERR_NO_SUCH_USER"
  | "TFTP_ERR_OPTION_REFUSED"
  | "TFTP_ERR_UNDEFINED"
  | "TFTP_ERR_TIMEOUT"
  | "TFTP_ERR_ABORTED"
  | "TFTP_ERR_REMOTE"
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
  readonly status: number;
  constructor(status: number) {
    super(WireError.ILLEGAL_OPERATION, `Malformed packet: ${statusMessage(status)}`, "TFTP_ERR_MALFORMED");
    this.name = "TftpMalformedError";
    this.status = status;
  }
}

/** Maps a Node.js system error (ENOENT, EACCES, ...) to a TftpError; anything else is ERROR 0 with a safe message. */
export function toTftpError(err: unknown): TftpError {
  if (err instanceof TftpError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
    case "EISDIR":
    case "ENAMETOOLONG":
    case "ELOOP":
      return new TftpError(WireError.NOT_FOUND, "File not found", undefined, { cause: err });
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new TftpError(WireError.ACCESS_VIOLATION, "Access violation", undefined, { cause: err });
    case "ENOSPC":
    case "EDQUOT":
    case "EFBIG":
      return new TftpError(WireError.DISK_FULL, "Disk full or allocation exceeded", undefined, { cause: err });
    case "EEXIST":
      return new TftpError(WireError.FILE_EXISTS, "File already exists", undefined, { cause: err });
    default:
      return new TftpError(WireError.UNDEFINED, "Internal server error", "TFTP_ERR_UNDEFINED", { cause: err });
  }
}
