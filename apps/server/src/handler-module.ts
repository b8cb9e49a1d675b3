// Loads a user handler module for `tftpkit serve --handler FILE`.
//
// The module's default export (or named export `handler`) is called as
// `handler(request, { root, file, TftpError })`. It returns what
// @tftpkit/server accepts (bytes, a string, a stream, file(path),
// { body, size }), or undefined to fall through to the files under --root
// (the client's own root when clientRoots are configured).

import { register } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  TftpError, file,
  type ReadHandler, type ReadRequest, type ReadResponse, type RootResolver,
} from "@tftpkit/server";

export interface HandlerHelpers {
  /** The secure resolver of --root for this client (undefined without --root). */
  root: RootResolver | undefined;
  file: typeof file;
  TftpError: typeof TftpError;
}

export type UserHandler = (
  request: ReadRequest,
  helpers: HandlerHelpers,
) => ReadResponse | undefined | null | Promise<ReadResponse | undefined | null>;

let hooksRegistered = false;

/** Lets handler modules outside tftpkit's installation import the packages it ships (see handler-hooks.ts). */
function registerHandlerHooks(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  register(new URL("./handler-hooks.js", import.meta.url));
}

export async function loadHandler(path: string, selectRoot: ((address: string) => RootResolver) | undefined): Promise<ReadHandler> {
  registerHandlerHooks();
  // A query string defeats the module cache, so that SIGHUP reloads an edited handler.
  const url = `${pathToFileURL(resolve(path)).href}?v=${Date.now()}`;
  const mod = (await import(url)) as { default?: unknown; handler?: unknown };
  const user = (mod.default ?? mod.handler) as UserHandler | undefined;
  if (typeof user !== "function") {
    throw new Error(`${path}: the module must export a handler function (default export or "handler")`);
  }
  return async (request) => {
    const root = selectRoot?.(request.peer.address);
    const answer = await user(request, { root, file, TftpError });
    if (answer !== undefined && answer !== null) return answer;
    if (!root) throw TftpError.notFound();
    return root.file(request.path);
  };
}
