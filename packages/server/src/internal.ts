// @tftpkit/server/internal: what the tftpkit apps need beyond the public
// surface (the option table the command line and the docs are generated
// from, the listener set the cluster shares, stats arithmetic, path
// segmenting, the warm-ups' interrupt budget). No compatibility promise:
// these change with the apps.

export { SERVER_OPTIONS, type ServerOptionTable } from "./options.js";
export type { OptionSpec } from "@tftpkit/options";
export { UdpListeners, type Listener, type UdpListenersOptions } from "./net/listeners.js";
export { emptyServerStats } from "./observe/stats.js";
export { safeSegments } from "./files/root.js";
export { lowerInterruptBudget } from "./session/interrupt-budget.js";
