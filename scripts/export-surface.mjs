// The public surface of a package entry point, for the export snapshot tests
// and the export counts: the names its JavaScript module exports at run time
// and the type-only names its declaration file adds.
//
//   node scripts/export-surface.mjs packages/server apps/loadgen ...

import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";

/**
 * @param {string} dts  the entry's declaration file (dist/x.d.ts)
 * @returns {string[]}  its exported names that are types only, sorted
 */
export function typeOnlyExports(dts) {
  const program = ts.createProgram([dts], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(dts);
  if (!source) throw new Error(`${dts}: not found`);
  const module = checker.getSymbolAtLocation(source);
  if (!module) return [];
  return checker
    .getExportsOfModule(module)
    .filter((s) => !((s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s).flags & ts.SymbolFlags.Value))
    .map((s) => s.name)
    .sort();
}

/**
 * @param {string} pkgDir  the package folder
 * @returns {string[]}  its "exports" keys (".", "./internal", ...)
 */
export function entryPoints(pkgDir) {
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  return Object.keys(pkg.exports);
}

/**
 * @param {string} pkgDir  the package folder
 * @param {string} [subpath]  "." or an "exports" key such as "./internal"
 * @returns {Promise<{ values: string[]; types: string[] }>}
 */
export async function exportSurface(pkgDir, subpath = ".") {
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
  const entry = pkg.exports[subpath];
  const js = path.resolve(pkgDir, entry.default);
  const values = Object.keys(await import(pathToFileURL(js).href)).sort();
  const types = entry.types ? typeOnlyExports(path.resolve(pkgDir, entry.types)) : [];
  return { values, types };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const dir of process.argv.slice(2)) {
    for (const subpath of entryPoints(path.resolve(dir))) {
      const s = await exportSurface(path.resolve(dir), subpath);
      console.log(`${dir} ${subpath}: ${s.values.length + s.types.length} exports (${s.values.length} values, ${s.types.length} types)`);
    }
  }
}
