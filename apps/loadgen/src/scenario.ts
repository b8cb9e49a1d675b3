// A load scenario: from flags or a JSON file, validated once into plain data
// that worker threads receive as it is.

import { readFileSync } from "node:fs";
import type { TransferOptions } from "@tftpkit/client";
import { isIP } from "node:net";
import { resolve as resolvePath, dirname } from "node:path";

export interface FileWeight {
  name: string;
  weight?: number;
}

/** A scenario as written in a JSON file (every field optional but target). */
/** blksize, windowsize, tsize, timeout, timeoutOption, retries and mode mean what they mean to @tftpkit/client. */
export interface ScenarioInput
  extends Pick<TransferOptions, "blksize" | "windowsize" | "tsize" | "timeout" | "timeoutOption" | "retries" | "mode"> {
  /** host:port of the server ("[::1]:69" for IPv6). */
  target: string;
  /** Concurrent virtual clients. */
  clients?: number;
  /** Total sessions (one get each); or `duration`. */
  sessions?: number;
  /** Seconds to keep starting sessions. */
  duration?: number;
  /** Files picked at random by weight for each session. */
  files?: Array<string | FileWeight>;
  /** A boot flow: each client fetches these in order, again and again (e.g. a config, a kernel, an initrd). */
  flow?: string[];
  /** Seconds over which the clients start (evenly spread). */
  rampUp?: number;
  /** Injected loss: one rate for DATA and ACKs, or each. */
  loss?: number | { data?: number; ack?: number };
  seed?: number;
  /** Verify every byte: against files in a local folder, or SHA-256 per file name. */
  verify?: { dir?: string; sha256?: Record<string, string>; checksums?: string };
  /** Worker threads to spread the clients over (1 = the main thread). */
  workers?: number;
  /** Add a random W3C traceparent to each file name. */
  traceparent?: boolean;
  /** ms a client keeps re-ACKing the last block after a get (default: its timeout when loss is injected, else 0). */
  dallyMs?: number;
  /** Seconds after which no new session starts and running ones are cut short (a safety bound). */
  timeLimit?: number;
}

export interface Scenario {
  host: string;
  port: number;
  clients: number;
  sessions: number; // Infinity in duration mode
  duration: number; // seconds, Infinity in sessions mode
  files: Array<{ name: string; weight: number }>;
  flow: string[] | null;
  blksize: number | undefined;
  windowsize: number | undefined;
  tsize: boolean;
  timeout: number;
  timeoutOption: number | undefined;
  retries: number;
  mode: "octet" | "netascii";
  rampUp: number;
  lossData: number;
  lossAck: number;
  seed: number;
  verifyDir: string | null;
  sha256: Record<string, string> | null;
  workers: number;
  traceparent: boolean;
  dallyMs: number;
  timeLimit: number;
}

export const DEFAULTS = Object.freeze({
  clients: 1,
  timeout: 1, // seconds before a client retransmits
  retries: 5,
  rampUp: 0, // seconds
  seed: 1,
  workers: 1, // 1 = clients run in the main thread
  timeLimit: 3600, // seconds: no new session after this
});

export class ScenarioError extends Error {
  readonly code = "TFTP_ERR_CONFIG";
  constructor(message: string) {
    super(message);
    this.name = "ScenarioError";
  }
}

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ScenarioError(`${name} must be an integer from ${min} to ${max} (got ${String(v)})`);
  }
  return v;
}

function num(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !(v >= min && v <= max)) throw new ScenarioError(`${name} must be from ${min} to ${max} (got ${String(v)})`);
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
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new ScenarioError(`bad target ${JSON.stringify(t)}: use HOST:PORT`);
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

export function resolveScenario(input: ScenarioInput, baseDir = process.cwd()): Scenario {
  if (!input || typeof input.target !== "string") throw new ScenarioError("target (HOST:PORT) is required");
  const { host, port } = parseTarget(input.target);
  if (input.sessions !== undefined && input.duration !== undefined) throw new ScenarioError("give sessions or duration, not both");
  const sessions = input.sessions === undefined ? (input.duration === undefined ? 1 : Infinity) : int("sessions", input.sessions, 1, 1e9);
  const duration = input.duration === undefined ? Infinity : num("duration", input.duration, 0.001, 86_400);
  const files = (input.files ?? []).map((f) => (typeof f === "string" ? parseFileWeight(f) : { name: f.name, weight: f.weight ?? 1 }));
  for (const f of files) {
    if (typeof f.name !== "string" || f.name.length === 0) throw new ScenarioError("a file needs a name");
    num(`weight of ${f.name}`, f.weight, 0, 1e9);
  }
  const flow = input.flow && input.flow.length > 0 ? input.flow : null;
  if (flow && files.length > 0) throw new ScenarioError("give files or flow, not both");
  if (!flow && files.length === 0) throw new ScenarioError("at least one file (or a flow) is required");
  if (!flow && files.reduce((s, f) => s + f.weight, 0) <= 0) throw new ScenarioError("file weights add up to 0");
  let lossData = 0;
  let lossAck = 0;
  if (typeof input.loss === "number") lossData = lossAck = num("loss", input.loss, 0, 1);
  else if (input.loss) {
    lossData = num("loss.data", input.loss.data ?? 0, 0, 1);
    lossAck = num("loss.ack", input.loss.ack ?? 0, 0, 1);
  }
  const timeout = num("timeout", input.timeout ?? DEFAULTS.timeout, 0.001, 255);
  let sha256: Record<string, string> | null = input.verify?.sha256 ?? null;
  if (input.verify?.checksums) {
    const text = readFileSync(resolvePath(baseDir, input.verify.checksums), "utf8");
    sha256 = { ...parseChecksums(text), ...(sha256 ?? {}) };
  }
  const mode = input.mode ?? "octet";
  if (mode !== "octet" && mode !== "netascii") throw new ScenarioError(`mode must be octet or netascii (got ${String(mode)})`);
  return {
    host,
    port,
    clients: int("clients", input.clients ?? DEFAULTS.clients, 1, 100_000),
    sessions,
    duration,
    files,
    flow,
    blksize: input.blksize === undefined ? undefined : int("blksize", input.blksize, 8, 65464),
    windowsize: input.windowsize === undefined ? undefined : int("windowsize", input.windowsize, 1, 65535),
    tsize: input.tsize ?? false,
    timeout,
    timeoutOption: input.timeoutOption === undefined ? undefined : int("timeoutOption", input.timeoutOption, 1, 255),
    retries: int("retries", input.retries ?? DEFAULTS.retries, 0, 1000),
    mode,
    rampUp: num("rampUp", input.rampUp ?? DEFAULTS.rampUp, 0, 86_400),
    lossData,
    lossAck,
    seed: int("seed", input.seed ?? DEFAULTS.seed, 0, 0xffffffff),
    verifyDir: input.verify?.dir ? resolvePath(baseDir, input.verify.dir) : null,
    sha256,
    workers: int("workers", input.workers ?? DEFAULTS.workers, 1, 256),
    traceparent: input.traceparent ?? false,
    dallyMs: int("dallyMs", input.dallyMs ?? (lossData > 0 || lossAck > 0 ? Math.round(timeout * 1000) : 0), 0, 600_000),
    timeLimit: num("timeLimit", input.timeLimit ?? DEFAULTS.timeLimit, 0.001, 86_400 * 7),
  };
}

/** A scenario file (JSON); relative paths in it are taken from its folder. */
export function loadScenarioFile(path: string): { input: ScenarioInput; baseDir: string } {
  const text = readFileSync(path, "utf8");
  let input: ScenarioInput;
  try {
    input = JSON.parse(text) as ScenarioInput;
  } catch (err) {
    throw new ScenarioError(`${path}: not valid JSON (${(err as Error).message})`);
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
