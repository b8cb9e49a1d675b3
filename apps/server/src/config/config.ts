// The configuration of `tftpkit serve`: one table of keys, CONFIG_OPTIONS =
// every data option of the library (SERVER_OPTIONS in @tftpkit/server) plus
// the command's own keys (APP_OPTIONS below). Config files (JSON or YAML),
// flags (`--kebab-case` of each key), `--help`, `--print-config` and the
// flag table of docs/cli.md are all derived from it. Validated once at start-up
// (and on SIGHUP); every problem is reported with its key, not just the first.
//
// To add a key of the command only (not a library option): one entry in
// APP_OPTIONS. A library option goes into SERVER_OPTIONS and shows up here by
// itself. Then `npm run docs` regenerates the table of docs/cli.md.

import { readFile } from "node:fs/promises";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { RENAMED_SERVER_OPTIONS } from "@tftpkit/server";
import { SERVER_OPTIONS } from "@tftpkit/server/internal";
import {
  ConfigErrorCode, TftpConfigError, applyRenames, bool, checkOptions, custom, dataKeys, defaultsOf, int, num, oneOf, option, str,
  type ConfigProblem, type OptionSpec, type OptionsResolved, type Renames,
} from "@tftpkit/options";
import { LineCounter, parseDocument } from "yaml";
import { ADMIN_DEFAULT, parseAdminAddress } from "../admin/admin.js";

export interface ClientRoot {
  match: string;
  root: string;
}

const isClientRoots = (v: unknown): boolean =>
  Array.isArray(v) && v.every((r) => r && typeof r === "object" && typeof r.match === "string" && typeof r.root === "string" && r.root !== "");

/** An http(s) URL template naming {traceId}. */
function isTraceUrlTemplate(v: unknown): boolean {
  if (typeof v !== "string" || !v.includes("{traceId}")) return false;
  try {
    const u = new URL(v.replaceAll("{traceId}", "0"));
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * The HTTP stage's listening address: `HOST:PORT`, `[IPv6]:PORT`, `:PORT`
 * (every address), or undefined for "off". Throws on anything else.
 */
export function parseHttpAddress(v: string): { host: string; port: number } | undefined {
  if (v === "off") return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--http needs HOST:PORT, [IPv6]:PORT, :PORT or off (got "${v}")`);
  return { host: m[1] ?? (m[2] || "::"), port };
}

/** Keys of the command that the library does not have. */
export const APP_OPTIONS = {
  handler: option({
    ...str("FILE"), path: true,
    description: "ES module whose default export decides each read (falls back to root)",
  }),
  host: option({ ...str("ADDR"), default: "::", description: "address to bind (:: is dual stack)" }),
  port: option({ ...int(0, 65535), default: 69, description: "UDP port" }),
  remap: option({ ...str("FILE"), path: true, description: "tftp-hpa style remap rules (reloaded on SIGHUP)" }),
  caseInsensitive: option({ ...bool(), default: false, description: "match file names ignoring case when the exact name is missing" }),
  clientRoots: option({
    ...custom<ClientRoot[]>(isClientRoots, 'must be a list of { "match": "10.0.0.0/24", "root": "/srv/tftp/rack1" }'),
    code: false, arg: "LIST",
    fromText: (t: string): unknown =>
      t.split(",").map((x) => x.trim()).filter(Boolean).map((pair) => {
        const i = pair.lastIndexOf("=");
        return i > 0 ? { match: pair.slice(0, i), root: pair.slice(i + 1) } : pair;
      }),
    description: "a root folder per client address: MATCH=DIR,... (MATCH: an address, a CIDR or a range)",
  }),
  http: option({
    ...custom<string>((v) => {
      try {
        return typeof v === "string" && (v === "off" || parseHttpAddress(v) !== undefined);
      } catch {
        return false;
      }
    }, 'must be "HOST:PORT", "[IPv6]:PORT", ":PORT" or "off"'),
    code: false, arg: "HOST:PORT",
    description: "HTTP stage: serve GET and HEAD of the same files and handler over HTTP here (kernels, initrds, UEFI HTTP Boot); off unless set",
  }),
  user: option({ ...str("NAME"), description: "drop privileges to this user after binding" }),
  group: option({ ...str("NAME"), description: "with user: drop to this group (default: the user's primary group)" }),
  log: option({ ...oneOf("json", "text", "off"), default: "json" as "json" | "text" | "off", description: "one line per finished session on stdout, in this format" }),
  admin: option({
    ...custom<string>((v) => {
      try {
        return typeof v === "string" && (v === "off" || parseAdminAddress(v) !== undefined);
      } catch {
        return false;
      }
    }, 'must be "HOST:PORT" or "off"'),
    code: false, arg: "HOST:PORT", default: ADMIN_DEFAULT,
    description: 'admin HTTP server: the dashboard at /, JSON API /api/v1 (sessions, boot flows, stats, events), Prometheus /metrics, /healthz ("off" to disable)',
  }),
  adminAllowHosts: option({
    ...custom<string[]>(
      (v) => Array.isArray(v) && v.every((h) => typeof h === "string" && /^[A-Za-z0-9.-]{1,253}$/.test(h)),
      "must be a list of host names, e.g. tftpkit.example.com,admin.local",
    ),
    code: false, arg: "NAMES",
    fromText: (t: string): unknown => t.split(",").map((x) => x.trim()).filter(Boolean),
    description: "host names the admin page and /api/v1 answer to besides IP addresses and localhost (against DNS rebinding)",
  }),
  adminTokenFile: option({
    ...str("FILE"), path: true,
    description: "file holding the bearer token of POST /api/v1/drain and /api/v1/reload (one word of 16+ characters; read again on reload); without it they are off",
  }),
  traceUrlTemplate: option({
    ...custom<string>(isTraceUrlTemplate, "must be an http:// or https:// URL with {traceId} in it"),
    code: false, arg: "URL",
    description: "a tracing UI's URL of a trace, e.g. http://jaeger:16686/trace/{traceId} (the dashboard links boot flows to it)",
  }),
  traceConsole: option({ ...bool(), default: false, description: "print every session span to stdout (OpenTelemetry ConsoleSpanExporter)" }),
  drainSeconds: option({ ...num(0, 3600, "seconds"), arg: "S", default: 10, unit: "s", description: "on SIGTERM/SIGINT, time running sessions get to finish" }),
  workers: option({
    ...int(1, 1024),
    description: "worker processes, each with its own sessions (default: one per core; 1 = one process); a primary keeps each client address on one of them for its boot flow and holds the session limits across them",
  }),
};

type LibraryData = { [K in keyof typeof SERVER_OPTIONS as (typeof SERVER_OPTIONS)[K] extends { code: true } ? never : K]: (typeof SERVER_OPTIONS)[K] };

function libraryData(): LibraryData {
  const out: Record<string, OptionSpec> = {};
  for (const k of dataKeys(SERVER_OPTIONS)) out[k] = SERVER_OPTIONS[k as keyof typeof SERVER_OPTIONS];
  return out as LibraryData;
}

/** Every key of the config file, in the order of `--help`: where to serve from, where to listen, then the rest. */
export const CONFIG_OPTIONS = (() => {
  const { handler, host, port, ...app } = APP_OPTIONS;
  const { root, ...lib } = libraryData();
  return { root, handler, host, port, ...lib, ...app };
})();

export type ConfigTable = typeof CONFIG_OPTIONS;
export type Config = OptionsResolved<ConfigTable>;
export const CONFIG_KEYS: readonly (keyof Config)[] = Object.freeze(Object.keys(CONFIG_OPTIONS) as (keyof Config)[]);
export const CONFIG_DEFAULTS = defaultsOf(CONFIG_OPTIONS) as Config;

/** Keys of the library options among the config keys: passed to createServer() as they are. */
export const LIBRARY_KEYS = Object.freeze(Object.keys(libraryData()) as (keyof LibraryData)[]);

/**
 * Config keys of the previous release and their new names (the library's
 * renamed options): they keep working for one release, with a one-line
 * deprecation warning naming the new key. Their flags follow (`--timeout`
 * for `--timeout-seconds`).
 */
export const RENAMED_CONFIG_KEYS: Renames = RENAMED_SERVER_OPTIONS;

/**
 * Validates a parsed object (from a file or from flags) over `base`.
 * Paths are resolved against `baseDir`; null means "not set". A deprecated
 * key is read as its new name, and a line saying so goes to `warnings`.
 */
export function validateConfig(input: unknown, source: string, baseDir: string, base: Config = CONFIG_DEFAULTS, warnings: string[] = []): Config {
  if (!input || typeof input !== "object" || Array.isArray(input)) {
    throw new TftpConfigError({ code: ConfigErrorCode.FILE, message: "must be an object of configuration keys" }, source);
  }
  const renamed = applyRenames(input as Record<string, unknown>, RENAMED_CONFIG_KEYS);
  warnings.push(...renamed.warnings.map((w) => `${source}: ${w}`));
  const { values, problems } = checkOptions(CONFIG_OPTIONS, renamed.input, {
    label: (k) => `"${k}"`,
    unknownKeys: "problem",
    nullIsUnset: true,
  });
  problems.push(...renamed.problems);
  const out: Record<string, unknown> = { ...base };
  const inBase = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  for (const [key, value] of Object.entries(values)) {
    const spec: OptionSpec = CONFIG_OPTIONS[key as keyof ConfigTable];
    out[key] = spec.path && typeof value === "string" ? inBase(value) : value;
  }
  if (values.clientRoots) out.clientRoots = values.clientRoots.map((r) => ({ match: r.match, root: inBase(r.root) }));
  const c = out as Config;
  const problem = (code: ConfigProblem["code"], key: string, message: string): void => void problems.push({ code, key, message });
  if (!c.root && !c.handler) problem(ConfigErrorCode.MISSING, "root", 'needs "root" or "handler"');
  if (c.allowOverwrite && !c.allowWrite) problem(ConfigErrorCode.CONFLICT, "allowOverwrite", '"allowOverwrite" needs "allowWrite": true');
  if (c.group && !c.user) problem(ConfigErrorCode.CONFLICT, "group", '"group" needs "user" (the group is taken when dropping to the user)');
  if (problems.length) throw new TftpConfigError(problems, source);
  return c;
}

/** Parses a config file's text: YAML for .yaml/.yml (every syntax error listed with its line), else JSON. */
export function parseConfigText(text: string, path: string): unknown {
  const ext = extname(path).toLowerCase();
  if (ext === ".yaml" || ext === ".yml") {
    const lines = new LineCounter();
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
    if (doc.errors.length) {
      throw new TftpConfigError(
        doc.errors.map((e) => {
          const at = lines.linePos(e.pos[0]);
          return { code: ConfigErrorCode.FILE, key: path, message: `not valid YAML at line ${at.line}, column ${at.col}: ${e.message.split("\n")[0]}` };
        }),
        path,
      );
    }
    return doc.toJS();
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TftpConfigError({ code: ConfigErrorCode.FILE, key: path, message: `not valid JSON: ${(err as Error).message}` }, path);
  }
}

/** Reads and validates a configuration file (JSON, or YAML when it ends in .yaml or .yml). */
export async function loadConfig(path: string, warnings: string[] = []): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new TftpConfigError({ code: ConfigErrorCode.FILE, key: path, message: `cannot read: ${(err as Error).message}` }, path);
  }
  return validateConfig(parseConfigText(text, path), path, dirname(resolve(path)), CONFIG_DEFAULTS, warnings);
}

/** The configuration as `--print-config` shows it: every key, in table order; null for what is not set. */
export function printableConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) out[k] = c[k] ?? null;
  return out;
}
