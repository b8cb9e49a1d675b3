// ShortLivedMap: the Map subset the server uses for running sessions and
// live entries, with a Map's insertion order.

import { describe, expect, it } from "vitest";
import { ShortLivedMap } from "../src/short-lived-map.js";

describe("ShortLivedMap", () => {
  it("gets, sets, deletes and counts like a Map", () => {
    const m = new ShortLivedMap<string, { n: number }>();
    const a = { n: 1 };
    m.set("a", a).set("b", { n: 2 });
    expect(m.size).toBe(2);
    expect(m.get("a")).toBe(a);
    expect(m.has("b")).toBe(true);
    expect(m.delete("a")).toBe(true);
    expect(m.delete("a")).toBe(false);
    expect(m.get("a")).toBeUndefined();
    expect(m.has("a")).toBe(false);
    expect(m.size).toBe(1);
    m.set("b", { n: 3 });
    expect(m.get("b")).toEqual({ n: 3 });
    expect(m.size).toBe(1);
  });

  it("iterates in insertion order; a key deleted and set again goes last", () => {
    const m = new ShortLivedMap<string, number>();
    for (const [k, v] of [["x", 1], ["y", 2], ["z", 3]] as const) m.set(k, v);
    m.delete("x");
    m.set("x", 4);
    expect([...m]).toEqual([["y", 2], ["z", 3], ["x", 4]]);
    expect([...m.values()]).toEqual([2, 3, 4]);
  });

  it("moving entries to the back while iterating visits them again, as a Map does (events.ts bounds the loop by size)", () => {
    const m = new ShortLivedMap<string, number>();
    const ref = new Map<string, number>();
    for (const k of ["a", "b", "c"]) {
      m.set(k, k.charCodeAt(0));
      ref.set(k, k.charCodeAt(0));
    }
    const walk = (x: ShortLivedMap<string, number> | Map<string, number>): string[] => {
      const seen: string[] = [];
      let n = 5;
      for (const [k, v] of x) {
        if (n-- <= 0) break;
        seen.push(k);
        x.delete(k);
        x.set(k, v);
      }
      return seen;
    };
    expect(walk(m)).toEqual(walk(ref));
  });

  it("a deleted value's cell is emptied and used again (nothing keeps the value)", () => {
    const m = new ShortLivedMap<number, object>();
    for (let i = 0; i < 100; i++) {
      m.set(i, {});
      m.delete(i);
    }
    expect(m.size).toBe(0);
    // One cell served all hundred: the array never grew.
    expect((m as unknown as { cells: unknown[] }).cells).toEqual([undefined]);
  });
});
