// Overview: counters, charts of the last five minutes derived from the
// stats samples (rates are differences between consecutive samples), and
// time to boot from the booted flows the page holds, by loader chain.

import { useMemo } from "preact/hooks";
import type uPlot from "uplot";
import { Chart, type Series } from "./chart.js";
import { bytes, count, duration, ERROR_NAMES, percent, quantile, rate } from "./format.js";
import type { BootFlow, ServerCounters } from "../../src/wire.js";
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

interface BootRow {
  chain: string;
  boots: number;
  median: number;
  p90: number;
  max: number;
}

/** Time to boot of the booted flows, overall and by loader chain (most boots first). */
function bootTimes(flows: Iterable<BootFlow>): { all: BootRow; rows: BootRow[] } {
  const by = new Map<string, number[]>();
  const all: number[] = [];
  for (const f of flows) {
    if (f.timeToBootMs === undefined) continue;
    const chain = f.loaderChain?.length ? f.loaderChain.join(" → ") : "unknown";
    let list = by.get(chain);
    if (!list) by.set(chain, (list = []));
    list.push(f.timeToBootMs);
    all.push(f.timeToBootMs);
  }
  const row = (chain: string, ms: number[]): BootRow => {
    ms.sort((a, b) => a - b);
    return { chain, boots: ms.length, median: quantile(ms, 0.5), p90: quantile(ms, 0.9), max: ms[ms.length - 1] ?? NaN };
  };
  return { all: row("all", all), rows: [...by].map(([c, ms]) => row(c, ms)).sort((a, b) => b.boots - a.boots || a.chain.localeCompare(b.chain)) };
}

function TimeToBoot({ flows, version }: { flows: Map<string, BootFlow>; version: number }) {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const t = useMemo(() => bootTimes(flows.values()), [version]);
  const maxP90 = Math.max(1, ...t.rows.map((r) => r.p90));
  return (
    <>
      <h2>Time to boot</h2>
      {t.rows.length === 0 ? (
        <p class="muted" id="time-to-boot-none">
          No flow has booted yet (a handler marks the last file with last: true, or the machine calls back).
        </p>
      ) : (
        <table class="grid" id="time-to-boot">
          <thead>
            <tr>
              <th>loader chain</th>
              <th class="num">boots</th>
              <th class="num">median</th>
              <th class="num">p90</th>
              <th class="num">max</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {t.rows.map((r) => (
              <tr key={r.chain} data-chain={r.chain}>
                <td class="chain">{r.chain}</td>
                <td class="num">{count(r.boots)}</td>
                <td class="num">{duration(r.median)}</td>
                <td class="num">{duration(r.p90)}</td>
                <td class="num">{duration(r.max)}</td>
                <td class="bar-cell">
                  <div class="hbar boot" style={{ width: `${(100 * r.p90) / maxP90}%` }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
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
  const booted = [...s.flows.values()].filter((f) => f.timeToBootMs !== undefined).map((f) => f.timeToBootMs!).sort((a, b) => a - b);
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
        <Tile id="tile-time-to-boot" label={`time to boot, median of ${count(booted.length)}`} value={duration(quantile(booted, 0.5))} />
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
      <TimeToBoot flows={s.flows} version={version} />
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
