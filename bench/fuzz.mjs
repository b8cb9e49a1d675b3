#!/usr/bin/env node
// npm run fuzz -- --count 1000000 [--seed N]: the fuzz suite of
// packages/server/test/fuzz.test.ts with a large count (before a release),
// then its figures: packets/s, RSS and heap before/after, counters.
// The same assertions as in CI apply; exit status is vitest's.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgsOrExit } from "./args.mjs";

const opt = parseArgsOrExit("fuzz", {
  count: { type: "string", default: "1000000" },
  seed: { type: "string" },
  "time-limit": { type: "string" },
  help: { type: "boolean", short: "h" },
});
if (opt.help) {
  process.stdout.write(
    "Usage: npm run fuzz [-- --count N] [-- --seed S] [-- --time-limit SECONDS]\n" +
      "  runs packages/server/test/fuzz.test.ts with N hostile packets (default 1,000,000; CI runs 40,000)\n" +
      "  --time-limit: seconds of sending at most (default: N / 1000, at least 40)\n",
  );
  process.exit(0);
}
const count = Number(opt.count);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write(`fuzz: --count must be a positive integer (got ${opt.count})\n`);
  process.exit(2);
}
const limitS = opt["time-limit"] ? Number(opt["time-limit"]) : Math.max(40, Math.ceil(count / 1000));

const repo = fileURLToPath(new URL("..", import.meta.url));
const resultsDir = join(repo, "bench-results");
mkdirSync(resultsDir, { recursive: true });
const report = join(resultsDir, `fuzz-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
const build = spawnSync(join(repo, "node_modules/.bin/turbo"), ["run", "build", "--filter=@tftpkit/server...", "--output-logs=errors-only"], { cwd: repo, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 2);

process.stderr.write(`fuzz: ${count} packets (at most ${limitS} s of sending)${opt.seed ? `, seed ${opt.seed}` : ""}\n`);
const env = { ...process.env, TFTPKIT_FUZZ_COUNT: String(count), TFTPKIT_FUZZ_TIME_LIMIT_S: String(limitS), TFTPKIT_FUZZ_REPORT: report };
if (opt.seed) env.TFTPKIT_FUZZ_SEED = opt.seed;
const r = spawnSync(join(repo, "node_modules/.bin/vitest"), ["run", "test/fuzz.test.ts"], { cwd: join(repo, "packages/server"), env, stdio: "inherit" });

if (existsSync(report)) {
  const f = JSON.parse(readFileSync(report, "utf8"));
  const mib = (v) => `${v.toFixed(1)} MiB`;
  process.stdout.write(
    [
      "",
      `fuzz figures (seed ${f.seed}; server and fuzzer share one process: RSS/heap are the process's, after GC)`,
      `  packets sent            ${f.packets} (+${f.stranger_packets} from strangers to session ports), ${(f.bytes / 1e6).toFixed(1)} MB`,
      `  packets/s               ${Math.round(f.packets_per_s)} over ${f.fuzz_seconds.toFixed(1)} s`,
      `  RSS before / after      ${mib(f.rss_before_mib)} / ${mib(f.rss_after_mib)}`,
      `  heap before / after     ${mib(f.heap_before_mib)} / ${mib(f.heap_after_mib)} (V8 heap + external + array buffers)`,
      `  counted                 ${f.malformed} malformed, ${f.unknown_tid} unknown TID, ${f.sessions_started} sessions started`,
      `  sessions pinned         ${f.sessions_pinned} still waiting 25 s after the fuzz (must be 0: a client-chosen timeout above 10 s is declined)`,
      `  verified transfers      ${f.verified_transfers}, all byte for byte` + (r.status === 0 ? "" : " (unless the test failed above)"),
      `  kernel drops            ${f.kernel_rcvbuf_drops} (UDP RcvbufErrors, machine-wide)`,
      `  outcomes                ${Object.entries(f.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}`,
      `  report                  ${report}`,
      "",
    ].join("\n"),
  );
}
process.exit(r.status ?? 2);
