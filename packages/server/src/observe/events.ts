// Server events for live views (the admin API's /api/v1/events): a session
// starts, makes progress (rate-limited), ends; a boot flow changes. With
// nobody subscribed nothing is built: every emitter checks `active` first,
// and the progress timer runs only while someone listens.

import type { BootFlow } from "./flows.js";
import type { LiveEntry, LiveSession } from "./live.js";
import type { Outcome } from "./stats.js";
import type { ShortLivedMap } from "../short-lived-map.js";

export type ServerEvent =
  | { type: "session-start"; session: LiveSession }
  | { type: "session-progress"; session: LiveSession }
  | { type: "session-end"; session: LiveSession; outcome: Outcome; error?: string }
  | { type: "flow"; flow: BootFlow };

export type ServerEventListener = (e: ServerEvent) => void;

/** A running session gets at most one progress event per this many ms. */
export const PROGRESS_INTERVAL_MS = 1000;
/** Progress events per interval at most (the rest wait for the next round). */
export const PROGRESS_MAX_PER_TICK = 256;

export class EventHub {
  private readonly listeners = new Set<ServerEventListener>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Running sessions, in the order progress is reported (reported ones move to the back). */
    private readonly live: ShortLivedMap<string, LiveEntry>,
  ) {}

  /** Someone listens: emitters build events only then. */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  subscribe(fn: ServerEventListener): () => void {
    // A wrapper per subscription: the same function subscribed twice gets two.
    const entry: ServerEventListener = (e) => fn(e);
    this.listeners.add(entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.progress(Date.now()), PROGRESS_INTERVAL_MS);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(entry);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  emit(e: ServerEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch {
        // A throwing listener must not take a session (or the server) down.
      }
    }
  }

  /** One progress event per running session that moved since its last one. */
  private progress(now: number): void {
    if (!this.active) return;
    let budget = PROGRESS_MAX_PER_TICK;
    let n = this.live.size;
    for (const [id, e] of this.live) {
      if (n-- <= 0 || budget <= 0) break;
      const s = e.snapshot(now);
      if (s.bytes === e.reportedBytes) continue;
      e.reportedBytes = s.bytes;
      budget--;
      // To the back: with more sessions than the budget, the others go first next time.
      this.live.delete(id);
      this.live.set(id, e);
      this.emit({ type: "session-progress", session: s });
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
