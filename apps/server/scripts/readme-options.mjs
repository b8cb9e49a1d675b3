#!/usr/bin/env node
// Regenerates the flag table of the README from the option schema
// (run through `npm run readme:options`, which builds first).
import { readFileSync, writeFileSync } from "node:fs";
import { withOptionsTable } from "../dist/config/options-doc.js";

const path = new URL("../../../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = withOptionsTable(before);
if (after === before) console.log("README.md: the options table is up to date");
else {
  writeFileSync(path, after);
  console.log("README.md: options table regenerated");
}
