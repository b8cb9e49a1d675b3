// The command line of `tftpkit serve`: `--kebab-case` flags of every config
// key (derived from CONFIG_OPTIONS), the command's own flags (--config,
// --print-config, --version, --help), and in.tftpd's flags where their
// meaning maps (so that a tftpd-hpa command line works as it is).
//
// Parsing gives flag values keyed by kebab-case flag name, as text (booleans
// as true/false); `flagsToInput` turns them into config values, validated
// with everything else by validateConfig.

import { closestKey, type OptionSpec } from "@tftpkit/options";
import { CONFIG_OPTIONS, RENAMED_CONFIG_KEYS, type ConfigTable } from "./config.js";

/** A wrong command line (code TFTP_ERR_USAGE): the message names the flag; the command exits 2. */
export class UsageError extends Error {
  readonly code = "TFTP_ERR_USAGE" as const;
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const camel = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const specOf = (key: string): OptionSpec | undefined =>
  Object.hasOwn(CONFIG_OPTIONS, key) ? (CONFIG_OPTIONS[key as keyof ConfigTable] as OptionSpec) : undefined;
const isBoolean = (spec: OptionSpec): boolean => spec.switch === true;

/** Flags of the command itself (not config keys). */
export const COMMAND_FLAGS = {
  config: { arg: "FILE", description: "configuration file, JSON or YAML (.yaml, .yml); reloaded on SIGHUP" },
  "print-config": { description: "print the effective configuration (defaults, file and flags merged) as JSON, then exit" },
  version: { description: "print the version, then exit" },
  help: { description: "show this help" },
} as const;

/**
 * in.tftpd (tftpd-hpa) flags: what each means here. `takes` is the name of
 * its argument; `apply` sets config flags (kebab-case) from it; `notice` is
 * printed when the flag has no effect here.
 */
interface TftpdFlag {
  short: string;
  long?: string;
  takes?: string;
  meaning: string;
  /** The config keys it sets (for the table of docs/cli.md). */
  sets?: readonly string[];
  apply?: (v: FlagValues, arg: string, state: TftpdState) => void;
  notice?: string;
}

interface TftpdState {
  verbose: number;
}

export type FlagValues = Record<string, string | boolean | undefined>;

/** `ADDR`, `ADDR:PORT`, `[V6]:PORT`, `:PORT` (in.tftpd -a). */
function applyAddress(v: FlagValues, arg: string): void {
  const m = /^\[([^\]]*)\](?::(\d*))?$/.exec(arg) ?? /^([^:]*):(\d*)$/.exec(arg);
  if (m) {
    if (m[1]) v.host = m[1];
    if (m[2]) v.port = m[2];
  } else {
    v.host = arg; // a bare address (IPv6 without brackets has several colons)
  }
}

export const TFTPD_FLAGS: readonly TftpdFlag[] = [
  { short: "s", long: "secure", sets: ["root"], meaning: "the directory given is the root (tftpkit always confines requests to the root)" },
  { short: "c", long: "create", sets: ["allowWrite"], meaning: "--allow-write (uploads may create new files)", apply: (v) => void (v["allow-write"] = true) },
  { short: "u", long: "user", takes: "USER", sets: ["user"], meaning: "--user USER", apply: (v, a) => void (v.user = a) },
  { short: "a", long: "address", takes: "ADDR[:PORT]", sets: ["host", "port"], meaning: "--host ADDR --port PORT", apply: applyAddress },
  { short: "p", long: "permissive", meaning: "ignored", notice: "-p (permissive) is ignored: tftpkit has no extra permission checks to relax" },
  { short: "B", long: "blocksize", takes: "N", sets: ["maxBlksize"], meaning: "--max-blksize N", apply: (v, a) => void (v["max-blksize"] = a) },
  { short: "m", long: "map-file", takes: "FILE", sets: ["remap"], meaning: "--remap FILE", apply: (v, a) => void (v.remap = a) },
  {
    short: "r", long: "refuse", takes: "OPT", sets: ["refuseOptions"], meaning: "adds OPT to --refuse-options (repeatable)",
    apply: (v, a) => void (v["refuse-options"] = typeof v["refuse-options"] === "string" && v["refuse-options"] ? `${v["refuse-options"]},${a}` : a),
  },
  { short: "R", long: "port-range", takes: "LO:HI", sets: ["portRange"], meaning: "--port-range LO-HI", apply: (v, a) => void (v["port-range"] = a) },
  {
    short: "T", long: "retransmit", takes: "US", sets: ["timeoutSeconds"], meaning: "--timeout-seconds in microseconds (-T 1000000 = --timeout-seconds 1)",
    apply: (v, a) => void (v["timeout-seconds"] = /^\d+$/.test(a) ? String(Number(a) / 1e6) : a),
  },
  { short: "v", long: "verbose", sets: ["log"], meaning: "log sessions (turns --log off into text); repeatable", apply: (_v, _a, s) => void s.verbose++ },
  { short: "l", long: "listen", meaning: "accepted: tftpkit always runs standalone" },
  { short: "L", long: "foreground", meaning: "accepted: tftpkit always runs in the foreground" },
  { short: "4", long: "ipv4", sets: ["host"], meaning: "--host 0.0.0.0 (unless an address is given)", apply: (v) => void (v.host ??= "0.0.0.0") },
  { short: "6", long: "ipv6", sets: ["host"], meaning: "--host :: (unless an address is given)", apply: (v) => void (v.host ??= "::") },
  { short: "U", long: "umask", takes: "UMASK", meaning: "ignored", notice: "-U (umask) is ignored: uploads are created with mode 0644" },
];

const TFTPD_SHORT = new Map(TFTPD_FLAGS.map((f) => [f.short, f]));
// in.tftpd's long names, where they do not clash with a config flag (--user and --port-range are ours).
const TFTPD_LONG = new Map(TFTPD_FLAGS.filter((f) => f.long && !specOf(camel(f.long))).map((f) => [f.long!, f]));

export interface ParsedArgs {
  /** Config flags as given, kebab-case (text, or true/false for switches). */
  values: FlagValues;
  config: string | undefined;
  printConfig: boolean;
  version: boolean;
  help: boolean;
  /** Lines to print at start-up (ignored in.tftpd flags). */
  notices: string[];
  /** -v given this many times. */
  verbose: number;
}

/** Every long flag known (for "did you mean"). */
export function knownLongFlags(): string[] {
  return [...Object.keys(CONFIG_OPTIONS).map(kebab), ...Object.keys(COMMAND_FLAGS), ...TFTPD_LONG.keys()];
}

function unknownFlag(flag: string): UsageError {
  const long = flag.replace(/^--?/, "").split("=")[0];
  const hint = flag.startsWith("--") || long.length > 1 ? closestKey(long, knownLongFlags()) : undefined;
  return new UsageError(`unknown flag ${flag.split("=")[0]}${hint ? ` (did you mean --${hint}?)` : ""}; see tftpkit serve --help`);
}

/** Parses `tftpkit serve` arguments; throws UsageError for an unknown flag or a missing value. */
export function parseServeArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { values: {}, config: undefined, printConfig: false, version: false, help: false, notices: [], verbose: 0 };
  const state: TftpdState = { verbose: 0 };
  const positional: string[] = [];
  let i = 0;
  const next = (flag: string): string => {
    if (i >= argv.length) throw new UsageError(`${flag} needs a value`);
    return argv[i++];
  };
  const tftpd = (f: TftpdFlag, shown: string, inline: string | undefined): void => {
    const arg = f.takes ? (inline !== undefined && inline !== "" ? inline : next(shown)) : "";
    f.apply?.(out.values, arg, state);
    if (f.notice) out.notices.push(f.notice);
  };
  while (i < argv.length) {
    const a = argv[i++];
    if (a === "--") {
      positional.push(...argv.slice(i));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const inline = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (name === "help") out.help = true;
      else if (name === "version") out.version = true;
      else if (name === "print-config") out.printConfig = true;
      else if (name === "config") out.config = inline ?? next(a);
      else if (Object.hasOwn(RENAMED_CONFIG_KEYS, camel(name))) {
        // A flag of the previous release: read as its new name, with a line saying so.
        const now = kebab(RENAMED_CONFIG_KEYS[camel(name)]);
        out.notices.push(`--${name} is deprecated: use --${now}`);
        out.values[now] = inline ?? next(a);
      } else if (specOf(camel(name))) {
        const spec = specOf(camel(name))!;
        out.values[name] = isBoolean(spec) ? (inline === undefined ? true : inline === "true" ? true : inline === "false" ? false : inline) : inline ?? next(a);
      } else if (name.startsWith("no-") && specOf(camel(name.slice(3))) && isBoolean(specOf(camel(name.slice(3)))!) && inline === undefined) {
        out.values[name.slice(3)] = false;
      } else if (TFTPD_LONG.has(name)) {
        tftpd(TFTPD_LONG.get(name)!, `--${name}`, inline);
      } else {
        throw unknownFlag(a);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      // Short flags, bundled as getopt does: -svc, -B1468, -B 1468.
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        if (c === "h") {
          out.help = true;
          continue;
        }
        if (c === "V") {
          out.version = true;
          continue;
        }
        const f = TFTPD_SHORT.get(c);
        if (!f) throw unknownFlag(`-${c}`);
        if (f.takes) {
          tftpd(f, `-${c}`, a.slice(j + 1));
          break;
        }
        tftpd(f, `-${c}`, undefined);
      }
      continue;
    }
    positional.push(a);
  }
  if (positional.length > 1) throw new UsageError(`one root directory only (got ${positional.map((p) => JSON.stringify(p)).join(", ")})`);
  if (positional.length === 1) {
    if (typeof out.values.root === "string" && out.values.root !== positional[0]) {
      throw new UsageError(`the root is given twice: --root ${out.values.root} and ${positional[0]}`);
    }
    out.values.root = positional[0];
  }
  out.verbose = state.verbose;
  return out;
}

/** Flags to the config file's shape (numbers as numbers, lists as lists); checked by validateConfig. */
export function flagsToInput(values: FlagValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, v] of Object.entries(values)) {
    if (v === undefined || flag in COMMAND_FLAGS) continue;
    const key = camel(flag);
    const spec = specOf(key);
    out[key] = typeof v === "string" && spec?.fromText ? spec.fromText(v) : v;
  }
  return out;
}

// ------------------------------------------------------------------ help

function describe(spec: OptionSpec): string {
  const facts = [spec.range && !spec.range.includes("|") ? spec.range : undefined, spec.unit].filter(Boolean).join(" ");
  const d = spec.default;
  const dflt = d === undefined || d === false || (Array.isArray(d) && d.length === 0) ? "" : d === true ? "on" : Array.isArray(d) ? d.join(",") : String(d);
  const extra = [facts, dflt !== "" && `default ${dflt}`].filter(Boolean).join("; ");
  return extra ? `${spec.description} [${extra}]` : spec.description;
}

function row(left: string, right: string): string {
  return left.length < 32 ? `  ${left.padEnd(32)}${right}` : `  ${left}\n  ${"".padEnd(32)}${right}`;
}

/** The flag as help shows it: `--max-blksize N`, `--[no-]bind-interfaces` for a switch that is on by default. */
export function flagSyntax(key: string): string {
  const spec = specOf(key)!;
  if (isBoolean(spec)) return spec.default === true ? `--[no-]${kebab(key)}` : `--${kebab(key)}`;
  return `--${kebab(key)} ${spec.arg}`;
}

export function usage(): string {
  const options = Object.entries(CONFIG_OPTIONS).map(([k, spec]) => row(flagSyntax(k), describe(spec as OptionSpec)));
  const command = Object.entries(COMMAND_FLAGS).map(([f, d]) =>
    row(`${f === "help" ? "-h, " : ""}--${f}${"arg" in d ? ` ${d.arg}` : ""}`, d.description),
  );
  const tftpd = TFTPD_FLAGS.map((f) => row(`-${f.short}${f.takes ? ` ${f.takes}` : ""}`, f.meaning));
  return `Usage: tftpkit serve [options] [DIR]

Serve files from a root folder (DIR or --root), or what a handler module answers.

Options (each is also a key of the --config file, in camelCase; flags win over the file):
${options.join("\n")}

${command.join("\n")}

in.tftpd (tftpd-hpa) flags, for its command lines: in.tftpd -s /srv/tftp works as it is
${tftpd.join("\n")}

Signals: SIGHUP reloads --config and --remap (running sessions keep their settings);
SIGTERM/SIGINT stop accepting and drain.

Telemetry (OpenTelemetry, standard environment variables):
  OTEL_EXPORTER_OTLP_ENDPOINT            export traces and metrics over OTLP/HTTP (e.g. http://collector:4318);
                                         nothing is exported when no endpoint is set
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     ... traces only (full URL, e.g. http://collector:4318/v1/traces)
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT    ... metrics only (full URL, .../v1/metrics)
  OTEL_EXPORTER_OTLP_PROTOCOL            http/protobuf (default) or http/json
  OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER   otlp, console or none (override the above)
  OTEL_METRIC_EXPORT_INTERVAL            ms between OTLP metric exports (default 60000)
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED=true, ...
  A file name ending in -00-<trace id>-<span id>-<flags> (W3C traceparent) joins that trace.
`;
}
