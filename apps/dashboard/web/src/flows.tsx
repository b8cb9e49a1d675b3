// Boot flows: what each machine fetched while it booted. The list shows the
// recent flows with their loader chain and time to boot; a machine's page
// draws each of its flows as a Gantt of the steps (failures red, misses
// inside a known config search amber and dashed, the UEFI size probe marked
// as a probe, a live transfer striped, HTTP requests labelled apart from
// TFTP), with each step's stage and a link to the trace when the server
// names a tracing UI.

import { useEffect, useState } from "preact/hooks";
import type { BootFlow, FlowStep } from "../../src/wire.js";
import { bytes, clock, count, duration, flowState, kindLabel, machineHref, outcomeClass, traceLink, type OutcomeClass } from "./format.js";
import { Progress, Toolbar, useNow } from "./sessions.js";
import { store, useStore, type SessionRow } from "./store.js";

/** Failed steps: the server's count (dropped steps included), else the kept steps'. */
const failures = (f: BootFlow) => f.failedSteps ?? f.steps.filter((x) => outcomeClass(x.outcome) === "fail").length;
const misses = (f: BootFlow) => f.searchMisses ?? f.steps.filter((x) => x.outcome === "search-miss").length;
const chain = (f: BootFlow) => (f.loaderChain?.length ? f.loaderChain.join(" → ") : "–");
const flowEnd = (f: BootFlow) => Math.max(f.startedAt, ...f.steps.map((x) => x.startedAt + x.durationMs));

export function Flows() {
  const s = useStore();
  const [filter, setFilter] = useState("");
  const q = filter.trim().toLowerCase();
  const flows = [...s.flows.values()]
    .filter((f) => !q || f.client.toLowerCase().includes(q) || (f.identity?.value ?? "").toLowerCase().includes(q))
    .sort((a, b) => b.startedAt - a.startedAt);
  return (
    <section>
      <Toolbar title="Boot flows" filters={[{ id: "filter-flow-client", label: "client", value: filter, set: setFilter, placeholder: "address or MAC" }]} />
      <table class="grid" id="flows-table">
        <thead>
          <tr>
            {s.fleet && <th>server</th>}
            <th>client</th>
            <th>identity</th>
            <th>loader chain</th>
            <th>started</th>
            <th class="num">steps</th>
            <th class="num">failures</th>
            <th class="num">search misses</th>
            <th class="num">bytes</th>
            <th class="num">duration</th>
            <th class="num">time to boot</th>
            <th>state</th>
          </tr>
        </thead>
        <tbody>
          {flows.slice(0, 300).map((f) => (
            <tr key={`${f.server ?? ""}|${f.id}`} data-client={f.client} data-state={flowState(f)} class={f.failed || failures(f) ? "has-failures" : undefined}>
              {s.fleet && <td class="server">{f.server}</td>}
              <td>
                <a href={machineHref(f.client, f.server)}>{f.client}</a>
              </td>
              <td>{f.identity ? `${f.identity.kind} ${f.identity.value}` : "–"}</td>
              <td class="chain">{chain(f)}</td>
              <td>{clock(f.startedAt)}</td>
              <td class="num">{f.steps.length}</td>
              <td class="num">{failures(f)}</td>
              <td class="num">{misses(f)}</td>
              <td class="num">{bytes(f.steps.reduce((n, x) => n + x.bytes, 0))}</td>
              <td class="num">{duration((f.endedAt ?? flowEnd(f)) - f.startedAt)}</td>
              <td class="num time-to-boot">{f.timeToBootMs === undefined ? "–" : duration(f.timeToBootMs)}</td>
              <td>
                <span class={`state-${flowState(f)}`}>{flowState(f)}</span>
                {f.noConfig && <span class="muted">{` (no ${f.noConfig})`}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {flows.length === 0 && <p class="muted">No boot flow yet.</p>}
    </section>
  );
}

interface Bar {
  key: string;
  path: string;
  kind: string;
  stage?: string;
  start: number;
  end: number;
  cls: OutcomeClass;
  outcome: string;
  step?: FlowStep;
}

/** A flow's steps (and the machine's running transfers) on one time axis. */
function Gantt({ flow, live, now }: { flow: BootFlow; live: SessionRow[]; now: number }) {
  const running = new Map(live.filter((r) => !r.ended).map((r) => [r.id, r]));
  /** Where a running transfer has got to: its live age, or the step as last reported. */
  const runningEnd = (id: string, start: number, reported: number) => {
    const r = running.get(id);
    return r ? Math.max(reported, start + r.ageMs + (now - r.seenAt)) : reported;
  };
  const bars: Bar[] = flow.steps.map((x, i) => ({
    key: `${x.sessionId}|${i}`,
    path: x.path,
    kind: x.kind,
    stage: x.stage,
    start: x.startedAt,
    end: x.outcome === "running" ? runningEnd(x.sessionId, x.startedAt, x.startedAt + x.durationMs) : x.startedAt + x.durationMs,
    cls: outcomeClass(x.outcome),
    outcome: x.outcome,
    step: x,
  }));
  // A transfer of the machine that started after the flow's last update.
  const known = new Set(flow.steps.map((x) => x.sessionId));
  for (const r of running.values())
    if (!known.has(r.id)) bars.push({ key: `live|${r.id}`, path: r.path, kind: r.kind, start: r.startedAt, end: runningEnd(r.id, r.startedAt, r.startedAt), cls: "running", outcome: "running" });
  const t0 = Math.min(flow.startedAt, ...bars.map((b) => b.start));
  const t1 = Math.max(t0 + 1, ...bars.map((b) => b.end));
  const span = t1 - t0;
  const pct = (t: number) => `${(100 * (t - t0)) / span}%`;
  return (
    <div class="gantt" data-flow={flow.id}>
      <div class="gantt-axis">
        <span />
        <div class="ticks">
          {[0, 0.25, 0.5, 0.75, 1].map((f) => (
            <span key={f} class="tick" style={{ left: `${f * 100}%` }}>
              {`+${duration(f * span)}`}
            </span>
          ))}
        </div>
      </div>
      {bars.map((b) => (
        <div class={`gantt-row ${b.cls}${b.kind === "http" ? " http" : ""}`} key={b.key} data-outcome={b.outcome} data-kind={b.kind} data-stage={b.stage}>
          <div class="gantt-label" title={b.path}>
            {b.kind === "http" && <span class="kind http">{kindLabel(b.kind)}</span>}
            <span class="path">{b.path}</span>
            {b.stage && b.stage !== "other" && <span class="stage">{b.stage}</span>}
            <span class={`badge ${b.cls}`}>{b.cls === "probe" ? "probe" : b.cls === "miss" ? "search miss" : b.outcome}</span>
          </div>
          <div class="gantt-track">
            <div
              class={`bar ${b.cls}${b.kind === "http" ? " http" : ""}`}
              data-outcome={b.outcome}
              style={{ left: pct(b.start), width: `max(3px, ${(100 * (b.end - b.start)) / span}%)` }}
              title={`${kindLabel(b.kind)} ${b.path}${b.stage ? ` (${b.stage})` : ""}: ${b.outcome}, ${duration(b.end - b.start)}${b.step?.error ? ` (${b.step.error})` : ""}`}
            />
          </div>
        </div>
      ))}
    </div>
  );
}

function StepTable({ flow }: { flow: BootFlow }) {
  return (
    <table class="grid steps">
      <thead>
        <tr>
          <th>#</th>
          <th>path</th>
          <th>kind</th>
          <th>stage</th>
          <th>outcome</th>
          <th class="num">bytes / tsize</th>
          <th class="num">blksize / window</th>
          <th class="num">at</th>
          <th class="num">duration</th>
          <th class="num">handler</th>
          <th class="num">retransmits</th>
          <th>error</th>
        </tr>
      </thead>
      <tbody>
        {flow.steps.map((x, i) => (
          <tr key={`${x.sessionId}|${i}`} class={outcomeClass(x.outcome)}>
            <td>{i + 1}</td>
            <td class="path">{x.path}</td>
            <td>{kindLabel(x.kind)}</td>
            <td>{x.stage ?? ""}</td>
            <td>
              <span class={`badge ${outcomeClass(x.outcome)}`}>{x.outcome}</span>
              {x.last && <span class="muted">{" last"}</span>}
            </td>
            <td class="num">{`${bytes(x.bytes)} / ${bytes(x.tsize)}`}</td>
            <td class="num">{`${x.blksize} / ${x.windowsize}`}</td>
            <td class="num">{`+${duration(x.startedAt - flow.startedAt)}`}</td>
            <td class="num">{duration(x.durationMs)}</td>
            <td class="num">{duration(x.handlerMs)}</td>
            <td class="num">{count(x.retransmits)}</td>
            <td>{x.error ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One machine: its flows, newest first, each a timeline and a table of steps. */
export function Machine({ client, server }: { client: string; server?: string }) {
  const s = useStore();
  const now = useNow(500);
  useEffect(() => {
    void store.loadMachine(client);
  }, [client]);
  const flows = [...s.flows.values()].filter((f) => f.client === client && (!server || f.server === server)).sort((a, b) => b.startedAt - a.startedAt);
  const live = [...s.sessions.values()].filter((r) => r.peer.address === client && (!server || r.server === server));
  return (
    <section class="machine">
      <h2>
        Machine <span class="client">{client}</span>
        {server && <span class="muted">{` on ${server}`}</span>}
      </h2>
      {live.filter((r) => !r.ended).map((r) => (
        <div class="live-step" key={r.key}>
          <span class="path">{r.path}</span> <Progress r={r} />
        </div>
      ))}
      {flows.length === 0 && <p class="muted">No boot flow of this machine is known.</p>}
      {flows.map((f, i) => {
        const href = traceLink(store.traceTemplate(f.server), f.traceId);
        return (
          <article class="flow" key={`${f.server ?? ""}|${f.id}`}>
            <h3>
              {`Flow ${clock(f.startedAt)}`}
              <span class="muted">{` · ${f.steps.length} steps · ${failures(f)} failed · ${misses(f)} search misses · ${
                f.timeToBootMs !== undefined ? `booted after ${duration(f.timeToBootMs)}` : f.endedAt === null ? "open" : `ended after ${duration(f.endedAt - f.startedAt)}`
              }`}</span>
              {f.loaderChain?.length ? <span class="chain">{chain(f)}</span> : null}
              {f.failed && <span class="badge fail">{f.noConfig ? `no config found (${f.noConfig})` : "failed"}</span>}
              {f.bootedAt !== undefined && <span class="badge ok">booted</span>}
              {f.stepsDropped ? <span class="muted">{`(${f.stepsDropped} earlier steps not kept)`}</span> : null}
              {f.identity && <span class="identity">{`${f.identity.kind} ${f.identity.value}`}</span>}
              {href && (
                <a class="trace" href={href} target="_blank" rel="noopener noreferrer">
                  trace
                </a>
              )}
            </h3>
            <Gantt flow={f} live={i === 0 && f.endedAt === null ? live : []} now={now} />
            <StepTable flow={f} />
          </article>
        );
      })}
    </section>
  );
}
