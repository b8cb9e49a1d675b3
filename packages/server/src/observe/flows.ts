// Boot flows: what one machine fetches while it boots. Consecutive sessions
// from one client address form a flow, ended by an idle gap (flowIdleSeconds,
// no session running) or by the server closing. Where a path names the
// machine (bootpath.ts: pxelinux 01-<mac> and hex-IP configs, grub
// grub.cfg-01-<mac>, Raspberry Pi serial folders, iPXE ?mac=), the flow
// records that identity.
//
// Memory is bounded whatever the traffic: at most flowsMax flows open and
// flowsMax ended, flowStepsMax steps each (the oldest step goes first), and
// flows of a single step that has not succeeded live in a separate, smaller
// budget (a quarter), so a flood of one-packet clients churns that budget and
// never evicts a real boot. Each session costs O(1): a map lookup, a step,
// a move to the back of an insertion-ordered map; an idle sweep visits only
// the flows it ends (plus the busy ones it moves back).

import { bootIdentity, type BootIdentity } from "../files/bootpath.js";
import type { SessionProgress } from "./live.js";
import type { Outcome, SessionStats } from "./stats.js";

export interface FlowStep {
  sessionId: string;
  path: string;
  /** "http": a request to the HTTP stage (blksize and windowsize 0, tsize its Content-Length). */
  kind: "read" | "write" | "http";
  /** "running" while the session runs. */
  outcome: Outcome | "running";
  bytes: number;
  tsize: number | null;
  blksize: number;
  windowsize: number;
  /** epoch ms */
  startedAt: number;
  durationMs: number;
  /** Time the handler took to answer; null while it has not. */
  handlerMs: number | null;
  retransmits: number;
  /** The TFTP error sent or received ("code: message"). */
  error?: string;
  /** HTTP steps: the response's status code. */
  httpStatus?: number;
}

export interface BootFlow {
  id: string;
  /** The client's address. */
  client: string;
  identity?: { kind: string; value: string };
  /** epoch ms */
  startedAt: number;
  /** epoch ms of the last session's end; null while the flow is open. */
  endedAt: number | null;
  /** epoch ms at which the machine called back over the HTTP stage (booted path): the flow ended there. */
  bootedAt?: number;
  /** The flow's trace (its tftp.boot span), when tracing records it. */
  traceId?: string;
  /** In order of start; the last flowStepsMax. */
  steps: FlowStep[];
  /** Steps let go of to stay within flowStepsMax. */
  stepsDropped?: number;
}

/**
 * What a handler (ReadRequest.flow) and the instrumentation (SessionInfo.flow)
 * see of the flow a session belongs to. Telemetry fills traceId and
 * traceparent (of the flow's tftp.boot span) before the handler runs.
 */
export interface FlowContext {
  readonly id: string;
  readonly client: string;
  /** Learnt from the flow's paths so far. */
  identity?: BootIdentity;
  traceId?: string;
  /** W3C traceparent of the flow's root span: pass it on (e.g. in the HTTP URLs an iPXE script chains to). */
  traceparent?: string;
}

export interface FlowQuery {
  /** Only this client address. */
  client?: string;
  /** At most this many, newest first (default 100). */
  limit?: number;
}

export interface FlowOptions {
  /** ms without a session that end a flow. */
  idleMs: number;
  /** Flows kept open and ended (each); 0 turns boot flows off. */
  flowsMax: number;
  stepsMax: number;
  /** Flows of one step that has not succeeded (open and ended, each). */
  junkMax: number;
}

export const FLOW_DEFAULTS = Object.freeze({
  flowIdleSeconds: 60, // s without a session from the client that ends its boot flow
  flowsMax: 1000, // boot flows kept (open, and as many ended)
  flowStepsMax: 64, // steps kept per flow (the last ones)
});

/** The tracker's limits from the server's resolved options (validated by SERVER_OPTIONS). */
export function flowOptions(o: { flowIdleSeconds: number; flowsMax: number; flowStepsMax: number }): FlowOptions {
  return {
    idleMs: Math.round(o.flowIdleSeconds * 1000),
    flowsMax: o.flowsMax,
    stepsMax: o.flowStepsMax,
    junkMax: Math.ceil(o.flowsMax / 4),
  };
}

const IDENTITY_RANK: Record<BootIdentity["kind"], number> = { ip: 1, serial: 2, mac: 3 };
const SUCCEEDED: ReadonlySet<string> = new Set(["ok", "probe"]);

class StepRecord {
  final: FlowStep | undefined;
  constructor(
    readonly sessionId: string,
    readonly path: string,
    readonly kind: "read" | "write" | "http",
    readonly startedAt: number,
    /** Reads the running session; let go of at its end (it holds the session and its buffers). */
    private progress: (() => SessionProgress) | undefined,
  ) {}

  /** The session ended: keep its figures, let go of the session. */
  settle(final: FlowStep): void {
    this.final = final;
    this.progress = undefined;
  }

  snapshot(now: number): FlowStep {
    if (this.final) return this.final;
    const p = this.progress?.();
    return {
      sessionId: this.sessionId,
      path: this.path,
      kind: this.kind,
      outcome: "running",
      bytes: p?.bytes ?? 0,
      tsize: p && p.tsize >= 0 ? p.tsize : null,
      blksize: p?.blksize ?? 512,
      windowsize: p?.windowsize ?? 1,
      startedAt: this.startedAt,
      durationMs: Math.max(0, now - this.startedAt),
      handlerMs: null,
      retransmits: p?.retransmits ?? 0,
    };
  }

  failed(): boolean {
    return !this.final || !SUCCEEDED.has(this.final.outcome);
  }
}

export class FlowRecord {
  readonly ctx: FlowContext;
  readonly steps: StepRecord[] = [];
  stepsDropped = 0;
  endedAt: number | null = null;
  lastActivity: number;
  /** Sessions running. */
  active = 0;
  /** In the small budget (one step, not succeeded yet). */
  junk = true;
  /** When the machine called back as booted (markBooted). */
  bootedAt: number | undefined;

  constructor(id: string, readonly client: string, readonly startedAt: number) {
    this.ctx = { id, client };
    this.lastActivity = startedAt;
  }

  snapshot(now: number): BootFlow {
    const f: BootFlow = {
      id: this.ctx.id,
      client: this.client,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      steps: this.steps.map((s) => s.snapshot(now)),
    };
    if (this.ctx.identity) f.identity = { kind: this.ctx.identity.kind, value: this.ctx.identity.value };
    if (this.ctx.traceId) f.traceId = this.ctx.traceId;
    if (this.bootedAt !== undefined) f.bootedAt = this.bootedAt;
    if (this.stepsDropped) f.stepsDropped = this.stepsDropped;
    return f;
  }
}

/** A fixed-capacity ring, oldest overwritten. */
class Ring<T> {
  private readonly buf: Array<T | undefined>;
  private next = 0;
  size = 0;
  constructor(readonly capacity: number) {
    this.buf = new Array<T | undefined>(capacity);
  }
  push(v: T): void {
    if (this.capacity === 0) return;
    this.buf[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }
  /** Newest first. */
  *newest(): IterableIterator<T> {
    for (let i = 1; i <= this.size; i++) yield this.buf[(this.next - i + this.capacity) % this.capacity]!;
  }
}

export interface SessionStart {
  id: number;
  kind: "read" | "write" | "http";
  path: string;
  peer: { address: string };
  progress?: () => SessionProgress;
}

/** Flows by client address, with the bounds above. */
export class FlowTracker {
  /** Open flows past their first step (or whose first step succeeded), least recently active first. */
  private readonly open = new Map<string, FlowRecord>();
  /** Open flows of a single step that has not succeeded, least recently active first. */
  private readonly openJunk = new Map<string, FlowRecord>();
  private ended: Ring<FlowRecord>;
  private endedJunk: Ring<FlowRecord>;
  private nextId = 1;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private o: FlowOptions,
    /** Put before flow and session ids (a worker's, e.g. "w2:", so ids stay unique across workers). */
    private readonly idPrefix: string,
    /** Told of every flow that ends (idle, evicted, closed). */
    private readonly onEnd: (f: FlowRecord) => void,
  ) {
    this.ended = new Ring(o.flowsMax);
    this.endedJunk = new Ring(o.junkMax);
  }

  /** New limits (reload); flows kept are carried over as far as they fit. */
  configure(o: FlowOptions): void {
    const ended = [...this.ended.newest()].reverse();
    const junk = [...this.endedJunk.newest()].reverse();
    this.o = o;
    this.ended = new Ring(o.flowsMax);
    this.endedJunk = new Ring(o.junkMax);
    for (const f of ended) this.ended.push(f);
    for (const f of junk) this.endedJunk.push(f);
    while (this.open.size > o.flowsMax) this.end(this.open.values().next().value!);
    while (this.openJunk.size > o.junkMax) this.end(this.openJunk.values().next().value!);
  }

  get enabled(): boolean {
    return this.o.flowsMax > 0;
  }

  /** A session starts: its flow (a new one after an idle gap) gets a step. */
  start(s: SessionStart, now: number): { flow: FlowRecord; step: StepRecord } {
    const client = s.peer.address;
    let flow = this.open.get(client) ?? this.openJunk.get(client);
    if (flow && flow.active === 0 && now - flow.lastActivity >= this.o.idleMs) {
      this.end(flow);
      flow = undefined;
    }
    if (!flow) {
      const oldest = this.openJunk.size >= this.o.junkMax ? this.openJunk.values().next().value : undefined;
      if (oldest) this.end(oldest);
      flow = new FlowRecord(`${this.idPrefix}${this.nextId++}`, client, now);
      this.openJunk.set(client, flow);
      this.armSweep();
    } else if (flow.junk) {
      this.promote(flow); // a second step: a boot, not a stray packet
    }
    const step = new StepRecord(`${this.idPrefix}${s.id}`, s.path, s.kind, now, s.progress);
    if (flow.steps.length >= this.o.stepsMax) {
      flow.steps.shift();
      flow.stepsDropped++;
    }
    flow.steps.push(step);
    flow.active++;
    this.touch(flow, now);
    const id = bootIdentity(s.path);
    if (id && (!flow.ctx.identity || IDENTITY_RANK[id.kind] > IDENTITY_RANK[flow.ctx.identity.kind])) flow.ctx.identity = id;
    return { flow, step };
  }

  /** The session of `step` ended. */
  finish(flow: FlowRecord, step: StepRecord, st: SessionStats, now: number): void {
    const final: FlowStep = {
      sessionId: step.sessionId,
      path: step.path,
      kind: step.kind,
      outcome: st.outcome,
      bytes: st.kind === "write" ? st.bytesReceived ?? 0 : st.bytesSent,
      tsize: st.tsize >= 0 ? st.tsize : null,
      blksize: st.blksize,
      windowsize: st.windowsize,
      startedAt: step.startedAt,
      durationMs: Math.round(st.durationMs * 1000) / 1000,
      handlerMs: Math.round(st.handlerMs * 1000) / 1000,
      retransmits: st.retransmits,
    };
    if (st.error) final.error = `${st.error.code}: ${st.error.message}`;
    step.settle(final);
    flow.active--;
    if (flow.endedAt !== null) return; // evicted while the session ran
    if (flow.junk && !step.failed()) this.promote(flow);
    this.touch(flow, now);
  }

  /**
   * An HTTP request's step ended (start() it with kind "http"): `final` as
   * the HTTP stage saw it (status, bytes sent, duration).
   */
  finishHttp(flow: FlowRecord, step: StepRecord, final: FlowStep, now: number): void {
    step.settle(final);
    flow.active--;
    if (flow.endedAt !== null) return;
    if (flow.junk && !step.failed()) this.promote(flow);
    this.touch(flow, now);
  }

  /**
   * The machine at `client` says it is up (the HTTP stage's booted path):
   * its open flow ends now as booted. False when it has no open flow.
   */
  markBooted(client: string, now: number): boolean {
    const flow = this.open.get(client) ?? this.openJunk.get(client);
    if (!flow) return false;
    flow.bootedAt = now;
    flow.lastActivity = now;
    this.end(flow);
    return true;
  }

  /** Ends every open flow (the server closes). */
  endAll(): void {
    for (const f of [...this.openJunk.values(), ...this.open.values()]) this.end(f);
    this.disarmSweep();
  }

  /** Open flows first, then ended ones, each newest first. */
  query(q: FlowQuery = {}, now = Date.now()): BootFlow[] {
    const limit = Math.max(0, Math.min(q.limit ?? 100, 2 * (this.o.flowsMax + this.o.junkMax)));
    const all: FlowRecord[] = [];
    const want = (f: FlowRecord): boolean => q.client === undefined || f.client === q.client;
    for (const f of this.open.values()) if (want(f)) all.push(f);
    for (const f of this.openJunk.values()) if (want(f)) all.push(f);
    for (const f of this.ended.newest()) if (want(f)) all.push(f);
    for (const f of this.endedJunk.newest()) if (want(f)) all.push(f);
    all.sort((a, b) => b.startedAt - a.startedAt || Number(b.ctx.id) - Number(a.ctx.id));
    return all.slice(0, limit).map((f) => f.snapshot(now));
  }

  /** Flows held, open and ended (for tests and the memory bound). */
  counts(): { open: number; openJunk: number; ended: number; endedJunk: number } {
    return { open: this.open.size, openJunk: this.openJunk.size, ended: this.ended.size, endedJunk: this.endedJunk.size };
  }

  private promote(flow: FlowRecord): void {
    this.openJunk.delete(flow.client);
    flow.junk = false;
    const oldest = this.open.size >= this.o.flowsMax ? this.open.values().next().value : undefined;
    if (oldest) this.end(oldest);
    this.open.set(flow.client, flow);
  }

  /** Moves the flow to the back of its map (most recently active). */
  private touch(flow: FlowRecord, now: number): void {
    flow.lastActivity = now;
    const map = flow.junk ? this.openJunk : this.open;
    map.delete(flow.client);
    map.set(flow.client, flow);
  }

  private end(flow: FlowRecord): void {
    if (flow.endedAt !== null) return;
    (flow.junk ? this.openJunk : this.open).delete(flow.client);
    flow.endedAt = flow.lastActivity;
    // A single step that did not succeed (or still runs: evicted) goes to the small budget.
    if (flow.steps.length === 1 && flow.steps[0].failed()) this.endedJunk.push(flow);
    else this.ended.push(flow);
    this.onEnd(flow);
  }

  private armSweep(): void {
    if (this.sweepTimer) return;
    const every = Math.min(5000, Math.max(20, Math.floor(this.o.idleMs / 4)));
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), every);
    this.sweepTimer.unref();
  }

  private disarmSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Ends the flows idle for flowIdleSeconds. */
  sweep(now: number): void {
    for (const map of [this.openJunk, this.open]) {
      let n = map.size;
      for (const f of map.values()) {
        if (n-- <= 0) break;
        if (f.active > 0) {
          // Busy: to the back, so that the front stays the idlest.
          map.delete(f.client);
          map.set(f.client, f);
          continue;
        }
        if (now - f.lastActivity < this.o.idleMs) break;
        this.end(f);
      }
    }
    if (this.open.size === 0 && this.openJunk.size === 0) this.disarmSweep();
  }
}
