// The open model's schedule: rate plans and arrivals.

import { describe, expect, it } from "vitest";
import { Arrivals, parseDurationS, parseStages, RatePlan } from "../src/schedule.js";

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
