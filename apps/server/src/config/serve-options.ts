// From a validated Config to the options of @tftpkit/server: every library key
// as it is (LIBRARY_KEYS), plus the root handler (case-insensitive lookup,
// per-client roots), the handler module and the remap rules.

import {
  readRemapFile, rootHandler, rootSelector,
  type Instrumentation, type ReadHandler, type ServerOptions, type SessionStats, type WarmUpHooks,
} from "@tftpkit/server";
import { LIBRARY_KEYS, type Config } from "./config.js";
import { loadHandler } from "../handler/handler-module.js";

export interface Extras {
  onSessionEnd?: (s: SessionStats) => void;
  instrumentation?: Instrumentation;
  /** The warm-up's own hooks, of the same kind as these, writing nowhere (observe/warm-up-hooks.ts). */
  warmUpHooks?: () => WarmUpHooks;
  /** Where the HTTP stage listens, once it does (handler modules get it as helpers.http). */
  http?: () => { host: string | undefined; port: number } | undefined;
}

export async function buildServerOptions(c: Config, extras: Extras = {}): Promise<ServerOptions> {
  const rootOpts = { caseInsensitive: c.caseInsensitive, clientRoots: c.clientRoots, statCacheMs: c.statCacheMs };
  let handler: ReadHandler | undefined;
  if (c.handler) {
    handler = await loadHandler(c.handler, c.root ? rootSelector(c.root, rootOpts) : undefined, extras.http);
  } else if (c.root) {
    handler = rootHandler(c.root, rootOpts);
  }
  const library: Record<string, unknown> = {};
  for (const k of LIBRARY_KEYS) library[k] = c[k];
  return {
    ...(library as Omit<ServerOptions, "handler">),
    handler,
    rewrite: c.remap ? await readRemapFile(c.remap) : undefined,
    onSessionEnd: extras.onSessionEnd,
    instrumentation: extras.instrumentation,
    warmUpHooks: extras.warmUpHooks,
  };
}
