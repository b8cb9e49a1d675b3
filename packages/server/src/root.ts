// Files under a root, with no way out of it: ".." segments are refused,
// absolute names are taken relative to the root, backslashes are read as
// slashes, and symlinks are followed only while they stay inside the root.

import { realpath } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { TftpError, toTftpError } from "@tftpkit/wasm-core";
import { file, type ReadHandler, type FileResponse } from "./handler.js";

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

export class RootResolver {
  private rootReal: Promise<string>;
  constructor(readonly root: string) {
    this.rootReal = realpath(resolve(root));
    this.rootReal.catch(() => {});
  }

  /** The real path of `requested` under the root; ERROR 1 if missing, ERROR 2 if it leads outside. */
  async resolve(requested: string): Promise<string> {
    const segments = safeSegments(requested);
    const rootReal = await this.rootReal.catch((err) => {
      throw toTftpError(err);
    });
    let real: string;
    try {
      real = await realpath(rootReal + sep + segments.join(sep));
    } catch (err) {
      throw toTftpError(err);
    }
    if (real !== rootReal && !real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep)) {
      throw TftpError.accessViolation("Access violation: path leaves the root");
    }
    return real;
  }

  async file(requested: string): Promise<FileResponse> {
    return file(await this.resolve(requested));
  }
}

/** A handler that serves the files under `root`. */
export function rootHandler(root: string): ReadHandler {
  const r = new RootResolver(root);
  return (req) => r.file(req.path);
}
