// refreshMaps (src/session/refresh-maps.ts): after the warm-up, the server
// reads a data property of every object it reaches, so that V8 moves each
// one off a map the warm-up deprecated. What it must never do: call a
// getter, go into buffers, loop on a cycle, or run past its bound.

import { describe, expect, it } from "vitest";
import { refreshMaps } from "../src/session/refresh-maps.js";
import { createServer } from "../src/index.js";

describe("refreshMaps", () => {
  it("visits each object reachable through data properties, Map and Set entries once (cycles included)", () => {
    const leaf = { n: 1 };
    const a: Record<string, unknown> = { leaf, list: [leaf, { m: 2 }] };
    a.self = a;
    const root = { a, map: new Map<unknown, unknown>([[{ key: 1 }, { value: 2 }]]), set: new Set([{ s: 3 }]) };
    // root, a, leaf, list, {m}, map, {key}, {value}, set, {s}
    expect(refreshMaps(root)).toBe(10);
  });

  it("never calls a getter and never goes into buffers, typed arrays, promises or weak collections", () => {
    let called = 0;
    const hidden = { x: 1 };
    const root: Record<string, unknown> = {
      buf: Buffer.alloc(16),
      view: new Uint32Array(4),
      p: Promise.resolve(hidden),
      weak: new WeakMap([[hidden, hidden]]),
    };
    Object.defineProperty(root, "g", { enumerable: true, get: () => (called++, hidden) });
    // root and the four values themselves; nothing inside them, and not `hidden`.
    expect(refreshMaps(root)).toBe(5);
    expect(called).toBe(0);
  });

  it("stops at its bound", () => {
    const root = { items: Array.from({ length: 100 }, (_, i) => ({ i })) };
    expect(refreshMaps(root, 10)).toBe(10);
  });

  it("walks a real server without throwing and without changing what it serves", async () => {
    const server = createServer({ handler: () => Buffer.from("x"), warmUpMs: 0 });
    try {
      const before = JSON.stringify(server.stats());
      expect(refreshMaps(server)).toBeGreaterThan(10);
      expect(JSON.stringify(server.stats())).toBe(before);
    } finally {
      await server.close();
    }
  });
});
