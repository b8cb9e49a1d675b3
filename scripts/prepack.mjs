// `npm pack` / `npm publish` of a workspace package: puts the repository's
// LICENSE into the package folder (it is listed in each package's "files"),
// and refuses to pack a package whose build output is missing.
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const pkgDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

copyFileSync(join(repo, "LICENSE"), join(pkgDir, "LICENSE"));
for (const f of pkg.files ?? []) {
  if ((f === "dist" || f.startsWith("build/")) && !existsSync(join(pkgDir, f))) {
    console.error(`${pkg.name}: ${f} is missing: run \`npm run build\` before packing`);
    process.exit(1);
  }
}
