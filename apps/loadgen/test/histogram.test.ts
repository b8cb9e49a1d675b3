// HDR percentiles and the merging of histograms.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeHist, encodeHist, histogramBuckets, newHist, recordMs, summarize } from "../src/hist.js";
import { emptyPart, mergeParts } from "../src/part.js";
import { closeTo, percentile } from "./helpers.js";

describe("HDR percentiles", () => {
  it("match the nearest-rank percentiles to 3 significant digits", () => {
    const h = newHist();
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    for (const x of v) recordMs(h, x);
    const s = summarize(h);
    expect(s.count).toBe(10);
    closeTo(s.min, 1);
    closeTo(s.max, 10);
    closeTo(s.mean, 5.5);
    closeTo(s.p50, 5);
    closeTo(s.p90, 9);
    closeTo(s.p99, 10);
    closeTo(s["p99.99"], 10);
    expect(summarize(newHist()).p50).toBeNaN();
  });

  it("are ordered, near the exact ones, and the buckets count every value", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 300 }), (xs) => {
        const h = newHist();
        for (const x of xs) recordMs(h, x);
        const s = summarize(h);
        expect(s.min).toBeLessThanOrEqual(s.p50);
        expect(s.p50).toBeLessThanOrEqual(s.p90);
        expect(s.p90).toBeLessThanOrEqual(s.p99);
        expect(s.p99).toBeLessThanOrEqual(s["p99.9"]);
        expect(s["p99.9"]).toBeLessThanOrEqual(s["p99.99"]);
        expect(s["p99.99"]).toBeLessThanOrEqual(s.max);
        const sorted = [...xs].sort((a, b) => a - b);
        for (const p of [50, 90, 99] as const) closeTo(s[`p${p}`], percentile(sorted, p));
        closeTo(s.max, sorted[sorted.length - 1]);
        const b = histogramBuckets(h);
        expect(b.reduce((a, x) => a + x.count, 0)).toBe(xs.length);
        for (let i = 1; i < b.length; i++) expect(b[i].le_ms).toBeGreaterThan(b[i - 1].le_ms);
        expect(b[b.length - 1].le_ms).toBeGreaterThanOrEqual(s.max);
      }),
    );
  });

  it("merge without loss: two encoded histograms add up to the histogram of all the values", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 1e5, noNaN: true }), { maxLength: 200 }), fc.array(fc.double({ min: 0.01, max: 1e5, noNaN: true }), { maxLength: 200 }), (a, b) => {
        const ha = newHist();
        const hb = newHist();
        const all = newHist();
        for (const x of a) {
          recordMs(ha, x);
          recordMs(all, x);
        }
        for (const x of b) {
          recordMs(hb, x);
          recordMs(all, x);
        }
        const pa = emptyPart();
        const pb = emptyPart();
        pa.latency = ha;
        pb.latency = hb;
        const merged = mergeParts([{ ...pa, latency: encodeHist(ha) }, { ...pb, latency: encodeHist(hb) }]);
        // A run's own figures come through the same encode-and-add (its threads merge so).
        const direct = mergeParts([{ ...emptyPart(), latency: encodeHist(all) }]);
        expect(merged.latency.totalCount).toBe(a.length + b.length);
        expect(summarize(merged.latency)).toEqual(summarize(direct.latency));
        expect(summarize(decodeHist(encodeHist(merged.latency)))).toEqual(summarize(merged.latency));
      }),
      { numRuns: 50 },
    );
  });
});
