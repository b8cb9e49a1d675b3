// Live sessions: one row per transfer with its progress, sortable by any
// column and filtered by client and path. Rows follow the event stream;
// an ended session stays a few seconds, faded, with its outcome.

import { useEffect, useState } from "preact/hooks";
import { bytes, duration, machineHref, outcomeClass, rate } from "./format.js";
import { useStore, type SessionRow } from "./store.js";
import type { ComponentChildren } from "preact";


type SortKey = "server" | "client" | "kind" | "path" | "progress" | "bytes" | "rate" | "retransmits" | "age";

/** Rows drawn at most (the rest is counted): the page stays fast under load. */
const ROWS = 500;

const client = (r: SessionRow) => `${r.peer.address}:${r.peer.port}`;
const age = (r: SessionRow, now: number) => (r.ended ? r.ageMs : r.ageMs + (now - r.seenAt));
const fraction = (r: SessionRow) => (r.tsize && r.tsize > 0 ? Math.min(1, r.bytes / r.tsize) : r.ended?.outcome === "ok" ? 1 : -1);

const VALUE: Record<SortKey, (r: SessionRow, now: number) => string | number> = {
  server: (r) => r.server ?? "",
  client,
  kind: (r) => r.kind,
  path: (r) => r.path,
  progress: fraction,
  bytes: (r) => r.bytes,
  rate: (r) => r.rateBps,
  retransmits: (r) => r.retransmits,
  age,
};

/** Ticks once a second so ages advance between events. */
export function useNow(every = 1000): number {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    const t = setInterval(() => setNow(performance.now()), every);
    return () => clearInterval(t);
  }, [every]);
  return now;
}

export function Progress({ r }: { r: SessionRow }) {
  const f = fraction(r);
  return (
    <div class="progress">
      {f >= 0 ? <progress max={1} value={f} /> : <progress />}
      <span class="pct">{f >= 0 ? `${Math.floor(f * 100)} %` : "size unknown"}</span>
    </div>
  );
}

export function Sessions() {
  const s = useStore();
  const now = useNow();
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: "age", desc: false });
  const [fClient, setFClient] = useState("");
  const [fPath, setFPath] = useState("");

  const c = fClient.trim().toLowerCase();
  const p = fPath.trim().toLowerCase();
  const rows = [...s.sessions.values()].filter((r) => (!c || client(r).toLowerCase().includes(c)) && (!p || r.path.toLowerCase().includes(p)));
  const value = VALUE[sort.key];
  rows.sort((a, b) => {
    const va = value(a, now);
    const vb = value(b, now);
    const d = typeof va === "number" && typeof vb === "number" ? va - vb : String(va).localeCompare(String(vb));
    return sort.desc ? -d : d;
  });
  const active = rows.filter((r) => !r.ended).length;

  const columns: Array<[SortKey, string, boolean?]> = [
    ...(s.fleet ? ([["server", "server"]] as Array<[SortKey, string]>) : []),
    ["client", "client"],
    ["kind", "kind"],
    ["path", "path"],
    ["progress", "progress"],
    ["bytes", "bytes", true],
    ["rate", "rate", true],
    ["retransmits", "retransmits", true],
    ["age", "age", true],
  ];
  const header = (key: SortKey, label: string, numeric?: boolean) => (
    <th key={key} class={numeric ? "num" : undefined} aria-sort={sort.key === key ? (sort.desc ? "descending" : "ascending") : undefined}>
      <button type="button" class="sort" data-sort={key} onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : false })}>
        {label}
        {sort.key === key ? (sort.desc ? " ▼" : " ▲") : ""}
      </button>
    </th>
  );

  return (
    <section>
      <Toolbar
        title={<>Live sessions <span class="muted" id="sessions-count">{`${active} active`}</span></>}
        filters={[
          { id: "filter-client", label: "client", value: fClient, set: setFClient, placeholder: "address" },
          { id: "filter-path", label: "path", value: fPath, set: setFPath, placeholder: "file name" },
        ]}
      />
      <table class="grid" id="sessions-table">
        <thead>
          <tr>
            {columns.map(([k, l, n]) => header(k, l, n))}
            <th>blksize / window</th>
            <th>worker</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, ROWS).map((r) => (
            <tr key={r.key} data-session={r.id} class={r.ended ? `ended ${outcomeClass(r.ended.outcome)}` : undefined}>
              {s.fleet && <td class="server">{r.server}</td>}
              <td>
                <a href={machineHref(r.peer.address, r.server)}>{client(r)}</a>
              </td>
              <td>{r.kind}</td>
              <td class="path" title={r.path}>
                {r.path}
              </td>
              <td>
                <Progress r={r} />
                {r.ended && (
                  <span class="outcome" title={r.ended.error}>
                    {r.ended.outcome}
                  </span>
                )}
              </td>
              <td class="num">{`${bytes(r.bytes)}${r.tsize !== null ? ` / ${bytes(r.tsize)}` : ""}`}</td>
              <td class="num">{r.ended ? "–" : rate(r.rateBps)}</td>
              <td class="num">{r.retransmits}</td>
              <td class="num">{duration(age(r, now))}</td>
              <td>{`${r.blksize} / ${r.windowsize}`}</td>
              <td>{r.worker ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p class="muted">No session right now.</p>}
      {rows.length > ROWS && <p class="muted">{`${rows.length - ROWS} more not shown: narrow the filter.`}</p>}
    </section>
  );
}

export interface Filter {
  id: string;
  label: string;
  value: string;
  set: (v: string) => void;
  placeholder: string;
}

/** A view's heading with its search fields (what is typed is only ever compared as text). */
export function Toolbar({ title, filters }: { title: ComponentChildren; filters: Filter[] }) {
  return (
    <div class="toolbar">
      <h2>{title}</h2>
      {filters.map((f) => (
        <label key={f.id}>
          {f.label} <input id={f.id} type="search" value={f.value} onInput={(e) => f.set(e.currentTarget.value)} placeholder={f.placeholder} />
        </label>
      ))}
    </div>
  );
}
