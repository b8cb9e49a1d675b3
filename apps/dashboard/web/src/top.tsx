// Top files (by sessions) and top failing clients, from the stats.

import { bytes, count, machineHref } from "./format.js";
import { useStore } from "./store.js";

export function Top() {
  const s = useStore();
  const body = s.stats;
  if (!body) return <p class="muted">Waiting for the first stats…</p>;
  return (
    <section class="top-lists">
      <div>
        <h2>Top files</h2>
        <table class="grid" id="top-files">
          <thead>
            <tr>
              {s.fleet && <th>server</th>}
              <th>path</th>
              <th class="num">sessions</th>
              <th class="num">bytes</th>
            </tr>
          </thead>
          <tbody>
            {body.topFiles.map((f) => (
              <tr key={`${f.server ?? ""}|${f.path}`}>
                {s.fleet && <td class="server">{f.server}</td>}
                <td class="path">{f.path}</td>
                <td class="num">{count(f.sessions)}</td>
                <td class="num">{bytes(f.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {body.topFiles.length === 0 && <p class="muted">No file served yet.</p>}
      </div>
      <div>
        <h2>Top failing clients</h2>
        <table class="grid" id="top-failing">
          <thead>
            <tr>
              {s.fleet && <th>server</th>}
              <th>client</th>
              <th class="num">failures</th>
            </tr>
          </thead>
          <tbody>
            {body.topFailingClients.map((c) => (
              <tr key={`${c.server ?? ""}|${c.client}`}>
                {s.fleet && <td class="server">{c.server}</td>}
                <td>
                  <a href={machineHref(c.client, c.server)}>{c.client}</a>
                </td>
                <td class="num">{count(c.failures)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {body.topFailingClients.length === 0 && <p class="muted">No failing client.</p>}
      </div>
    </section>
  );
}
