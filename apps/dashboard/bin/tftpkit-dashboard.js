#!/usr/bin/env node
// The tftpkit-dashboard command (built into dist/ by `npm run build`).
import { main } from "../dist/cli.js";

process.exitCode = await main(process.argv.slice(2));
