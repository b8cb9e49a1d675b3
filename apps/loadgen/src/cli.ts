// tftpkit-load: command-line front end (run, merge, compare).

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { RENAMED_TRANSFER_OPTIONS } from "@tftpkit/client";
import { SHARED_TRANSFER_KEYS, transferOptionTable } from "@tftpkit/client/internal";
import { compareReports, mergeReports, renderCompareHtml, renderCompareText } from "./merge.js";
import { buildReport, type Report } from "./report.js";
import { renderHtml, renderText } from "./render.js";
import { runLoad, type Progress } from "./run.js";
import { TftpConfigError, type OptionSpec } from "@tftpkit/options";
import { loadScenarioFile, renameScenarioKeys, resolveScenario, type ScenarioInput } from "./scenario.js";
import { parseDurationS } from "./schedule.js";
import { checkThresholds, parseThreshold, type Threshold } from "./thresholds.js";
import { VERSION } from "./version.js";

// The transfer options shared with @tftpkit/client: flags, help and values from the client's one declaration.
const SHARED = transferOptionTable(SHARED_TRANSFER_KEYS);
const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/**
 * Where a virtual client differs from @tftpkit/client's default: it always
 * passes its timeout, so it retransmits after a fixed wait, as boot firmware
 * does (the library's adaptive timeout applies only when timeout is left out).
 */
const LOADGEN_DESCRIPTIONS: Partial<Record<(typeof SHARED_TRANSFER_KEYS)[number], string>> = {
  timeoutSeconds: "seconds without an answer before a virtual client retransmits: a fixed wait, as boot firmware's (fractions allowed)",
};
const sharedHelp = SHARED_TRANSFER_KEYS.map((k) => {
  const spec = SHARED[k] as OptionSpec;
  const flag = `--${kebab(k)}${spec.switch ? "" : ` ${spec.arg ?? "X"}`}`;
  const dflt = spec.default !== undefined && spec.default !== false ? ` (default ${String(spec.default)})` : "";
  return `  ${flag.padEnd(23)} ${LOADGEN_DESCRIPTIONS[k] ?? spec.description}${dflt}`;
}).join("\n");
const sharedFlags = Object.fromEntries(SHARED_TRANSFER_KEYS.map((k) => [kebab(k), { type: (SHARED[k] as OptionSpec).switch ? ("boolean" as const) : ("string" as const) }]));
// Flags of the previous release (--timeout for --timeout-seconds): read as the new ones for one release, with a notice.
// (The flags of durations, --duration T and the like, keep their names: their values carry the unit.)
const renamedFlags = Object.fromEntries(Object.keys(RENAMED_TRANSFER_OPTIONS).map((k) => [kebab(k), { type: "string" as const }]));

const USAGE = `Usage: tftpkit-load --target HOST:PORT [options]
       tftpkit-load merge A.json B.json ... [--json] [--html FILE] [--threshold EXPR ...]
       tftpkit-load compare BASE.json NEW.json [--json] [--html FILE]

Scenario (closed model: --clients loop)
  --target HOST:PORT      server to load ([::1]:69 for IPv6)
  --scenario FILE         JSON scenario (flags given too override it)
  --clients N             concurrent virtual clients (default 1)
  --sessions N            total sessions (gets), or
  --duration T            keep starting sessions for T (30, 30s, 2m, 500ms)
  --file NAME[:WEIGHT]    a file of the mix, picked by weight (repeat the flag)
  --flow A,B,C            a boot flow: each client (machine) fetches A, B, C in turn
  --think T               a flow's machine waits T between its steps
  --ramp-up T             start the clients evenly over T
  --time-limit T          stop at T: no new session, running ones cut short (default 3600 s)
  --warmup N              first run N sessions per thread, in no figure (the JIT's first second is slower)
Open model (sessions start on schedule, whatever the server does)
  --rate R                start R sessions (flows, with --flow) per second
  --arrival constant|poisson   spacing of the starts (default constant)
  --stages T:R,T:R        ramp the rate linearly to each R over each T (from --rate, or 0)
  --max-in-flight N       at most N running; a start that finds N running is dropped and counted (default 10000)
Machines
  --source CIDR           one source address per virtual client, e.g. 127.0.3.0/24
  --traceparent           a W3C traceparent on each file name; one trace id per flow
Protocol (as @tftpkit/client declares them)
${sharedHelp}
Loss and checks
  --loss RATE             drop this share of DATA (and OACKs) received and of ACKs to send (0..1)
  --seed N                PRNG seed of the loss, the file picks and Poisson starts (default 1)
  --verify DIR            compare every byte with the local copy in DIR
  --checksums FILE        or with SHA-256 sums (sha256sum format)
  --threshold EXPR        fail (exit 1) unless EXPR holds: 'p99<200ms', 'errors<0.1%', 'mbps>50' (repeat)
Running and output
  --workers N|auto        worker threads (default auto: one per core when >= 8 clients or >= 100/s)
  --json                  print one JSON document (and nothing else) on stdout
  --html FILE             write a self-contained HTML report
  --progress / --quiet    force the live progress line on or off (default: on when stderr is a terminal)
  --version               print the version
`;

function toNum(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || v.trim() === "") throw new TftpConfigError(`--${name} needs a number (got ${JSON.stringify(v)})`);
  return n;
}

function toSeconds(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return parseDurationS(v, `--${name}`);
}

export interface ParsedRun {
  input: ScenarioInput;
  baseDir: string;
  json: boolean;
  html?: string;
  progress?: boolean;
  thresholds: Threshold[];
  /** Lines to print before the run (deprecated flags and scenario keys). */
  notices: string[];
}

export function scenarioFromArgs(argv: string[]): ParsedRun {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      target: { type: "string" },
      scenario: { type: "string" },
      clients: { type: "string" },
      sessions: { type: "string" },
      duration: { type: "string" },
      file: { type: "string", multiple: true },
      flow: { type: "string" },
      think: { type: "string" },
      "ramp-up": { type: "string" },
      "time-limit": { type: "string" },
      warmup: { type: "string" },
      rate: { type: "string" },
      arrival: { type: "string" },
      stages: { type: "string" },
      "max-in-flight": { type: "string" },
      source: { type: "string" },
      ...sharedFlags,
      ...renamedFlags,
      traceparent: { type: "boolean" },
      loss: { type: "string" },
      seed: { type: "string" },
      verify: { type: "string" },
      checksums: { type: "string" },
      threshold: { type: "string", multiple: true },
      workers: { type: "string" },
      json: { type: "boolean" },
      html: { type: "string" },
      progress: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
  if (values.help) throw new HelpRequested();
  if (values.version) throw new VersionRequested();
  let input: Partial<ScenarioInput> = {};
  let baseDir = process.cwd();
  const notices: string[] = [];
  if (values.scenario) {
    const f = loadScenarioFile(values.scenario);
    const warnings: string[] = [];
    input = renameScenarioKeys(f.input, warnings);
    notices.push(...warnings.map((w) => `${values.scenario}: ${w}`));
    baseDir = f.baseDir;
  }
  const flagValues = values as Record<string, string | boolean | undefined>;
  for (const [old, now] of Object.entries(RENAMED_TRANSFER_OPTIONS)) {
    if (flagValues[kebab(old)] === undefined) continue;
    notices.push(`--${kebab(old)} is deprecated: use --${kebab(now)}`);
    flagValues[kebab(now)] ??= flagValues[kebab(old)];
  }
  const set = <K extends keyof ScenarioInput>(k: K, v: ScenarioInput[K] | undefined): void => {
    if (v !== undefined) input[k] = v;
  };
  set("target", values.target);
  set("clients", toNum("clients", values.clients));
  if (values.sessions !== undefined) {
    set("sessions", toNum("sessions", values.sessions));
    delete input.durationSeconds;
  }
  if (values.duration !== undefined) {
    set("durationSeconds", toSeconds("duration", values.duration));
    delete input.sessions;
  }
  if (values.file) {
    input.files = values.file;
    delete input.flow;
  }
  if (values.flow) {
    input.flow = values.flow.split(",").map((x) => x.trim()).filter(Boolean);
    delete input.files;
  }
  set("thinkSeconds", toSeconds("think", values.think));
  set("rampUpSeconds", toSeconds("ramp-up", values["ramp-up"]));
  set("timeLimitSeconds", toSeconds("time-limit", values["time-limit"]));
  set("warmup", toNum("warmup", values.warmup));
  set("rate", toNum("rate", values.rate));
  set("arrival", values.arrival as ScenarioInput["arrival"]);
  set("stages", values.stages);
  set("maxInFlight", toNum("max-in-flight", values["max-in-flight"]));
  set("source", values.source);
  for (const k of SHARED_TRANSFER_KEYS) {
    const v = flagValues[kebab(k)];
    const spec = SHARED[k] as OptionSpec;
    // The declaration turns the text into a value; resolveScenario validates it against the same declaration.
    if (v !== undefined) (input as Record<string, unknown>)[k] = typeof v === "string" && spec.fromText ? spec.fromText(v) : v;
  }
  set("traceparent", values.traceparent);
  set("loss", toNum("loss", values.loss));
  set("seed", toNum("seed", values.seed));
  if (values.workers !== undefined) set("workers", values.workers === "auto" ? "auto" : toNum("workers", values.workers));
  if (values.verify) input.verify = { ...input.verify, dir: values.verify };
  if (values.checksums) input.verify = { ...input.verify, checksums: values.checksums };
  if (!input.target) throw new TftpConfigError("--target HOST:PORT is required");
  const thresholds = (values.threshold ?? []).map(parseThreshold);
  const progress = values.progress ? true : values.quiet ? false : undefined;
  return { input: input as ScenarioInput, baseDir, json: values.json ?? false, html: values.html, progress, thresholds, notices };
}

class HelpRequested extends Error {}
class VersionRequested extends Error {}

function progressLine(p: Progress, target: number): string {
  const done = p.totals.ok + p.totals.failed;
  const of = Number.isFinite(target) ? `/${target}` : "";
  let bar = "";
  if (Number.isFinite(target) && target > 0) {
    const w = 24;
    const f = Math.min(w, Math.round((done / target) * w));
    bar = `[${"#".repeat(f)}${"-".repeat(w - f)}] `;
  }
  const drops = p.totals.dropped ? `, ${p.totals.dropped} not started` : "";
  return `${bar}${done}${of} sessions, ${p.totals.failed} errors${drops}, ${p.mbps.toFixed(1)} MB/s, ${p.elapsedS.toFixed(1)} s`;
}

/** Applies thresholds to a report; prints each failure on stderr; true when all held. */
function applyThresholds(rep: Report, list: Threshold[]): boolean {
  rep.thresholds = checkThresholds(list, rep);
  let ok = true;
  for (const t of rep.thresholds) {
    if (t.ok) continue;
    ok = false;
    process.stderr.write(`tftpkit-load: threshold failed: ${t.threshold} (measured ${Number.isFinite(t.actual) ? Number(t.actual.toPrecision(6)) : "nothing"})\n`);
  }
  return ok;
}

function readReport(path: string): Report {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new TftpConfigError(`${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as Report;
  } catch (err) {
    throw new TftpConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

function mergeCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { json: { type: "boolean" }, html: { type: "string" }, threshold: { type: "string", multiple: true } },
  });
  if (positionals.length === 0) throw new TftpConfigError("merge needs one or more --json reports");
  const thresholds = (values.threshold ?? []).map(parseThreshold);
  let rep: Report;
  try {
    rep = mergeReports(positionals.map(readReport), positionals);
  } catch (err) {
    throw new TftpConfigError((err as Error).message);
  }
  const ok = applyThresholds(rep, thresholds);
  if (values.html) writeFileSync(values.html, renderHtml(rep));
  process.stdout.write(values.json ? JSON.stringify(rep, null, 2) + "\n" : renderText(rep));
  return ok && rep.sessions.failed === 0 ? 0 : 1;
}

function compareCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { json: { type: "boolean" }, html: { type: "string" } } });
  if (positionals.length !== 2) throw new TftpConfigError("compare needs two reports: BASE.json NEW.json");
  const [base, next] = positionals.map(readReport);
  for (const [r, name] of [[base, positionals[0]], [next, positionals[1]]] as const) {
    if (r?.tool !== "tftpkit-load") throw new TftpConfigError(`${name}: not a tftpkit-load --json report`);
  }
  const rows = compareReports(base, next);
  if (values.html) writeFileSync(values.html, renderCompareHtml(base, next, rows));
  process.stdout.write(values.json ? JSON.stringify({ base: positionals[0], new: positionals[1], rows }, null, 2) + "\n" : renderCompareText(base, next, rows));
  return 0;
}

function usageError(err: unknown): number {
  process.stderr.write(`tftpkit-load: ${(err as Error).message}\n\n${USAGE}`);
  return 2;
}

/** Runs the command; resolves the exit code (0 all ok, 1 sessions failed, a threshold failed or the run was interrupted, 2 usage or set-up error). */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "merge" || argv[0] === "compare") {
    try {
      return argv[0] === "merge" ? mergeCommand(argv.slice(1)) : compareCommand(argv.slice(1));
    } catch (err) {
      return usageError(err);
    }
  }
  let parsed: ParsedRun;
  let scenario: ReturnType<typeof resolveScenario>;
  try {
    parsed = scenarioFromArgs(argv);
    scenario = resolveScenario(parsed.input, parsed.baseDir, parsed.notices);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (err instanceof VersionRequested) {
      process.stdout.write(`tftpkit-load ${VERSION}\n`);
      return 0;
    }
    if (err instanceof TftpConfigError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) return usageError(err);
    return usageError(err);
  }
  for (const n of parsed.notices) process.stderr.write(`tftpkit-load: ${n}\n`);
  const live = parsed.progress ?? Boolean(process.stderr.isTTY);
  const onProgress = live
    ? (p: Progress): void => {
        process.stderr.write(`\r\x1b[2K${progressLine(p, scenario.sessions)}`);
      }
    : undefined;
  // Ctrl-C (or SIGTERM from a job runner) ends the run early with a report; a second one quits at once.
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write(`\ntftpkit-load: ${sig}: stopping, the report follows (again to quit at once)\n`);
    interrupt.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let raw;
  try {
    raw = await runLoad(scenario, { onProgress, signal: interrupt.signal });
  } catch (err) {
    if (live) process.stderr.write("\n");
    process.stderr.write(`tftpkit-load: ${(err as Error).message}\n`);
    return 2;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (live) process.stderr.write("\r\x1b[2K");
  const report = buildReport(raw);
  const held = applyThresholds(report, parsed.thresholds);
  if (parsed.html) writeFileSync(parsed.html, renderHtml(report));
  if (parsed.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(renderText(report));
  return report.sessions.failed > 0 || !held || raw.interrupted ? 1 : 0;
}
