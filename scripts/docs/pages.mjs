// The generated pages of docs/ and what each should hold now.
// `npm run docs` writes them (scripts/docs/generate.mjs); test/docs/docs.test.ts
// fails when one is stale.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { adminApiPage } from "./admin-api.mjs";
import { errorsPage } from "./errors.mjs";
import { metricsPage } from "./metrics.mjs";

/** The repository's root folder. */
export const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** Pages written whole by a generator. */
export const GENERATED_PAGES = ["docs/admin-api.md", "docs/metrics.md", "docs/errors.md"];
/** Pages written by hand with a generated part between markers. */
export const PAGES_WITH_GENERATED_PARTS = ["docs/cli.md"];

/** Each generated page (path relative to the repository) with the content it should have. */
export async function generatedPages(repo = REPO) {
  const optionsDoc = await import(pathToFileURL(join(repo, "apps/server/dist/config/options-doc.js")).href);
  return new Map([
    ["docs/cli.md", optionsDoc.withOptionsTable(readFileSync(join(repo, "docs/cli.md"), "utf8"))],
    ["docs/admin-api.md", await adminApiPage(repo)],
    ["docs/metrics.md", metricsPage(repo)],
    ["docs/errors.md", errorsPage(repo)],
  ]);
}
