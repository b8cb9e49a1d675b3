// The one configuration error of tftpkit and its catalog of reasons.
//
// `instanceof TftpConfigError` holds for an error thrown by another installed
// copy of this package too (two versions in one node_modules tree): the class
// checks a brand registered with Symbol.for, not its own prototype chain. A
// subclass declares its own brand the same way: a static [Symbol.hasInstance]
// that checks its own Symbol.for key with isBranded (RemapSyntaxError does).

const kConfigError = Symbol.for("tftpkit.error.TFTP_ERR_CONFIG");

/** Whether `value` is an object carrying `brand` (a Symbol.for key). */
export function isBranded(value: unknown, brand: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** Stable codes of configuration problems (like undici's UND_ERR_*); `TftpConfigError.reason`. */
export const ConfigErrorCode = {
  /** A value of the wrong type or out of range. */
  VALUE: "TFTP_ERR_CONFIG_VALUE",
  /** A key or flag that nothing declares. */
  UNKNOWN: "TFTP_ERR_CONFIG_UNKNOWN",
  /** Something required is missing (e.g. neither root nor handler). */
  MISSING: "TFTP_ERR_CONFIG_MISSING",
  /** Settings that do not go together (e.g. allowOverwrite without allowWrite). */
  CONFLICT: "TFTP_ERR_CONFIG_CONFLICT",
  /** A configuration file that cannot be read or parsed. */
  FILE: "TFTP_ERR_CONFIG_FILE",
  /** A remap rule that does not compile. */
  REMAP: "TFTP_ERR_CONFIG_REMAP",
  /** An environment variable (OTEL_*) with a bad value. */
  ENV: "TFTP_ERR_CONFIG_ENV",
  /** The start-up cannot do what it was told (missing root, unknown user, taken port). */
  START: "TFTP_ERR_CONFIG_START",
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

/** One problem of a configuration: what is wrong, with the key (or flag) it concerns. */
export interface ConfigProblem {
  code: ConfigErrorCode;
  /** The option key (or flag, or file) concerned, when there is one. */
  key?: string;
  /** One line, naming the key. */
  message: string;
}

/**
 * Every configuration error of tftpkit: bad options, config files, flags,
 * remap rules, environment. `code` is always "TFTP_ERR_CONFIG"; `reason` is
 * the first problem's code; `problems` lists every problem found, not just the first.
 */
export class TftpConfigError extends Error {
  /** True for a TftpConfigError from any installed copy of this package (a Symbol.for brand). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isBranded(value, kConfigError);
  }
  /** The brand `instanceof` checks. */
  get [kConfigError](): true {
    return true;
  }
  readonly code = "TFTP_ERR_CONFIG" as const;
  readonly reason: ConfigErrorCode;
  /** Every problem, one line each. */
  readonly problems: string[];
  readonly issues: readonly ConfigProblem[];
  constructor(problems: string | ConfigProblem | readonly ConfigProblem[], source?: string, options?: { cause?: unknown }) {
    const issues: ConfigProblem[] =
      typeof problems === "string" ? [{ code: ConfigErrorCode.VALUE, message: problems }] : Array.isArray(problems) ? [...problems] : [problems as ConfigProblem];
    const lines = issues.map((p) => p.message);
    const body = lines.length === 1 ? lines[0] : `\n  ${lines.join("\n  ")}`;
    super(source ? `${source}: ${body}` : body, options);
    this.name = "TftpConfigError";
    this.issues = Object.freeze(issues);
    this.problems = lines;
    this.reason = issues[0]?.code ?? ConfigErrorCode.VALUE;
  }
}

