// The dashboard page: a header with the views and the stream state, and the
// view the location hash names. Every string from a server (file names come
// from whoever sent the request) is a JSX text child or an attribute value,
// never markup.

import "uplot/dist/uPlot.min.css";
import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Flows, Machine } from "./flows.js";
import { Overview } from "./overview.js";
import { Sessions } from "./sessions.js";
import { store, useStore } from "./store.js";
import { Top } from "./top.js";

interface Route {
  view: "overview" | "sessions" | "flows" | "machine" | "top";
  client?: string;
  server?: string;
}

function parseHash(hash: string): Route {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  const q = new URLSearchParams(query);
  if (parts[0] === "machine" && parts[1]) return { view: "machine", client: decodeURIComponent(parts[1]), server: q.get("server") ?? undefined };
  if (parts[0] === "sessions" || parts[0] === "flows" || parts[0] === "top") return { view: parts[0] };
  return { view: "overview" };
}

const VIEWS: Array<[Route["view"], string, string]> = [
  ["overview", "#/", "Overview"],
  ["sessions", "#/sessions", "Live sessions"],
  ["flows", "#/flows", "Boot flows"],
  ["top", "#/top", "Top files & clients"],
];

function Header({ route }: { route: Route }) {
  const s = useStore();
  const live = s.live;
  const members = [...s.members.entries()].sort((x, y) => x[0].localeCompare(y[0]));
  return (
    <header class="top">
      <div class="brand">
        <strong>tftpkit</strong>
        <span class="muted">{s.info ? `${s.info.name} ${s.info.version}` : "…"}</span>
      </div>
      <nav>
        {VIEWS.map(([view, href, label]) => (
          <a href={href} class={route.view === view || (view === "flows" && route.view === "machine") ? "current" : undefined} key={view}>
            {label}
          </a>
        ))}
      </nav>
      <div class={`state ${live ? "live" : "down"}`} id="stream-state" title={s.error ?? "events stream open"}>
        {live ? "live" : "offline"}
      </div>
      {members.length > 0 && (
        <ul class="members" aria-label="fleet members">
          {members.map(([name, m]) => (
            <li class={m.ok ? "ok" : "fail"} title={m.error ?? "connected"} key={name}>
              {name}
            </li>
          ))}
        </ul>
      )}
    </header>
  );
}

function App() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return (
    <>
      <Header route={route} />
      <main>
        {route.view === "overview" && <Overview />}
        {route.view === "sessions" && <Sessions />}
        {route.view === "flows" && <Flows />}
        {route.view === "machine" && <Machine client={route.client!} server={route.server} />}
        {route.view === "top" && <Top />}
      </main>
    </>
  );
}

store.start();
render(<App />, document.getElementById("app")!);
