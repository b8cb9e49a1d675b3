// A load scenario: from flags or a JSON file, validated once into plain data
// that worker threads receive as it is.

import { readFileSync } from "node:fs";
import { CLIENT_DEFAULTS, RENAMED_TRANSFER_OPTIONS } from "@tftpkit/client";
import { SHARED_TRANSFER_KEYS, transferOptionTable, type SharedTransferOptions } from "@tftpkit/client/internal";
import { TftpConfigError, applyRenames, resolveTable, type Renames } from "@tftpkit/options";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { resolve as resolvePath, dirname } from "node:path";
import { parseStages, RatePlan, type Stage } from "./schedule.js";
import { parseAddressPool } from "./address-pool.js";

export interface FileWeight {
  name: string;
  weight?: number;
}

/** A scenario as written in a JSON file (every field optional but target). */
/** blksize, windowsize, tsize, timeoutSeconds, timeoutOptionSeconds, retries and mode mean what they mean to @tftpkit/client (timeoutSeconds is always passed: a fixed wait, never the adaptive one). */
export interface ScenarioInput extends SharedTransferOptions {
  /** host:port of the server ("[::1]:69" for IPv6). */
  target: string;
  /** Concurrent virtual clients. */
  clients?: number;
  /** Total sessions (one get each); or `durationSeconds`. */
  sessions?: number;
  /** Seconds to keep starting sessions. */
  durationSeconds?: number;
  /** Files picked at random by weight for each session. */
  files?: Array<string | FileWeight>;
  /** A boot flow: each client fetches these in order, again and again (e.g. a config, a kernel, an initrd). */
  flow?: string[];
  /** Seconds over which the clients start (evenly spread). */
  rampUpSeconds?: number;
  /** Injected loss: one rate for DATA and ACKs, or each. */
  loss?: number | { data?: number; ack?: number };
  seed?: number;
  /** Verify every byte: against files in a local folder, or SHA-256 per file name. */
  verify?: { dir?: string; sha256?: Record<string, string>; checksums?: string };
  /** Worker threads to spread the clients over (1 = the main thread; "auto", the default: one per core when the run is large). */
  workers?: number | "auto";
  /** Open model: sessions (or flows, with `flow`) started per second, whatever the server does. */
  rate?: number;
  /** Open model: "constant" spacing (default) or "poisson" arrivals. */
  arrival?: "constant" | "poisson";
  /** Open model: rate stages, "30s:100,60s:500" or [{ durationSeconds, target }]; the rate ramps linearly to each target. */
  stages?: string | Stage[];
  /** Open model: at most this many sessions (flows) at once; a scheduled one that finds the cap reached is not started and counted as dropped. */
  maxInFlight?: number;
  /** Source addresses, one per virtual client: a CIDR such as "127.0.3.0/24". */
  source?: string;
  /** Seconds a flow's machine waits between its steps. */
  thinkSeconds?: number;
  /** Add a random W3C traceparent to each file name. */
  traceparent?: boolean;
  /** ms a client keeps re-ACKing the last block after a get (default: its timeout when loss is injected, else 0). */
  dallyMs?: number;
  /** Seconds after which no new session starts and running ones are cut short (a safety bound). */
  timeLimitSeconds?: number;
  /** Sessions each thread runs against the target before the clock starts, in no figure (a JIT's first seconds are slower). */
  warmup?: number;
}

export interface Scenario {
  host: string;
  port: number;
  clients: number;
  sessions: number; // Infinity in duration mode
  durationSeconds: number; // Infinity in sessions mode
  files: Array<{ name: string; weight: number }>;
  flow: string[] | null;
  blksize: number | undefined;
  windowsize: number | undefined;
  tsize: boolean;
  timeoutSeconds: number;
  timeoutOptionSeconds: number | undefined;
  retries: number;
  mode: "octet" | "netascii";
  rampUpSeconds: number;
  lossData: number;
  lossAck: number;
  seed: number;
  verifyDir: string | null;
  sha256: Record<string, string> | null;
  workers: number;
  /** Sessions (flows) started per second in the open model; null = the closed model (`clients` loops). */
  rate: number | null;
  arrival: "constant" | "poisson";
  stages: Stage[];
  maxInFlight: number;
  /** Normalised CIDR of the source addresses, or null (the system picks). */
  source: string | null;
  thinkMs: number;
  traceparent: boolean;
  dallyMs: number;
  timeLimitSeconds: number;
  /** Unmeasured sessions per thread before the run (0: none). */
  warmup: number;
}

export const SCENARIO_DEFAULTS = Object.freeze({
  clients: 1,
  timeoutSeconds: CLIENT_DEFAULTS.timeoutSeconds, // seconds before a client retransmits
  retries: CLIENT_DEFAULTS.retries,
  rampUpSeconds: 0,
  seed: 1,
  workers: "auto" as const, // one thread per core when the run is large, else the main thread
  maxInFlight: 10_000, // open model: sessions (flows) running at once
  timeLimitSeconds: 3600, // no new session after this
});

/** The transfer options a scenario shares with @tftpkit/client: the client's declarations, validated the same way. */
const SHARED_TRANSFER_OPTIONS = transferOptionTable(SHARED_TRANSFER_KEYS);

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new TftpConfigError(`${name} must be an integer from ${min} to ${max} (got ${String(v)})`);
  }
  return v;
}

function num(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !(v >= min && v <= max)) throw new TftpConfigError(`${name} must be from ${min} to ${max} (got ${String(v)})`);
  return v;
}

/** "host:port", "[v6]:port", or a bare host (port 69). */
export function parseTarget(t: string): { host: string; port: number } {
  let host = t;
  let port = 69;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) {
    host = v6[1];
    if (v6[2]) port = Number(v6[2]);
  } else if (isIP(t) === 6) {
    host = t;
  } else {
    const i = t.lastIndexOf(":");
    if (i >= 0) {
      host = t.slice(0, i);
      port = Number(t.slice(i + 1));
    }
  }
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new TftpConfigError(`bad target ${JSON.stringify(t)}: use HOST:PORT`);
  return { host, port };
}

/** "name" or "name:weight" (the last colon splits, so names may hold colons). */
export function parseFileWeight(s: string): { name: string; weight: number } {
  const m = /^(.*):(\d+(?:\.\d+)?)$/.exec(s);
  if (m && m[1]) return { name: m[1], weight: Number(m[2]) };
  return { name: s, weight: 1 };
}

/** sha256sum output: "<hex>  <name>" per line. */
export function parseChecksums(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line.trim());
    if (m) out[m[2]] = m[1].toLowerCase();
  }
  return out;
}

/** Runs this large get one worker thread per core by default. */
export const AUTO_WORKERS = Object.freeze({ clients: 8, rate: 100 });

function openModel(input: ScenarioInput): { rate: number | null; stages: Stage[]; arrival: "constant" | "poisson"; maxInFlight: number } {
  let stages: Stage[] = [];
  if (typeof input.stages === "string") stages = parseStages(input.stages);
  else if (Array.isArray(input.stages)) stages = input.stages.map((st, i) => ({ durationSeconds: num(`stages[${i}].durationSeconds`, st.durationSeconds, 0.001, 86_400 * 7), target: num(`stages[${i}].target`, st.target, 0, 1e6) }));
  const open = input.rate !== undefined || stages.length > 0;
  const arrival = input.arrival ?? "constant";
  if (arrival !== "constant" && arrival !== "poisson") throw new TftpConfigError(`arrival must be constant or poisson (got ${String(arrival)})`);
  if (!open) {
    if (input.arrival !== undefined) throw new TftpConfigError("--arrival is for the open model: give --rate or --stages");
    if (input.maxInFlight !== undefined) throw new TftpConfigError("--max-in-flight is for the open model: give --rate or --stages (the closed model runs --clients at once)");
    return { rate: null, stages, arrival, maxInFlight: SCENARIO_DEFAULTS.maxInFlight };
  }
  if (input.clients !== undefined) throw new TftpConfigError("give --clients (closed model) or --rate/--stages (open model), not both; --max-in-flight caps the open model");
  if (input.rampUpSeconds !== undefined) throw new TftpConfigError("--ramp-up is for the closed model; ramp an open model with --stages");
  const rate = num("rate", input.rate ?? 0, 0, 1e6);
  if (stages.length === 0 && rate <= 0) throw new TftpConfigError("rate must be above 0 (sessions started per second)");
  if (stages.length === 0 && input.durationSeconds === undefined && input.sessions === undefined) {
    throw new TftpConfigError("an open model run needs --duration, --sessions or --stages (when to stop starting sessions)");
  }
  return { rate, stages, arrival, maxInFlight: int("maxInFlight", input.maxInFlight ?? SCENARIO_DEFAULTS.maxInFlight, 1, 1_000_000) };
}

/**
 * Scenario keys renamed so that every duration names its unit: the old keys
 * keep working for one release, with a line naming the new key.
 */
export const RENAMED_SCENARIO_KEYS: Renames = Object.freeze({
  ...RENAMED_TRANSFER_OPTIONS,
  duration: "durationSeconds",
  rampUp: "rampUpSeconds",
  think: "thinkSeconds",
  timeLimit: "timeLimitSeconds",
});

/** Reads old keys (RENAMED_SCENARIO_KEYS) as the new ones; one line per old key goes to `warnings`. */
export function renameScenarioKeys<T extends object>(input: T, warnings: string[] = []): T {
  if (!input || typeof input !== "object") return input;
  const r = applyRenames(input as Record<string, unknown>, RENAMED_SCENARIO_KEYS);
  // A stage's durationS (the previous release) is its durationSeconds.
  if (Array.isArray(r.input.stages)) {
    let old = false;
    r.input.stages = r.input.stages.map((st: unknown, i: number) => {
      if (!st || typeof st !== "object") return st;
      const s = applyRenames(st as Record<string, unknown>, { durationS: "durationSeconds" }, (k) => `"stages[${i}].${k}"`);
      r.problems.push(...s.problems);
      old ||= s.warnings.length > 0;
      return s.input;
    });
    if (old) r.warnings.push('"stages[].durationS" is deprecated: use "stages[].durationSeconds"');
  }
  if (r.problems.length) throw new TftpConfigError(r.problems);
  warnings.push(...r.warnings);
  return r.input as T;
}

/** Validates a scenario; a deprecated key is read as its new name, with a line saying so in `warnings`. */
export function resolveScenario(given: ScenarioInput, baseDir = process.cwd(), warnings: string[] = []): Scenario {
  const input = renameScenarioKeys(given, warnings);
  if (!input || typeof input.target !== "string") throw new TftpConfigError("target (HOST:PORT) is required");
  const { host, port } = parseTarget(input.target);
  if (input.sessions !== undefined && input.durationSeconds !== undefined) throw new TftpConfigError("give sessions or duration, not both");
  const om = openModel(input);
  const sessions =
    input.sessions === undefined ? (input.durationSeconds === undefined && om.rate === null ? 1 : Infinity) : int("sessions", input.sessions, 1, 1e9);
  const durationSeconds = input.durationSeconds === undefined ? Infinity : num("durationSeconds", input.durationSeconds, 0.001, 86_400);
  const files = (input.files ?? []).map((f) => (typeof f === "string" ? parseFileWeight(f) : { name: f.name, weight: f.weight ?? 1 }));
  for (const f of files) {
    if (typeof f.name !== "string" || f.name.length === 0) throw new TftpConfigError("a file needs a name");
    num(`weight of ${f.name}`, f.weight, 0, 1e9);
  }
  const flow = input.flow && input.flow.length > 0 ? input.flow : null;
  if (flow && files.length > 0) throw new TftpConfigError("give files or flow, not both");
  if (!flow && files.length === 0) throw new TftpConfigError("at least one file (or a flow) is required");
  if (!flow && files.reduce((s, f) => s + f.weight, 0) <= 0) throw new TftpConfigError("file weights add up to 0");
  let lossData = 0;
  let lossAck = 0;
  if (typeof input.loss === "number") lossData = lossAck = num("loss", input.loss, 0, 1);
  else if (input.loss) {
    lossData = num("loss.data", input.loss.data ?? 0, 0, 1);
    lossAck = num("loss.ack", input.loss.ack ?? 0, 0, 1);
  }
  const shared: Record<string, unknown> = {};
  for (const k of SHARED_TRANSFER_KEYS) shared[k] = input[k];
  const transfer = resolveTable(SHARED_TRANSFER_OPTIONS, shared);
  const timeout = transfer.timeoutSeconds;
  let sha256: Record<string, string> | null = input.verify?.sha256 ?? null;
  if (input.verify?.checksums) {
    const text = readFileSync(resolvePath(baseDir, input.verify.checksums), "utf8");
    sha256 = { ...parseChecksums(text), ...(sha256 ?? {}) };
  }
  let source: string | null = null;
  if (input.source !== undefined) {
    const pool = parseAddressPool(input.source);
    const fam = isIP(host);
    if (fam !== 0 && fam !== pool.family) throw new TftpConfigError(`--source ${input.source} is IPv${pool.family} but the target is IPv${fam}`);
    source = pool.cidr;
  }
  const clients = int("clients", input.clients ?? SCENARIO_DEFAULTS.clients, 1, 100_000);
  let workers: number;
  if (input.workers === undefined || input.workers === "auto") {
    const peak = om.rate === null ? 0 : new RatePlan(om.rate, om.stages, Infinity).peak();
    const large = om.rate === null ? clients >= AUTO_WORKERS.clients : peak >= AUTO_WORKERS.rate;
    workers = large ? Math.min(availableParallelism(), 64) : 1;
  } else workers = int("workers", input.workers, 1, 256);
  return {
    host,
    port,
    clients,
    sessions,
    durationSeconds,
    files,
    flow,
    ...transfer,
    rampUpSeconds: num("rampUpSeconds", input.rampUpSeconds ?? SCENARIO_DEFAULTS.rampUpSeconds, 0, 86_400),
    lossData,
    lossAck,
    seed: int("seed", input.seed ?? SCENARIO_DEFAULTS.seed, 0, 0xffffffff),
    verifyDir: input.verify?.dir ? resolvePath(baseDir, input.verify.dir) : null,
    sha256,
    workers,
    ...om,
    source,
    thinkMs: Math.round(num("thinkSeconds", input.thinkSeconds ?? 0, 0, 86_400) * 1000),
    traceparent: input.traceparent ?? false,
    dallyMs: int("dallyMs", input.dallyMs ?? (lossData > 0 || lossAck > 0 ? Math.round(timeout * 1000) : 0), 0, 600_000),
    timeLimitSeconds: num("timeLimitSeconds", input.timeLimitSeconds ?? SCENARIO_DEFAULTS.timeLimitSeconds, 0.001, 86_400 * 7),
    warmup: int("warmup", input.warmup ?? 0, 0, 1_000_000),
  };
}

/** A scenario file (JSON); relative paths in it are taken from its folder. */
export function loadScenarioFile(path: string): { input: ScenarioInput; baseDir: string } {
  const text = readFileSync(path, "utf8");
  let input: ScenarioInput;
  try {
    input = JSON.parse(text) as ScenarioInput;
  } catch (err) {
    throw new TftpConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return { input, baseDir: dirname(resolvePath(path)) };
}

/** The file name a session fetches: its step in the flow, or a weighted pick from a [0, 1) draw. */
export function pickFile(s: Scenario, step: number, draw: number): string {
  if (s.flow) return s.flow[step % s.flow.length];
  const total = s.files.reduce((a, f) => a + f.weight, 0);
  let x = draw * total;
  for (const f of s.files) {
    if (x < f.weight) return f.name;
    x -= f.weight;
  }
  return s.files[s.files.length - 1].name;
}
