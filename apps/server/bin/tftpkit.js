#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (npm run build).
import { setFlagsFromString } from "node:v8";

// The V8 flags of tftpkit (see V8_FLAGS in src/cluster/cluster.ts; workers
// are started with them), set before the CLI's code loads.
const { V8_FLAGS } = await import("../dist/cluster/flags.js");
for (const flag of V8_FLAGS) setFlagsFromString(flag);
const { main } = await import("../dist/cli.js");

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (err) => {
    console.error(`tftpkit: ${err?.message ?? err}`);
    process.exitCode = 1;
  },
);
