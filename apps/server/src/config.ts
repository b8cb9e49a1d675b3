// The configuration file of `tftpkit serve --config FILE`: one JSON object
// whose keys mirror the command-line flags (camelCase). Validated once at
// start-up (and on SIGHUP) against one table; every problem is reported with
// its key, not just the first.

import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";

export interface ClientRoot {
  match: string;
  root: string;
}

export interface Config {
  root?: string;
  handler?: string;
  host: string;
  port: number;
  maxBlksize?: number;
  maxWindowsize?: number;
  timeout?: number;
  retries?: number;
  handlerTimeoutMs?: number;
  allowWrite: boolean;
  allowOverwrite: boolean;
  maxUploadBytes?: number;
  maxFileBytes?: number;
  fileCacheBytes?: number;
  fileCacheMaxFileBytes?: number;
  mtu?: number;
  refuseOptions?: Array<"blksize" | "tsize" | "timeout" | "windowsize">;
  singlePort: boolean;
  portRange?: [number, number];
  maxSessions?: number;
  maxSessionsPerClient?: number;
  rateLimit?: number;
  rateBurst?: number;
  remap?: string;
  caseInsensitive: boolean;
  clientRoots?: ClientRoot[];
  user?: string;
  group?: string;
  log: "json" | "text" | "off";
  admin: string;
  traceConsole: boolean;
  drainSeconds: number;
}

export const CONFIG_DEFAULTS: Config = {
  host: "::", // dual stack
  port: 69,
  allowWrite: false,
  allowOverwrite: false,
  singlePort: false,
  caseInsensitive: false,
  log: "json",
  admin: "127.0.0.1:9069",
  traceConsole: false,
  drainSeconds: 10, // seconds running sessions get on SIGTERM
};

type Check = (v: unknown) => string | undefined; // an error message, or undefined when fine

const int = (min: number, max: number): Check => (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? undefined : `must be an integer from ${min} to ${max}`;
const num = (min: number, max: number): Check => (v) =>
  typeof v === "number" && Number.isFinite(v) && v >= min && v <= max ? undefined : `must be a number from ${min} to ${max}`;
const str: Check = (v) => (typeof v === "string" && v.length > 0 ? undefined : "must be a non-empty string");
const bool: Check = (v) => (typeof v === "boolean" ? undefined : "must be true or false");
const oneOf = (...allowed: string[]): Check => (v) =>
  typeof v === "string" && allowed.includes(v) ? undefined : `must be one of ${allowed.join(", ")}`;

/** Every key, its check, and whether it names a path (resolved against the config file's folder). */
const SCHEMA: Record<keyof Config, { check: Check; path?: boolean }> = {
  root: { check: str, path: true },
  handler: { check: str, path: true },
  host: { check: str },
  port: { check: int(0, 65535) },
  maxBlksize: { check: int(8, 65464) },
  maxWindowsize: { check: int(1, 65535) },
  timeout: { check: num(0.01, 255) },
  retries: { check: int(0, 100) },
  handlerTimeoutMs: { check: int(1, 3_600_000) },
  allowWrite: { check: bool },
  allowOverwrite: { check: bool },
  maxUploadBytes: { check: int(0, Number.MAX_SAFE_INTEGER) },
  maxFileBytes: { check: int(0, Number.MAX_SAFE_INTEGER) },
  fileCacheBytes: { check: int(0, Number.MAX_SAFE_INTEGER) },
  fileCacheMaxFileBytes: { check: int(0, 64 * 1024 * 1024) },
  mtu: { check: (v) => (v === 0 ? undefined : int(68, 65575)(v)) },
  refuseOptions: {
    check: (v) =>
      Array.isArray(v) && v.every((x) => ["blksize", "tsize", "timeout", "windowsize"].includes(x as string))
        ? undefined
        : "must be a list of blksize, tsize, timeout, windowsize",
  },
  singlePort: { check: bool },
  portRange: {
    check: (v) =>
      Array.isArray(v) && v.length === 2 && v.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) && v[0] <= v[1]
        ? undefined
        : "must be [low, high] with 1 <= low <= high <= 65535",
  },
  maxSessions: { check: int(0, 1_000_000) },
  maxSessionsPerClient: { check: int(0, 1_000_000) },
  rateLimit: { check: num(0, 1_000_000) },
  rateBurst: { check: int(1, 10_000_000) },
  remap: { check: str, path: true },
  caseInsensitive: { check: bool },
  clientRoots: {
    check: (v) =>
      Array.isArray(v) && v.every((r) => r && typeof r === "object" && typeof r.match === "string" && typeof r.root === "string")
        ? undefined
        : 'must be a list of { "match": "10.0.0.0/24", "root": "/srv/tftp/rack1" }',
  },
  user: { check: str },
  group: { check: str },
  log: { check: oneOf("json", "text", "off") },
  admin: { check: (v) => (v === "off" || (typeof v === "string" && /^.+:\d+$/.test(v)) ? undefined : 'must be "HOST:PORT" or "off"') },
  traceConsole: { check: bool },
  drainSeconds: { check: num(0, 3600) },
};

export class ConfigError extends Error {
  readonly code = "TFTP_ERR_CONFIG";
  constructor(readonly problems: string[], source: string) {
    super(`${source}: ${problems.length === 1 ? problems[0] : `\n  ${problems.join("\n  ")}`}`);
    this.name = "ConfigError";
  }
}

function closest(key: string): string | undefined {
  const lower = key.toLowerCase().replace(/[-_]/g, "");
  return Object.keys(SCHEMA).find((k) => k.toLowerCase() === lower);
}

/**
 * Validates a parsed object (from a file or from flags) over the defaults.
 * Paths are resolved against `baseDir`.
 */
export function validateConfig(input: unknown, source: string, baseDir: string, base: Config = CONFIG_DEFAULTS): Config {
  if (!input || typeof input !== "object" || Array.isArray(input)) throw new ConfigError(["must be a JSON object"], source);
  const out: Record<string, unknown> = { ...base };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (value === undefined) continue;
    const rule = SCHEMA[key as keyof Config];
    if (!rule) {
      const hint = closest(key);
      problems.push(`unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`);
      continue;
    }
    const err = rule.check(value);
    if (err) {
      problems.push(`"${key}" ${err} (got ${JSON.stringify(value)})`);
      continue;
    }
    out[key] = rule.path && typeof value === "string" && !isAbsolute(value) ? resolve(baseDir, value) : value;
    if (key === "clientRoots") {
      out[key] = (value as ClientRoot[]).map((r) => ({ match: r.match, root: isAbsolute(r.root) ? r.root : resolve(baseDir, r.root) }));
    }
  }
  const c = out as unknown as Config;
  if (!c.root && !c.handler) problems.push('needs "root" or "handler"');
  if (c.allowOverwrite && !c.allowWrite) problems.push('"allowOverwrite" needs "allowWrite": true');
  if (problems.length) throw new ConfigError(problems, source);
  return c;
}

/** Reads and validates a JSON configuration file. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError([`cannot read: ${(err as Error).message}`], path);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`not valid JSON: ${(err as Error).message}`], path);
  }
  return validateConfig(parsed, path, dirname(resolve(path)));
}
