// The configuration in force (the config file, then the flags over it) and
// the version of tftpkit: shared by the single process, the workers' primary
// and each worker.

import { readFileSync } from "node:fs";
import { flagsToInput, type ParsedArgs } from "./args.js";
import { CONFIG_DEFAULTS, loadConfig, validateConfig, type Config } from "./config.js";

/** The configuration in force: the file (if any), then the flags over it; deprecation lines go to `warnings`. */
export async function resolveConfig(args: Pick<ParsedArgs, "config" | "values">, warnings: string[] = []): Promise<Config> {
  const file = args.config !== undefined ? await loadConfig(args.config, warnings) : CONFIG_DEFAULTS;
  return validateConfig(flagsToInput(args.values), "command line", process.cwd(), file, warnings);
}

/** The version of tftpkit (this package's). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}
