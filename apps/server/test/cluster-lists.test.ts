// When a worker's report carries its lists (live sessions, boot flows):
// every LISTS_MAX_INTERVAL_MS while no admin client watches them; while one
// does, the first report after they changed, no sooner than their cost
// allows, and at least every LISTS_MAX_INTERVAL_MS. Pure logic with given
// times (no clock), so nothing here depends on speed.

import { describe, expect, it } from "vitest";
import { LISTS_MAX_INTERVAL_MS, ListsPacer } from "../src/cluster/cluster-worker.js";

const stats = (started: number, ended = started, http = 0) => ({ sessionsStarted: started, sessionsOk: ended, sessionsFailed: 0, probes: 0, httpRequests: http });

/** A pacer as while an admin client watches the lists. */
const watched = (): ListsPacer => {
  const p = new ListsPacer();
  p.watched = true;
  return p;
};

describe("ListsPacer", () => {
  it("unwatched: the first report carries the lists, then one every 10 s whatever changed and whatever they cost", () => {
    const p = new ListsPacer();
    expect(LISTS_MAX_INTERVAL_MS).toBe(10_000);
    expect(p.watched).toBe(false);
    expect(p.due(0, stats(0))).toBe(true);
    p.sent(0, 0.1, stats(0));
    for (let t = 1000; t < 10_000; t += 1000) expect(p.due(t, stats(t / 10, t / 20, t / 100)), `at ${t}`).toBe(false);
    expect(p.due(10_000, stats(0))).toBe(true); // unchanged: still sent (flows end by idling)
    p.sent(10_000, 80, stats(1000)); // costly lists: still every 10 s
    expect(p.due(19_999, stats(2000))).toBe(false);
    expect(p.due(20_000, stats(2000))).toBe(true);
  });

  it("a watch that starts sends changed lists with the next report (as its cost allows); one that ends goes back to 10 s", () => {
    const p = new ListsPacer();
    p.sent(0, 0.5, stats(0));
    expect(p.due(3000, stats(7))).toBe(false);
    p.watched = true;
    expect(p.due(3000, stats(7))).toBe(true);
    p.sent(3000, 0.5, stats(7));
    expect(p.due(4000, stats(7))).toBe(false); // nothing changed since
    expect(p.due(4000, stats(8))).toBe(true);
    p.watched = false;
    expect(p.due(4000, stats(8))).toBe(false);
    expect(p.due(13_000, stats(8))).toBe(true);
  });

  it("watched: the first report carries the lists; later ones only after a session started or ended or an HTTP request", () => {
    const p = watched();
    expect(p.due(0, stats(0))).toBe(true);
    p.sent(0, 0.5, stats(0));
    expect(p.due(1000, stats(0))).toBe(false); // nothing changed
    expect(p.due(1000, stats(1, 0))).toBe(true); // a session started
    p.sent(1000, 0.5, stats(1, 0));
    expect(p.due(2000, stats(1, 1))).toBe(true); // it ended
    p.sent(2000, 0.5, stats(1, 1));
    expect(p.due(3000, stats(1, 1, 1))).toBe(true); // an HTTP request
  });

  it("watched: cheap lists go with every report; costly ones wait 1000 times their cost, at most 10 s", () => {
    const p = watched();
    p.sent(0, 0.9, stats(0));
    expect(p.due(1000, stats(5))).toBe(true);
    p.sent(1000, 5, stats(5)); // 5 ms: the next no sooner than 5 s later
    expect(p.due(2000, stats(9))).toBe(false);
    expect(p.due(5999, stats(9))).toBe(false);
    expect(p.due(6000, stats(9))).toBe(true);
    p.sent(6000, 50, stats(9)); // 50 ms would be 50 s: 10 s at most
    expect(p.due(15_999, stats(12))).toBe(false);
    expect(p.due(16_000, stats(12))).toBe(true);
  });

  it("watched: unchanged counters still send the lists every 10 s (a flow ends by idling without a session)", () => {
    const p = watched();
    p.sent(0, 0.1, stats(3));
    expect(p.due(9_999, stats(3))).toBe(false);
    expect(p.due(10_000, stats(3))).toBe(true);
  });
});
