// When a worker's report carries its lists (live sessions, boot flows): the
// first report after they changed, no sooner than their cost allows, and at
// least every LISTS_MAX_INTERVAL_MS while anything may have changed. Pure
// logic with given times (no clock), so nothing here depends on speed.

import { describe, expect, it } from "vitest";
import { ListsPacer } from "../src/cluster/cluster-worker.js";

const stats = (started: number, ended = started, http = 0) => ({ sessionsStarted: started, sessionsOk: ended, sessionsFailed: 0, probes: 0, httpRequests: http });

describe("ListsPacer", () => {
  it("the first report carries the lists; later ones only after a session started or ended or an HTTP request", () => {
    const p = new ListsPacer();
    expect(p.due(0, stats(0))).toBe(true);
    p.sent(0, 0.5, stats(0));
    expect(p.due(1000, stats(0))).toBe(false); // nothing changed
    expect(p.due(1000, stats(1, 0))).toBe(true); // a session started
    p.sent(1000, 0.5, stats(1, 0));
    expect(p.due(2000, stats(1, 1))).toBe(true); // it ended
    p.sent(2000, 0.5, stats(1, 1));
    expect(p.due(3000, stats(1, 1, 1))).toBe(true); // an HTTP request
  });

  it("cheap lists go with every report; costly ones wait 1000 times their cost, at most 10 s", () => {
    const p = new ListsPacer();
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

  it("unchanged counters still send the lists every 10 s (a flow ends by idling without a session)", () => {
    const p = new ListsPacer();
    p.sent(0, 0.1, stats(3));
    expect(p.due(9_999, stats(3))).toBe(false);
    expect(p.due(10_000, stats(3))).toBe(true);
  });
});
