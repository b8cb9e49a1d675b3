/**
 * `@tftpkit/server`: a programmable TFTP server. Handlers decide what each
 * read request gets and where each write goes.
 *
 * `@tftpkit/server/internal` holds what the tftpkit apps (the command, its
 * cluster and its admin API) need beyond this surface; it carries no
 * compatibility promise.
 *
 * @packageDocumentation
 */

export {
  fileWriteTarget, rootWriteHandler,
  type WriteHandler, type WriteRequest, type WriteTarget,
} from "./files/write.js";
export {
  createServer, TftpServer,
  type ListenOptions, type BoundAddress, type ReceiveBuffer, type RelayListener, type WarmUpFront,
} from "./server.js";
export { HttpStage, parseRange, type HttpStageStats, type HttpAddress } from "./net/http-stage.js";
export {
  file, FileResponse,
  type Body, type ReadHandler, type ReadRequest, type ReadResponse, type SizedBody,
} from "./handler.js";
export { parseBootPath, bootIdentity, hexToIpv4, type BootPath, type BootPathKind, type BootIdentity } from "./files/bootpath.js";
export { RENAMED_SERVER_OPTIONS, SERVER_DEFAULTS, TftpConfigError, type Admission, type PathRewrite, type ServerOptions, type WarmUpHooks } from "./options.js";
export { ConfigErrorCode, type ConfigProblem } from "@tftpkit/options";
export type { HandlerError, Outcome, ServerStats, SessionStats, Endpoint } from "./observe/stats.js";
export { addCounts, mergeServerStats, mergeSummaries } from "./observe/merge.js";
export { TftpError, WireError, toTftpError, type TftpErrorCode } from "@tftpkit/wasm-core";
export type {
  HttpObserver, HttpRefusal, HttpRequestInfo, HttpResult,
  Instrumentation, SessionInfo, SessionObserver,
} from "./observe/instrument.js";
export { createOtelInstrumentation, type OtelInstrumentationOptions } from "./observe/telemetry.js";
export {
  rootHandler, rootSelector, RootResolver, ROOT_DEFAULTS,
  type ClientRoot, type RootHandlerOptions, type RootOptions,
} from "./files/root.js";
export {
  compileRemapRules, readRemapFile, RemapSyntaxError, REMAP_DEFAULTS,
  type RewriteFn, type RewriteContext, type RewriteResult, type RemapOptions,
} from "./files/remap.js";
export type { BootFlow, FlowStep, FlowStepKind, FlowStage, StepOutcome, SettledOutcome, FlowContext, FlowQuery } from "./observe/flows.js";
export { BOOT_SEQUENCES, type BootSequence } from "./observe/boot-loaders.js";
export type { LiveSession, SessionProgress } from "./observe/live.js";
export type { ServerEvent, ServerEventListener } from "./observe/events.js";
export type { SessionSummary, TopFile, FailingClient } from "./observe/live-tally.js";
export type { WarmUpReport } from "./session/warm-up.js";
