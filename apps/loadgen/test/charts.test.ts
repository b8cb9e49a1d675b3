// Charts of the HTML report.

import { describe, expect, it } from "vitest";
import { lineChart, niceStep } from "../src/render.js";

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
