// Every span, event, attribute and metric name tftpkit emits, in one file.
//
// Where OpenTelemetry's semantic conventions have a name (network.*,
// error.type) it is used as is; the rest live under `tftp.`. Metric
// attributes are low-cardinality only: the session kind, its outcome, a
// retransmission's reason and a boot's loader chain; never a file name or an
// address.
//
// Prometheus sees the metric names with dots turned into underscores and
// `_total` added to counters (tftp.server.sessions -> tftp_server_sessions_total).

// ------------------------------------------------------------------- spans

/** Span name of a session: `tftp.read` or `tftp.write` (`${SPAN_PREFIX}${kind}`). */
export const SPAN_PREFIX = "tftp.";

/** Span name of a boot flow: the root (or the traceparent's child) of every session span of one machine's boot. */
export const SPAN_BOOT = "tftp.boot";

/** Instrumentation scope of tracer and meter. */
export const SCOPE_NAME = "@tftpkit/server";

// ------------------------------------------------------- span attributes

export const ATTR_NETWORK_TRANSPORT = "network.transport"; // "udp"
export const ATTR_NETWORK_PEER_ADDRESS = "network.peer.address";
export const ATTR_NETWORK_PEER_PORT = "network.peer.port";
export const ATTR_NETWORK_LOCAL_ADDRESS = "network.local.address";
export const ATTR_NETWORK_LOCAL_PORT = "network.local.port";
/** The outcome, on failed sessions only (semantic conventions' error.type). */
export const ATTR_ERROR_TYPE = "error.type";

export const ATTR_SESSION_ID = "tftp.session.id";
/** "read" or "write" (also a metric attribute). */
export const ATTR_KIND = "tftp.kind";
/** The path the handler saw (a traceparent suffix stripped). */
export const ATTR_PATH = "tftp.path";
export const ATTR_MODE = "tftp.mode";
/** Options the client asked, as `name=value` strings. */
export const ATTR_OPTIONS_ASKED = "tftp.options.asked";
/** Options in the OACK, as `name=value` strings (empty: no OACK). */
export const ATTR_OPTIONS_ACKED = "tftp.options.acked";
export const ATTR_BLKSIZE = "tftp.blksize"; // bytes
export const ATTR_WINDOWSIZE = "tftp.windowsize"; // blocks
/** Transfer size announced or known; -1 unknown. */
export const ATTR_TSIZE = "tftp.tsize"; // bytes
export const ATTR_BYTES_SENT = "tftp.bytes_sent"; // payload bytes, each once
export const ATTR_BYTES_RECEIVED = "tftp.bytes_received"; // writes
export const ATTR_PACKETS_SENT = "tftp.packets_sent"; // retransmissions included
/** Blocks acknowledged by the client (reads) or received (writes). */
export const ATTR_BLOCKS = "tftp.blocks";
export const ATTR_RETRANSMITS = "tftp.retransmits"; // packets sent again
export const ATTR_DUPLICATE_ACKS = "tftp.duplicate_acks";
/** ok, probe, not-found, access-denied, timeout, client-error, handler-error, error, aborted (also a metric attribute). */
export const ATTR_OUTCOME = "tftp.outcome";
/** The session's stage in its boot flow: boot-program, config, kernel, initrd or other. */
export const ATTR_STAGE = "tftp.boot.stage";
/** The session was a miss inside a known config search (not-found, yet not a failure: no error status). */
export const ATTR_SEARCH_MISS = "tftp.boot.search_miss";
/** The TFTP error code (0-8) sent or received. */
export const ATTR_ERROR_CODE = "tftp.error.code";
export const ATTR_ERROR_MESSAGE = "tftp.error.message";
/** The client went silent after the last block instead of acknowledging it. */
export const ATTR_FINAL_ACK_MISSING = "tftp.final_ack_missing";
export const ATTR_HANDLER_DURATION = "tftp.handler.duration_ms"; // ms

// tftp.boot spans (set when the flow ends, but the id)
/** The boot flow's id (as in the admin API's /api/v1/flows). */
export const ATTR_FLOW_ID = "tftp.flow.id";
/** Sessions of the flow (dropped steps included). */
export const ATTR_BOOT_STEPS = "tftp.boot.steps";
/** Sessions of the flow that failed (neither ok, probe nor a search miss). */
export const ATTR_BOOT_FAILED_STEPS = "tftp.boot.failed_steps";
/** Names missing inside known config searches (pxelinux.cfg/01-<mac>, grub.cfg-<hex IP>, ...): not failures. */
export const ATTR_BOOT_SEARCH_MISSES = "tftp.boot.search_misses";
/** Firmware, loaders and OS the flow went through, e.g. "UEFI PXE, GRUB, Linux" (also the time-to-boot metric's attribute). */
export const ATTR_BOOT_LOADER_CHAIN = "tftp.boot.loader_chain";
/** The flow failed: a step failed, or a config search found no config. */
export const ATTR_BOOT_FAILED = "tftp.boot.failed";
/** The config search that found no config (pxelinux.cfg, grub.cfg). */
export const ATTR_BOOT_NO_CONFIG = "tftp.boot.no_config";
/** The flow booted: "last-step" (the handler marked its last file) or "callback" (the machine called back). */
export const ATTR_BOOT_BOOTED_BY = "tftp.boot.booted_by";
/** From the flow's first packet to booted (booted flows only). */
export const ATTR_BOOT_TIME_TO_BOOT = "tftp.boot.time_to_boot_ms"; // ms
export const ATTR_BOOT_PROBES = "tftp.boot.probes";
export const ATTR_BOOT_LAST_PATH = "tftp.boot.last_path";
export const ATTR_BOOT_LAST_OUTCOME = "tftp.boot.last_outcome";
/** How the path named the machine: mac, ip or serial. */
export const ATTR_BOOT_IDENTITY_KIND = "tftp.boot.identity.kind";
/** The MAC, IPv4 address or serial number the path named. */
export const ATTR_BOOT_IDENTITY = "tftp.boot.identity";

// ---------------------------------------------------------------- events

/** Options negotiated (attributes: options acked, blksize, windowsize, tsize). */
export const EVENT_NEGOTIATED = "tftp.negotiated";
/** Packets sent again (attributes: first block, count, reason). */
export const EVENT_RETRANSMIT = "tftp.retransmit";
/** A retransmission deadline passed (attribute: retry number). */
export const EVENT_TIMEOUT = "tftp.timeout";
/** A packet from another address/port reached the session (attributes: its network.peer.*). */
export const EVENT_UNKNOWN_TID = "tftp.unknown_tid";

export const ATTR_RETRANSMIT_FROM = "tftp.retransmit.from_block";
export const ATTR_RETRANSMIT_COUNT = "tftp.retransmit.count";
/** "timeout" or "gap" (also a metric attribute). */
export const ATTR_RETRANSMIT_REASON = "tftp.retransmit.reason";
export const ATTR_RETRY = "tftp.retry";

// --------------------------------------------------------------- metrics

/** Counter {session}: finished sessions, by tftp.kind and tftp.outcome. */
export const METRIC_SESSIONS = "tftp.server.sessions";
/** UpDownCounter {session} (observed at collection): sessions running now, by tftp.kind. */
export const METRIC_ACTIVE_SESSIONS = "tftp.server.active_sessions";
/** Counter By: payload bytes sent (each block once), by tftp.kind. */
export const METRIC_BYTES_SENT = "tftp.server.bytes_sent";
/** Counter By: payload bytes received (writes), by tftp.kind. */
export const METRIC_BYTES_RECEIVED = "tftp.server.bytes_received";
/** Counter {packet}: packets sent again, by tftp.kind and tftp.retransmit.reason. */
export const METRIC_RETRANSMITS = "tftp.server.retransmits";
/** Counter {packet}: packets the server could not decode. */
export const METRIC_MALFORMED = "tftp.server.malformed_packets";
/** Counter {packet}: packets from an unknown transfer ID reaching a session. */
export const METRIC_UNKNOWN_TID = "tftp.server.unknown_tid_packets";
/** Histogram s: session duration, by tftp.kind and tftp.outcome. */
export const METRIC_SESSION_DURATION = "tftp.server.session.duration";
/** Histogram s: time the handler took to answer, by tftp.kind and tftp.outcome. */
export const METRIC_HANDLER_DURATION = "tftp.server.handler.duration";

/** Histogram s: time to boot (first packet of a boot flow to booted), by tftp.boot.loader_chain. */
export const METRIC_BOOT_DURATION = "tftp.boot.duration";

/** Bucket boundaries (seconds) of the time-to-boot histogram: 1 s .. 1 h. */
export const BOOT_DURATION_BUCKETS = [1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600];
/** Bucket boundaries (seconds) of the session duration histogram: 5 ms .. 5 min. */
export const SESSION_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Bucket boundaries (seconds) of the handler latency histogram: 0.1 ms .. 30 s. */
export const HANDLER_DURATION_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// --------------------------------------------------------- the HTTP stage
// Requests to the HTTP stage (net/http-stage.ts) use OpenTelemetry's HTTP
// semantic conventions: span name the method, SpanKind.SERVER, and the
// names below as they are.

/** Span attributes and metric attributes (method, status code, scheme, protocol version). */
export const ATTR_HTTP_REQUEST_METHOD = "http.request.method";
export const ATTR_HTTP_RESPONSE_STATUS_CODE = "http.response.status_code";
export const ATTR_URL_SCHEME = "url.scheme"; // "http"
export const ATTR_URL_PATH = "url.path";
export const ATTR_NETWORK_PROTOCOL_VERSION = "network.protocol.version"; // "1.1"
export const ATTR_CLIENT_ADDRESS = "client.address";
export const ATTR_CLIENT_PORT = "client.port";
export const ATTR_SERVER_PORT = "server.port";
export const ATTR_USER_AGENT = "user_agent.original";
/** The Range header as asked. */
export const ATTR_HTTP_RANGE = "http.request.header.range";
/** Payload bytes written to the client. */
export const ATTR_HTTP_RESPONSE_BODY_SIZE = "http.response.body.size"; // bytes
/** Why the stage refused a request: traversal, method, range, headers, busy, idle, bad-request (also a metric attribute). */
export const ATTR_HTTP_REFUSAL = "tftp.http.refusal";

/** Histogram s: duration of HTTP requests, by method, status code, scheme, protocol version (semantic conventions). */
export const METRIC_HTTP_DURATION = "http.server.request.duration";
/** UpDownCounter {request}: HTTP requests being answered, by method and scheme (semantic conventions). */
export const METRIC_HTTP_ACTIVE = "http.server.active_requests";
/** Histogram By: response body sizes, by method and status code (semantic conventions). */
export const METRIC_HTTP_BODY_SIZE = "http.server.response.body.size";
/** Counter {request}: requests or connections the HTTP stage refused, by tftp.http.refusal. */
export const METRIC_HTTP_REFUSED = "tftp.server.http.refused";

/** Bucket boundaries (bytes) of the response body size histogram: 1 KiB .. 1 GiB. */
export const HTTP_BODY_SIZE_BUCKETS = [1024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864, 268_435_456, 1_073_741_824];
