// Option schemas: each option declared once (type and range as a zod schema,
// unit, default, one-line description), validated the same way wherever it
// comes from. Problems are reported with TftpConfigError (errors.ts).
//
// The packages declare their tables (server options, client transfer options)
// with `option()` and the builders below; the apps derive config keys, flags,
// help text and the table of docs/cli.md from the same tables.

import { z } from "zod";
import { ConfigErrorCode, TftpConfigError, type ConfigProblem } from "./errors.js";

/** How an option is declared. */
export interface OptionSpec<T = unknown> {
  /** Type and range. */
  type: z.ZodType<T>;
  /** Used when the option is not given; none: the option is unset (undefined). */
  default?: T;
  /** "bytes", "ms", "s", "blocks", ... */
  unit?: string;
  /** The range as operators read it, e.g. "8..65535". */
  range?: string;
  /** One line: what the option does. */
  description: string;
  /** Placeholder of the flag's value in help ("N", "S", "DIR", "LIST"). */
  arg?: string;
  /** A switch: the flag takes no value (`--allow-write`, `--no-bind-interfaces`). */
  switch?: boolean;
  /** Text of a flag's value to the option's value (before validation). Default: as written. */
  fromText?: (text: string) => unknown;
  /** A filesystem path: a config file's relative path is taken from the file's folder. */
  path?: boolean;
  /** Not a config key or flag (functions, objects built in code). */
  code?: boolean;
}

export type OptionTable = Record<string, OptionSpec<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The value type of a spec. */
export type ValueOf<S> = S extends { type: z.ZodType } ? z.output<S["type"]> : never;

/** What callers pass: every option optional. */
export type OptionsInput<T extends OptionTable> = { [K in keyof T]?: ValueOf<T[K]> };

/** After resolving: defaulted options are always there, the others may be undefined. */
export type OptionsResolved<T extends OptionTable> = {
  readonly [K in keyof T]: T[K] extends { default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

/** Declares an option (see OptionSpec); its exact shape is kept (a default, `code: true`) for the derived types. */
export function option<S extends OptionSpec<any>>(spec: S & { default?: z.output<S["type"]> }): S { // eslint-disable-line @typescript-eslint/no-explicit-any
  return Object.freeze(spec);
}

// ------------------------------------------------------------ the builders
// Each returns the type with clear messages ("must be an integer from 8 to
// 65535"), its range for help, and how a flag's text becomes a value.

const toNumber = (text: string): unknown => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);

export function int(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return { type: z.int({ error }).min(min, { error }).max(max, { error }), range: `${min}..${max}`, arg: "N", fromText: toNumber };
}

/** A finite number; `unit` goes into the message ("must be from 0.01 to 255 seconds"). */
export function num(min: number, max: number, unit?: string) {
  const error = `must be a number from ${min} to ${max}${unit ? ` ${unit}` : ""}`;
  return { type: z.number({ error }).min(min, { error }).max(max, { error }), range: `${min}..${max}`, arg: "N", fromText: toNumber };
}

export function bool() {
  const error = "must be true or false";
  return { type: z.boolean({ error }), switch: true, fromText: (t: string): unknown => (t === "true" ? true : t === "false" ? false : t) };
}

export function str(arg = "TEXT") {
  const error = "must be a non-empty string";
  return { type: z.string({ error }).min(1, { error }), arg };
}

export function oneOf<const V extends readonly [string, ...string[]]>(...values: V) {
  const error = `must be one of ${values.join(", ")}`;
  return { type: z.enum(values, { error }), range: values.join("|"), arg: values.join("|") };
}

/** A list of some of `values`; a flag gives it comma-separated. */
export function listOf<const V extends readonly [string, ...string[]]>(...values: V) {
  const error = `must be a list of ${values.join(", ")}`;
  return {
    type: z.array(z.enum(values, { error }), { error }) as unknown as z.ZodType<ReadonlyArray<V[number]>>,
    range: values.join(","),
    arg: "LIST",
    fromText: (t: string): unknown => t.split(",").map((x) => x.trim()).filter(Boolean),
  };
}

/** A function (options set in code only). */
export function fn<F>(what = "a function") {
  return { type: z.custom<F>((v) => typeof v === "function", { error: `must be ${what}` }), code: true as const };
}

/** Any value set in code only (objects), checked by `check`. */
export function custom<T>(check: (v: unknown) => boolean, error: string) {
  return { type: z.custom<T>(check, { error }), code: true as const };
}

// ------------------------------------------------------------ validation

/** How the value shows in a message: a JSON value, or a short word for what cannot be shown. */
function shown(v: unknown): string {
  if (typeof v === "function") return "a function";
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export interface ValidateOptions {
  /** How a key is named in messages (e.g. `"maxBlksize"` in config files). Default: the key. */
  label?: (key: string) => string;
  /** Keys not in the table: a problem (config files) or ignored (library objects, where other fields live). */
  unknownKeys?: "problem" | "ignore";
  /** null means "not set" (config files, --print-config output). */
  nullIsUnset?: boolean;
}

/** The closest key to a misspelt one (case, dashes and underscores ignored, then one edit away). */
export function closestKey(key: string, keys: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, "");
  const k = norm(key);
  const same = keys.find((c) => norm(c) === k);
  if (same) return same;
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(k.length / 4)) + 1;
  for (const c of keys) {
    const d = editDistance(k, norm(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Checks every given option of `input` against `table` and returns the valid
 * values (unset ones left out) and every problem found.
 */
export function checkOptions<T extends OptionTable>(
  table: T,
  input: Record<string, unknown>,
  opts: ValidateOptions = {},
): { values: OptionsInput<T>; problems: ConfigProblem[] } {
  const label = opts.label ?? ((k: string) => k);
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  const keys = Object.keys(table);
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || (opts.nullIsUnset && value === null)) continue;
    const spec = Object.hasOwn(table, key) ? table[key] : undefined;
    if (!spec) {
      if (opts.unknownKeys === "problem") {
        const hint = closestKey(key, keys);
        problems.push({ code: ConfigErrorCode.UNKNOWN, key, message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}` });
      }
      continue;
    }
    const r = spec.type.safeParse(value);
    if (r.success) values[key] = r.data;
    else problems.push({ code: ConfigErrorCode.VALUE, key, message: `${label(key)} ${r.error.issues[0]?.message ?? "is not valid"} (got ${shown(value)})` });
  }
  return { values: values as OptionsInput<T>, problems };
}

/** The defaults of a table, as one frozen object (options without a default left out). */
export function defaultsOf<T extends OptionTable>(table: T): Readonly<OptionsInput<T>> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(table)) if (s.default !== undefined) out[k] = s.default;
  return Object.freeze(out) as Readonly<OptionsInput<T>>;
}

/** Validates `input` over the defaults; throws one TftpConfigError listing every problem. */
export function resolveTable<T extends OptionTable>(table: T, input: Record<string, unknown>, opts: ValidateOptions = {}): OptionsResolved<T> {
  const { values, problems } = checkOptions(table, input, opts);
  if (problems.length) throw new TftpConfigError(problems);
  return { ...defaultsOf(table), ...values } as OptionsResolved<T>;
}

/** Keys of a table that are config keys and flags (not set-in-code-only). */
export function dataKeys(table: OptionTable): string[] {
  return Object.keys(table).filter((k) => !table[k].code);
}

// ------------------------------------------------------------ renamed options

/** Old option names and their new ones (`{ timeout: "timeoutSeconds" }`): the old names keep working for one release. */
export type Renames = Readonly<Record<string, string>>;

/**
 * Moves values given under an old name (see Renames) to the new name.
 * Returns the input with new names only, one line per old name used
 * (`"timeout" is deprecated: use "timeoutSeconds"`, named by `label`), and a
 * CONFLICT problem for each option given under both names.
 */
export function applyRenames(
  input: Record<string, unknown>,
  renames: Renames,
  label: (key: string) => string = (k) => `"${k}"`,
): { input: Record<string, unknown>; warnings: string[]; problems: ConfigProblem[] } {
  const out: Record<string, unknown> = {};
  const warnings: string[] = [];
  const problems: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(input)) {
    const to = Object.hasOwn(renames, key) ? renames[key] : undefined;
    if (to === undefined) {
      out[key] = value;
      continue;
    }
    if (value === undefined) continue;
    if (input[to] !== undefined && input[to] !== null) {
      problems.push({ code: ConfigErrorCode.CONFLICT, key, message: `${label(key)} is the old name of ${label(to)}: give only ${label(to)}` });
      continue;
    }
    warnings.push(`${label(key)} is deprecated: use ${label(to)}`);
    out[to] = value;
  }
  return { input: out, warnings, problems };
}

const warned = new Set<string>();

/** Emits each line once per process as a Node DeprecationWarning (code TFTPKIT_DEP_OPTION): for options set in code. */
export function warnDeprecated(lines: readonly string[]): void {
  for (const line of lines) {
    if (warned.has(line)) continue;
    warned.add(line);
    process.emitWarning(line, { type: "DeprecationWarning", code: "TFTPKIT_DEP_OPTION" });
  }
}
