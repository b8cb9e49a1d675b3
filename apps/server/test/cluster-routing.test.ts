// The primary's flow table (which worker serves a machine) and its session
// ledger (server-wide limits), as units.

import { describe, expect, it } from "vitest";
import { FlowTable, type RouteSlot } from "../src/cluster/routing.js";
import { SessionLedger } from "../src/cluster/ledger.js";
import { workerShare } from "../src/cluster/cluster-worker.js";

function slots(n: number): Array<RouteSlot & { ready: boolean }> {
  return Array.from({ length: n }, (_, index) => ({ index, ready: true }));
}

const OPTS = { idleMs: 60_000, max: 1000, waitMs: 3000, waitMax: 4 };
const addr = (i: number): string => `10.0.${i >> 8}.${i & 255}`;

describe("FlowTable", () => {
  it("a machine stays on its home slot while every slot is ready", () => {
    const s = slots(4);
    const t = new FlowTable(s, OPTS);
    for (let i = 0; i < 50; i++) {
      const r = t.route(addr(i), 0, () => 0);
      expect(r).toEqual({ deliver: t.home(addr(i)) });
      expect(t.route(addr(i), 1, () => 0)).toEqual(r);
    }
    expect(t.size).toBe(50);
  });

  it("a datagram for a slot that is not ready waits for it; at waitMax the machine moves to a live slot and stays there", () => {
    const s = slots(2);
    const t = new FlowTable(s, OPTS);
    const a = [...Array(100).keys()].map(addr).find((x) => t.home(x) === 1)!;
    s[1].ready = false;
    expect(t.route(a, 0, () => 0)).toEqual({ wait: 1 });
    expect(t.route(a, 0, () => 3)).toEqual({ wait: 1 });
    expect(t.route(a, 0, () => 4)).toEqual({ deliver: 0 }); // too many waiting: moved
    s[1].ready = true;
    expect(t.route(a, 1, () => 0)).toEqual({ deliver: 0 }); // and stays for the rest of its flow
    expect(t.moved).toBe(1);
  });

  it("a datagram that waited waitMs moves its machine; one whose machine already moved follows it", () => {
    const s = slots(3);
    const t = new FlowTable(s, OPTS);
    const a = [...Array(100).keys()].map(addr).find((x) => t.home(x) === 2)!;
    s[2].ready = false;
    expect(t.route(a, 0, () => 0)).toEqual({ wait: 2 });
    const r = t.expire(a, 2);
    expect(r && "deliver" in r && r.deliver !== 2).toBe(true);
    expect(t.expire(a, 2)).toEqual(r); // a second held datagram of the same machine goes the same way
  });

  it("with no live slot at all a machine keeps waiting for its own", () => {
    const s = slots(2);
    const t = new FlowTable(s, OPTS);
    for (const x of s) x.ready = false;
    const a = addr(7);
    expect(t.route(a, 0, () => 0)).toEqual({ wait: t.home(a) });
    expect(t.expire(a, t.home(a))).toBeUndefined();
    expect(t.route(a, 0, () => 4)).toBeUndefined(); // and beyond waitMax: nowhere (dropped)
  });

  it("when a slot's worker dies each of its machines moves to one live slot, spread over the live ones", () => {
    const s = slots(4);
    const t = new FlowTable(s, OPTS);
    const mine = [...Array(400).keys()].map(addr).filter((x) => t.home(x) === 0);
    for (const x of mine) t.route(x, 0, () => 0);
    s[0].ready = false;
    t.evacuate(0);
    const to = new Set(mine.map((x) => t.slotOf(x)));
    expect(to.has(0)).toBe(false);
    expect(to.size).toBe(3);
    s[0].ready = true; // its replacement is ready: the moved machines stay where they are
    for (const x of mine) expect(t.route(x, 1, () => 0)).toEqual({ deliver: t.slotOf(x) });
  });

  it("is bounded: at most max machines, and a machine idle for idleMs is forgotten", () => {
    const t = new FlowTable(slots(2), { ...OPTS, max: 10, idleMs: 100 });
    for (let i = 0; i < 25; i++) t.route(addr(i), i, () => 0);
    expect(t.size).toBe(10);
    expect(t.slotOf(addr(0))).toBeUndefined(); // the oldest went first
    expect(t.slotOf(addr(24))).toBeDefined();
    t.route(addr(24), 200, () => 0);
    t.sweep(250);
    expect(t.size).toBe(1);
  });
});

describe("SessionLedger", () => {
  it("admits exactly maxSessions across slots, and again as sessions end", () => {
    const l = new SessionLedger({ maxSessions: 5, maxSessionsPerClient: 0 });
    const admitted = Array.from({ length: 8 }, (_, i) => l.acquire(i % 3, addr(i)));
    expect(admitted.filter(Boolean)).toHaveLength(5);
    expect(l.refused).toBe(3);
    l.release(0, addr(0));
    expect(l.acquire(2, addr(9))).toBe(true);
    expect(l.acquire(2, addr(10))).toBe(false);
  });

  it("holds maxSessionsPerClient across slots", () => {
    const l = new SessionLedger({ maxSessions: 0, maxSessionsPerClient: 2 });
    expect(l.acquire(0, "a")).toBe(true);
    expect(l.acquire(1, "a")).toBe(true);
    expect(l.acquire(1, "a")).toBe(false);
    expect(l.acquire(1, "b")).toBe(true);
  });

  it("a dead worker's sessions are given back; its late releases change nothing", () => {
    const l = new SessionLedger({ maxSessions: 3, maxSessionsPerClient: 0 });
    l.acquire(0, "a");
    l.acquire(0, "b");
    l.acquire(1, "c");
    expect(l.acquire(1, "d")).toBe(false);
    l.clear(0);
    expect(l.running).toBe(1);
    l.release(0, "a");
    expect(l.running).toBe(1);
    expect(l.acquire(1, "d")).toBe(true);
    expect(l.acquire(1, "e")).toBe(true);
    expect(l.acquire(1, "f")).toBe(false);
  });

  it("a reload changes the limit for the next session starts", () => {
    const l = new SessionLedger({ maxSessions: 1, maxSessionsPerClient: 0 });
    expect(l.acquire(0, "a")).toBe(true);
    expect(l.acquire(0, "b")).toBe(false);
    l.configure({ maxSessions: 2, maxSessionsPerClient: 0 });
    expect(l.acquire(0, "b")).toBe(true);
  });
});

describe("workerShare", () => {
  it("splits the per-server memory and socket bounds among the workers; 0 (no limit) stays 0; one worker keeps them whole", () => {
    const o = { root: "/srv", sessionBufferBudgetBytes: 1000, fileCacheBytes: 0, sessionSocketPool: 5, flowsMax: 7 };
    expect(workerShare(o, 1)).toEqual(o);
    expect(workerShare(o, 4)).toMatchObject({ sessionBufferBudgetBytes: 250, fileCacheBytes: 0, sessionSocketPool: 2, flowsMax: 2 });
    // N workers together never hold more budget than one process would.
    for (const n of [2, 3, 7]) expect(n * workerShare(o, n).sessionBufferBudgetBytes!).toBeLessThanOrEqual(1000);
  });
});
