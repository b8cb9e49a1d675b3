// ByteLru: the byte-bounded LRU index behind both cache tiers.

import { describe, expect, it } from "vitest";
import { ByteLru } from "../src/cache/lru.js";

function lru(max: number): { l: ByteLru<string>; evicted: string[] } {
  const evicted: string[] = [];
  return { l: new ByteLru<string>(max, (k, v) => evicted.push(`${k}=${v}`)), evicted };
}

describe("ByteLru", () => {
  it("evicts least recently used first; get() refreshes", () => {
    const { l, evicted } = lru(30);
    l.set("a", "A", 10);
    l.set("b", "B", 10);
    l.set("c", "C", 10);
    l.get("a");
    l.set("d", "D", 10);
    expect(l.keys()).toEqual(["c", "a", "d"]);
    expect(evicted).toEqual(["b=B"]);
    expect([l.bytes, l.evictions]).toEqual([30, 1]);
  });

  it("peek() does not refresh", () => {
    const { l } = lru(20);
    l.set("a", "A", 10);
    l.set("b", "B", 10);
    l.peek("a");
    l.set("c", "C", 10);
    expect(l.keys()).toEqual(["b", "c"]);
  });

  it("reserve() makes room ahead, refuses what can never fit, and counts against set()", () => {
    const { l, evicted } = lru(30);
    l.set("a", "A", 10);
    l.set("b", "B", 10);
    expect(l.reserve(31)).toBe(false);
    expect(l.reserve(15)).toBe(true); // evicts a
    expect(evicted).toEqual(["a=A"]);
    expect(l.reserve(16)).toBe(false); // 15 reserved + 16 > 30
    l.set("c", "C", 10); // 10 + 10 + 15 reserved > 30: evicts b
    expect(l.keys()).toEqual(["c"]);
    l.unreserve(15);
    expect([l.bytes, l.reserved]).toEqual([10, 0]);
  });

  it("replacing a key hands the old value to onEvict; delete() does not", () => {
    const { l, evicted } = lru(100);
    l.set("a", "A1", 10);
    l.set("a", "A2", 20);
    expect(evicted).toEqual(["a=A1"]);
    expect(l.bytes).toBe(20);
    expect(l.delete("a")).toBe("A2");
    expect(evicted).toEqual(["a=A1"]);
    expect([l.bytes, l.size]).toEqual([0, 0]);
  });
});
