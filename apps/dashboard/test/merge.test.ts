// The fleet's merging of admin API answers: counters add up, rows carry
// their server, tops are re-ranked over the fleet, flows newest first.

import { describe, expect, it } from "vitest";
import { mergeFlows, mergeStats, tag } from "../src/merge.js";
import type { BootFlow, StatsBody } from "../src/wire.js";

const body = (over: Partial<StatsBody> & { active: number; sent: number }): StatsBody => ({
  stats: { sessionsStarted: 10, sessionsActive: over.active, sessionsOk: 8, sessionsFailed: 2, probes: 1, bytesSent: over.sent, bytesReceived: 0, packetsSent: 100, retransmits: 3, outcomes: { ok: 8, "not-found": 2 } },
  uptimeSeconds: 5,
  outcomes: { ok: 8, "not-found": 2 },
  errorsByCode: { "1": 2 },
  topFiles: [],
  topFailingClients: [],
  ...over,
});

const flow = (id: string, startedAt: number): BootFlow => ({ id, client: "10.0.0.1", startedAt, endedAt: null, steps: [] });

describe("mergeStats", () => {
  it("adds counters, outcomes and error codes; keeps the longest uptime", () => {
    const m = mergeStats([
      { server: "a", body: body({ active: 2, sent: 1000, uptimeSeconds: 7 }) },
      { server: "b", body: body({ active: 3, sent: 500, errorsByCode: { "1": 1, "2": 4 } }) },
    ]);
    expect(m.stats.sessionsActive).toBe(5);
    expect(m.stats.bytesSent).toBe(1500);
    expect(m.stats.outcomes).toEqual({ ok: 16, "not-found": 4 });
    expect(m.outcomes).toEqual({ ok: 16, "not-found": 4 });
    expect(m.errorsByCode).toEqual({ "1": 3, "2": 4 });
    expect(m.uptimeSeconds).toBe(7);
  });

  it("ranks top files and failing clients over the fleet, each row tagged, cut to the longest list", () => {
    const m = mergeStats([
      { server: "a", body: body({ active: 0, sent: 0, topFiles: [{ path: "pxelinux.0", sessions: 5, bytes: 50 }, { path: "ldlinux.c32", sessions: 1, bytes: 1 }], topFailingClients: [{ client: "10.0.0.9", failures: 2 }] }) },
      { server: "b", body: body({ active: 0, sent: 0, topFiles: [{ path: "grubx64.efi", sessions: 9, bytes: 90 }], topFailingClients: [{ client: "10.0.1.9", failures: 7 }] }) },
    ]);
    expect(m.topFiles).toEqual([
      { path: "grubx64.efi", sessions: 9, bytes: 90, server: "b" },
      { path: "pxelinux.0", sessions: 5, bytes: 50, server: "a" },
    ]);
    expect(m.topFailingClients).toEqual([{ client: "10.0.1.9", failures: 7, server: "b" }]);
  });

  it("lists a member that did not answer, and sums the others", () => {
    const m = mergeStats([
      { server: "a", body: body({ active: 4, sent: 10 }) },
      { server: "b", error: "connect ECONNREFUSED" },
    ]);
    expect(m.stats.sessionsActive).toBe(4);
    expect(m.servers).toEqual([
      { server: "a", ok: true, uptimeSeconds: 5, sessionsActive: 4 },
      { server: "b", ok: false, error: "connect ECONNREFUSED" },
    ]);
  });
});

describe("mergeFlows and tag", () => {
  it("puts every member's flows newest first, tagged, and applies the limit", () => {
    const merged = mergeFlows(
      [
        { server: "a", flows: [flow("a2", 300), flow("a1", 100)] },
        { server: "b", flows: [flow("b1", 200)] },
      ],
      2,
    );
    expect(merged.map((f) => [f.server, f.id])).toEqual([
      ["a", "a2"],
      ["b", "b1"],
    ]);
  });

  it("copies rows instead of changing them", () => {
    const rows = [{ id: "1" }];
    const tagged = tag(rows, "rack1");
    expect(tagged).toEqual([{ id: "1", server: "rack1" }]);
    expect(rows[0]).toEqual({ id: "1" });
  });
});
