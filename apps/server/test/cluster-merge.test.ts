// What the cluster primary computes from its workers' answers: summed
// counters, one Prometheus exposition, merged summaries, stable routing.

import { describe, expect, it } from "vitest";
import { emptyServerStats } from "@tftpkit/server/internal";
import { mergeServerStats, mergeSummaries } from "@tftpkit/server";
import { addressHash } from "../src/cluster/routing.js";
import { mergePrometheus, withoutGauges } from "../src/cluster/prometheus.js";

const W1 = `# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name="tftpkit",process_pid="11"} 1
# HELP tftp_server_sessions_total TFTP sessions finished
# UNIT tftp_server_sessions_total {session}
# TYPE tftp_server_sessions_total counter
tftp_server_sessions_total{tftp_kind="read",tftp_outcome="ok"} 3
tftp_server_sessions_total{tftp_kind="read",tftp_outcome="not-found"} 1
# HELP tftp_server_active_sessions TFTP sessions running
# TYPE tftp_server_active_sessions gauge
tftp_server_active_sessions{tftp_kind="read"} 2
# HELP tftp_server_session_duration Duration
# TYPE tftp_server_session_duration histogram
tftp_server_session_duration_count{tftp_kind="read",tftp_outcome="ok"} 3
tftp_server_session_duration_sum{tftp_kind="read",tftp_outcome="ok"} 0.5
tftp_server_session_duration_bucket{tftp_kind="read",tftp_outcome="ok",le="0.1"} 2
tftp_server_session_duration_bucket{tftp_kind="read",tftp_outcome="ok",le="+Inf"} 3
`;
const W2 = `# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name="tftpkit",process_pid="12"} 1
# HELP tftp_server_sessions_total TFTP sessions finished
# UNIT tftp_server_sessions_total {session}
# TYPE tftp_server_sessions_total counter
tftp_server_sessions_total{tftp_kind="read",tftp_outcome="ok"} 4
# HELP tftp_server_active_sessions TFTP sessions running
# TYPE tftp_server_active_sessions gauge
tftp_server_active_sessions{tftp_kind="read"} 1
# HELP tftp_server_session_duration Duration
# TYPE tftp_server_session_duration histogram
tftp_server_session_duration_count{tftp_kind="read",tftp_outcome="ok"} 4
tftp_server_session_duration_sum{tftp_kind="read",tftp_outcome="ok"} 0.25
tftp_server_session_duration_bucket{tftp_kind="read",tftp_outcome="ok",le="0.1"} 4
tftp_server_session_duration_bucket{tftp_kind="read",tftp_outcome="ok",le="+Inf"} 4
`;

const sample = (text: string, key: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(key + " "));
  return line === undefined ? undefined : Number(line.slice(key.length + 1));
};

describe("mergePrometheus", () => {
  const merged = mergePrometheus([W1, W2]);

  it("adds counters, histogram buckets, sums and counts, and up-down counters sample by sample", () => {
    expect(sample(merged, 'tftp_server_sessions_total{tftp_kind="read",tftp_outcome="ok"}')).toBe(7);
    expect(sample(merged, 'tftp_server_sessions_total{tftp_kind="read",tftp_outcome="not-found"}')).toBe(1);
    expect(sample(merged, 'tftp_server_active_sessions{tftp_kind="read"}')).toBe(3);
    expect(sample(merged, 'tftp_server_session_duration_count{tftp_kind="read",tftp_outcome="ok"}')).toBe(7);
    expect(sample(merged, 'tftp_server_session_duration_sum{tftp_kind="read",tftp_outcome="ok"}')).toBe(0.75);
    expect(sample(merged, 'tftp_server_session_duration_bucket{tftp_kind="read",tftp_outcome="ok",le="0.1"}')).toBe(6);
    expect(sample(merged, 'tftp_server_session_duration_bucket{tftp_kind="read",tftp_outcome="ok",le="+Inf"}')).toBe(7);
  });

  it("keeps each family's HELP/UNIT/TYPE once, before its samples", () => {
    expect(merged.match(/^# TYPE tftp_server_sessions_total counter$/gm)).toHaveLength(1);
    expect(merged.match(/^# HELP tftp_server_sessions_total /gm)).toHaveLength(1);
    expect(merged.match(/^# UNIT tftp_server_sessions_total /gm)).toHaveLength(1);
    const type = merged.indexOf("# TYPE tftp_server_session_duration histogram");
    const bucket = merged.indexOf("tftp_server_session_duration_bucket");
    expect(type).toBeGreaterThan(-1);
    expect(bucket).toBeGreaterThan(type);
  });

  it("keeps info gauges per process (distinct labels) and never adds up identical ones", () => {
    expect(sample(merged, 'target_info{service_name="tftpkit",process_pid="11"}')).toBe(1);
    expect(sample(merged, 'target_info{service_name="tftpkit",process_pid="12"}')).toBe(1);
    expect(sample(mergePrometheus([W1, W1]), 'target_info{service_name="tftpkit",process_pid="11"}')).toBe(1);
  });

  it("a dead worker's counters stay (withoutGauges drops only its gauges)", () => {
    const kept = withoutGauges(W1);
    expect(kept).not.toContain("tftp_server_active_sessions");
    expect(kept).not.toContain("target_info");
    const after = mergePrometheus([kept, W2]);
    expect(sample(after, 'tftp_server_sessions_total{tftp_kind="read",tftp_outcome="ok"}')).toBe(7);
    expect(sample(after, 'tftp_server_active_sessions{tftp_kind="read"}')).toBe(1);
  });
});

describe("mergeServerStats and mergeSummaries", () => {
  it("adds every counter and outcome", () => {
    const a = { ...emptyServerStats(), sessionsStarted: 3, sessionsOk: 2, bytesSent: 100, sessionsActive: 1 };
    a.outcomes.ok = 2;
    const b = { ...emptyServerStats(), sessionsStarted: 5, sessionsOk: 4, bytesSent: 50, malformedPackets: 7 };
    b.outcomes = { ...b.outcomes, ok: 4, "not-found": 1 };
    const s = mergeServerStats([a, b]);
    expect(s).toMatchObject({ sessionsStarted: 8, sessionsOk: 6, bytesSent: 150, sessionsActive: 1, malformedPackets: 7 });
    expect(s.outcomes).toMatchObject({ ok: 6, "not-found": 1, timeout: 0 });
    expect(a.outcomes.ok).toBe(2); // the inputs are left alone
  });

  it("merges top files by path and errors by code, and cuts the lists again", () => {
    const m = mergeSummaries(
      [
        { errorsByCode: { "1": 2 }, topFiles: [{ path: "a", sessions: 3, bytes: 30 }, { path: "b", sessions: 1, bytes: 5 }], topFailingClients: [{ client: "10.0.0.1", failures: 2 }] },
        { errorsByCode: { "1": 1, "2": 4 }, topFiles: [{ path: "b", sessions: 5, bytes: 50 }], topFailingClients: [{ client: "10.0.0.2", failures: 4 }] },
      ],
      1,
    );
    expect(m.errorsByCode).toEqual({ "1": 3, "2": 4 });
    expect(m.topFiles).toEqual([{ path: "b", sessions: 6, bytes: 55 }]);
    expect(m.topFailingClients).toEqual([{ client: "10.0.0.2", failures: 4 }]);
  });
});

describe("routing by client address", () => {
  it("the same address always hashes alike; many addresses spread over the slots", () => {
    expect(addressHash("10.1.2.3")).toBe(addressHash("10.1.2.3"));
    const slots = new Map<number, number>();
    for (let i = 0; i < 254; i++) {
      const s = addressHash(`10.0.0.${i + 1}`) % 4;
      slots.set(s, (slots.get(s) ?? 0) + 1);
    }
    expect(slots.size).toBe(4);
    for (const n of slots.values()) expect(n).toBeGreaterThan(254 / 4 / 3);
  });
});
