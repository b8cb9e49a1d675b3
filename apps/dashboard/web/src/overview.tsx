// Overview: counters, and charts of the last five minutes derived from the
// stats samples (rates are differences between consecutive samples).

import { useMemo } from "preact/hooks";
import type uPlot from "uplot";
import { Chart, type Series } from "./chart.js";
import { bytes, count, duration, ERROR_NAMES, percent, rate } from "./format.js";
import type { ServerCounters } from "../../src/wire.js";
import { useStore, type Sample } from "./store.js";

const OUTCOME_COLORS: Record<string, string> = {
  ok: "#3fb950",
  probe: "#8b949e",
  "not-found": "#d29922",
  "access-denied": "#f0883e",
  timeout: "#a371f7",
  "client-error": "#ff7b72",
  "handler-error": "#f85149",
  error: "#da3633",
  aborted: "#db61a2",
};
const OTHER_COLORS = ["#79c0ff", "#56d4dd", "#e3b341", "#ffa198"];

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** Per-second rate of `pick` between consecutive samples (never negative: a member leaving a fleet is not a negative rate). */
function rates(samples: Sample[], pick: (s: Sample) => number): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i].t - samples[i - 1].t;
    out.push(dt > 0 ? Math.max(0, (pick(samples[i]) - pick(samples[i - 1])) / dt) : 0);
  }
  return out;
}

function Tile({ label, value, id }: { label: string; value: string; id: string }) {
  return (
    <div class="tile" id={id}>
      <div class="value">{value}</div>
      <div class="label">{label}</div>
    </div>
  );
}

export function Overview() {
  const s = useStore();
  const samples = s.samples;
  const body = s.stats;
  const version = s.version;

  const charts = useMemo(() => {
    const xs = samples.slice(1).map((x) => x.t);
    // The outcomes seen so far (a server lists every outcome, most at zero).
    const last = samples[samples.length - 1]?.body.outcomes ?? {};
    const outcomes = Object.keys(last)
      .filter((o) => last[o] > 0)
      .sort((a, b) => (a === "ok" ? -1 : b === "ok" ? 1 : a.localeCompare(b)));
    const outcomeSeries: Series[] = outcomes.map((o, i) => ({ label: o, stroke: OUTCOME_COLORS[o] ?? OTHER_COLORS[i % OTHER_COLORS.length] }));
    const stat = (k: keyof ServerCounters) => (x: Sample) => num(x.body.stats?.[k]);
    return {
      outcomeSeries,
      outcomes: [xs, ...outcomes.map((o) => rates(samples, (x) => num(x.body.outcomes?.[o])))] as uPlot.AlignedData,
      throughput: [xs, rates(samples, stat("bytesSent")), rates(samples, stat("bytesReceived"))] as uPlot.AlignedData,
      active: [xs, samples.slice(1).map(stat("sessionsActive"))] as uPlot.AlignedData,
      retransmits: [xs, rates(samples, stat("retransmits"))] as uPlot.AlignedData,
    };
    // Samples are appended in place: the store's version says when they changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version]);

  if (!body) return <p class="muted">Waiting for the first stats…</p>;
  const st = body.stats ?? {};
  const errors = Object.entries(body.errorsByCode ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const maxErr = Math.max(1, ...errors.map(([, n]) => n));
  return (
    <section class="overview">
      <div class="tiles">
        <Tile id="tile-active" label="active sessions" value={count(num(st.sessionsActive))} />
        <Tile id="tile-started" label="sessions" value={count(num(st.sessionsStarted))} />
        <Tile id="tile-ok" label="ok" value={count(num(st.sessionsOk))} />
        <Tile id="tile-failed" label="failed" value={count(num(st.sessionsFailed))} />
        <Tile id="tile-probes" label="size probes" value={count(num(st.probes))} />
        <Tile id="tile-sent" label="sent" value={bytes(num(st.bytesSent))} />
        <Tile id="tile-received" label="received" value={bytes(num(st.bytesReceived))} />
        <Tile id="tile-retransmits" label={`retransmits (${percent(num(st.retransmits), num(st.packetsSent))} of packets)`} value={count(num(st.retransmits))} />
        <Tile id="tile-uptime" label="uptime" value={duration(1000 * num(body.uptimeSeconds))} />
      </div>
      <div class="charts">
        <Chart id="chart-outcomes" title="Sessions per second, by outcome" series={charts.outcomeSeries} data={charts.outcomes} format={(v) => v.toFixed(v < 10 ? 1 : 0)} />
        <Chart
          id="chart-throughput"
          title="Throughput"
          series={[
            { label: "sent", stroke: "#58a6ff" },
            { label: "received", stroke: "#3fb950" },
          ]}
          data={charts.throughput}
          format={rate}
        />
        <Chart id="chart-active" title="Active sessions" series={[{ label: "active", stroke: "#e3b341" }]} data={charts.active} format={(v) => (Number.isInteger(v) ? String(v) : "")} />
        <Chart id="chart-retransmits" title="Retransmits per second" series={[{ label: "retransmits", stroke: "#f85149" }]} data={charts.retransmits} format={(v) => v.toFixed(v < 10 ? 1 : 0)} />
      </div>
      <h2>Errors by code</h2>
      {errors.length === 0 ? (
        <p class="muted">No error sent yet.</p>
      ) : (
        <table class="bars" id="errors-by-code">
          <tbody>
            {errors.map(([code, n]) => (
              <tr key={code}>
                <th>
                  {code} <span class="muted">{ERROR_NAMES[code] ?? ""}</span>
                </th>
                <td class="bar-cell">
                  <div class="hbar" style={{ width: `${(100 * n) / maxErr}%` }} />
                </td>
                <td class="num">{count(n)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {body.servers && (
        <>
          <h2>Servers</h2>
          <table class="grid" id="fleet-servers">
            <thead>
              <tr>
                <th>server</th>
                <th>state</th>
                <th class="num">active sessions</th>
                <th class="num">uptime</th>
              </tr>
            </thead>
            <tbody>
              {body.servers.map((m) => (
                <tr key={m.server} class={m.ok ? undefined : "failed"}>
                  <td>{m.server}</td>
                  <td>{m.ok ? "ok" : m.error}</td>
                  <td class="num">{count(m.sessionsActive)}</td>
                  <td class="num">{m.uptimeSeconds === undefined ? "–" : duration(1000 * m.uptimeSeconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
