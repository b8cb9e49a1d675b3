// The primary's flow table (which worker serves a machine) and its session
// ledger (server-wide limits), as units.

import { describe, expect, it } from "vitest";
import { FlowTable, NOWHERE, WaitQueue, type RouteSlot } from "../src/cluster/routing.js";
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

  it("place() gives route()'s answer as a number (slot, -1 - slot to wait, NOWHERE) and asks the waiting count only of a slot not ready", () => {
    const s = slots(3);
    const t = new FlowTable(s, OPTS);
    const a = addr(7);
    const asked: number[] = [];
    const waiting = (slot: number): number => (asked.push(slot), 0);
    const home = t.home(a);
    expect(t.place(a, 0, waiting)).toBe(home);
    expect(asked).toEqual([]);
    s[home].ready = false;
    expect(t.place(a, 1, waiting)).toBe(-1 - home);
    expect(asked).toEqual([home]);
    // Too many waiting: the machine moves to a live slot.
    const moved = t.place(a, 2, () => OPTS.waitMax);
    expect(moved).toBeGreaterThanOrEqual(0);
    expect(moved).not.toBe(home);
    expect(t.route(a, 3, () => 0)).toEqual({ deliver: moved });
    // No live slot and too many waiting: nowhere.
    for (const x of s) x.ready = false;
    const b = addr(8);
    expect(t.place(b, 4, () => OPTS.waitMax)).toBe(NOWHERE);
    expect(t.route(b, 5, () => OPTS.waitMax)).toBeUndefined();
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

/** A ledger whose messages to workers are recorded; ask() returns the answers a request got at once. */
function ledger(maxSessions: number, maxSessionsPerClient = 0, workers = 2) {
  const admits: Array<{ slot: number; ids: number[]; ok: boolean[]; credit: number }> = [];
  const reclaims: number[] = [];
  const l = new SessionLedger({ maxSessions, maxSessionsPerClient }, workers, {
    admit: (slot, ids, ok, credit) => void admits.push({ slot, ids, ok, credit }),
    reclaim: (slot) => void reclaims.push(slot),
  });
  let id = 1;
  const ask = (slot: number, clients: string[]): { ok: boolean[]; credit: number } => {
    const before = admits.length;
    l.request(slot, clients.map(() => id++), clients);
    const got = admits.slice(before).filter((a) => a.slot === slot);
    return { ok: got.flatMap((a) => a.ok), credit: got.reduce((t, a) => t + a.credit, 0) };
  };
  return { l, ask, admits, reclaims };
}

const many = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => addr(from + i));

describe("WaitQueue", () => {
  const rrqOf = (name: string): Buffer => Buffer.from(`\0\x01${name}\0octet\0`, "latin1");

  it("a datagram sent again while a copy waits is held once; another port, another sender or other bytes wait too; oldest first", () => {
    const q = new WaitQueue<{ address: string; port: number }, string>();
    const a = { address: "10.0.0.1", port: 2000 };
    expect(q.add(rrqOf("pxelinux.0"), a, "l1")).toBe(true);
    for (let i = 0; i < 100; i++) expect(q.add(rrqOf("pxelinux.0"), { ...a }, "l1")).toBe(false);
    expect(q.add(rrqOf("pxelinux.0"), { address: "10.0.0.1", port: 2001 }, "l1")).toBe(true);
    expect(q.add(rrqOf("pxelinux.0"), { address: "10.0.0.2", port: 2000 }, "l1")).toBe(true);
    expect(q.add(rrqOf("ldlinux.c32"), a, "l2")).toBe(true);
    expect(q.length).toBe(4);
    expect(q.take().map(([m, r, l]) => [m.toString("latin1", 2, m.indexOf(0, 2)), `${r.address}:${r.port}`, l])).toEqual([
      ["pxelinux.0", "10.0.0.1:2000", "l1"],
      ["pxelinux.0", "10.0.0.1:2001", "l1"],
      ["pxelinux.0", "10.0.0.2:2000", "l1"],
      ["ldlinux.c32", "10.0.0.1:2000", "l2"],
    ]);
  });

  it("after take() the queue is empty and the same datagram waits again", () => {
    const q = new WaitQueue<{ address: string; port: number }, number>();
    const a = { address: "fd00::1", port: 1024 };
    expect(q.add(rrqOf("boot.ipxe"), a, 0)).toBe(true);
    expect(q.take()).toHaveLength(1);
    expect(q.length).toBe(0);
    expect(q.take()).toEqual([]);
    expect(q.add(rrqOf("boot.ipxe"), a, 0)).toBe(true);
    expect(q.length).toBe(1);
  });
});

describe("SessionLedger", () => {
  it("admits exactly maxSessions across slots, and again as sessions end (no credits near the limit)", () => {
    const { l, ask } = ledger(5);
    const a = ask(0, many(3));
    const b = ask(1, many(5, 3));
    expect([...a.ok, ...b.ok].filter(Boolean)).toHaveLength(5);
    expect(a.credit + b.credit).toBe(0);
    expect(l.refused).toBe(3);
    l.release(0, [addr(0)]);
    expect(ask(1, [addr(9)]).ok).toEqual([true]);
    expect(ask(1, [addr(10)]).ok).toEqual([false]);
  });

  it("holds maxSessionsPerClient across slots, and grants no credits then", () => {
    const { ask } = ledger(0, 2);
    expect(ask(0, ["a"])).toEqual({ ok: [true], credit: 0 });
    expect(ask(1, ["a"]).ok).toEqual([true]);
    expect(ask(1, ["a"]).ok).toEqual([false]);
    expect(ask(1, ["b"]).ok).toEqual([true]);
  });

  it("far from the limit a worker gets credits; near it, credits held elsewhere are reclaimed before a refusal, so exactly maxSessions are admitted", () => {
    const { l, ask, admits, reclaims } = ledger(100);
    const first = ask(0, ["a"]);
    expect(first.ok).toEqual([true]);
    expect(first.credit).toBeGreaterThan(0); // slot 0 may now start sessions by itself
    const credit = first.credit;
    expect(l.running).toBe(1 + credit);
    // Slot 1 asks for more than is left: it gets the rest, the last ones wait for slot 0's credits.
    const rest = 100 - 1 - credit;
    const b = ask(1, many(rest + 5, 10));
    expect(b.ok.filter(Boolean)).toHaveLength(rest);
    expect(b.ok).toHaveLength(rest);
    expect(reclaims).toEqual([0]);
    // Slot 0 used 2 of its credits and gives back the others: the 5 waiting are admitted.
    const before = admits.length;
    l.release(0, [], { returned: credit - 2, reclaimed: true });
    expect(admits.slice(before).flatMap((a) => a.ok)).toEqual([true, true, true, true, true]);
    expect(l.running).toBe(1 + rest + 2 + 5);
    // The rest of the limit goes to the next requests, then refusals (no credits out: no waiting).
    const left = 100 - l.running;
    expect(ask(1, many(left + 3, 200)).ok).toEqual([...Array(left).fill(true), false, false, false]);
    expect(l.running).toBe(100);
    // A credit session that ends after the reclaim comes back to the primary.
    l.release(0, [], { freed: 1 });
    expect(ask(1, ["z"]).ok).toEqual([true]);
  });

  it("a dead worker's sessions and credits are given back; its late releases change nothing", () => {
    const { l, ask } = ledger(3);
    ask(0, ["a", "b"]);
    ask(1, ["c"]);
    expect(ask(1, ["d"]).ok).toEqual([false]);
    l.clear(0);
    expect(l.running).toBe(1);
    l.release(0, ["a"]);
    expect(l.running).toBe(1);
    expect(ask(1, ["d", "e", "f"]).ok).toEqual([true, true, false]);
  });

  it("a reload changes the limit for the next session starts", () => {
    const { l, ask } = ledger(1);
    expect(ask(0, ["a"]).ok).toEqual([true]);
    expect(ask(0, ["b"]).ok).toEqual([false]);
    l.configure({ maxSessions: 2, maxSessionsPerClient: 0 });
    expect(ask(0, ["b"]).ok).toEqual([true]);
  });
});

describe("workerShare", () => {
  it("splits the per-server memory and socket bounds among the workers; 0 (no limit) stays 0; one worker keeps them whole", () => {
    const o = { root: "/srv", sessionBufferBudgetBytes: 1000, fileCacheBytes: 0, sessionSocketPool: 5, maxFlows: 7 };
    expect(workerShare(o, 1)).toEqual(o);
    expect(workerShare(o, 4)).toMatchObject({ sessionBufferBudgetBytes: 250, fileCacheBytes: 0, sessionSocketPool: 2, maxFlows: 2 });
    // N workers together never hold more budget than one process would.
    for (const n of [2, 3, 7]) expect(n * workerShare(o, n).sessionBufferBudgetBytes!).toBeLessThanOrEqual(1000);
  });
});
