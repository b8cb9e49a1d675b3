// Fails when docs/api/ is not what `npm run docs:api` writes from the
// current TSDoc comments: generates the reference into a temporary folder
// and compares it file by file. Run after a build (TypeDoc reads the other
// packages' declarations from their dist/).
//
//   npm run docs:api:check

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const committed = join(repo, "docs", "api");
const fresh = mkdtempSync(join(tmpdir(), "tftpkit-api-"));

function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

try {
  execFileSync(process.execPath, [join(repo, "node_modules", "typedoc", "bin", "typedoc"), "--out", fresh, "--logLevel", "Error"], {
    cwd: repo,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const want = files(fresh);
  const have = files(committed);
  const stale = [
    ...want.filter((f) => !have.includes(f)).map((f) => `missing: docs/api/${f}`),
    ...have.filter((f) => !want.includes(f)).map((f) => `not generated: docs/api/${f}`),
    ...want.filter((f) => have.includes(f) && !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f)))).map((f) => `differs: docs/api/${f}`),
  ];
  if (stale.length > 0) {
    console.error(`docs/api is stale (run \`npm run docs:api\` and commit the result):\n  ${stale.join("\n  ")}`);
    process.exitCode = 1;
  } else {
    console.log(`docs/api is up to date (${want.length} files)`);
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
