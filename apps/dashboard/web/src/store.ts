// The page's state: info, a window of stats samples, live sessions and
// recent boot flows. One snapshot fetch per kind when the event stream
// (re)opens, then Server-Sent Events keep it current; stats are polled once
// a second only while the stream brings none.

import { useEffect, useState } from "preact/hooks";
import type { BootFlow, InfoBody, LiveSession, Outcome, ServerEvent, StatsBody } from "../../src/wire.js";

export interface SessionRow extends LiveSession {
  key: string;
  /** performance.now() when this state arrived (ages advance from there). */
  seenAt: number;
  ended?: { outcome: Outcome | "ended"; error?: string; at: number };
}

export interface Sample {
  /** Seconds since the epoch (browser clock). */
  t: number;
  body: StatsBody;
}

/** Samples kept for the charts: five minutes at one a second. */
const SAMPLES = 300;
/** Flows kept in the page; older ones are fetched per machine. */
const FLOWS = 500;
/** How long an ended session stays in the table, faded, with its outcome. */
const ENDED_MS = 8_000;

const keyOf = (server: string | undefined, id: string) => `${server ?? ""}|${id}`;

export class Store {
  info: InfoBody | null = null;
  stats: StatsBody | null = null;
  samples: Sample[] = [];
  sessions = new Map<string, SessionRow>();
  flows = new Map<string, BootFlow>();
  /** The event stream is open. */
  live = false;
  error: string | null = null;
  /** Fleet view: each member's stream state. */
  members = new Map<string, { ok: boolean; error?: string }>();
  /** Bumped on every change (views compare it). */
  version = 0;

  private listeners = new Set<() => void>();
  private pending: ReturnType<typeof setTimeout> | undefined;
  private lastStatsEvent = 0;
  private source: EventSource | undefined;
  private timers: Array<ReturnType<typeof setInterval>> = [];

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Coalesces changes: views re-render at most five times a second. */
  private changed(): void {
    this.version++;
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      for (const fn of this.listeners) fn();
    }, 200);
  }

  start(): void {
    void this.loadInfo();
    const es = (this.source = new EventSource("api/v1/events"));
    es.addEventListener("open", () => {
      this.live = true;
      this.error = null;
      this.changed();
      void this.loadSessions();
      void this.loadFlows();
      void this.pollStats();
    });
    es.addEventListener("error", () => {
      this.live = false;
      this.error = es.readyState === EventSource.CLOSED ? "the event stream closed" : "reconnecting to the event stream";
      this.changed();
    });
    const on = (name: string, fn: (data: unknown) => void) =>
      es.addEventListener(name, (e) => {
        try {
          fn(JSON.parse((e as MessageEvent<string>).data));
        } catch {
          // A malformed event is skipped; the next snapshot repairs the state.
        }
      });
    // data is the ServerEvent ({type, session} / {type, flow}); a bare session or flow is taken too.
    for (const type of ["session-start", "session-progress", "session-end"] as const)
      on(type, (d) => {
        const e = d as { session?: LiveSession; server?: string; outcome?: Outcome; error?: string };
        this.onSession(type, e.session ?? (d as LiveSession), e.server, e.outcome, e.error);
      });
    on("flow", (d) => this.putFlow((d as { flow?: BootFlow }).flow ?? (d as BootFlow)));
    on("stats", (d) => {
      this.lastStatsEvent = performance.now();
      this.addSample(d as StatsBody);
    });
    on("member", (d) => {
      const m = d as { server: string; ok: boolean; error?: string };
      const was = this.members.get(m.server);
      this.members.set(m.server, m.error ? { ok: m.ok, error: m.error } : { ok: m.ok });
      this.changed();
      // A member back after a gap: its sessions and flows may have moved on.
      if (m.ok && was && !was.ok) {
        void this.loadSessions();
        void this.loadFlows();
      }
    });
    this.timers.push(
      setInterval(() => {
        if (performance.now() - this.lastStatsEvent > 2500) void this.pollStats();
        this.sweep();
      }, 1000),
    );
  }

  stop(): void {
    this.source?.close();
    for (const t of this.timers) clearInterval(t);
  }

  private async get<T>(path: string): Promise<T | undefined> {
    try {
      const res = await fetch(path, { headers: { accept: "application/json" }, cache: "no-store" });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    } catch (err) {
      this.error = (err as Error).message;
      this.changed();
      return undefined;
    }
  }

  private async loadInfo(): Promise<void> {
    const info = await this.get<InfoBody>("api/v1/info");
    if (info) {
      this.info = info;
      document.title = `${info.name} dashboard`;
      this.changed();
    }
  }

  private async pollStats(): Promise<void> {
    const body = await this.get<StatsBody>("api/v1/stats");
    if (body) this.addSample(body);
  }

  private addSample(body: StatsBody): void {
    this.stats = body;
    const t = Date.now() / 1000;
    // A poll and an event close together would make a spike of a rate: the later one stands for both.
    if (this.samples.length > 0 && t - this.samples[this.samples.length - 1].t < 0.5) this.samples.pop();
    this.samples.push({ t, body });
    if (this.samples.length > SAMPLES) this.samples.splice(0, this.samples.length - SAMPLES);
    this.changed();
  }

  private async loadSessions(): Promise<void> {
    const asked = performance.now();
    const body = await this.get<{ sessions: LiveSession[] }>("api/v1/sessions");
    if (!body) return;
    const now = performance.now();
    const fresh = new Set<string>();
    for (const s of body.sessions) {
      const key = keyOf(s.server, s.id);
      fresh.add(key);
      const old = this.sessions.get(key);
      // An event newer than the snapshot wins.
      if (!old || (!old.ended && old.seenAt < asked)) this.sessions.set(key, { ...s, key, seenAt: now });
    }
    // Rows the snapshot no longer has, not touched since it was asked for, ended while we were away.
    for (const [key, row] of this.sessions) if (!fresh.has(key) && !row.ended && row.seenAt < asked) this.sessions.delete(key);
    this.changed();
  }

  private onSession(type: ServerEvent["type"], s: LiveSession, server: string | undefined, outcome?: Outcome, error?: string): void {
    const key = keyOf(s.server ?? server, s.id);
    const row: SessionRow = { ...s, server: s.server ?? server, key, seenAt: performance.now() };
    if (type === "session-end") row.ended = { outcome: outcome ?? "ended", error, at: performance.now() };
    else if (this.sessions.get(key)?.ended) return; // a late progress after the end
    this.sessions.set(key, row);
    this.changed();
  }

  private sweep(): void {
    const now = performance.now();
    let gone = false;
    for (const [key, row] of this.sessions)
      if (row.ended && now - row.ended.at > ENDED_MS) {
        this.sessions.delete(key);
        gone = true;
      }
    if (gone) this.changed();
  }

  private async loadFlows(): Promise<void> {
    const body = await this.get<{ flows: BootFlow[] }>("api/v1/flows?limit=200");
    if (!body) return;
    for (const f of body.flows) this.putFlow(f, false);
    this.changed();
  }

  putFlow(f: BootFlow, notify = true): void {
    this.flows.set(keyOf(f.server, f.id), f);
    if (this.flows.size > FLOWS) {
      const oldest = [...this.flows.entries()].sort((a, b) => a[1].startedAt - b[1].startedAt).slice(0, this.flows.size - FLOWS);
      for (const [k] of oldest) this.flows.delete(k);
    }
    if (notify) this.changed();
  }

  /** Flows of one machine, newest first: those in the page plus what the API still holds. */
  async loadMachine(client: string): Promise<void> {
    const body = await this.get<{ flows: BootFlow[] }>(`api/v1/flows?client=${encodeURIComponent(client)}&limit=50`);
    if (!body) return;
    for (const f of body.flows) this.putFlow(f, false);
    this.changed();
  }

  /** The trace template of a row's server (fleet) or of the server. */
  traceTemplate(server: string | undefined): string | null {
    if (server && this.info?.fleet) return this.info.fleet.find((m) => m.server === server)?.traceUrlTemplate ?? null;
    return this.info?.traceUrlTemplate ?? null;
  }

  /** A fleet is shown (rows carry a server column). */
  get fleet(): boolean {
    return Boolean(this.info?.fleet);
  }
}

export const store = new Store();

/** Re-renders the calling component when the store changes. */
export function useStore(): Store {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion(store.version)), []);
  return store;
}
