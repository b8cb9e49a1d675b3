// What the server knows of its sessions beyond counters: the running ones
// (live.ts), boot flows (flows.ts), events for live views (events.ts) and the
// tallies of /api/v1/stats (live-tally.ts). The monitor sits on the
// instrumentation seam (instrument.ts) in front of the configured
// instrumentation (e.g. OpenTelemetry), so the sessions themselves know
// nothing of it: per session it costs a flow lookup, a step, two map
// operations and a tally; per packet nothing.

import { EventHub, type ServerEvent, type ServerEventListener } from "./events.js";
import { FLOW_STAGES, type FlowStage } from "./boot-loaders.js";
import { FlowTracker, flowOptions, type BootFlow, type FlowContext, type FlowQuery, type FlowRecord, type StepEnd } from "./flows.js";
import type {
  HttpObserver, HttpRefusal, HttpRequestInfo, HttpResult, Instrumentation, SessionInfo, SessionObserver,
} from "./instrument.js";
import { LiveEntry, LiveRegistry, type LiveSession } from "./live.js";
import { SessionTally, type SessionSummary } from "./live-tally.js";
import type { ResolvedOptions } from "../options.js";
import type { Endpoint, SessionStats } from "./stats.js";

type FlowStepRecord = ReturnType<FlowTracker["start"]>["step"];

class MonitoredSession implements SessionObserver {
  readonly flow: FlowContext | undefined;

  constructor(
    private readonly m: Monitor,
    private readonly entry: LiveEntry,
    private readonly flowRecord: FlowRecord | undefined,
    private readonly step: FlowStepRecord | undefined,
    private readonly inner: SessionObserver | undefined,
  ) {
    this.flow = flowRecord?.ctx;
  }

  runHandler<T>(fn: () => T): T {
    return this.inner ? this.inner.runHandler(fn) : fn();
  }

  negotiated(acked: Readonly<Record<string, string>>, blksize: number, windowsize: number, tsize: number): void {
    this.inner?.negotiated(acked, blksize, windowsize, tsize);
  }

  retransmit(fromBlock: number, count: number, reason: "timeout" | "gap"): void {
    this.inner?.retransmit(fromBlock, count, reason);
  }

  timeout(retry: number): void {
    this.inner?.timeout(retry);
  }

  unknownTid(peer: Endpoint): void {
    this.inner?.unknownTid(peer);
  }

  answered(stage: string | undefined, last: boolean): void {
    if (!this.flowRecord || !this.step) return;
    // A stage a handler made up is ignored (handlers written in JavaScript are not type-checked).
    const known = stage !== undefined && FLOW_STAGES.has(stage) ? (stage as FlowStage) : undefined;
    this.m.tracker.annotate(this.flowRecord, this.step, known, last);
  }

  end(stats: SessionStats): void {
    // The step's record first (a search miss is told apart there), then
    // telemetry: the session span ends before the flow can (a last step boots it).
    const flow = this.flowRecord;
    const step = this.step;
    if (flow && step) this.m.tracker.settle(flow, step, stats);
    this.inner?.end(stats, flow && step ? step.snapshot(flow, 0) : undefined);
    this.m.sessionEnded(this.entry, this.flowRecord, this.step, stats);
  }
}

/** An HTTP request of the HTTP stage: its flow step, then the instrumentation behind. */
class MonitoredHttp implements HttpObserver {
  readonly flow: FlowContext | undefined;

  constructor(
    private readonly m: Monitor,
    private readonly flowRecord: FlowRecord | undefined,
    private readonly step: FlowStepRecord | undefined,
    private readonly inner: HttpObserver | undefined,
    private readonly sessionId: string,
    private readonly path: string,
  ) {
    this.flow = flowRecord?.ctx;
  }

  runHandler<T>(fn: () => T): T {
    return this.inner ? this.inner.runHandler(fn) : fn();
  }

  answered(stage: string | undefined, last: boolean): void {
    if (!this.flowRecord || !this.step) return;
    const known = stage !== undefined && FLOW_STAGES.has(stage) ? (stage as FlowStage) : undefined;
    this.m.tracker.annotate(this.flowRecord, this.step, known, last);
  }

  end(r: HttpResult): void {
    this.inner?.end(r);
    this.m.httpEnded(this.flowRecord, this.step, r);
  }
}

export class Monitor implements Instrumentation {
  private readonly live = new LiveRegistry();
  private readonly hub = new EventHub(this.live.entries);
  private readonly tally = new SessionTally();
  readonly tracker: FlowTracker;
  private inner: Instrumentation | undefined;

  private readonly idPrefix: string;

  constructor(options: ResolvedOptions) {
    this.idPrefix = options.idPrefix;
    this.tracker = new FlowTracker(flowOptions(options), this.idPrefix, (f) => this.onFlowEnd(f), (f, late) => this.onFlowBoot(f, late));
  }

  /** The options with the monitor in front of their instrumentation (what the sessions get). */
  wrap(o: ResolvedOptions): ResolvedOptions {
    this.inner = o.instrumentation;
    return Object.freeze({ ...o, instrumentation: this });
  }

  /** New flow limits (reconfigure; the id prefix stays). */
  configure(options: ResolvedOptions): void {
    this.tracker.configure(flowOptions(options));
  }

  session(info: SessionInfo): SessionObserver {
    const now = Date.now();
    let flow: FlowRecord | undefined;
    let step: FlowStepRecord | undefined;
    if (this.tracker.enabled) {
      ({ flow, step } = this.tracker.start(info, now));
      info.flow = flow.ctx;
    }
    const inner = this.inner?.session(info);
    const entry = new LiveEntry(`${this.idPrefix}${info.id}`, info.kind, info.peer, info.local, info.path, now, info.progress);
    this.live.add(entry);
    if (this.hub.active) {
      this.hub.emit({ type: "session-start", session: entry.snapshot(now) });
      if (flow) this.hub.emit({ type: "flow", flow: flow.snapshot(now) });
    }
    return new MonitoredSession(this, entry, flow, step, inner);
  }

  malformed(peer: Endpoint): void {
    this.inner?.malformed(peer);
  }

  /** A request to the HTTP stage joins its client's boot flow as a step (kind "http"). */
  http(info: HttpRequestInfo): HttpObserver {
    const now = Date.now();
    let flow: FlowRecord | undefined;
    let step: FlowStepRecord | undefined;
    // The booted callback is not a step of the boot (it ends the flow: markBooted); its span
    // still joins the boot's trace.
    if (this.tracker.enabled && info.callback) {
      info.flow = this.tracker.openFlowOf(info.peer.address)?.ctx;
    } else if (this.tracker.enabled) {
      ({ flow, step } = this.tracker.start({ id: info.id, kind: "http", path: info.path, peer: info.peer, progress: info.progress }, now));
      info.flow = flow.ctx;
    }
    let inner: HttpObserver | undefined;
    try {
      inner = this.inner?.http?.(info);
    } catch {
      // Telemetry must not take the server down.
    }
    if (flow && this.hub.active) this.hub.emit({ type: "flow", flow: flow.snapshot(now) });
    return new MonitoredHttp(this, flow, step, inner, `${this.idPrefix}${info.id}`, info.path);
  }

  httpRefused(reason: HttpRefusal): void {
    this.inner?.httpRefused?.(reason);
  }

  /** An HTTP step ended: it settles as a TFTP step does (failures, search misses, a last file boots the flow). */
  httpEnded(flow: FlowRecord | undefined, step: FlowStepRecord | undefined, r: HttpResult): void {
    if (!flow || !step) return;
    const now = Date.now();
    const end: StepEnd = {
      kind: "http",
      outcome: r.outcome,
      bytesSent: r.bytes,
      tsize: r.size,
      blksize: 0,
      windowsize: 0,
      durationMs: r.durationMs,
      handlerMs: r.handlerMs,
      retransmits: 0,
      httpStatus: r.status,
    };
    if (r.error) end.errorText = r.error;
    this.tracker.finish(flow, step, end, now);
    if (this.hub.active) this.hub.emit({ type: "flow", flow: flow.snapshot(now) });
  }

  sessionEnded(entry: LiveEntry, flow: FlowRecord | undefined, step: FlowStepRecord | undefined, s: SessionStats): void {
    const now = Date.now();
    this.live.remove(entry);
    if (flow && step) this.tracker.finish(flow, step, s, now);
    this.tally.add(s);
    if (!this.hub.active) return;
    const final = {
      bytes: s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent,
      blksize: s.blksize,
      windowsize: s.windowsize,
      tsize: s.tsize,
      retransmits: s.retransmits,
    };
    const e: ServerEvent = { type: "session-end", session: entry.snapshot(now, final), outcome: s.outcome };
    if (s.error) e.error = `${s.error.code}: ${s.error.message}`;
    this.hub.emit(e);
    if (flow) this.hub.emit({ type: "flow", flow: flow.snapshot(now) });
  }

  private onFlowEnd(f: FlowRecord): void {
    const hasInner = this.inner?.flowEnded !== undefined;
    if (!hasInner && !this.hub.active) return;
    const snap = f.snapshot(Date.now());
    try {
      this.inner?.flowEnded?.(snap);
    } catch {
      // Telemetry must not take the server down.
    }
    if (this.hub.active) this.hub.emit({ type: "flow", flow: snap });
  }

  private onFlowBoot(f: FlowRecord, late: boolean): void {
    const hasInner = this.inner?.flowBooted !== undefined;
    if (!hasInner && !(late && this.hub.active)) return;
    const snap = f.snapshot(Date.now());
    try {
      this.inner?.flowBooted?.(snap);
    } catch {
      // Telemetry must not take the server down.
    }
    // A flow that booted while open was just sent by onFlowEnd.
    if (late && this.hub.active) this.hub.emit({ type: "flow", flow: snap });
  }

  /** The machine at `client` booted (it called back): see FlowTracker.markBooted. */
  markBooted(client: string): boolean {
    return this.tracker.markBooted(client, Date.now());
  }

  liveSessions(): LiveSession[] {
    return this.live.snapshot();
  }

  flows(q?: FlowQuery): BootFlow[] {
    return this.tracker.query(q);
  }

  summary(): SessionSummary {
    return this.tally.summary();
  }

  subscribe(fn: ServerEventListener): () => void {
    return this.hub.subscribe(fn);
  }

  /** Flows held (open and ended, in each budget). */
  flowCounts(): ReturnType<FlowTracker["counts"]> {
    return this.tracker.counts();
  }

  /** The server closes: open flows end (their spans with them), the progress timer stops. */
  close(): void {
    this.tracker.endAll();
  }
}
