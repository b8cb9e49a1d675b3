// OpenTelemetry for tftpkit sessions, through @opentelemetry/api only: the
// application installs an SDK (apps/server does), or none, and then every
// call below lands on the API's no-op tracer and meter.
//
// One span per boot flow (`tftp.boot`: what one machine fetched while it
// booted, see flows.ts), a root span or the child of the traceparent the
// flow's first file name carried; under it one span per session
// (`tftp.read`, `tftp.write`), so a machine's boot is one trace, with the
// handler run inside the session span so that what the handler does becomes
// child spans. A later session whose name carries a traceparent of another
// trace links to it. The boot span ends when the flow does (idle gap, or the
// server closing), at the end of its last session, or when the flow boots
// (the handler's last file, or the machine's call back); a booted flow's
// time to boot is a histogram by loader chain.
// Metrics carry low-cardinality attributes only (kind, outcome, reason).
//
// Nothing here runs per DATA or ACK packet: the seam (instrument.ts) calls in
// at session start and end, at negotiation, and on the rare events
// (retransmission, timeout, unknown TID, malformed request).

import {
  INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags,
  context, isSpanContextValid, metrics, trace,
  type Attributes, type Context, type Counter, type Histogram, type Link, type Meter, type MeterProvider,
  type ObservableUpDownCounter, type Span, type UpDownCounter, type SpanContext, type Tracer, type TracerProvider,
} from "@opentelemetry/api";
import * as A from "./attributes.js";
import type { BootFlow, FlowContext, FlowStep } from "./flows.js";
import type {
  HttpObserver, HttpRefusal, HttpRequestInfo, HttpResult, Instrumentation, SessionInfo, SessionObserver,
} from "./instrument.js";
import type { Endpoint, Outcome, SessionStats } from "./stats.js";

export interface OtelInstrumentationOptions {
  /** Tracer to use; default: from `tracerProvider`, else the global one (`trace.getTracer`). */
  tracer?: Tracer;
  /** Meter to use; default: from `meterProvider`, else the global one (`metrics.getMeter`). */
  meter?: Meter;
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
  /**
   * Record spans (default true). false: metrics only, for an application
   * that exports no traces: no span, attribute set or context is made per
   * session, and handlers run in the context they are called in.
   */
  traces?: boolean;
}

/** The span of a session when traces are off: records nothing (and is never in a context). */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Outcomes that are not failures: no span error status, no error.type. */
const NOT_FAILED: ReadonlySet<Outcome> = new Set<Outcome>(["ok", "probe"]);

/**
 * Session ends whose counts are batched before they reach the SDK (see
 * Instruments.countSession): a flush costs an SDK call per attribute set in
 * the batch (a few), so 32 sessions share it; and the warm-up's few hundred
 * sessions flush often enough that the code of a flush is compiled with
 * the rest (a flush first met after the warm-up sent a session's end back
 * to the interpreter).
 */
const FLUSH_EVERY = 32;

/** Loader chains the time-to-boot histogram tells apart; later ones are "other". */
const CHAINS_MAX = 100;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The context a session span starts in: the remote parent a W3C traceparent
 * names, else the root context. Never the active context: a socket's
 * callbacks run in the async context of whoever bound it, and sessions must
 * not become children of a start-up span.
 */
export function parentContext(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  const m = TRACEPARENT.exec(traceparent);
  if (!m) return ROOT_CONTEXT;
  const parent: SpanContext = {
    traceId: m[1],
    spanId: m[2],
    traceFlags: parseInt(m[3], 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(parent) ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

function optionList(o: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(o)) out.push(`${k}=${o[k]}`);
  return out;
}

/**
 * The frozen attribute sets of every Instruments in the process, by id:
 * pure data, so shared (a server's sets are also its warm-up's, and the
 * session path finds them made instead of running the code that makes them
 * for the first time on real sessions).
 */
const ATTR_CACHE = new Map<string, Attributes>();
/** Instruments.attrs() sets, shared likewise: by kind, then attribute name ("" for none), then value. */
const ATTR_BY_KIND = new Map<string, Map<string, Map<string, Attributes>>>();

class Instruments {
  readonly sessions: Counter;
  readonly active: ObservableUpDownCounter;
  /** Sessions running, by kind: observed at collection time, so a session start or end costs no metric call. */
  readonly running = new Map<string, number>();
  readonly bytesSent: Counter;
  readonly bytesReceived: Counter;
  readonly retransmits: Counter;
  readonly malformed: Counter;
  readonly unknownTid: Counter;
  readonly duration: Histogram;
  readonly handlerDuration: Histogram;
  readonly bootDuration: Histogram;
  readonly httpDuration: Histogram;
  readonly httpActive: UpDownCounter;
  readonly httpBodySize: Histogram;
  readonly httpRefused: Counter;
  private readonly attrCache = ATTR_CACHE;

  constructor(meter: Meter) {
    this.sessions = meter.createCounter(A.METRIC_SESSIONS, { unit: "{session}", description: "TFTP sessions finished, by kind and outcome" });
    this.active = meter.createObservableUpDownCounter(A.METRIC_ACTIVE_SESSIONS, { unit: "{session}", description: "TFTP sessions running" });
    this.active.addCallback((result) => {
      // Every collection runs the observable callbacks before it reads the
      // synchronous instruments: the counters' batched increments go in first.
      this.flushCounts();
      for (const [kind, n] of this.running) result.observe(n, this.attrs(kind));
    });
    this.bytesSent = meter.createCounter(A.METRIC_BYTES_SENT, { unit: "By", description: "Payload bytes sent (each block counted once)" });
    this.bytesReceived = meter.createCounter(A.METRIC_BYTES_RECEIVED, { unit: "By", description: "Payload bytes received (writes)" });
    this.retransmits = meter.createCounter(A.METRIC_RETRANSMITS, { unit: "{packet}", description: "Packets sent again, by reason (timeout or gap)" });
    this.malformed = meter.createCounter(A.METRIC_MALFORMED, { unit: "{packet}", description: "Requests the server could not decode" });
    this.unknownTid = meter.createCounter(A.METRIC_UNKNOWN_TID, { unit: "{packet}", description: "Packets from an unknown transfer ID reaching a session" });
    this.duration = meter.createHistogram(A.METRIC_SESSION_DURATION, {
      unit: "s",
      description: "Duration of TFTP sessions, by kind and outcome",
      advice: { explicitBucketBoundaries: A.SESSION_DURATION_BUCKETS },
    });
    this.handlerDuration = meter.createHistogram(A.METRIC_HANDLER_DURATION, {
      unit: "s",
      description: "Time handlers took to answer, by kind and session outcome",
      advice: { explicitBucketBoundaries: A.HANDLER_DURATION_BUCKETS },
    });
    this.bootDuration = meter.createHistogram(A.METRIC_BOOT_DURATION, {
      unit: "s",
      description: "Time to boot: from a boot flow's first packet to booted, by loader chain",
      advice: { explicitBucketBoundaries: A.BOOT_DURATION_BUCKETS },
    });
    this.httpDuration = meter.createHistogram(A.METRIC_HTTP_DURATION, {
      unit: "s",
      description: "Duration of HTTP server requests",
      advice: { explicitBucketBoundaries: A.SESSION_DURATION_BUCKETS },
    });
    this.httpActive = meter.createUpDownCounter(A.METRIC_HTTP_ACTIVE, { unit: "{request}", description: "Number of active HTTP server requests" });
    this.httpBodySize = meter.createHistogram(A.METRIC_HTTP_BODY_SIZE, {
      unit: "By",
      description: "Size of HTTP server response bodies",
      advice: { explicitBucketBoundaries: A.HTTP_BODY_SIZE_BUCKETS },
    });
    this.httpRefused = meter.createCounter(A.METRIC_HTTP_REFUSED, { unit: "{request}", description: "Requests and connections the HTTP stage refused, by reason" });
  }

  /**
   * Session counts and bytes sent since the last flush, by attribute set
   * (the sets are the cached frozen ones): a session end adds to a number
   * here instead of calling the SDK, which hashes the attributes at every
   * call. Flushed at each collection and every FLUSH_EVERY session ends
   * (so the numbers stay bounded with no reader, e.g. the API's no-op meter).
   */
  private readonly pendingSessions = new Map<Attributes, number>();
  private readonly pendingBytesSent = new Map<Attributes, number>();
  private pending = 0;

  /** One finished session for tftp.server.sessions and tftp.server.bytes_sent (batched). */
  countSession(outcomeAttrs: Attributes, kindAttrs: Attributes, bytesSent: number): void {
    this.pendingSessions.set(outcomeAttrs, (this.pendingSessions.get(outcomeAttrs) ?? 0) + 1);
    if (bytesSent > 0) this.pendingBytesSent.set(kindAttrs, (this.pendingBytesSent.get(kindAttrs) ?? 0) + bytesSent);
    if (++this.pending >= FLUSH_EVERY) this.flushCounts();
  }

  flushCounts(): void {
    if (this.pending === 0) return;
    this.pending = 0;
    for (const [a, n] of this.pendingSessions) this.sessions.add(n, a);
    for (const [a, n] of this.pendingBytesSent) this.bytesSent.add(n, a);
    this.pendingSessions.clear();
    this.pendingBytesSent.clear();
  }

  private chains = 0;

  /**
   * One frozen attribute set per loader chain. Real chains are few, but a
   * client can make one up from the names it asks: past CHAINS_MAX chains,
   * new ones are recorded as "other" (the metric's cardinality stays bounded).
   */
  chainAttrs(chain: string): Attributes {
    const id = `chain\0${chain}`;
    let a = this.attrCache.get(id);
    if (a) return a;
    const name = this.chains < CHAINS_MAX ? chain : "other";
    const key = `chain\0${name}`;
    a = this.attrCache.get(key);
    if (a) return a;
    this.chains++;
    a = Object.freeze({ [A.ATTR_BOOT_LOADER_CHAIN]: name });
    this.attrCache.set(key, a);
    return a;
  }

  /** One frozen attribute set per combination of HTTP metric attributes. */
  httpAttrs(method: string, status?: number): Attributes {
    const id = `http\0${method}\0${status ?? ""}`;
    let a = this.attrCache.get(id);
    if (!a) {
      const o: Attributes = { [A.ATTR_HTTP_REQUEST_METHOD]: method, [A.ATTR_URL_SCHEME]: "http", [A.ATTR_NETWORK_PROTOCOL_VERSION]: "1.1" };
      if (status !== undefined) {
        o[A.ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
        if (status >= 500) o[A.ATTR_ERROR_TYPE] = String(status);
      }
      a = Object.freeze(o);
      this.attrCache.set(id, a);
    }
    return a;
  }

  /**
   * One frozen attribute set per (kind, name, value): nothing allocated per
   * session, and no key to build (found by kind, then name, then value).
   */
  attrs(kind: string, key?: string, value?: string): Attributes {
    let byKey = ATTR_BY_KIND.get(kind);
    if (!byKey) ATTR_BY_KIND.set(kind, (byKey = new Map()));
    const k = key ?? "";
    let byValue = byKey.get(k);
    if (!byValue) byKey.set(k, (byValue = new Map()));
    const v = value ?? "";
    let a = byValue.get(v);
    if (!a) {
      a = Object.freeze(key === undefined ? { [A.ATTR_KIND]: kind } : { [A.ATTR_KIND]: kind, [key]: v });
      byValue.set(v, a);
    }
    return a;
  }
}

class OtelSession implements SessionObserver {
  /** The session span's context (undefined when traces are off: the handler runs where it is called). */
  private readonly ctx: Context | undefined;
  private readonly kindAttrs: Attributes;
  private ended = false;

  constructor(
    private readonly m: Instruments,
    private readonly span: Span,
    parent: Context | undefined,
    private readonly kind: string,
  ) {
    this.ctx = parent && trace.setSpan(parent, span);
    this.kindAttrs = m.attrs(kind);
    m.running.set(kind, (m.running.get(kind) ?? 0) + 1);
  }

  runHandler<T>(fn: () => T): T {
    return this.ctx ? context.with(this.ctx, fn) : fn();
  }

  negotiated(acked: Readonly<Record<string, string>>, blksize: number, windowsize: number, tsize: number): void {
    if (!this.span.isRecording()) return;
    const a: Attributes = {
      [A.ATTR_OPTIONS_ACKED]: optionList(acked),
      [A.ATTR_BLKSIZE]: blksize,
      [A.ATTR_WINDOWSIZE]: windowsize,
      [A.ATTR_TSIZE]: tsize,
    };
    this.span.setAttributes(a);
    this.span.addEvent(A.EVENT_NEGOTIATED, a);
  }

  retransmit(fromBlock: number, count: number, reason: "timeout" | "gap"): void {
    this.m.retransmits.add(count, this.m.attrs(this.kind, A.ATTR_RETRANSMIT_REASON, reason));
    if (!this.span.isRecording()) return;
    this.span.addEvent(A.EVENT_RETRANSMIT, {
      [A.ATTR_RETRANSMIT_FROM]: fromBlock,
      [A.ATTR_RETRANSMIT_COUNT]: count,
      [A.ATTR_RETRANSMIT_REASON]: reason,
    });
  }

  timeout(retry: number): void {
    if (this.span.isRecording()) this.span.addEvent(A.EVENT_TIMEOUT, { [A.ATTR_RETRY]: retry });
  }

  unknownTid(peer: Endpoint): void {
    this.m.unknownTid.add(1, this.kindAttrs);
    if (!this.span.isRecording()) return;
    this.span.addEvent(A.EVENT_UNKNOWN_TID, {
      [A.ATTR_NETWORK_PEER_ADDRESS]: peer.address,
      [A.ATTR_NETWORK_PEER_PORT]: peer.port,
    });
  }

  end(s: SessionStats, step?: FlowStep): void {
    if (this.ended) return;
    this.ended = true;
    const m = this.m;
    m.running.set(this.kind, m.running.get(this.kind)! - 1);
    const outcomeAttrs = m.attrs(this.kind, A.ATTR_OUTCOME, s.outcome);
    m.countSession(outcomeAttrs, this.kindAttrs, s.bytesSent);
    const received = "bytesReceived" in s && typeof s.bytesReceived === "number" ? s.bytesReceived : -1;
    if (received > 0) m.bytesReceived.add(received, this.kindAttrs);
    m.duration.record(s.durationMs / 1000, outcomeAttrs);
    m.handlerDuration.record(s.handlerMs / 1000, outcomeAttrs);

    const span = this.span;
    if (!span.isRecording()) return span.end();
    const blocks = "blocksReceived" in s && typeof s.blocksReceived === "number" ? s.blocksReceived : s.blocksAcked;
    span.setAttributes({
      [A.ATTR_OUTCOME]: s.outcome,
      [A.ATTR_BYTES_SENT]: s.bytesSent,
      [A.ATTR_PACKETS_SENT]: s.packetsSent,
      [A.ATTR_BLOCKS]: blocks,
      [A.ATTR_RETRANSMITS]: s.retransmits,
      [A.ATTR_DUPLICATE_ACKS]: s.duplicateAcks,
      [A.ATTR_HANDLER_DURATION]: Math.round(s.handlerMs * 1000) / 1000,
    });
    if (received >= 0) span.setAttribute(A.ATTR_BYTES_RECEIVED, received);
    if (s.finalAckMissing) span.setAttribute(A.ATTR_FINAL_ACK_MISSING, true);
    if (step) span.setAttribute(A.ATTR_STAGE, step.stage);
    const searchMiss = step?.outcome === "search-miss";
    if (searchMiss) span.setAttribute(A.ATTR_SEARCH_MISS, true);
    if (s.error) {
      span.setAttribute(A.ATTR_ERROR_CODE, s.error.code);
      span.setAttribute(A.ATTR_ERROR_MESSAGE, s.error.message);
    }
    // A size probe ends with ERROR 8 from the client by design, a search miss
    // is how a loader looks for its config: neither is a failure.
    if (!NOT_FAILED.has(s.outcome) && !searchMiss) {
      span.setAttribute(A.ATTR_ERROR_TYPE, s.outcome);
      // The handler's exception (the client only got ERROR 0 "Internal server error"): the span's exception event.
      if (s.outcome === "handler-error" && s.handlerError) {
        const { name, message, stack } = s.handlerError;
        span.recordException(stack ? { name, message, stack } : { name, message });
      }
      span.setStatus({ code: SpanStatusCode.ERROR, message: s.error?.message ?? s.outcome });
    }
    span.end();
  }
}

/** One HTTP request: its span (a child of the flow's tftp.boot span) and the HTTP metrics. */
class OtelHttp implements HttpObserver {
  private readonly ctx: Context;
  private ended = false;

  constructor(
    private readonly m: Instruments,
    private readonly span: Span,
    parent: Context,
    private readonly method: string,
  ) {
    this.ctx = trace.setSpan(parent, span);
    m.httpActive.add(1, m.httpAttrs(method));
  }

  runHandler<T>(fn: () => T): T {
    return context.with(this.ctx, fn);
  }

  end(r: HttpResult): void {
    if (this.ended) return;
    this.ended = true;
    const m = this.m;
    m.httpActive.add(-1, m.httpAttrs(this.method));
    const attrs = m.httpAttrs(this.method, r.status);
    m.httpDuration.record(r.durationMs / 1000, attrs);
    m.httpBodySize.record(r.bytes, attrs);
    const span = this.span;
    if (!span.isRecording()) return span.end();
    span.setAttributes({
      [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: r.status,
      [A.ATTR_HTTP_RESPONSE_BODY_SIZE]: r.bytes,
      [A.ATTR_OUTCOME]: r.outcome,
      [A.ATTR_HANDLER_DURATION]: Math.round(r.handlerMs * 1000) / 1000,
    });
    if (r.size >= 0) span.setAttribute(A.ATTR_TSIZE, r.size);
    // Semantic conventions: a server span is an error for 5xx, and when the response did not complete.
    if (r.status >= 500 || r.outcome === "aborted" || r.outcome === "timeout") {
      span.setAttribute(A.ATTR_ERROR_TYPE, r.status >= 500 ? String(r.status) : r.outcome);
      span.setStatus({ code: SpanStatusCode.ERROR, message: r.error ?? r.outcome });
    }
    span.end();
  }
}

/** The W3C traceparent of a span context. */
function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00"}`;
}

interface BootSpan {
  span: Span;
  ctx: Context;
}

class OtelInstrumentation implements Instrumentation {
  /** Open flows' tftp.boot spans, by flow id (each removed when its flow ends: bounded by the flow tracker). */
  private readonly boots = new Map<string, BootSpan>();

  constructor(
    private readonly tracer: Tracer,
    private readonly m: Instruments,
    private readonly traces: boolean,
  ) {}

  /** The flow's tftp.boot span, started with its first session (in the context that session's traceparent names). */
  private boot(flow: FlowContext, parent: Context): BootSpan {
    let b = this.boots.get(flow.id);
    if (b) return b;
    const span = this.tracer.startSpan(A.SPAN_BOOT, {
      kind: SpanKind.INTERNAL,
      attributes: { [A.ATTR_FLOW_ID]: flow.id, [A.ATTR_NETWORK_PEER_ADDRESS]: flow.client },
    }, parent);
    b = { span, ctx: trace.setSpan(parent, span) };
    this.boots.set(flow.id, b);
    const sc = span.spanContext();
    if (isSpanContextValid(sc)) {
      flow.traceId = sc.traceId;
      flow.traceparent = traceparentOf(sc);
    }
    return b;
  }

  flowEnded(flow: BootFlow): void {
    const b = this.boots.get(flow.id);
    if (!b) return;
    this.boots.delete(flow.id);
    const span = b.span;
    if (span.isRecording()) {
      let probes = 0;
      for (const s of flow.steps) if (s.outcome === "probe") probes++;
      const attrs: Attributes = {
        [A.ATTR_BOOT_STEPS]: flow.steps.length + (flow.stepsDropped ?? 0),
        [A.ATTR_BOOT_FAILED_STEPS]: flow.failedSteps,
        [A.ATTR_BOOT_SEARCH_MISSES]: flow.searchMisses,
        [A.ATTR_BOOT_PROBES]: probes,
        [A.ATTR_BOOT_FAILED]: flow.failed,
      };
      if (flow.loaderChain.length) attrs[A.ATTR_BOOT_LOADER_CHAIN] = flow.loaderChain.join(", ");
      if (flow.noConfig) attrs[A.ATTR_BOOT_NO_CONFIG] = flow.noConfig;
      if (flow.bootedBy && flow.timeToBootMs !== undefined) {
        attrs[A.ATTR_BOOT_BOOTED_BY] = flow.bootedBy;
        attrs[A.ATTR_BOOT_TIME_TO_BOOT] = flow.timeToBootMs;
      }
      const last = flow.steps[flow.steps.length - 1];
      if (last) {
        attrs[A.ATTR_BOOT_LAST_PATH] = last.path;
        attrs[A.ATTR_BOOT_LAST_OUTCOME] = last.outcome;
      }
      if (flow.identity) {
        attrs[A.ATTR_BOOT_IDENTITY_KIND] = flow.identity.kind;
        attrs[A.ATTR_BOOT_IDENTITY] = flow.identity.value;
      }
      span.setAttributes(attrs);
      if (flow.failed) span.setStatus({ code: SpanStatusCode.ERROR, message: flow.noConfig ? `no config found (${flow.noConfig})` : `${flow.failedSteps} failed steps` });
    }
    // At the end of its last session (or when it booted), not when the idle gap was noticed.
    span.end(flow.endedAt ?? undefined);
  }

  flowBooted(flow: BootFlow): void {
    if (flow.timeToBootMs === undefined) return;
    this.m.bootDuration.record(flow.timeToBootMs / 1000, this.m.chainAttrs(flow.loaderChain.join(", ") || "unknown"));
  }

  session(info: SessionInfo): SessionObserver {
    if (!this.traces) return new OtelSession(this.m, NO_SPAN, undefined, info.kind);
    let parent = parentContext(info.traceparent);
    let links: Link[] | undefined;
    if (info.flow) {
      const boot = this.boot(info.flow, parent);
      const named = info.traceparent ? trace.getSpanContext(parent) : undefined;
      if (named && named.traceId !== boot.span.spanContext().traceId) links = [{ context: named }];
      parent = boot.ctx;
    }
    const attributes: Attributes = {
      [A.ATTR_SESSION_ID]: info.id,
      [A.ATTR_KIND]: info.kind,
      [A.ATTR_PATH]: info.path,
      [A.ATTR_MODE]: info.mode,
      [A.ATTR_OPTIONS_ASKED]: optionList(info.optionsAsked),
      [A.ATTR_NETWORK_TRANSPORT]: "udp",
      [A.ATTR_NETWORK_PEER_ADDRESS]: info.peer.address,
      [A.ATTR_NETWORK_PEER_PORT]: info.peer.port,
      [A.ATTR_NETWORK_LOCAL_PORT]: info.local.port,
    };
    if (info.local.address) attributes[A.ATTR_NETWORK_LOCAL_ADDRESS] = info.local.address;
    const span = this.tracer.startSpan(`${A.SPAN_PREFIX}${info.kind}`, { kind: SpanKind.SERVER, attributes, links }, parent);
    return new OtelSession(this.m, span, parent, info.kind);
  }

  malformed(_peer: Endpoint): void {
    this.m.malformed.add(1);
  }

  /**
   * A request to the HTTP stage: a child of the flow's tftp.boot span, or of
   * the span its traceparent names (header, query or path suffix), linked
   * to the boot span when that is another trace.
   */
  http(info: HttpRequestInfo): HttpObserver {
    const named = parentContext(info.traceparent);
    let parent = named;
    let links: Link[] | undefined;
    if (info.flow) {
      const boot = this.boot(info.flow, named);
      const namedSc = info.traceparent ? trace.getSpanContext(named) : undefined;
      if (namedSc) {
        if (namedSc.traceId !== boot.span.spanContext().traceId) links = [{ context: boot.span.spanContext() }];
        else if (namedSc.spanId === boot.span.spanContext().spanId) parent = boot.ctx;
      } else {
        parent = boot.ctx;
      }
    }
    const attributes: Attributes = {
      [A.ATTR_SESSION_ID]: info.id,
      [A.ATTR_KIND]: "http",
      [A.ATTR_PATH]: info.path,
      [A.ATTR_HTTP_REQUEST_METHOD]: info.method,
      [A.ATTR_URL_SCHEME]: "http",
      [A.ATTR_URL_PATH]: `/${info.path}`,
      [A.ATTR_NETWORK_PROTOCOL_VERSION]: "1.1",
      [A.ATTR_NETWORK_TRANSPORT]: "tcp",
      [A.ATTR_CLIENT_ADDRESS]: info.peer.address,
      [A.ATTR_CLIENT_PORT]: info.peer.port,
      [A.ATTR_NETWORK_PEER_ADDRESS]: info.peer.address,
      [A.ATTR_NETWORK_PEER_PORT]: info.peer.port,
      [A.ATTR_SERVER_PORT]: info.local.port,
    };
    if (info.local.address) attributes[A.ATTR_NETWORK_LOCAL_ADDRESS] = info.local.address;
    if (info.userAgent) attributes[A.ATTR_USER_AGENT] = info.userAgent;
    if (info.range) attributes[A.ATTR_HTTP_RANGE] = info.range;
    const span = this.tracer.startSpan(info.method, { kind: SpanKind.SERVER, attributes, links }, parent);
    return new OtelHttp(this.m, span, parent, info.method);
  }

  httpRefused(reason: HttpRefusal): void {
    this.m.httpRefused.add(1, { [A.ATTR_HTTP_REFUSAL]: reason });
  }
}

/**
 * Instrumentation that records a span per session and the server's metrics
 * through OpenTelemetry: pass it as `ServerOptions.instrumentation`.
 * Without an SDK registered (and no tracer, meter or provider given) it
 * records nothing; leave `instrumentation` unset to skip even the calls.
 */
export function createOtelInstrumentation(o: OtelInstrumentationOptions = {}): Instrumentation {
  const tracer = o.tracer ?? (o.tracerProvider ? o.tracerProvider.getTracer(A.SCOPE_NAME) : trace.getTracer(A.SCOPE_NAME));
  // metrics.getMeter has no proxy: call this after the SDK's MeterProvider is registered.
  const meter = o.meter ?? (o.meterProvider ? o.meterProvider.getMeter(A.SCOPE_NAME) : metrics.getMeter(A.SCOPE_NAME));
  return new OtelInstrumentation(tracer, new Instruments(meter), o.traces ?? true);
}
