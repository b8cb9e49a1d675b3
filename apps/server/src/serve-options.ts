// From a validated Config to the options of @tftpkit/server: the root handler
// (case-insensitive lookup, per-client roots), the handler module, the remap
// rules, writes and limits.

import {
  readRemapFile, rootHandler, rootSelector,
  type Instrumentation, type ReadHandler, type ServerOptions, type SessionStats,
} from "@tftpkit/server";
import type { Config } from "./config.js";
import { loadHandler } from "./handler-module.js";

export interface Extras {
  onSessionEnd?: (s: SessionStats) => void;
  instrumentation?: Instrumentation;
}

export async function buildServerOptions(c: Config, extras: Extras = {}): Promise<ServerOptions> {
  const rootOpts = { caseInsensitive: c.caseInsensitive, clientRoots: c.clientRoots };
  let handler: ReadHandler | undefined;
  if (c.handler) {
    handler = await loadHandler(c.handler, c.root ? rootSelector(c.root, rootOpts) : undefined);
  } else if (c.root) {
    handler = rootHandler(c.root, rootOpts);
  }
  return {
    root: c.root,
    handler,
    maxBlksize: c.maxBlksize,
    maxWindowsize: c.maxWindowsize,
    timeout: c.timeout,
    retries: c.retries,
    handlerTimeoutMs: c.handlerTimeoutMs,
    allowWrite: c.allowWrite,
    allowOverwrite: c.allowOverwrite,
    maxUploadBytes: c.maxUploadBytes,
    maxFileBytes: c.maxFileBytes,
    fileCacheBytes: c.fileCacheBytes,
    fileCacheMaxFileBytes: c.fileCacheMaxFileBytes,
    mtu: c.mtu,
    refuseOptions: c.refuseOptions,
    singlePort: c.singlePort,
    portRange: c.portRange,
    maxSessions: c.maxSessions,
    maxSessionsPerClient: c.maxSessionsPerClient,
    rateLimit: c.rateLimit,
    rateBurst: c.rateBurst,
    rewrite: c.remap ? await readRemapFile(c.remap) : undefined,
    onSessionEnd: extras.onSessionEnd,
    instrumentation: extras.instrumentation,
  };
}
