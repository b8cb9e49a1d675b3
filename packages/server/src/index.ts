export {
  fileWriteTarget, rootWriteHandler,
  type WriteHandler, type WriteRequest, type WriteTarget,
} from "./files/write.js";
export { createServer, TftpServer, type ListenOptions, type BoundAddress, type ReceiveBuffer, type RelayListener } from "./server.js";
export { UdpListeners, type Listener, type UdpListenersOptions } from "./net/listeners.js";
export {
  file, FileResponse,
  type Body, type ReadHandler, type ReadRequest, type ReadResponse, type SizedBody,
} from "./handler.js";
export { rootHandler, RootResolver, safeSegments } from "./files/root.js";
export { parseBootPath, bootIdentity, hexToIpv4, type BootPath, type BootPathKind, type BootIdentity } from "./files/bootpath.js";
export { DEFAULTS, SERVER_OPTIONS, TftpConfigError, type Admission, type PathRewrite, type ServerOptions, type ServerOptionTable } from "./options.js";
export { ConfigErrorCode, type ConfigProblem, type OptionSpec } from "@tftpkit/wasm-core";
export { describeError, type HandlerError, type Outcome, type ServerStats, type SessionStats, type Endpoint } from "./observe/stats.js";
export { emptyServerStats } from "./observe/stats.js";
export { addCounts, mergeServerStats, mergeSummaries } from "./observe/merge.js";
export { TftpError, WireError, toTftpError, type TftpErrorCode } from "@tftpkit/wasm-core";
export {
  splitTraceparent,
  type Instrumentation, type SessionInfo, type SessionObserver,
} from "./observe/instrument.js";
export { createOtelInstrumentation, parentContext, type OtelInstrumentationOptions } from "./observe/telemetry.js";
export {
  rootSelector, ROOT_DEFAULTS,
  type ClientRoot, type RootHandlerOptions, type RootOptions,
} from "./files/root.js";
export {
  compileRemapRules, readRemapFile, RemapSyntaxError, REMAP_DEFAULTS,
  type RewriteFn, type RewriteContext, type RewriteResult, type RemapOptions,
} from "./files/remap.js";
export { translateEre } from "./files/ere.js";
export { compileAddressMatch, parseAddress } from "./files/address-match.js";
export { FLOW_DEFAULTS, type BootFlow, type FlowStep, type FlowContext, type FlowQuery } from "./observe/flows.js";
export type { LiveSession, SessionProgress } from "./observe/live.js";
export type { ServerEvent, ServerEventListener } from "./observe/events.js";
export type { SessionSummary, TopFile, FailingClient } from "./observe/live-tally.js";
