// docs/performance.md from a bench result: a pure renderer (no I/O) of
// bench/performance.template.md. `npm run bench -- --write-docs` calls it
// with the run's JSON (bench-results/latest.json has the same shape);
// test/bench/docs.test.ts renders a fixture.
//
// The template's {{name}} placeholders: date, command, machine, node, mode,
// servers, tables, projection, goals, goals_summary, boot_vs_c, cpu_how, warm_up.

const esc = (s) => String(s ?? "").replaceAll("|", "\\|").replaceAll("\n", " ");

/** A Markdown table: `cols` the header, `rows` arrays of cells. */
export function markdownTable(cols, rows) {
  return [`| ${cols.map(esc).join(" | ")} |`, `|${cols.map(() => "---|").join("")}`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

/** One scenario's table: the run's cells under the run's columns, the metric's unit in the value's header, notes last. */
function scenarioSection(sc, doc) {
  const cells = doc.tables?.[sc.id];
  if (!cells?.length) return "";
  const cols = doc.columns.map((c) => (c === "value" ? sc.unit : c));
  const body = cells.map((c) => (c.skipped ? [c.server, `n/a (${c.skipped})`, ...doc.columns.slice(2).map(() => "")] : doc.columns.map((k) => c[k] ?? "")));
  const withNotes = cells.some((c) => c.note);
  const table = withNotes
    ? markdownTable([...cols, "note"], body.map((r, i) => [...r, cells[i].note ?? ""]))
    : markdownTable(cols, body);
  const rounds = sc.rounds > 1 && !doc.quick ? ` Medians of ${sc.rounds} rounds.` : "";
  return `### ${sc.id}\n\n${sc.title}.${rounds}\n\n${table}\n`;
}

function projectionText(p) {
  if (!p) return "No projection: the run had no small-scenario row of tftpkit with its defaults.";
  const f = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  const lines = [
    `A projection, not a measurement on that many cores. From the small scenario's run of tftpkit with its defaults: the primary process spends ${f(p.primary_us, 1)} us per session (its own pid), the workers ${f(p.workers_us, 1)} us; the primary's share is ${f(100 * p.primary_share, 1)}%.`,
    `N cores serve at most N / (primary + workers) sessions per second, and the primary, one process on one core, passes at most 1 / primary: the projection is the smaller of the two. The primary becomes the limit from ${f(p.primary_limit_cores, 1)} cores, at ${f(p.primary_limit_sessions_per_s)} sessions/s.`,
    "",
    markdownTable(["cores", "projected sessions/s", "limited by", "x one worker on one core"],
      p.cores.map((c) => [String(c.cores), f(c.sessions_per_s), c.primary_bound ? "the primary" : "the workers", f(c.vs_one_worker, 1)])),
    "",
    `One worker on one core: 1 / (CPU per session of \`--workers 1\`) = ${f(p.one_worker_sessions_per_core_s)} sessions/s.`,
  ];
  return lines.join("\n");
}

/** The page: `template` with its placeholders filled from `doc` (a bench result). */
export function renderPerformance(template, doc) {
  const h = doc.host ?? {};
  const met = doc.goals.filter((g) => g.met).length;
  const values = {
    date: String(doc.started_at).slice(0, 10),
    command: doc.command,
    machine: `${h.cores} cores (${h.cpu}), Linux ${h.kernel}`,
    node: h.node,
    mode: doc.quick ? "a QUICK run (small sizes, one round): for development, not for figures" : "a full run",
    cpu_how: h.cpu_how || "/proc tree",
    warm_up: doc.warmup_small
      ? `Every server gets the same unmeasured warm-up before a measured run (${doc.warmup_small.toLocaleString("en-US")} small sessions and 4 large files), except in the cold scenario, so that figures are those of a running server: tftpkit with workers settles at its steady CPU per session only after about 10,000 sessions.`
      : "No server was warmed up before its measured runs (`--no-warmup`): every figure is that of a fresh server.",
    servers: doc.servers.map((s) => `- ${s.name}: ${s.how}`).join("\n"),
    tables: doc.scenarios.map((sc) => scenarioSection(sc, doc)).filter(Boolean).join("\n"),
    projection: projectionText(doc.projection),
    goals_summary: `${met} of ${doc.goals.length} goals met.`,
    goals: doc.goals.map((g) => `- ${g.met ? "met" : "**NOT met**"}: ${g.text}: ${g.figure}`).join("\n"),
    boot_vs_c: doc.boot_vs_c?.length ? doc.boot_vs_c.map((l) => `- ${l}`).join("\n") : "- (no lossy boot scenario in this run)",
  };
  return template.replace(/\{\{(\w+)\}\}/g, (m, k) => (k in values ? values[k] : m));
}
