// Unit tests: scenario parsing and validation, HDR percentiles and their
// merging, the open model's schedule, source pools, thresholds, reports,
// merge and compare, charts.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Arrivals, buildReport, checkThresholds, compareReports, decodeHist, emptyPart, encodeHist, histogramBuckets, lineChart, mergeParts, mergeReports,
  newHist, niceStep, parseChecksums, parseDurationS, parseFileWeight, parseSource, parseStages, parseTarget, parseThreshold, pickFile, RatePlan,
  recordMs, renderText, resolveScenario, ScenarioError, summarize, type RawRun,
} from "../src/index.js";
import { closeTo, percentile } from "./helpers.js";



describe("scenario", () => {
  it("parses targets", () => {
    expect(parseTarget("127.0.0.1:6969")).toEqual({ host: "127.0.0.1", port: 6969 });
    expect(parseTarget("[::1]:69")).toEqual({ host: "::1", port: 69 });
    expect(parseTarget("::1")).toEqual({ host: "::1", port: 69 });
    expect(parseTarget("localhost")).toEqual({ host: "localhost", port: 69 });
    expect(() => parseTarget("host:99999")).toThrow(ScenarioError);
  });

  it("parses file weights and sha256sum files", () => {
    expect(parseFileWeight("vmlinuz:3")).toEqual({ name: "vmlinuz", weight: 3 });
    expect(parseFileWeight("pxelinux.cfg/01-aa:bb")).toEqual({ name: "pxelinux.cfg/01-aa:bb", weight: 1 });
    expect(parseFileWeight("a:0.5")).toEqual({ name: "a", weight: 0.5 });
    const sum = "a".repeat(64);
    expect(parseChecksums(`${sum}  boot/kernel\n${"B".repeat(64)} *initrd\nnoise\n`)).toEqual({ "boot/kernel": sum, initrd: "b".repeat(64) });
  });

  it("validates once with clear errors", () => {
    expect(() => resolveScenario({ target: "h:69" })).toThrow(/at least one file/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], sessions: 1, duration: 1 })).toThrow(/sessions or duration/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], clients: 0 })).toThrow(/clients must be an integer/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], loss: 2 })).toThrow(/loss must be from 0 to 1/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], flow: ["b"] })).toThrow(/files or flow/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], warmup: -1 })).toThrow(/warmup must be an integer/);
    const s = resolveScenario({ target: "h:69", files: ["a:2", { name: "b" }], loss: 0.01, timeout: 0.5 });
    expect(s).toMatchObject({ sessions: 1, duration: Infinity, lossData: 0.01, lossAck: 0.01, dallyMs: 500, files: [{ name: "a", weight: 2 }, { name: "b", weight: 1 }] });
  });

  it("open model: rate, stages, arrival and max-in-flight, with clear errors", () => {
    const s = resolveScenario({ target: "h:69", files: ["a"], rate: 200, duration: 5, arrival: "poisson", maxInFlight: 50 });
    expect(s).toMatchObject({ rate: 200, arrival: "poisson", maxInFlight: 50, duration: 5, sessions: Infinity, stages: [] });
    expect(resolveScenario({ target: "h:69", files: ["a"], stages: "30s:100,1m:500" }).stages).toEqual([
      { durationS: 30, target: 100 },
      { durationS: 60, target: 500 },
    ]);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], rate: 10 })).toThrow(/needs --duration, --sessions or --stages/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], rate: 10, duration: 1, clients: 3 })).toThrow(/--clients .* or --rate/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], maxInFlight: 3 })).toThrow(/max-in-flight is for the open model/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], rate: 10, duration: 1, arrival: "burst" as "poisson" })).toThrow(/arrival must be constant or poisson/);
    expect(() => resolveScenario({ target: "h:69", files: ["a"], stages: "30s" })).toThrow(/DURATION:RATE/);
    expect(resolveScenario({ target: "h:69", files: ["a"] }).rate).toBeNull();
  });

  it("workers: auto gives one per core for large runs only; a number is taken as it is", () => {
    expect(resolveScenario({ target: "h:69", files: ["a"], clients: 2 }).workers).toBe(1);
    expect(resolveScenario({ target: "h:69", files: ["a"], clients: 64 }).workers).toBeGreaterThanOrEqual(1);
    expect(resolveScenario({ target: "h:69", files: ["a"], clients: 64, workers: 3 }).workers).toBe(3);
    expect(resolveScenario({ target: "h:69", files: ["a"], rate: 5, duration: 1 }).workers).toBe(1);
  });

  it("--source must be a CIDR of the target's family", () => {
    expect(resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "127.0.3.9/24" }).source).toBe("127.0.3.0/24");
    expect(() => resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "fd00::/120" })).toThrow(/IPv6 but the target is IPv4/);
    expect(() => resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "127.0.3.0/40" })).toThrow(/prefix length/);
    expect(() => resolveScenario({ target: "127.0.0.1:69", files: ["a"], source: "nonsense" })).toThrow(/not an address or CIDR/);
  });

  it("picks files by weight, and flows in order", () => {
    const s = resolveScenario({ target: "h:69", files: ["a:1", "b:3", "z:0"] });
    expect(pickFile(s, 0, 0)).toBe("a");
    expect(pickFile(s, 0, 0.2499)).toBe("a");
    expect(pickFile(s, 0, 0.25)).toBe("b");
    expect(pickFile(s, 0, 0.9999)).toBe("b");
    const f = resolveScenario({ target: "h:69", flow: ["cfg", "kernel", "initrd"] });
    expect([0, 1, 2, 3].map((i) => pickFile(f, i, 0.5))).toEqual(["cfg", "kernel", "initrd", "cfg"]);
  });
});

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

describe("open-model schedule", () => {
  const count = (plan: RatePlan, poisson: boolean, seed = 1): number => {
    const a = new Arrivals(plan, poisson, seed);
    let n = 0;
    while (a.next() !== Infinity) n++;
    return n;
  };

  it("a constant rate starts rate x duration sessions, evenly spaced", () => {
    const plan = new RatePlan(200, [], 5);
    expect(count(plan, false)).toBe(1000);
    const a = new Arrivals(plan, false, 1);
    const t = [a.next(), a.next(), a.next()];
    expect(t[0]).toBe(0);
    expect(t[1]).toBeCloseTo(0.005, 9);
    expect(t[2]).toBeCloseTo(0.01, 9);
  });

  it("stages ramp linearly: the count is the area under the rate", () => {
    // 0 -> 100/s over 2 s (100 expected), then 100 -> 300/s over 1 s (200 expected)
    expect(count(new RatePlan(0, parseStages("2s:100,1s:300"), Infinity), false)).toBe(300);
    // A falling ramp: 300 -> 100 over 2 s = 400.
    expect(count(new RatePlan(300, parseStages("2s:100"), Infinity), false)).toBe(400);
    const plan = new RatePlan(0, parseStages("2s:100"), Infinity);
    expect(plan.rateAt(1)).toBeCloseTo(50, 9);
    // Half the arrivals of a linear ramp come after 1/sqrt(2) of it.
    expect(plan.timeOf(25)).toBeCloseTo(1, 9);
    expect(plan.peak()).toBe(100);
  });

  it("Poisson arrivals: about rate x duration, seeded, with exponential gaps", () => {
    const plan = new RatePlan(200, [], 5);
    const n = count(plan, true, 3);
    expect(Math.abs(n - 1000)).toBeLessThan(150); // sd ~ 32
    expect(count(plan, true, 3)).toBe(n);
    expect(count(plan, true, 4)).not.toBe(n);
    const a = new Arrivals(new RatePlan(1000, [], 100), true, 9);
    const gaps: number[] = [];
    let prev = a.next();
    for (let i = 0; i < 5000; i++) {
      const t = a.next();
      gaps.push(t - prev);
      prev = t;
    }
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    expect(mean).toBeGreaterThan(0.0009);
    expect(mean).toBeLessThan(0.0011);
    // Exponential: the share of gaps above the mean is e^-1.
    expect(gaps.filter((g) => g > 0.001).length / gaps.length).toBeGreaterThan(0.33);
    expect(gaps.filter((g) => g > 0.001).length / gaps.length).toBeLessThan(0.41);
  });

  it("durations", () => {
    expect(parseDurationS("30s")).toBe(30);
    expect(parseDurationS("2m")).toBe(120);
    expect(parseDurationS("500ms")).toBe(0.5);
    expect(parseDurationS("1h")).toBe(3600);
    expect(parseDurationS("7")).toBe(7);
    expect(() => parseDurationS("soon")).toThrow(/not a duration/);
  });
});

describe("source pools", () => {
  it("IPv4: the hosts of the prefix, network and broadcast left out", () => {
    const p = parseSource("127.0.3.0/24");
    expect(p).toMatchObject({ cidr: "127.0.3.0/24", family: 4, size: 254 });
    expect([0, 1, 253, 254].map(p.at)).toEqual(["127.0.3.1", "127.0.3.2", "127.0.3.254", "127.0.3.1"]);
    expect(parseSource("127.0.0.5").size).toBe(1);
    expect(parseSource("127.0.0.5").at(3)).toBe("127.0.0.5");
    expect(parseSource("10.0.0.0/31").size).toBe(2);
  });

  it("IPv6", () => {
    const p = parseSource("fd00::/126");
    expect(p.size).toBe(3);
    expect(p.at(0)).toBe("fd00:0:0:0:0:0:0:1");
    expect(parseSource("::1").at(0)).toBe("0:0:0:0:0:0:0:1");
  });
});

describe("thresholds", () => {
  it("parse latency (units), counts, shares and rates, with clear errors", () => {
    expect(parseThreshold("p99<200ms")).toMatchObject({ metric: "p99", op: "<", limit: 200 });
    expect(parseThreshold("p99.9 <= 1.5s")).toMatchObject({ metric: "p99.9", op: "<=", limit: 1500 });
    expect(parseThreshold("max<500us")).toMatchObject({ limit: 0.5 });
    expect(parseThreshold("errors<0.1%")).toMatchObject({ metric: "errors", limit: 0.1, percent: true });
    expect(parseThreshold("errors<3")).toMatchObject({ percent: false, limit: 3 });
    expect(parseThreshold("mbps>50")).toMatchObject({ metric: "mbps", op: ">", limit: 50 });
    expect(parseThreshold("rps>=10")).toMatchObject({ metric: "sessions_per_s" });
    expect(parseThreshold("flow.p99<30s")).toMatchObject({ metric: "flow.p99", limit: 30000 });
    expect(() => parseThreshold("p99 is small")).toThrow(/METRIC<VALUE/);
    expect(() => parseThreshold("latency<3ms")).toThrow(/unknown metric/);
    expect(() => parseThreshold("p99<3%")).toThrow(/not %/);
    expect(() => parseThreshold("mbps>3ms")).toThrow(/plain number/);
  });
});

function fakeRun(over: Partial<RawRun["cpu"]> = {}): RawRun {
  const part = emptyPart();
  Object.assign(part.totals, { ok: 3, failed: 1, started: 4, bytes: 4_000_000, wireBytes: 4_000_000, packetsSent: 10, packetsReceived: 10, retransmits: 1, timeouts: 1 });
  part.errors = { "1": 1 };
  part.errorMessages = { "1": { "File not found": 1 } };
  const fileHist = newHist();
  for (const ms of [10, 20, 30]) {
    recordMs(part.latency, ms);
    recordMs(fileHist, ms);
  }
  part.files = { a: { ok: 3, failed: 1, hdr: fileHist } };
  const start = Date.parse("2026-01-01T00:00:00.000Z");
  const b0 = newHist();
  recordMs(b0, 10);
  const b1 = newHist();
  recordMs(b1, 20);
  recordMs(b1, 30);
  part.timeline = [
    { t: start / 1000, started: 2, ok: 1, failed: 0, dropped: 0, bytes: 1_000_000, hdr: b0 },
    { t: start / 1000 + 1, started: 2, ok: 2, failed: 1, dropped: 0, bytes: 3_000_000, hdr: b1 },
  ];
  return {
    scenario: resolveScenario({ target: "127.0.0.1:69", files: ["a"], sessions: 4 }),
    startedAt: "2026-01-01T00:00:00.000Z",
    startEpochMs: start,
    elapsedS: 2,
    part,
    interrupted: false,
    cpu: { userS: 0.5, systemS: 0.1, threads: 1, cores: 2, elu: [0.3], ...over },
  };
}

describe("report", () => {
  it("computes rates, latencies and the timeline", () => {
    const r = buildReport(fakeRun());
    expect(r).toMatchObject({
      sessions: { ok: 3, failed: 1, total: 4 },
      mbps: 2,
      sessions_per_s: 2,
      latency_ms: { count: 3 },
      cpu: { percent: 30, saturated: false },
      warnings: [],
    });
    closeTo(r.latency_ms.min, 10);
    closeTo(r.latency_ms.mean, 20);
    closeTo(r.latency_ms.max, 30);
    closeTo(r.latency_ms.p50, 20);
    closeTo(r.latency_ms.p90, 30);
    closeTo(r.latency_ms.p99, 30);
    expect(r.timeline).toMatchObject([
      { t: 1, mbps: 1, started: 2, ok: 1, failed: 0 },
      { t: 2, mbps: 3, started: 2, ok: 2, failed: 1 },
    ]);
    closeTo(r.timeline[1].p99_ms!, 30);
    expect(renderText(r)).toContain("3 ok, 1 failed (TFTP 1: 1)");
    expect(renderText(r)).toContain('TFTP 1 "File not found": 1');
    expect(r.files.a).toMatchObject({ ok: 3, failed: 1, latency_ms: { count: 3 } });
    closeTo(r.files.a.latency_ms.max, 30);
  });

  it("warns when the load generator's own CPU was saturated", () => {
    const r = buildReport(fakeRun({ elu: [0.97], userS: 1.9, systemS: 0.05 }));
    expect(r.cpu.saturated).toBe(true);
    expect(r.warnings[0]).toMatch(/saturated/);
    expect(renderText(r)).toMatch(/WARNING: the load generator itself was saturated/);
  });

  it("thresholds: each one held or failed, from the report's figures", () => {
    const r = buildReport(fakeRun());
    const res = checkThresholds(["p99<31ms", "p99<29ms", "errors<30%", "errors<25%", "mbps>1", "max<=30.1ms", "flow.p99<1s"].map(parseThreshold), r);
    expect(res.map((x) => [x.threshold, x.ok])).toEqual([
      ["p99<31ms", true],
      ["p99<29ms", false],
      ["errors<30%", true],
      ["errors<25%", false],
      ["mbps>1", true],
      ["max<=30.1ms", true],
      ["flow.p99<1s", false], // no flow: nothing measured fails
    ]);
    expect(res[2].actual).toBe(25);
  });

  it("merge adds two runs up; compare names what changed", () => {
    const a = buildReport(fakeRun());
    const b = buildReport(fakeRun());
    const m = mergeReports([JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b))]);
    expect(m.runs).toBe(2);
    expect(m.sessions).toMatchObject({ ok: 6, failed: 2, total: 8, started: 8 });
    expect(m.bytes).toBe(8_000_000);
    expect(m.latency_ms.count).toBe(6);
    expect(m.errors).toEqual({ "1": 2 });
    expect(m.files.a).toMatchObject({ ok: 6, failed: 2 });
    expect(m.timeline.map((p) => p.ok)).toEqual([2, 4]);
    expect(m.elapsed_s).toBe(2); // the same two seconds
    expect(() => mergeReports([{ tool: "x" } as never])).toThrow(/not a tftpkit-load --json report/);
    const slower = JSON.parse(JSON.stringify(a));
    slower.latency_ms.p99 = a.latency_ms.p99 * 2;
    slower.mbps = 1;
    const rows = compareReports(a, slower);
    expect(rows.find((x) => x.metric === "latency p99 ms")).toMatchObject({ verdict: "worse", percent: 100 });
    expect(rows.find((x) => x.metric === "throughput MB/s")).toMatchObject({ verdict: "worse", base: 2, next: 1 });
    expect(rows.find((x) => x.metric === "sessions ok")).toMatchObject({ verdict: "same" });
  });
});

describe("charts", () => {
  it("fill the width (a viewBox at 100%), with 1-2-5 ticks and a legend", () => {
    expect([niceStep(10), niceStep(7), niceStep(1234), niceStep(0.3)]).toEqual([2, 2, 250, 0.1]);
    const svg = lineChart("Latency over time", "ms", [1, 2, 3], [{ name: "p99", values: [5, null, 7] }]);
    expect(svg).toMatch(/^<svg [^>]*viewBox="0 0 1000 340" width="100%"/);
    expect(svg).toContain(">p99</text>");
    expect(svg).toContain(">3 s</text>");
    expect(svg.match(/<circle /g)).toHaveLength(2); // a gap (null) splits the line
  });
});
