// Boot flows: what each machine fetched while it booted. The list shows the
// recent flows; a machine's page draws each of its flows as a Gantt of the
// steps (failures red, the UEFI size probe marked as a probe, a live
// transfer striped), with a link to the trace when the server names a
// tracing UI.

import { useEffect, useState } from "preact/hooks";
import type { BootFlow, FlowStep } from "../../src/wire.js";
import { bytes, clock, count, duration, machineHref, outcomeClass, traceLink, type OutcomeClass } from "./format.js";
import { Progress, Toolbar, useNow } from "./sessions.js";
import { store, useStore, type SessionRow } from "./store.js";

const failures = (f: BootFlow) => f.steps.filter((x) => outcomeClass(x.outcome) === "fail").length;
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
            <th>started</th>
            <th class="num">steps</th>
            <th class="num">failures</th>
            <th class="num">bytes</th>
            <th class="num">duration</th>
            <th>state</th>
          </tr>
        </thead>
        <tbody>
          {flows.slice(0, 300).map((f) => (
            <tr key={`${f.server ?? ""}|${f.id}`} data-client={f.client} class={failures(f) ? "has-failures" : undefined}>
              {s.fleet && <td class="server">{f.server}</td>}
              <td>
                <a href={machineHref(f.client, f.server)}>{f.client}</a>
              </td>
              <td>{f.identity ? `${f.identity.kind} ${f.identity.value}` : "–"}</td>
              <td>{clock(f.startedAt)}</td>
              <td class="num">{f.steps.length}</td>
              <td class="num">{failures(f)}</td>
              <td class="num">{bytes(f.steps.reduce((n, x) => n + x.bytes, 0))}</td>
              <td class="num">{duration((f.endedAt ?? flowEnd(f)) - f.startedAt)}</td>
              <td>{f.endedAt === null ? "open" : "ended"}</td>
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
        <div class={`gantt-row ${b.cls}`} key={b.key} data-outcome={b.outcome}>
          <div class="gantt-label" title={b.path}>
            <span class="path">{b.path}</span>
            <span class={`badge ${b.cls}`}>{b.cls === "probe" ? "probe" : b.outcome}</span>
          </div>
          <div class="gantt-track">
            <div
              class={`bar ${b.cls}`}
              data-outcome={b.outcome}
              style={{ left: pct(b.start), width: `max(3px, ${(100 * (b.end - b.start)) / span}%)` }}
              title={`${b.kind} ${b.path}: ${b.outcome}, ${duration(b.end - b.start)}${b.step?.error ? ` (${b.step.error})` : ""}`}
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
            <td>{x.kind}</td>
            <td>
              <span class={`badge ${outcomeClass(x.outcome)}`}>{x.outcome}</span>
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
              <span class="muted">{` · ${f.steps.length} steps · ${failures(f)} failed · ${f.endedAt === null ? "open" : `ended after ${duration(f.endedAt - f.startedAt)}`}`}</span>
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
