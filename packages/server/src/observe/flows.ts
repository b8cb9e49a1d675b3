// Boot flows: what one machine fetches while it boots. Consecutive sessions
// from one client address form a flow, ended by an idle gap (flowIdleSeconds,
// no session running) or by the server closing. Where a path names the
// machine (bootpath.ts: pxelinux 01-<mac> and hex-IP configs, grub
// grub.cfg-01-<mac>, Raspberry Pi serial folders, iPXE ?mac=), the flow
// records that identity.
//
// Memory is bounded whatever the traffic: at most maxFlows flows open and
// maxFlows ended, maxFlowSteps steps each (the oldest step goes first), and
// flows of a single step that has not succeeded live in a separate, smaller
// budget (a quarter), so a flood of one-packet clients churns that budget and
// never evicts a real boot. Each session costs O(1): a map lookup, a step,
// a move to the back of an insertion-ordered map, a few string tests of its
// name (boot-loaders.ts); an idle sweep visits only the flows it ends (plus
// the busy ones it moves back).
//
// Flows know boot loaders (boot-loaders.ts): a miss inside a known config
// search is "search-miss", not a failure; a search that ends with nothing
// found fails the flow; each step gets a stage; each flow a loader chain.
// A flow ends as "booted" when the handler marked a step as the last one
// (`last: true` on its answer) or when markBooted() is called (the machine
// called back); it then has its time to boot.

import { bootIdentity, type BootIdentity } from "../files/bootpath.js";
import {
  CHAIN_MAX, askerOf, nameInfo, nextOf, stageByOrder,
  type BootSequence, type FlowStage,
} from "./boot-loaders.js";
import type { SessionProgress } from "./live.js";
import type { Outcome } from "./stats.js";

export type { FlowStage } from "./boot-loaders.js";

/** What a step was: a TFTP read or write, or a request of the HTTP stage. */
export type FlowStepKind = "read" | "write" | "http";

/**
 * How a finished step ended: a session outcome, "search-miss" (a name
 * missing inside a known config search: how the loader works, not a
 * failure), or "repeat" (a late copy of a request the flow had already
 * served: the client had its file and had closed its port or refused the
 * copy's answer as from an unknown transfer ID; not a failure).
 */
export type SettledOutcome = Outcome | "search-miss" | "repeat";

/** How a step ended (SettledOutcome), or "running" while it runs. */
export type StepOutcome = SettledOutcome | "running";

export interface FlowStep {
  sessionId: string;
  path: string;
  kind: FlowStepKind;
  outcome: StepOutcome;
  /** boot-program, config, kernel, initrd or other: set by the handler, else from the name and the flow's order. */
  stage: FlowStage;
  /** The handler marked this step as the boot's last (`last: true`). */
  last?: true;
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
  /** The flow's trace (its tftp.boot span), when tracing records it. */
  traceId?: string;
  /** In order of start; the last maxFlowSteps. */
  steps: FlowStep[];
  /** Steps let go of to stay within maxFlowSteps. */
  stepsDropped?: number;
  /** Firmware, loaders and OS the flow went through, learnt from what it asked: e.g. ["UEFI PXE", "GRUB", "Linux"]. */
  loaderChain: string[];
  /** Steps that failed (neither ok, probe, search-miss nor repeat), dropped ones included. */
  failedSteps: number;
  /** Names missing inside known config searches (not failures), dropped ones included. */
  searchMisses: number;
  /** A step failed, or a config search ended with no config found. */
  failed: boolean;
  /** The config search that ended with no config found (e.g. "pxelinux.cfg"). */
  noConfig?: string;
  /** epoch ms: the flow booted (the handler's last step ended, or the machine called back). */
  bootedAt?: number;
  /** From the flow's first packet to booted. */
  timeToBootMs?: number;
  /** "last-step" (the handler marked it) or "callback" (markBooted). */
  bootedBy?: "last-step" | "callback";
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
  maxFlows: 1000, // boot flows kept (open, and as many ended)
  maxFlowSteps: 64, // steps kept per flow (the last ones)
});

/** The tracker's limits from the server's resolved options (validated by SERVER_OPTIONS). */
export function flowOptions(o: { flowIdleSeconds: number; maxFlows: number; maxFlowSteps: number }): FlowOptions {
  return {
    idleMs: Math.round(o.flowIdleSeconds * 1000),
    flowsMax: o.maxFlows,
    stepsMax: o.maxFlowSteps,
    junkMax: Math.ceil(o.maxFlows / 4),
  };
}

const IDENTITY_RANK: Record<BootIdentity["kind"], number> = { ip: 1, serial: 2, mac: 3 };
/** Steps that take a flow out of the small budget (a search miss does not: a flood of them stays there). */
const SUCCEEDED: ReadonlySet<string> = new Set(["ok", "probe"]);
/** Steps that are not failures. */
const NOT_FAILED: ReadonlySet<string> = new Set(["ok", "probe", "search-miss", "repeat"]);

/** Names the tracker keeps one string of at most (FlowTracker.intern). */
const PATHS_MAX = 4096;

/** A flow ended by the idle gap can still be marked booted (the machine called back) this long after its last step. */
export const BOOT_CALLBACK_WINDOW_MS = 3_600_000;

/**
 * One step of a flow: the running session's step, then its final figures.
 *
 * A settled step lives as long as its flow (up to flowIdleSeconds after the
 * machine's last request, maxFlowSteps of them per flow), so it outlives
 * V8's young generation and is copied and promoted: it is one object, its
 * figures kept as small integers where they can be (V8 keeps a small integer
 * in the object, a fractional or epoch number in a box of its own), and its
 * session id and start are put together only when someone reads the flow.
 */
export class StepRecord {
  /** How it ended; undefined while it runs. */
  outcome: SettledOutcome | undefined = undefined;
  /** The handler marked the step as the boot's last. */
  last = false;
  // Final figures (settle()); undefined while it runs.
  bytes: number | undefined = undefined;
  /** -1: unknown. */
  tsize: number | undefined = undefined;
  blksize: number | undefined = undefined;
  windowsize: number | undefined = undefined;
  retransmits: number | undefined = undefined;
  /** Microseconds, rounded (FlowStep.durationMs has three decimals). */
  durationUs: number | undefined = undefined;
  handlerUs: number | undefined = undefined;
  /** The TFTP error ("code: message") or the HTTP one. */
  error: string | undefined = undefined;
  httpStatus: number | undefined = undefined;

  constructor(
    /** The session's id, without the server's prefix. */
    readonly id: number | string,
    readonly path: string,
    readonly kind: FlowStepKind,
    /** ms after its flow started. */
    readonly startOffset: number,
    public stage: FlowStage,
    /** The known search the name belongs to (and whether it is the search's fallback). */
    readonly search: BootSequence | undefined,
    readonly fallback: boolean,
    /** Reads the running session; let go of at its end (it holds the session and its buffers). */
    private progress: (() => SessionProgress) | undefined,
  ) {}

  get settled(): boolean {
    return this.outcome !== undefined;
  }

  /** The session ended: keep its figures, let go of the session. */
  settle(outcome: SettledOutcome, st: StepEnd): void {
    this.outcome = outcome;
    this.bytes = st.kind === "write" ? st.bytesReceived ?? 0 : st.bytesSent;
    this.tsize = st.tsize >= 0 ? st.tsize : -1;
    this.blksize = st.blksize;
    this.windowsize = st.windowsize;
    this.retransmits = st.retransmits;
    this.durationUs = Math.round(st.durationMs * 1000);
    this.handlerUs = Math.round(st.handlerMs * 1000);
    if (st.error) this.error = `${st.error.code}: ${st.error.message}`;
    else if (st.errorText !== undefined) this.error = st.errorText;
    if (st.httpStatus !== undefined) this.httpStatus = st.httpStatus;
    this.progress = undefined;
  }

  /** As the API shows it (`flow`: the flow it belongs to). */
  snapshot(flow: FlowRecord, now: number): FlowStep {
    const startedAt = flow.startedAt + this.startOffset;
    const sessionId = `${flow.idPrefix}${this.id}`;
    if (this.outcome === undefined) {
      const p = this.progress?.();
      return {
        sessionId,
        path: this.path,
        kind: this.kind,
        outcome: "running",
        stage: this.stage,
        bytes: p?.bytes ?? 0,
        tsize: p && p.tsize >= 0 ? p.tsize : null,
        blksize: p?.blksize ?? 512,
        windowsize: p?.windowsize ?? 1,
        startedAt,
        durationMs: Math.max(0, now - startedAt),
        handlerMs: null,
        retransmits: p?.retransmits ?? 0,
      };
    }
    const f: FlowStep = {
      sessionId,
      path: this.path,
      kind: this.kind,
      outcome: this.outcome,
      stage: this.stage,
      bytes: this.bytes!,
      tsize: this.tsize! >= 0 ? this.tsize! : null,
      blksize: this.blksize!,
      windowsize: this.windowsize!,
      startedAt,
      durationMs: this.durationUs! / 1000,
      handlerMs: this.handlerUs! / 1000,
      retransmits: this.retransmits!,
    };
    if (this.last) f.last = true;
    if (this.error !== undefined) f.error = this.error;
    if (this.httpStatus !== undefined) f.httpStatus = this.httpStatus;
    return f;
  }

  failed(): boolean {
    return this.outcome === undefined || !SUCCEEDED.has(this.outcome);
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
  readonly chain: string[] = [];
  failedSteps = 0;
  searchMisses = 0;
  /** Steps started (dropped ones included). */
  started = 0;
  sawConfig = false;
  sawKernel = false;
  sawInitrd = false;
  /** The config search begun and not found yet (misses only). */
  openSearch: BootSequence | undefined;
  /** The config search that found a config last. */
  foundSearch: BootSequence | undefined;
  noConfig: string | undefined;
  bootedAt: number | undefined;
  bootedBy: "last-step" | "callback" | undefined;

  constructor(
    /** The server's prefix of flow and session ids ("" or a worker's "w2:"). */
    readonly idPrefix: string,
    n: number,
    readonly client: string,
    readonly startedAt: number,
  ) {
    this.ctx = { id: `${idPrefix}${n}`, client };
    this.lastActivity = startedAt;
  }

  get failed(): boolean {
    return this.failedSteps > 0 || this.noConfig !== undefined;
  }

  /** Whether an earlier step of this flow served the same name to the same kind of request. */
  served(step: StepRecord): boolean {
    for (const s of this.steps) {
      if (s === step) return false;
      if (s.outcome === "ok" && s.path === step.path && s.kind === step.kind) return true;
    }
    return false;
  }

  /** Adds a link to the loader chain (once; at most CHAIN_MAX). */
  link(name: string | undefined): void {
    if (name && this.chain.length < CHAIN_MAX && !this.chain.includes(name)) this.chain.push(name);
  }

  snapshot(now: number): BootFlow {
    const f: BootFlow = {
      id: this.ctx.id,
      client: this.client,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      steps: this.steps.map((s) => s.snapshot(this, now)),
      loaderChain: [...this.chain],
      failedSteps: this.failedSteps,
      searchMisses: this.searchMisses,
      failed: this.failed,
    };
    if (this.ctx.identity) f.identity = { kind: this.ctx.identity.kind, value: this.ctx.identity.value };
    if (this.ctx.traceId) f.traceId = this.ctx.traceId;
    if (this.stepsDropped) f.stepsDropped = this.stepsDropped;
    if (this.noConfig) f.noConfig = this.noConfig;
    if (this.bootedAt !== undefined) {
      f.bootedAt = this.bootedAt;
      f.timeToBootMs = this.bootedAt - this.startedAt;
      f.bootedBy = this.bootedBy;
    }
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
  id: number | string;
  kind: FlowStepKind;
  path: string;
  peer: { address: string };
  /** Options the client asked (names lower case): they tell firmware and loaders apart. */
  optionsAsked?: Readonly<Record<string, string>>;
  progress?: () => SessionProgress;
}

/** How a step ended, as the tracker needs it (a TFTP session's SessionStats fits). */
export interface StepEnd {
  kind: FlowStepKind;
  outcome: Outcome;
  bytesSent: number;
  bytesReceived?: number;
  tsize: number;
  blksize: number;
  windowsize: number;
  durationMs: number;
  handlerMs: number;
  retransmits: number;
  error?: { code: number; message: string };
  /** The client sent nothing after its request and had closed its port (SessionStats.unanswered). */
  unanswered?: boolean;
  /** Read steps: DATA blocks the client acknowledged. */
  blocksAcked?: number;
  /** HTTP steps: the response's status code. */
  httpStatus?: number;
  /** HTTP steps: the error as text (`status: message`), in place of `error`. */
  errorText?: string;
}

/**
 * What a late copy of a request meets when it is served again: the client's
 * port closed (ICMP: aborted before the client said anything), or still open
 * and bound to the first session, so that the client answers the copy's
 * first packet with ERROR 5 "Unknown transfer ID" (RFC 1350) having
 * acknowledged nothing. Of a file the flow was already served, that is a
 * repeat, not a failure.
 */
function isRefusedCopy(st: StepEnd): boolean {
  if (st.outcome === "aborted") return st.unanswered === true;
  return st.outcome === "client-error" && st.kind === "read" && st.error?.code === 5 && !st.blocksAcked;
}

/** How often (ms) the tracker looks for flows idle for `idleMs`: a flow ends at most this long after its idle gap. */
export function sweepEveryMs(idleMs: number): number {
  return Math.min(5000, Math.max(20, Math.floor(idleMs / 4)));
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
  /** Names asked, each kept once (intern()). */
  private readonly paths = new Map<string, string>();
  /** Each client's last ended flow, oldest first (bounded like the ended rings): a late callback finds it. */
  private readonly lastEnded = new Map<string, FlowRecord>();

  constructor(
    private o: FlowOptions,
    /** Put before flow and session ids (a worker's, e.g. "w2:", so ids stay unique across workers). */
    private readonly idPrefix: string,
    /** Told of every flow that ends (idle, evicted, closed, booted). */
    private readonly onEnd: (f: FlowRecord) => void,
    /** Told of every flow that boots (after onEnd when booting ends it; `late`: it had ended before). */
    private readonly onBoot: (f: FlowRecord, late: boolean) => void = () => {},
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
    while (this.lastEnded.size > o.flowsMax + o.junkMax) this.lastEnded.delete(this.lastEnded.keys().next().value!);
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
      flow = new FlowRecord(this.idPrefix, this.nextId++, client, now);
      this.openJunk.set(client, flow);
      this.armSweep();
    } else if (flow.junk) {
      this.promote(flow); // a second step: a boot, not a stray packet
    }
    const step = this.step(flow, s, now);
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

  /** A new step: its stage, its search, what it says of the loader chain. */
  private step(flow: FlowRecord, s: SessionStart, now: number): StepRecord {
    const { base, place, stage: named } = nameInfo(s.path);
    const first = flow.started === 0;
    flow.started++;
    const prev = flow.steps[flow.steps.length - 1];
    let stage = named;
    // The same name again (a size probe, then the fetch): the same stage.
    if (!stage && prev?.path === s.path) stage = prev.stage;
    stage ??= stageByOrder(first, flow.sawConfig, flow.sawKernel, flow.sawInitrd);
    this.saw(flow, stage);
    if (place?.search.fallback && flow.foundSearch !== place.search) flow.openSearch = place.search;
    if (s.kind !== "http") flow.link(askerOf(s.path, base, s.optionsAsked, first));
    return new StepRecord(s.id, this.intern(s.path), s.kind, now - flow.startedAt, stage, place?.search, place?.fallback ?? false, s.progress);
  }

  /**
   * One string per name asked: a step keeps its path as long as its flow
   * lives, and machines ask the same few names (boot programs, kernels,
   * default configs), each request with a string of its own. Bounded: a
   * table full of names (per-machine configs, a flood of made-up ones) starts
   * again.
   */
  private intern(path: string): string {
    const known = this.paths.get(path);
    if (known !== undefined) return known;
    if (this.paths.size >= PATHS_MAX) this.paths.clear();
    this.paths.set(path, path);
    return path;
  }

  private saw(flow: FlowRecord, stage: FlowStage): void {
    if (stage === "config") flow.sawConfig = true;
    else if (stage === "kernel") flow.sawKernel = true;
    else if (stage === "initrd") flow.sawInitrd = true;
  }

  /** The handler's answer set the step's stage and/or marked it the boot's last. */
  annotate(flow: FlowRecord, step: StepRecord, stage: FlowStage | undefined, last: boolean): void {
    if (stage) {
      step.stage = stage;
      this.saw(flow, stage);
    }
    if (last) step.last = true;
  }

  /**
   * The step's final figures (outcome search-miss for a miss inside a known
   * search); the flow learns what the step says (found config, loader).
   * Once per step (again: nothing happens), before finish().
   */
  settle(flow: FlowRecord, step: StepRecord, st: StepEnd): void {
    if (step.settled) return;
    let outcome: SettledOutcome = st.outcome;
    const search = step.search;
    if (isRefusedCopy(st) && flow.served(step)) {
      outcome = "repeat";
    } else if (search) {
      if (st.outcome === "ok") {
        if (flow.openSearch === search) flow.openSearch = undefined;
        flow.foundSearch = search;
      } else if (st.outcome === "not-found" && !step.fallback) {
        outcome = "search-miss";
      } else if (st.outcome === "not-found" && flow.openSearch === search) {
        // The fallback is missing too: the loader found no config.
        flow.openSearch = undefined;
        flow.noConfig = search.id;
      }
    }
    if (outcome === "search-miss") flow.searchMisses++;
    else if (!NOT_FAILED.has(outcome)) flow.failedSteps++;
    if (st.outcome === "ok" && step.kind !== "write") flow.link(nextOf(nameInfo(step.path).base, step.stage));
    step.settle(outcome, st);
  }

  /** The client's open flow, if it has one (nothing changes). */
  openFlowOf(client: string): FlowRecord | undefined {
    return this.open.get(client) ?? this.openJunk.get(client);
  }

  /** The session of `step` ended (settle() first, or it is done here). */
  finish(flow: FlowRecord, step: StepRecord, st: StepEnd, now: number): void {
    this.settle(flow, step, st);
    flow.active--;
    if (flow.endedAt !== null) return; // evicted (or booted) while the session ran
    if (flow.junk && !step.failed()) this.promote(flow);
    this.touch(flow, now);
    if (step.last && step.outcome === "ok") this.boot(flow, now, "last-step");
  }

  /**
   * The machine of `client` booted (it called back): its open flow, or its
   * last one if that ended by the idle gap less than
   * BOOT_CALLBACK_WINDOW_MS ago, records its time to boot and ends. False
   * when the client has no such flow (or it booted already).
   */
  markBooted(client: string, now: number): boolean {
    if (!this.enabled) return false;
    const open = this.open.get(client) ?? this.openJunk.get(client);
    // Idle past the gap, not swept yet: it ended at its last step.
    if (open && open.active === 0 && now - open.lastActivity >= this.o.idleMs) this.end(open);
    else if (open) {
      if (open.junk) this.promote(open);
      this.boot(open, now, "callback");
      return true;
    }
    const last = this.lastEnded.get(client);
    if (!last || last.bootedAt !== undefined || now - last.endedAt! > BOOT_CALLBACK_WINDOW_MS) return false;
    last.bootedAt = Math.max(now, last.startedAt);
    last.bootedBy = "callback";
    this.onBoot(last, true);
    return true;
  }

  private boot(flow: FlowRecord, now: number, by: "last-step" | "callback"): void {
    flow.bootedAt = Math.max(now, flow.startedAt);
    flow.bootedBy = by;
    flow.lastActivity = flow.bootedAt;
    this.end(flow);
    this.onBoot(flow, false);
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
    // A search with misses only, never found nor ended by its fallback: no config either.
    if (flow.openSearch && flow.bootedAt === undefined) flow.noConfig = flow.openSearch.id;
    flow.openSearch = undefined;
    this.lastEnded.delete(flow.client);
    this.lastEnded.set(flow.client, flow);
    if (this.lastEnded.size > this.o.flowsMax + this.o.junkMax) this.lastEnded.delete(this.lastEnded.keys().next().value!);
    // A single step that did not succeed (or still runs: evicted) goes to the small budget.
    if (flow.steps.length === 1 && flow.steps[0].failed()) this.endedJunk.push(flow);
    else this.ended.push(flow);
    this.onEnd(flow);
  }

  private armSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), sweepEveryMs(this.o.idleMs));
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
