// Command-line parsing for the bench scripts: node:util parseArgs, and one
// clear line (exit 2) instead of a stack trace when the arguments are wrong.

import { parseArgs } from "node:util";

/** The parsed `values`; exits 2 naming the problem, e.g. a value that starts with a dash. */
export function parseArgsOrExit(name, options) {
  try {
    return parseArgs({ options }).values;
  } catch (e) {
    const hint = /starting with a dash/.test(e.message) ? ` (write --option="--value", e.g. --tftpkit-args="--workers 2")` : "";
    process.stderr.write(`${name}: ${e.message.split("\n")[0]}${hint}; see --help\n`);
    process.exit(2);
  }
}
