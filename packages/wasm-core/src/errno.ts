// Node.js system errors (ENOENT, EACCES, ...) as TFTP errors: the one place
// an errno becomes a wire code.

import { TftpError, WireError } from "./errors.js";

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
