// Latency histograms: HdrHistogram (hdr-histogram-js), values recorded in
// microseconds with 3 significant digits from 1 us to one hour. Histograms
// travel between threads and load machines compressed (the HdrHistogram
// base64 encoding) and add up without loss, so merged percentiles are those
// of every session of every run, not averages of percentiles.

import * as hdr from "hdr-histogram-js";

export type Histogram = hdr.Histogram;

const HIGHEST_US = 3_600_000_000; // one hour

export function newHist(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, bitBucketSize: 32, autoResize: true });
}

/** Records one duration given in ms (clamped to 1 us .. one hour). */
export function recordMs(h: Histogram, ms: number): void {
  const us = Math.round(ms * 1000);
  h.recordValue(us < 1 ? 1 : us > HIGHEST_US ? HIGHEST_US : us);
}

export function encodeHist(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHist(s: string): Histogram {
  const h = newHist();
  if (s) h.add(hdr.decodeFromCompressedBase64(s, 32));
  return h;
}

/** Adds `from` (a histogram or its encoding) into `into`. */
export function addHist(into: Histogram, from: Histogram | string): void {
  if (typeof from === "string") {
    if (from) into.add(hdr.decodeFromCompressedBase64(from, 32));
  } else if (from.totalCount > 0) into.add(from);
}

/** The percentiles a report gives (and thresholds may name). */
export const PERCENTILES = [50, 90, 95, 99, 99.9, 99.99] as const;

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  "p99.9": number;
  "p99.99": number;
  max: number;
}

const ms = (us: number): number => Number((us / 1000).toFixed(3));

/** Count, min, mean, p50..p99.99 and max in ms (NaN when empty). */
export function summarize(h: Histogram): LatencySummary {
  const n = h.totalCount;
  if (n === 0) {
    return { count: 0, min: NaN, mean: NaN, p50: NaN, p90: NaN, p95: NaN, p99: NaN, "p99.9": NaN, "p99.99": NaN, max: NaN };
  }
  const s = {
    count: n,
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    max: ms(h.maxValue),
  } as LatencySummary;
  // A percentile is the top of its bucket; it never reads above the largest value recorded.
  for (const p of PERCENTILES) (s as unknown as Record<string, number>)[`p${p}`] = ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return s;
}

export interface Bucket {
  /** Upper bound of the bucket in ms (inclusive). */
  le_ms: number;
  count: number;
}

/** Counts per bucket, 4 log-spaced bounds per decade, from the smallest value up to the largest. */
export function histogramBuckets(h: Histogram): Bucket[] {
  if (h.totalCount === 0) return [];
  const lo = h.minNonZeroValue / 1000;
  const hi = h.maxValue / 1000;
  const step = 0.25;
  const start = Math.floor(Math.log10(Math.max(lo, 1e-3)) / step) * step;
  const bounds: number[] = [];
  for (let e = start; ; e += step) {
    const b = Number(Math.pow(10, e + step).toPrecision(3));
    bounds.push(b);
    if (b >= hi || bounds.length > 200) break;
  }
  const counts = new Array<number>(bounds.length).fill(0);
  const it = (h as unknown as hdr.JsHistogram).recordedValuesIterator;
  it.reset();
  let i = 0;
  while (it.hasNext()) {
    const v = it.next();
    const valueMs = v.valueIteratedTo / 1000;
    while (i < bounds.length - 1 && valueMs > bounds[i]) i++;
    counts[i] += v.countAtValueIteratedTo;
  }
  return bounds.map((le_ms, k) => ({ le_ms, count: counts[k] }));
}
