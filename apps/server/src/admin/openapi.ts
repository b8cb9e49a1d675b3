// The OpenAPI 3.1 description of the admin API (served at
// /api/v1/openapi.json). Its schemas are JSON Schema 2020-12; the admin tests
// validate every response they get against them, so the document cannot
// drift from what the server sends.

const OUTCOMES = ["ok", "probe", "not-found", "access-denied", "timeout", "client-error", "handler-error", "error", "aborted"];

const int = { type: "integer", minimum: 0 } as const;
const nullableInt = { type: ["integer", "null"], minimum: 0 } as const;
const ms = { type: "number", minimum: 0, description: "milliseconds" } as const;
const epochMs = { type: "number", minimum: 0, description: "epoch milliseconds" } as const;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (schema: object, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => jsonBody(ref("Error"), description);

const schemas = {
  Error: {
    type: "object",
    required: ["error"],
    properties: { error: { type: "string" } },
  },
  Endpoint: {
    type: "object",
    required: ["address", "port"],
    properties: { address: { type: "string" }, port: { type: "integer", minimum: 0, maximum: 65535 } },
  },
  Outcome: { type: "string", enum: OUTCOMES, description: "How a session ended; a UEFI size probe is `probe`, never a failure." },
  ServerStats: {
    type: "object",
    description: "Server-wide counters since start (summed over workers).",
    required: ["sessionsStarted", "sessionsActive", "sessionsOk", "sessionsFailed", "probes", "bytesSent", "packetsSent", "retransmits", "outcomes"],
    properties: {
      sessionsStarted: int, sessionsActive: int, sessionsOk: int, sessionsFailed: int, probes: int,
      bytesSent: int, packetsSent: int, retransmits: int, malformedPackets: int, unknownTidPackets: int,
      duplicateRequests: int, writeRequestsRefused: int, refusedBusy: int, rateLimited: int,
      writesStarted: int, bytesReceived: int, fileCacheHits: int, fileCacheMisses: int,
      fileReadsOnLoop: int, fileReadsInPool: int, fileReadsSlowOnLoop: int,
      httpRequests: int, httpBytesSent: int, httpRefused: int,
      outcomes: { type: "object", additionalProperties: int, propertyNames: { enum: OUTCOMES } },
    },
  },
  LiveSession: {
    type: "object",
    required: ["id", "kind", "peer", "local", "path", "bytes", "tsize", "rateBps", "blksize", "windowsize", "retransmits", "ageMs", "startedAt", "worker"],
    properties: {
      id: { type: "string" },
      kind: { enum: ["read", "write"] },
      peer: ref("Endpoint"),
      local: ref("Endpoint"),
      path: { type: "string", description: "As the client asked (after rewrite rules): any text, render it as text." },
      bytes: { ...int, description: "payload bytes sent (reads) or received (writes) so far" },
      tsize: { ...nullableInt, description: "the transfer size when known" },
      rateBps: { type: "number", minimum: 0, description: "bytes per second over the last second or so" },
      blksize: int,
      windowsize: int,
      retransmits: int,
      ageMs: ms,
      startedAt: epochMs,
      worker: { ...nullableInt, description: "the worker process running it; null in a single process" },
      lost: { const: true, description: "its worker exited before the session ended: the row is its last report, kept for a while" },
    },
  },
  FlowStep: {
    type: "object",
    required: ["sessionId", "path", "kind", "outcome", "stage", "bytes", "tsize", "blksize", "windowsize", "startedAt", "durationMs", "handlerMs", "retransmits"],
    properties: {
      sessionId: { type: "string" },
      path: { type: "string" },
      kind: { enum: ["read", "write", "http"], description: "a TFTP read or write, or a request of the HTTP stage (`http`: blksize and windowsize 0)" },
      outcome: {
        anyOf: [ref("Outcome"), { const: "search-miss" }, { const: "repeat" }, { const: "running" }],
        description: "`search-miss`: a name missing inside a known config search (pxelinux.cfg/01-<mac>, grub.cfg-<hex IP>, autoexec.ipxe), not a failure; `repeat`: a late copy of a request the flow had already served (the client had its file and had closed its port, or answered the copy with ERROR 5), not a failure; `running` while the session runs",
      },
      stage: { enum: ["boot-program", "config", "kernel", "initrd", "other"], description: "set by the handler, else from the file name and the flow's order" },
      last: { const: true, description: "the handler marked this file as the boot's last" },
      bytes: int,
      tsize: nullableInt,
      blksize: int,
      windowsize: int,
      startedAt: epochMs,
      durationMs: ms,
      handlerMs: { type: ["number", "null"], minimum: 0, description: "time the handler took to answer; null while it has not" },
      retransmits: int,
      error: { type: "string", description: "the TFTP error sent or received, `code: message` (HTTP steps: `status: message`)" },
      httpStatus: { ...int, description: "HTTP steps: the response's status code" },
    },
  },
  BootFlow: {
    type: "object",
    description: "What one machine (client address) fetched while it booted: consecutive sessions ended by an idle gap, or by booting.",
    required: ["id", "client", "startedAt", "endedAt", "steps", "loaderChain", "failedSteps", "searchMisses", "failed"],
    properties: {
      id: { type: "string" },
      client: { type: "string" },
      identity: {
        type: "object",
        required: ["kind", "value"],
        description: "What the paths said about the machine (pxelinux 01-<mac> and hex-IP configs, grub grub.cfg-01-<mac>, Raspberry Pi serial folders, iPXE ?mac=)",
        properties: { kind: { enum: ["mac", "ip", "serial"] }, value: { type: "string" } },
      },
      startedAt: epochMs,
      endedAt: { type: ["number", "null"], description: "end of the last session; null while the flow is open" },
      traceId: { type: "string", pattern: "^[0-9a-f]{32}$", description: "the trace of the flow's tftp.boot span" },
      steps: { type: "array", items: ref("FlowStep"), description: "in order of start" },
      stepsDropped: { ...int, description: "older steps let go of (maxFlowSteps)" },
      loaderChain: {
        type: "array",
        items: { type: "string" },
        maxItems: 6,
        description: "firmware, loaders and OS the flow went through, learnt from what it asked, e.g. [\"UEFI PXE\", \"GRUB\", \"Linux\"]",
      },
      failedSteps: { ...int, description: "steps that failed (neither ok, probe, search-miss nor repeat), dropped ones included" },
      searchMisses: { ...int, description: "names missing inside known config searches (not failures)" },
      failed: { type: "boolean", description: "a step failed, or a config search ended with no config found" },
      noConfig: { type: "string", description: "the config search that found no config (pxelinux.cfg, grub.cfg)" },
      bootedAt: { ...epochMs, description: "when the flow booted (the handler's last file sent, or the machine called back)" },
      timeToBootMs: { ...ms, description: "from the flow's first packet to booted" },
      bootedBy: { enum: ["last-step", "callback"] },
      worker: { ...int, description: "workers mode: the worker that ran the flow's sessions" },
      lost: { const: true, description: "its worker exited while the flow was open: the flow as of the worker's last report, kept for a while" },
    },
  },
  StatsBody: {
    type: "object",
    required: ["stats", "uptimeSeconds", "outcomes", "errorsByCode", "topFiles", "topFailingClients"],
    properties: {
      stats: ref("ServerStats"),
      uptimeSeconds: { type: "number", minimum: 0 },
      outcomes: { type: "object", additionalProperties: int },
      errorsByCode: {
        type: "object",
        additionalProperties: int,
        propertyNames: { pattern: "^([0-8]|other)$" },
        description: "failed sessions by the TFTP error code sent or received",
      },
      topFiles: {
        type: "array",
        items: { type: "object", required: ["path", "sessions", "bytes"], properties: { path: { type: "string" }, sessions: int, bytes: int } },
      },
      topFailingClients: {
        type: "array",
        items: { type: "object", required: ["client", "failures"], properties: { client: { type: "string" }, failures: int } },
      },
    },
  },
  Info: {
    type: "object",
    required: ["name", "version", "pid", "workers", "traceUrlTemplate"],
    properties: {
      name: { const: "tftpkit" },
      version: { type: "string" },
      pid: { type: "integer" },
      workers: { ...nullableInt, description: "worker processes; null for a single process" },
      traceUrlTemplate: { type: ["string", "null"], description: "a tracing UI's trace URL with `{traceId}` in it" },
    },
  },
  Health: {
    type: "object",
    required: ["status", "uptimeSeconds", "activeSessions"],
    properties: {
      status: { enum: ["ok", "draining", "drained"] },
      uptimeSeconds: { type: "number", minimum: 0 },
      activeSessions: int,
      sessionsStarted: int,
      sessionsOk: int,
      sessionsFailed: int,
    },
  },
  ServerEvent: {
    oneOf: [
      { type: "object", required: ["type", "session"], properties: { type: { enum: ["session-start", "session-progress"] }, session: ref("LiveSession") } },
      {
        type: "object",
        required: ["type", "session", "outcome"],
        properties: { type: { const: "session-end" }, session: ref("LiveSession"), outcome: ref("Outcome"), error: { type: "string" } },
      },
      { type: "object", required: ["type", "flow"], properties: { type: { const: "flow" }, flow: ref("BootFlow") } },
    ],
  },
  DrainResult: {
    type: "object",
    required: ["status", "activeSessions"],
    properties: { status: { enum: ["draining", "drained"] }, activeSessions: int },
  },
  ReloadResult: {
    type: "object",
    required: ["ok"],
    properties: { ok: { type: "boolean" }, error: { type: "string" } },
  },
};

const bearer = [{ bearer: [] }];

/** The OpenAPI 3.1 document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const doc = {
    openapi: "3.1.0",
    info: {
      title: "tftpkit admin API",
      version,
      description:
        "Live sessions, boot flows, statistics and events of a tftpkit TFTP server. Every GET only reads; " +
        "POST drain and reload need `Authorization: Bearer <token>` (the token of --admin-token-file) and are " +
        "off (404) without one. File names and addresses come from TFTP clients: show them as text.",
      license: { name: "MIT", identifier: "MIT" },
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    paths: {
      "/healthz": {
        get: {
          operationId: "health",
          summary: "Liveness and drain state",
          responses: { "200": jsonBody(ref("Health"), "serving"), "503": jsonBody(ref("Health"), "draining or drained") },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics",
          summary: "Prometheus text exposition of the OpenTelemetry metrics",
          responses: {
            "200": { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } },
            "404": { description: "metrics are off", content: { "text/plain": { schema: { type: "string" } } } },
          },
        },
      },
      "/api/v1/info": { get: { operationId: "info", summary: "What this server is", responses: { "200": jsonBody(ref("Info"), "info") } } },
      "/api/v1/stats": {
        get: { operationId: "stats", summary: "Counters, outcomes, errors by code, top files and failing clients", responses: { "200": jsonBody(ref("StatsBody"), "statistics") } },
      },
      "/api/v1/sessions": {
        get: {
          operationId: "sessions",
          summary: "Sessions running now",
          responses: {
            "200": jsonBody({ type: "object", required: ["sessions"], properties: { sessions: { type: "array", items: ref("LiveSession") } } }, "live sessions"),
          },
        },
      },
      "/api/v1/flows": {
        get: {
          operationId: "flows",
          summary: "Recent boot flows, newest first",
          parameters: [
            { name: "client", in: "query", description: "only this client address", schema: { type: "string", minLength: 1, maxLength: 200 } },
            { name: "limit", in: "query", description: "at most this many (default 100)", schema: { type: "integer", minimum: 1, maximum: 10000 } },
          ],
          responses: {
            "200": jsonBody({ type: "object", required: ["flows"], properties: { flows: { type: "array", items: ref("BootFlow") } } }, "boot flows"),
            "400": error("a bad query parameter"),
          },
        },
      },
      "/api/v1/config": {
        get: {
          operationId: "config",
          summary: "The effective configuration (secrets such as the admin token are never shown)",
          responses: {
            "200": jsonBody({ type: "object", required: ["config"], properties: { config: { type: "object" } } }, "configuration"),
          },
        },
      },
      "/api/v1/events": {
        get: {
          operationId: "events",
          summary: "Server-Sent Events",
          description:
            "`event:` is the ServerEvent type (session-start, session-progress at most once a second per session, " +
            "session-end, flow) or `stats` (the /api/v1/stats body, about once a second); `data:` is the JSON of the " +
            "ServerEvent or of the stats body.",
          responses: {
            "200": {
              description: "an event stream",
              content: { "text/event-stream": { schema: { type: "string" }, "x-event-data": { anyOf: [ref("ServerEvent"), ref("StatsBody")] } } },
            },
            "503": error("too many event streams"),
          },
        },
      },
      "/api/v1/openapi.json": {
        get: { operationId: "openapi", summary: "This document", responses: { "200": jsonBody({ type: "object" }, "OpenAPI 3.1") } },
      },
      "/api/v1/drain": {
        post: {
          operationId: "drain",
          summary: "Stop accepting requests; running sessions finish (the process stays up, /healthz answers 503)",
          security: bearer,
          responses: {
            "202": jsonBody(ref("DrainResult"), "draining"),
            "401": error("no valid bearer token"),
            "404": error("no token configured: mutating endpoints are off"),
          },
        },
      },
      "/api/v1/reload": {
        post: {
          operationId: "reload",
          summary: "Read the configuration again (as SIGHUP does)",
          security: bearer,
          responses: {
            "200": jsonBody(ref("ReloadResult"), "reloaded"),
            "401": error("no valid bearer token"),
            "404": error("no token configured: mutating endpoints are off"),
            "422": jsonBody(ref("ReloadResult"), "the new configuration was refused; the previous one stays"),
          },
        },
      },
    },
    components: {
      schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "the token in --admin-token-file" } },
    },
  };
  // The DNS rebinding guard answers every /api/v1 path.
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith("/api/v1/")) continue;
    for (const op of Object.values(ops) as Array<{ responses: Record<string, unknown> }>) {
      op.responses["421"] = error("the Host is neither an IP address, localhost nor an --admin-allow-hosts name");
    }
  }
  return doc;
}
