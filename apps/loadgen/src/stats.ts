// Latency figures: nearest-rank percentiles over every session, and a
// log-spaced histogram for the HTML report.

/** Nearest-rank percentile of sorted values (p in 0..100); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1];
}

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: Float64Array): LatencySummary {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  const n = s.length;
  return {
    count: n,
    min: n ? s[0] : NaN,
    mean: n ? sum / n : NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: n ? s[n - 1] : NaN,
  };
}

export interface Bucket {
  /** Upper bound of the bucket in ms (inclusive). */
  le_ms: number;
  count: number;
}

/** Counts per bucket, bounds 4 per decade from the smallest value up to the largest. */
export function histogram(values: Float64Array): Bucket[] {
  if (values.length === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const step = 0.25; // 4 buckets per decade
  const start = Math.floor(Math.log10(Math.max(lo, 1e-3)) / step) * step;
  const bounds: number[] = [];
  for (let e = start; ; e += step) {
    const b = Number(Math.pow(10, e + step).toPrecision(3));
    bounds.push(b);
    if (b >= hi || bounds.length > 200) break;
  }
  const counts = new Array<number>(bounds.length).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < bounds.length - 1 && v > bounds[i]) i++;
    counts[i]++;
  }
  return bounds.map((le_ms, i) => ({ le_ms, count: counts[i] }));
}
