// Uploads (WRQ): what a write handler receives and returns, and the atomic
// file target used for writes under a root.
//
// An upload is written to a temporary file beside its destination and moved
// into place (rename, or link for create-only) before the final ACK goes out:
// a client that got its last ACK finds the whole file; a failed or aborted
// upload leaves nothing behind.

import { randomBytes } from "node:crypto";
import { open, link, rename, unlink, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { TftpError, WireError, toTftpError } from "@tftpkit/wasm-core";
import type { ReadRequest } from "../handler.js";
import { RootResolver } from "./root.js";

/** A read request's fields, plus the size the client announced (tsize), or undefined. */
export interface WriteRequest extends ReadRequest {
  size: number | undefined;
}

/** Where an upload goes. `write` is called in order; then exactly one of `commit` or `abort`. */
export interface WriteTarget {
  write(chunk: Uint8Array): void | Promise<void>;
  /** Makes the upload visible, whole. Called before the final ACK. */
  commit(): Promise<void>;
  /** Drops the upload. */
  abort(): Promise<void>;
}

/** Decides where an upload goes. Throw a TftpError to refuse it (e.g. ERROR 2 or 6). */
export type WriteHandler = (request: WriteRequest) => WriteTarget | Promise<WriteTarget>;

/** An upload to `path`, written beside it and moved into place on commit. */
export async function fileWriteTarget(path: string, opts: { overwrite: boolean }): Promise<WriteTarget> {
  if (!opts.overwrite) {
    const exists = await stat(path).then(() => true, () => false);
    if (exists) throw new TftpError(WireError.FILE_EXISTS, "File already exists");
  }
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tftpkit-upload`);
  let fh: FileHandle;
  try {
    fh = await open(temp, "wx", 0o644);
  } catch (err) {
    throw toTftpError(err);
  }
  let closed = false;
  const closeOnce = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      await fh.close();
    }
  };
  return {
    async write(chunk) {
      try {
        await fh.write(chunk);
      } catch (err) {
        throw toTftpError(err);
      }
    },
    async commit() {
      try {
        await closeOnce();
        if (opts.overwrite) {
          await rename(temp, path);
        } else {
          // link() fails if the name appeared meanwhile: create-only stays create-only.
          await link(temp, path);
          await unlink(temp);
        }
      } catch (err) {
        await unlink(temp).catch(() => {});
        throw toTftpError(err);
      }
    },
    async abort() {
      await closeOnce().catch(() => {});
      await unlink(temp).catch(() => {});
    },
  };
}

/** Uploads under `root`: hostile names refused like reads; create-only unless `overwrite`. */
export function rootWriteHandler(root: string, opts: { overwrite: boolean }): WriteHandler {
  const resolver = new RootResolver(root);
  return async (request) => fileWriteTarget(await resolver.resolveForWrite(request.path), opts);
}
