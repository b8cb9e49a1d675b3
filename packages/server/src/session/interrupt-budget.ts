// V8 optimizes a function once it has run enough: its "interrupt budget"
// (about 66 KB of bytecode executed, several times over for a larger
// function) is used up. A warm-up of a few hundred sessions is not enough for
// the functions a session calls once, so the warm-ups (the server's, and the
// cluster primary's datagram path) run with a smaller budget and put back
// the default, or the one given on the command line, after it: real traffic
// tiers up as it always does.

import { setFlagsFromString } from "node:v8";

/** V8's default interrupt budget (bytes of bytecode). */
const DEFAULT_INTERRUPT_BUDGET = 67_584;

/** The budget this process started with: --interrupt-budget if given, else V8's default. */
function startingBudget(): number {
  for (const a of process.execArgv) {
    const m = /^--interrupt[-_]budget=(\d+)$/.exec(a);
    if (m) return Number(m[1]);
  }
  return DEFAULT_INTERRUPT_BUDGET;
}

function setBudget(n: number): void {
  try {
    setFlagsFromString(`--interrupt-budget=${n}`);
  } catch {
    // A runtime without the flag: the warm-up runs at the usual budget.
  }
}

/** Lowers the interrupt budget to `n` for a warm-up; returns what puts the starting budget back. */
export function lowerInterruptBudget(n: number): () => void {
  const before = startingBudget();
  setBudget(n);
  return () => setBudget(before);
}
