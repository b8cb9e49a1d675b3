// What the server remembers of each client's round trip: a later session
// with the same client starts from its earlier sessions' estimate (SRTT,
// RTTVAR, PEAK) instead of the full timeout, so a lost OACK or first DATA
// block costs about one learnt RTO, not a second (the idea of RFC 2140's
// shared TCP control blocks). Fed when a session ends, read when one begins.
//
// A client never seen (or forgotten) starts from a neighbour's estimate: the
// most recent client of its /24 (IPv4) or /64 (IPv6), else the most recent
// client of any address, with a wider margin (PEAK x STRANGER_PEAK_FACTOR),
// as machines of one rack or subnet share a path. Only with no estimate
// at all does a session start at the timeout. The risk, on a path much
// slower than the neighbour's, is a few early copies of the first packet
// (the RTO doubles on each timeout up to the timeout, and such quick
// timeouts do not count against the retries); the session's own first
// round trip then replaces the guess.
//
// Bounded: at most `maxEntries` clients (the least recently used goes first)
// and each estimate is forgotten `ttlMs` after it was last fed.

import type { RttEstimate } from "@tftpkit/wasm-core";

/** The default clock: one function for every memory (a closure per instance would be a new call target per server for the JIT). */
const perfNow = (): number => performance.now();

interface Entry extends RttEstimate {
  at: number;
  prefix: string;
}

/** A stranger's first RTO covers this many times a neighbour's largest recent round trip. */
export const STRANGER_PEAK_FACTOR = 4;

/** The /24 of an IPv4 address, the /64 of an IPv6 one (an IPv4-mapped IPv6 address counts as IPv4); "" if neither. */
export function addressPrefix(address: string): string {
  const a = address.length > 7 && address.charCodeAt(0) === 0x3a && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
  if (a.includes(".")) return ipv4Prefix(a);
  if (!a.includes(":")) return "";
  const zone = a.indexOf("%");
  const bare = (zone >= 0 ? a.slice(0, zone) : a).toLowerCase();
  const halves = bare.split("::");
  if (halves.length > 2) return "";
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const groups = halves.length === 2 ? [...head, ...new Array<string>(Math.max(0, 8 - head.length - tail.length)).fill("0"), ...tail] : head;
  if (groups.length < 4) return "";
  return groups.slice(0, 4).map((g) => (g.replace(/^0+/, "") || "0")).join(":");
}

/** The first three parts of a dotted quad ("" unless they are three runs of digits): no regular expression on the common path. */
function ipv4Prefix(a: string): string {
  const cut = a.lastIndexOf(".");
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < cut; i++) {
    const c = a.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0) return "";
      dots++;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) digits++;
    else return "";
  }
  return dots === 2 && digits > 0 ? a.slice(0, cut) : "";
}

export class RttMemory {
  // A Map iterates in insertion order: re-inserting on every use keeps the least recently used first.
  private readonly entries = new Map<string, Entry>();
  /** The most recently recorded client of each prefix (an index into entries: kept only while that entry is). */
  private readonly byPrefix = new Map<string, string>();
  /** The most recently recorded client. */
  private latest: string | undefined;

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
    const e = this.live(client);
    if (!e) return undefined;
    this.entries.delete(client);
    this.entries.set(client, e);
    return { srtt: e.srtt, rttvar: e.rttvar, peak: e.peak };
  }

  /**
   * Where a session with `client` starts: its own estimate, else a
   * neighbour's (same /24 or /64, else the most recent client) with PEAK
   * widened by STRANGER_PEAK_FACTOR, else undefined (the timeout).
   */
  seedFor(client: string): RttEstimate | undefined {
    const own = this.get(client);
    if (own) return own;
    const prefix = addressPrefix(client);
    const near = prefix ? this.byPrefix.get(prefix) : undefined;
    const e = (near !== undefined ? this.live(near) : undefined) ?? (this.latest !== undefined ? this.live(this.latest) : undefined);
    if (!e) return undefined;
    return { srtt: e.srtt, rttvar: e.rttvar, peak: Math.max(e.peak, e.srtt) * STRANGER_PEAK_FACTOR };
  }

  /** Records a session's estimate of `client`; ignored unless every value is a finite number >= 0. */
  record(client: string, estimate: RttEstimate): void {
    if (this.maxEntries <= 0) return;
    const { srtt, rttvar, peak } = estimate;
    if (!(srtt >= 0 && rttvar >= 0 && peak >= 0) || !Number.isFinite(srtt + rttvar + peak)) return;
    const known = this.entries.get(client);
    if (known) {
      // The common case, a client seen before: its entry is updated and moves last (no new entry, no prefix to work out).
      this.entries.delete(client);
      known.srtt = srtt;
      known.rttvar = rttvar;
      known.peak = peak;
      known.at = this.now();
      this.entries.set(client, known);
      if (known.prefix) this.byPrefix.set(known.prefix, client);
      this.latest = client;
      return;
    }
    while (this.entries.size >= this.maxEntries) {
      this.remove(this.entries.keys().next().value as string);
    }
    const prefix = addressPrefix(client);
    this.entries.set(client, { srtt, rttvar, peak, at: this.now(), prefix });
    if (prefix) this.byPrefix.set(prefix, client);
    this.latest = client;
  }

  clear(): void {
    this.entries.clear();
    this.byPrefix.clear();
    this.latest = undefined;
  }

  /** The entry of `client` unless forgotten (an expired one is dropped). */
  private live(client: string): Entry | undefined {
    const e = this.entries.get(client);
    if (!e) return undefined;
    if (this.now() - e.at > this.ttlMs) {
      this.remove(client);
      return undefined;
    }
    return e;
  }

  private remove(client: string): void {
    const e = this.entries.get(client);
    if (!e) return;
    this.entries.delete(client);
    if (e.prefix && this.byPrefix.get(e.prefix) === client) this.byPrefix.delete(e.prefix);
    if (this.latest === client) this.latest = undefined;
  }
}
