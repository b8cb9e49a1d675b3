#!/usr/bin/env node
// Regenerates the generated pages of docs/ (run through `npm run docs`, which
// builds first). `--check` writes nothing and exits 1 when a page is stale.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, generatedPages } from "./pages.mjs";

const check = process.argv.includes("--check");
let stale = 0;
for (const [path, content] of await generatedPages(REPO)) {
  let before = "";
  try {
    before = readFileSync(join(REPO, path), "utf8");
  } catch {
    /* a new page */
  }
  if (before === content) {
    console.log(`${path}: up to date`);
    continue;
  }
  stale++;
  if (check) console.log(`${path}: stale (run npm run docs)`);
  else {
    writeFileSync(join(REPO, path), content);
    console.log(`${path}: regenerated`);
  }
}
if (check && stale) process.exit(1);
