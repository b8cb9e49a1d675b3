// Seeded loss injection: the PRNG and the loss it decides.

import { describe, expect, it } from "vitest";
import { LossInjector } from "../src/index.js";
import { mixSeed, prng } from "../src/internal.js";

describe("seeded loss", () => {
  it("prng is deterministic per seed and uniform enough", () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(Array.from({ length: 5 }, prng(43))).not.toEqual(xs.slice(0, 5));
  });

  it("drops about the share asked, the same packets for the same seed", () => {
    const run = (seed: number): boolean[] => {
      const l = new LossInjector({ data: 0.1, ack: 0.02, seed });
      return Array.from({ length: 10_000 }, () => l.dropData());
    };
    const one = run(7);
    expect(run(7)).toEqual(one);
    expect(run(8)).not.toEqual(one);
    const dropped = one.filter(Boolean).length;
    expect(dropped).toBeGreaterThan(850);
    expect(dropped).toBeLessThan(1150);
  });

  it("DATA and ACK decisions come from independent streams", () => {
    const a = new LossInjector({ data: 0.5, ack: 0.5, seed: 9 });
    const b = new LossInjector({ data: 0.5, ack: 0.5, seed: 9 });
    const acksA = Array.from({ length: 200 }, () => a.dropAck());
    for (let i = 0; i < 500; i++) b.dropData(); // DATA draws do not shift the ACK stream
    const acksB = Array.from({ length: 200 }, () => b.dropAck());
    expect(acksB).toEqual(acksA);
    expect(a.acksDropped).toBe(acksA.filter(Boolean).length);
  });

  it("rate 0 never drops and 1 always drops", () => {
    const l = new LossInjector({ data: 0, ack: 1 });
    for (let i = 0; i < 100; i++) {
      expect(l.dropData()).toBe(false);
      expect(l.dropAck()).toBe(true);
    }
    expect(() => new LossInjector({ data: 1.5 })).toThrow(RangeError);
  });

  it("mixSeed spreads neighbouring streams", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(mixSeed(1, i));
    expect(seen.size).toBe(1000);
    expect(mixSeed(1, 5)).toBe(mixSeed(1, 5));
  });
});
