#!/usr/bin/env -S node --no-memory-reducer --no-flush-bytecode
// Thin launcher: the compiled CLI lives in dist/ (npm run build).
import { setFlagsFromString } from "node:v8";

// The V8 flags of tftpkit (V8_FLAGS in src/cluster/flags.ts; the first line
// names the same, a test checks it; workers are started with them). Run as
// `tftpkit` (the npm bin, the systemd unit, the container) node gets them on
// its command line. Run as `node bin/tftpkit.js` they are set here, before
// the CLI's code loads; that does not stop this process's memory reducer,
// which V8 sets up with the heap, so pass them to node (as `npm start` and
// the benchmarks do).
const { V8_FLAGS } = await import("../dist/cluster/flags.js");
for (const flag of V8_FLAGS) if (!process.execArgv.includes(flag)) setFlagsFromString(flag);
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
