// A requested file name as root-relative segments: ".." is refused, absolute
// names are taken relative to the root, backslashes are read as slashes.
// Shared by the root resolver and the boot path parser.

import { TftpError } from "@tftpkit/wasm-core";

/** Normalises a requested name to root-relative segments, or throws ERROR 2 for a hostile one. */
export function safeSegments(requested: string): string[] {
  if (requested.includes("\0")) throw TftpError.accessViolation("Invalid file name");
  const segments: string[] = [];
  for (const s of requested.replace(/\\/g, "/").split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") throw TftpError.accessViolation("Access violation: path leaves the root");
    segments.push(s);
  }
  if (segments.length === 0) throw TftpError.notFound("File not found");
  return segments;
}
