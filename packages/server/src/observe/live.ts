// Sessions running now, as plain objects (the admin API's /api/v1/sessions):
// bytes so far and a rate, read from the session on demand through the
// progress accessor it hands to the instrumentation seam. Nothing here runs
// per packet: a snapshot costs one accessor call per running session, and
// only when someone asks.

import type { Endpoint } from "./stats.js";
import { ShortLivedMap } from "../short-lived-map.js";

/** What a running session has done so far (SessionInfo.progress). */
export interface SessionProgress {
  /** Payload bytes sent once (reads) or received in order (writes). */
  bytes: number;
  blksize: number;
  windowsize: number;
  /** -1 while unknown. */
  tsize: number;
  retransmits: number;
}

export interface LiveSession {
  id: string;
  kind: "read" | "write";
  peer: Endpoint;
  local: Endpoint;
  path: string;
  bytes: number;
  tsize: number | null;
  /** Bytes per second over the last second or so (since the start for a younger session). */
  rateBps: number;
  blksize: number;
  windowsize: number;
  retransmits: number;
  ageMs: number;
  /** epoch ms */
  startedAt: number;
  /** The worker process that runs it (multi-process servers); null in a single process. */
  worker: number | null;
}

/** The minimum window a rate is measured over, in ms. */
const RATE_WINDOW_MS = 1000;

const NO_PROGRESS: SessionProgress = Object.freeze({ bytes: 0, blksize: 512, windowsize: 1, tsize: -1, retransmits: 0 });

/** One running session in the registry. */
export class LiveEntry {
  private sampleBytes = 0;
  private sampleAt: number;
  private rate = 0;
  /** Bytes at the last progress event (events.ts: only sessions that moved get another). */
  reportedBytes = -1;

  constructor(
    readonly id: string,
    readonly kind: "read" | "write",
    readonly peer: Endpoint,
    readonly local: Endpoint,
    readonly path: string,
    readonly startedAt: number,
    private readonly progress: (() => SessionProgress) | undefined,
  ) {
    this.sampleAt = startedAt;
  }

  /** The session as it is now; `final` (its end) replaces the accessor's answer. */
  snapshot(now: number, final?: SessionProgress): LiveSession {
    const p = final ?? this.progress?.() ?? NO_PROGRESS;
    const dt = now - this.sampleAt;
    if (dt >= RATE_WINDOW_MS || this.sampleAt === this.startedAt) {
      // The first sample measures from the start; later ones over at least a window.
      if (dt > 0) this.rate = Math.round(((p.bytes - this.sampleBytes) * 1000) / dt);
      if (dt >= RATE_WINDOW_MS) {
        this.sampleBytes = p.bytes;
        this.sampleAt = now;
      }
    }
    return {
      id: this.id,
      kind: this.kind,
      peer: this.peer,
      local: this.local,
      path: this.path,
      bytes: p.bytes,
      tsize: p.tsize >= 0 ? p.tsize : null,
      rateBps: this.rate,
      blksize: p.blksize,
      windowsize: p.windowsize,
      retransmits: p.retransmits,
      ageMs: Math.max(0, now - this.startedAt),
      startedAt: this.startedAt,
      worker: null,
    };
  }
}

/** The running sessions (progress reporting reorders them: see events.ts). */
export class LiveRegistry {
  /** See short-lived-map.ts for why not a Map. */
  readonly entries = new ShortLivedMap<string, LiveEntry>();

  add(e: LiveEntry): void {
    this.entries.set(e.id, e);
  }

  remove(e: LiveEntry): void {
    this.entries.delete(e.id);
  }

  snapshot(now = Date.now()): LiveSession[] {
    const out: LiveSession[] = [];
    for (const e of this.entries.values()) out.push(e.snapshot(now));
    return out;
  }
}
