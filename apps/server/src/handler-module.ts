// Loads a user handler module for `tftpkit serve --handler FILE`.
//
// The module's default export (or named export `handler`) is called as
// `handler(request, { root, file })`. It returns what @tftpkit/server accepts
// (bytes, a string, a stream, file(path), { body, size }), or undefined to
// fall through to the files under --root.

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  RootResolver, TftpError, file,
  type ReadHandler, type ReadRequest, type ReadResponse,
} from "@tftpkit/server";

export interface HandlerHelpers {
  /** The secure resolver of --root (undefined without --root). */
  root: RootResolver | undefined;
  file: typeof file;
  TftpError: typeof TftpError;
}

export type UserHandler = (
  request: ReadRequest,
  helpers: HandlerHelpers,
) => ReadResponse | undefined | null | Promise<ReadResponse | undefined | null>;

export async function loadHandler(path: string, root: string | undefined): Promise<ReadHandler> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown; handler?: unknown };
  const user = (mod.default ?? mod.handler) as UserHandler | undefined;
  if (typeof user !== "function") {
    throw new Error(`${path}: the module must export a handler function (default export or "handler")`);
  }
  const resolver = root ? new RootResolver(root) : undefined;
  const helpers: HandlerHelpers = { root: resolver, file, TftpError };
  return async (request) => {
    const answer = await user(request, helpers);
    if (answer !== undefined && answer !== null) return answer;
    if (!resolver) throw TftpError.notFound();
    return resolver.file(request.path);
  };
}
