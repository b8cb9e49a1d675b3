// Counts behind the admin API's /api/v1/stats that ServerStats does not keep:
// TFTP errors by code, the files asked for most, the clients that fail most.
// Bounded: each table holds at most `capacity` keys; when full, the lower half
// by count is dropped (amortised O(log n) per session), so a flood of new
// names keeps the heavy hitters (counts of keys re-added after a prune start
// again from zero: the figures are "at least", as any bounded top-k).

import type { SessionStats } from "./stats.js";

export interface TopFile {
  path: string;
  sessions: number;
  bytes: number;
}

export interface FailingClient {
  client: string;
  failures: number;
}

export interface SessionSummary {
  /** Failed sessions by the TFTP error code sent or received ("0".."8", "other"). */
  errorsByCode: Record<string, number>;
  /** Most requested paths (sessions of any outcome), with payload bytes moved. */
  topFiles: TopFile[];
  /** Addresses with the most failed sessions (outcomes other than ok and probe). */
  topFailingClients: FailingClient[];
}

const NOT_FAILED = new Set(["ok", "probe"]);

class TopTable {
  readonly rows = new Map<string, { n: number; bytes: number }>();
  constructor(private readonly capacity: number) {}

  add(key: string, bytes: number): void {
    let r = this.rows.get(key);
    if (!r) {
      if (this.rows.size >= this.capacity) this.prune();
      r = { n: 0, bytes: 0 };
      this.rows.set(key, r);
    }
    r.n++;
    r.bytes += bytes;
  }

  top(k: number): Array<[string, { n: number; bytes: number }]> {
    return [...this.rows].sort((a, b) => b[1].n - a[1].n || b[1].bytes - a[1].bytes).slice(0, k);
  }

  private prune(): void {
    const keep = this.top(Math.floor(this.capacity / 2));
    this.rows.clear();
    for (const [k, v] of keep) this.rows.set(k, v);
  }
}

export class SessionTally {
  private readonly errors = new Map<number, number>();
  private readonly files: TopTable;
  private readonly clients: TopTable;

  constructor(capacity = 1024) {
    this.files = new TopTable(capacity);
    this.clients = new TopTable(capacity);
  }

  add(s: SessionStats): void {
    this.files.add(s.path, s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent);
    if (NOT_FAILED.has(s.outcome)) return;
    this.clients.add(s.peer.address, 0);
    if (!s.error) return;
    const code = s.error.code >= 0 && s.error.code <= 8 ? s.error.code : -1; // a client may send any number
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  summary(k = 10): SessionSummary {
    const errorsByCode: Record<string, number> = {};
    for (const [code, n] of [...this.errors].sort((a, b) => a[0] - b[0])) errorsByCode[code < 0 ? "other" : String(code)] = n;
    return {
      errorsByCode,
      topFiles: this.files.top(k).map(([path, r]) => ({ path, sessions: r.n, bytes: r.bytes })),
      topFailingClients: this.clients.top(k).map(([client, r]) => ({ client, failures: r.n })),
    };
  }
}
