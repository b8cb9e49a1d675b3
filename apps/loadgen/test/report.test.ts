// Reports: build, merge, compare, text.

import { describe, expect, it } from "vitest";
import { buildReport, checkThresholds, compareReports, mergeReports, parseThreshold, renderText, resolveScenario, type RawRun } from "../src/index.js";
import { newHist, recordMs } from "../src/hist.js";
import { emptyPart } from "../src/part.js";
import { closeTo } from "./helpers.js";

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
