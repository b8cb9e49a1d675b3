// Pass/fail thresholds on a run.

import { describe, expect, it } from "vitest";
import { parseThreshold } from "../src/index.js";

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
