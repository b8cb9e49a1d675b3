// tftpkit-load: command-line front end.

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { buildReport, renderHtml, renderText } from "./report.js";
import { runLoad, type Progress } from "./run.js";
import { loadScenarioFile, resolveScenario, ScenarioError, type ScenarioInput } from "./scenario.js";

const USAGE = `Usage: tftpkit-load --target HOST:PORT [options]

Scenario
  --target HOST:PORT      server to load ([::1]:69 for IPv6)
  --scenario FILE         JSON scenario (flags given too override it)
  --clients N             concurrent virtual clients (default 1)
  --sessions N            total sessions (gets), or
  --duration S            keep starting sessions for S seconds
  --file NAME[:WEIGHT]    a file of the mix, picked by weight (repeat the flag)
  --flow A,B,C            a boot flow: each client fetches A, B, C in turn, again and again
  --ramp-up S             start the clients evenly over S seconds
  --time-limit S          stop at S seconds: no new session, running ones cut short (default 3600)
Protocol
  --blksize N  --windowsize N  --tsize  --mode octet|netascii
  --timeout S             client retransmission timeout (default 1)
  --timeout-option N      ask the server for this RFC 2349 timeout
  --retries N             retransmissions before a session fails (default 5)
  --traceparent           add a random W3C traceparent to each file name
Loss and checks
  --loss RATE             drop this share of DATA received and of ACKs to send (0..1)
  --seed N                PRNG seed of the loss and of the file picks (default 1)
  --verify DIR            compare every byte with the local copy in DIR
  --checksums FILE        or with SHA-256 sums (sha256sum format)
Running and output
  --workers N             spread the clients over N worker threads (default 1: this thread)
  --json                  print one JSON document (and nothing else) on stdout
  --html FILE             write a self-contained HTML report
  --progress / --quiet    force the live progress line on or off (default: on when stderr is a terminal)
`;

function toInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || v.trim() === "") throw new ScenarioError(`--${name} needs a number (got ${JSON.stringify(v)})`);
  return n;
}

export function scenarioFromArgs(argv: string[]): { input: ScenarioInput; baseDir: string; json: boolean; html?: string; progress?: boolean } {
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
      "ramp-up": { type: "string" },
      "time-limit": { type: "string" },
      blksize: { type: "string" },
      windowsize: { type: "string" },
      tsize: { type: "boolean" },
      mode: { type: "string" },
      timeout: { type: "string" },
      "timeout-option": { type: "string" },
      retries: { type: "string" },
      traceparent: { type: "boolean" },
      loss: { type: "string" },
      seed: { type: "string" },
      verify: { type: "string" },
      checksums: { type: "string" },
      workers: { type: "string" },
      json: { type: "boolean" },
      html: { type: "string" },
      progress: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) throw new HelpRequested();
  let input: Partial<ScenarioInput> = {};
  let baseDir = process.cwd();
  if (values.scenario) {
    const f = loadScenarioFile(values.scenario);
    input = f.input;
    baseDir = f.baseDir;
  }
  const set = <K extends keyof ScenarioInput>(k: K, v: ScenarioInput[K] | undefined): void => {
    if (v !== undefined) input[k] = v;
  };
  set("target", values.target);
  set("clients", toInt("clients", values.clients));
  if (values.sessions !== undefined) {
    set("sessions", toInt("sessions", values.sessions));
    delete input.duration;
  }
  if (values.duration !== undefined) {
    set("duration", toInt("duration", values.duration));
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
  set("rampUp", toInt("ramp-up", values["ramp-up"]));
  set("timeLimit", toInt("time-limit", values["time-limit"]));
  set("blksize", toInt("blksize", values.blksize));
  set("windowsize", toInt("windowsize", values.windowsize));
  set("tsize", values.tsize);
  set("mode", values.mode as ScenarioInput["mode"]);
  set("timeout", toInt("timeout", values.timeout));
  set("timeoutOption", toInt("timeout-option", values["timeout-option"]));
  set("retries", toInt("retries", values.retries));
  set("traceparent", values.traceparent);
  set("loss", toInt("loss", values.loss));
  set("seed", toInt("seed", values.seed));
  set("workers", toInt("workers", values.workers));
  if (values.verify) input.verify = { ...input.verify, dir: values.verify };
  if (values.checksums) input.verify = { ...input.verify, checksums: values.checksums };
  if (!input.target) throw new ScenarioError("--target HOST:PORT is required");
  const progress = values.progress ? true : values.quiet ? false : undefined;
  return { input: input as ScenarioInput, baseDir, json: values.json ?? false, html: values.html, progress };
}

class HelpRequested extends Error {}

function progressLine(p: Progress, target: number): string {
  const done = p.totals.ok + p.totals.failed;
  const of = Number.isFinite(target) ? `/${target}` : "";
  let bar = "";
  if (Number.isFinite(target) && target > 0) {
    const w = 24;
    const f = Math.min(w, Math.round((done / target) * w));
    bar = `[${"#".repeat(f)}${"-".repeat(w - f)}] `;
  }
  return `${bar}${done}${of} sessions, ${p.totals.failed} errors, ${p.mbps.toFixed(1)} MB/s, ${p.elapsedS.toFixed(1)} s`;
}

/** Runs the command; resolves the exit code (0 all ok, 1 some sessions failed, 2 usage or set-up error). */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof scenarioFromArgs>;
  let scenario: ReturnType<typeof resolveScenario>;
  try {
    parsed = scenarioFromArgs(argv);
    scenario = resolveScenario(parsed.input, parsed.baseDir);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`tftpkit-load: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const live = parsed.progress ?? Boolean(process.stderr.isTTY);
  const onProgress = live
    ? (p: Progress): void => {
        process.stderr.write(`\r\x1b[2K${progressLine(p, scenario.sessions)}`);
      }
    : undefined;
  let raw;
  try {
    raw = await runLoad(scenario, { onProgress });
  } catch (err) {
    if (live) process.stderr.write("\n");
    process.stderr.write(`tftpkit-load: ${(err as Error).message}\n`);
    return 2;
  }
  if (live) process.stderr.write("\r\x1b[2K");
  const report = buildReport(raw);
  if (parsed.html) writeFileSync(parsed.html, renderHtml(report));
  if (parsed.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(renderText(report));
  return report.sessions.failed > 0 ? 1 : 0;
}
