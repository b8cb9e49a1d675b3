// What the server remembers of each client's round trip: a later session
// with the same client starts from its earlier sessions' estimate (SRTT,
// RTTVAR, PEAK) instead of the full timeout, so a lost OACK or first DATA
// block costs about one learnt RTO, not a second (the idea of RFC 2140's
// shared TCP control blocks). Fed when a session ends, read when one begins.
// Bounded: at most `maxEntries` clients (the least recently used goes first)
// and each estimate is forgotten `ttlMs` after it was last fed.

import type { RttEstimate } from "@tftpkit/wasm-core";

/** The default clock: one function for every memory (a closure per instance would be a new call target per server for the JIT). */
const perfNow = (): number => performance.now();

interface Entry extends RttEstimate {
  at: number;
}

export class RttMemory {
  // A Map iterates in insertion order: re-inserting on every use keeps the least recently used first.
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
    private readonly now: () => number = perfNow,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The estimate last recorded for `client` (an address), unless forgotten. */
  get(client: string): RttEstimate | undefined {
    const e = this.entries.get(client);
    if (!e) return undefined;
    if (this.now() - e.at > this.ttlMs) {
      this.entries.delete(client);
      return undefined;
    }
    this.entries.delete(client);
    this.entries.set(client, e);
    return { srtt: e.srtt, rttvar: e.rttvar, peak: e.peak };
  }

  /** Records a session's estimate of `client`; ignored unless every value is a finite number >= 0. */
  record(client: string, estimate: RttEstimate): void {
    if (this.maxEntries <= 0) return;
    const { srtt, rttvar, peak } = estimate;
    if (!(srtt >= 0 && rttvar >= 0 && peak >= 0) || !Number.isFinite(srtt + rttvar + peak)) return;
    this.entries.delete(client);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(client, { srtt, rttvar, peak, at: this.now() });
  }

  clear(): void {
    this.entries.clear();
  }
}
