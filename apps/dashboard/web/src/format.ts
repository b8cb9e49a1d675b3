// Numbers as people read them.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const shown = i > 0 ? v.toFixed(v < 10 ? 2 : 1) : Number.isInteger(v) || v >= 10 ? String(Math.round(v)) : v.toFixed(1);
  return `${shown} ${UNITS[i]}`;
}

export const rate = (bps: number | null | undefined): string => `${bytes(bps)}/s`;

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export const count = (n: number | null | undefined): string => (n === null || n === undefined ? "–" : n.toLocaleString("en-US"));

export const clock = (epochMs: number): string => new Date(epochMs).toLocaleTimeString("en-GB", { hour12: false });

export const percent = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(part / whole < 0.1 ? 1 : 0)} %` : "–");

/** RFC 1350 / 2347 error codes. */
export const ERROR_NAMES: Record<string, string> = {
  "0": "not defined",
  "1": "file not found",
  "2": "access violation",
  "3": "disk full",
  "4": "illegal operation",
  "5": "unknown transfer ID",
  "6": "file exists",
  "7": "no such user",
  "8": "option refused",
};

export type OutcomeClass = "ok" | "probe" | "miss" | "fail" | "running";

/**
 * How an outcome is drawn: a success, the UEFI size probe, a miss inside a
 * known config search or a late repeat of a request already served (none is
 * a failure), a step still running, or a failure.
 */
export function outcomeClass(outcome: string): OutcomeClass {
  if (outcome === "search-miss" || outcome === "repeat") return "miss";
  return outcome === "ok" || outcome === "probe" || outcome === "running" ? outcome : "fail";
}

/** A step's kind as the timeline labels it: HTTP requests apart from TFTP reads and writes. */
export function kindLabel(kind: string): string {
  return kind === "http" ? "HTTP" : kind === "write" ? "TFTP write" : "TFTP";
}

/** A flow's state: booted, failed (a step failed or no config was found), open, or ended (the idle gap). */
export function flowState(f: { endedAt: number | null; bootedAt?: number; failed?: boolean }): "booted" | "failed" | "open" | "ended" {
  if (f.bootedAt !== undefined) return "booted";
  if (f.failed) return "failed";
  return f.endedAt === null ? "open" : "ended";
}

/** The q-quantile (0..1) of ascending numbers (nearest rank); NaN for none. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * The trace link of a flow: the configured template with {traceId} filled
 * in, only for a well-formed trace id and an absolute http(s) result.
 */
export function traceLink(template: string | null, traceId: string | undefined): string | null {
  if (!template || !traceId || !/^[0-9a-f]{32}$/.test(traceId)) return null;
  const href = template.split("{traceId}").join(traceId);
  try {
    const u = new URL(href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.toString() : null;
  } catch {
    return null;
  }
}

/** The page of one machine (its boot flows), in a fleet on one server. */
export const machineHref = (client: string, server?: string): string =>
  `#/machine/${encodeURIComponent(client)}${server ? `?server=${encodeURIComponent(server)}` : ""}`;
