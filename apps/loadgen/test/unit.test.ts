// Unit tests: scenario parsing and validation, percentiles and histograms, reports.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  buildReport, histogram, parseChecksums, parseFileWeight, parseTarget, percentile, pickFile, renderText, resolveScenario,
  ScenarioError, summarize, type RawRun,
} from "../src/index.js";

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
    const s = resolveScenario({ target: "h:69", files: ["a:2", { name: "b" }], loss: 0.01, timeout: 0.5 });
    expect(s).toMatchObject({ sessions: 1, duration: Infinity, lossData: 0.01, lossAck: 0.01, dallyMs: 500, files: [{ name: "a", weight: 2 }, { name: "b", weight: 1 }] });
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

describe("percentiles", () => {
  it("nearest rank", () => {
    const v = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percentile(v, 50)).toBe(5);
    expect(percentile(v, 90)).toBe(9);
    expect(percentile(v, 99)).toBe(10);
    expect(percentile(v, 100)).toBe(10);
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(new Float64Array(0), 50)).toBeNaN();
    expect(summarize(Float64Array.from([5, 1, 3]))).toEqual({ count: 3, min: 1, mean: 3, p50: 3, p90: 5, p99: 5, max: 5 });
  });

  it("are ordered, taken from the values, and the histogram counts every value", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 300 }), (xs) => {
        const s = summarize(Float64Array.from(xs));
        expect(s.min).toBeLessThanOrEqual(s.p50);
        expect(s.p50).toBeLessThanOrEqual(s.p90);
        expect(s.p90).toBeLessThanOrEqual(s.p99);
        expect(s.p99).toBeLessThanOrEqual(s.max);
        expect(xs).toContain(s.p90);
        const h = histogram(Float64Array.from(xs));
        expect(h.reduce((a, b) => a + b.count, 0)).toBe(xs.length);
        for (let i = 1; i < h.length; i++) expect(h[i].le_ms).toBeGreaterThan(h[i - 1].le_ms);
        expect(h[h.length - 1].le_ms).toBeGreaterThanOrEqual(Math.max(...xs));
      }),
    );
  });
});

describe("report", () => {
  const raw = (over: Partial<RawRun["cpu"]> = {}): RawRun => ({
    scenario: resolveScenario({ target: "127.0.0.1:69", files: ["a"], sessions: 4 }),
    startedAt: "2026-01-01T00:00:00.000Z",
    elapsedS: 2,
    totals: { ok: 3, failed: 1, cut: 0, bytes: 4_000_000, wireBytes: 4_000_000, packetsSent: 10, packetsReceived: 10, retransmits: 1, timeouts: 1, dataDropped: 0, acksDropped: 0 },
    errors: { "1": 1 },
    errorMessages: { "1": { "File not found": 1 } },
    files: { a: { ok: 3, failed: 1, latencies: [10, 20, 30] } },
    latencies: Float64Array.from([10, 20, 30]),
    timeline: [
      { t: 0, bytes: 0, ok: 0, failed: 0 },
      { t: 1, bytes: 1_000_000, ok: 1, failed: 0 },
      { t: 2, bytes: 4_000_000, ok: 3, failed: 1 },
    ],
    cpu: { userS: 0.5, systemS: 0.1, threads: 1, cores: 2, elu: [0.3], ...over },
  });

  it("computes rates, latencies and the timeline", () => {
    const r = buildReport(raw());
    expect(r).toMatchObject({
      sessions: { ok: 3, failed: 1, total: 4 },
      mbps: 2,
      sessions_per_s: 2,
      latency_ms: { p50: 20, p90: 30, p99: 30, max: 30, min: 10, mean: 20 },
      cpu: { percent: 30, saturated: false },
      warnings: [],
    });
    expect(r.timeline).toEqual([
      { t: 1, mbps: 1, sessions_per_s: 1, ok: 1, failed: 0 },
      { t: 2, mbps: 3, sessions_per_s: 3, ok: 3, failed: 1 },
    ]);
    expect(renderText(r)).toContain("3 ok, 1 failed (TFTP 1: 1)");
    expect(renderText(r)).toContain('TFTP 1 "File not found": 1');
    expect(r.files).toEqual({ a: { ok: 3, failed: 1, latency_ms: { count: 3, min: 10, mean: 20, p50: 20, p90: 30, p99: 30, max: 30 } } });
  });

  it("warns when the load generator's own CPU was saturated", () => {
    const r = buildReport(raw({ elu: [0.97], userS: 1.9, systemS: 0.05 }));
    expect(r.cpu.saturated).toBe(true);
    expect(r.warnings[0]).toMatch(/saturated/);
    expect(renderText(r)).toMatch(/WARNING: the load generator itself was saturated/);
  });
});
