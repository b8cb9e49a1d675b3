// Loads a user handler module for `tftpkit serve --handler FILE`.
//
// The module's default export (or named export `handler`) is called as
// `handler(request, { root, file, TftpError })`. It returns what
// @tftpkit/server accepts (bytes, a string, a stream, file(path),
// { body, size }), or undefined to fall through to the files under --root
// (the client's own root when clientRoots are configured).

import { execFileSync } from "node:child_process";
import { register } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ConfigErrorCode, TftpConfigError, TftpError, file,
  type ReadHandler, type ReadRequest, type ReadResponse, type RootResolver,
} from "@tftpkit/server";

export interface HandlerHelpers {
  /** The secure resolver of --root for this client (undefined without --root). */
  root: RootResolver | undefined;
  file: typeof file;
  TftpError: typeof TftpError;
  /**
   * Where the HTTP stage listens (`--http`), undefined when it is off: its
   * port, and its address unless it listens on every address (then the
   * address the request arrived on, request.local.address, is the one the
   * client reaches).
   */
  http: { host: string | undefined; port: number } | undefined;
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

export async function loadHandler(
  path: string,
  selectRoot: ((address: string) => RootResolver) | undefined,
  http: () => HandlerHelpers["http"] = () => undefined,
): Promise<ReadHandler> {
  registerHandlerHooks();
  // A query string defeats the module cache, so that SIGHUP reloads an edited handler.
  const url = `${pathToFileURL(resolve(path)).href}?v=${Date.now()}`;
  let mod: { default?: unknown; handler?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown; handler?: unknown };
  } catch (err) {
    throw new TftpConfigError({ code: ConfigErrorCode.START, key: "handler", message: `--handler ${path}: cannot load${lineOf(err, path)}: ${describe(err)}` }, undefined, { cause: err });
  }
  const user = (mod.default ?? mod.handler) as UserHandler | undefined;
  if (typeof user !== "function") {
    throw new TftpConfigError({ code: ConfigErrorCode.START, key: "handler", message: `--handler ${path}: the module must export a handler function (default export or "handler")` });
  }
  return async (request) => {
    const root = selectRoot?.(request.peer.address);
    const answer = await user(request, { root, file, TftpError, http: http() });
    if (answer !== undefined && answer !== null) return answer;
    if (!root) throw TftpError.notFound();
    return root.file(request.path);
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name === "Error" ? "" : `${err.name}: `}${err.message}` : String(err);
}

/**
 * " (line N)" where Node says where in the file it failed: the stack of an
 * error thrown while the module ran, or, for a syntax error (whose stack has
 * no line in ESM), what `node --check FILE` reports.
 */
function lineOf(err: unknown, path: string): string {
  const file = resolve(path);
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`(?:file://)?${escaped}(?:\\?[^:\\s]*)?:(\\d+)(?::(\\d+))?`).exec((err as Error | undefined)?.stack ?? "");
  if (m) return ` (line ${m[1]}${m[2] ? `, column ${m[2]}` : ""})`;
  if (!(err instanceof SyntaxError)) return "";
  try {
    execFileSync(process.execPath, ["--check", file], { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
  } catch (check) {
    const first = String((check as { stderr?: Buffer }).stderr ?? "").split("\n")[0];
    const at = /:(\d+)$/.exec(first);
    if (at && first.startsWith(file)) return ` (line ${at[1]})`;
  }
  return "";
}
