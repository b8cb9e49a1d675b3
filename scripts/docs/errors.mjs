// docs/errors.md from the error catalogs in the sources.
//
// Every string literal `TFTP_ERR_*` in packages/*/src and apps/*/src is read
// with the TypeScript parser and placed by what declares it:
// - a member of a type union (`type TftpErrorCode = | "TFTP_ERR_..."`),
// - a property of an object (`ConfigErrorCode = { VALUE: "TFTP_ERR_..." }`),
//   where numeric keys (`{ 1: "TFTP_ERR_NOT_FOUND" }`) map wire codes,
// - a class's `code` property (`readonly code = "TFTP_ERR_TEMPLATE"`),
// each with the doc comment above it. A code only used somewhere is listed
// with the file that uses it, so no code can be left out of the page.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { cell } from "./md.mjs";

const CODE = /^TFTP_ERR_[A-Z0-9_]+$/;

function sourceFiles(repo) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (name === "node_modules" || name === "dist" || name === "build") continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
    }
  };
  for (const top of ["packages", "apps"]) {
    for (const pkg of readdirSync(join(repo, top))) {
      const src = join(repo, top, pkg, "src");
      try {
        if (statSync(src).isDirectory()) walk(src);
      } catch {
        /* a package without src/ */
      }
    }
  }
  return out.sort();
}

/** The doc comment (`/** ... *\/` or `// ...`) right above a node, as one line. */
function docOf(node, text) {
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const last = ranges.at(-1);
  if (!last) return "";
  const raw = text.slice(last.pos, last.end);
  return raw
    .replace(/^\/\*\*?/, "")
    .replace(/\*\/$/, "")
    .split("\n")
    .map((l) => l.replace(/^\s*(\*|\/\/)\s?/, "").trim())
    .filter(Boolean)
    .join(" ");
}

/**
 * Every code, where it is declared, and the wire code it maps to.
 * @returns {{ codes: Map<string, { catalog: string, kind: "union" | "object" | "class" | "used", doc: string, file: string }>, wire: Map<string, number> }}
 */
export function readErrorCatalogs(repo) {
  const codes = new Map();
  const wire = new Map();
  const used = new Map();
  for (const file of sourceFiles(repo)) {
    const text = readFileSync(file, "utf8");
    if (!text.includes("TFTP_ERR_")) continue;
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith("x") ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
    const rel = relative(repo, file);
    const put = (code, entry) => {
      const had = codes.get(code);
      if (!had || (had.kind === "class" && entry.kind !== "class")) codes.set(code, { ...entry, file: rel });
    };
    const visit = (node) => {
      if (ts.isStringLiteral(node) && CODE.test(node.text)) {
        const code = node.text;
                const p = node.parent;
        if (ts.isLiteralTypeNode(p) && ts.isUnionTypeNode(p.parent) && ts.isTypeAliasDeclaration(p.parent.parent)) {
          // The comment of a member stands before its `|`: look between the member before and this one.
          const types = p.parent.types;
          const i = types.indexOf(p);
          const gap = text.slice(i === 0 ? p.parent.pos : types[i - 1].end, p.getStart(sf));
          const comment = [...gap.matchAll(/\/\*\*([\s\S]*?)\*\//g)].at(-1);
          const doc = comment ? comment[1].split("\n").map((l) => l.replace(/^\s*\*?\s?/, "").trim()).filter(Boolean).join(" ") : "";
          put(code, { catalog: p.parent.parent.name.text, kind: "union", doc });
        } else if (ts.isPropertyAssignment(p) && p.initializer === node) {
          if (ts.isNumericLiteral(p.name)) wire.set(code, Number(p.name.text));
          else {
            let decl = p.parent.parent;
            while (decl && (ts.isAsExpression(decl) || ts.isSatisfiesExpression?.(decl) || ts.isParenthesizedExpression(decl))) decl = decl.parent;
            const catalog = decl && ts.isVariableDeclaration(decl) && ts.isIdentifier(decl.name) ? decl.name.text : "";
            if (catalog) put(code, { catalog, kind: "object", doc: docOf(p, text) });
            else used.set(code, used.get(code) ?? rel);
          }
        } else if (
          (ts.isPropertyDeclaration(p) || (ts.isAsExpression(p) && ts.isPropertyDeclaration(p.parent))) &&
          (ts.isPropertyDeclaration(p) ? p : p.parent).name.getText(sf) === "code"
        ) {
          const cls = (ts.isPropertyDeclaration(p) ? p : p.parent).parent;
          const name = ts.isClassDeclaration(cls) && cls.name ? cls.name.text : "";
          put(code, { catalog: name, kind: "class", doc: ts.isClassDeclaration(cls) ? docOf(cls, text) : "" });
        } else used.set(code, used.get(code) ?? rel);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  for (const [code, file] of used) if (!codes.has(code)) codes.set(code, { catalog: "", kind: "used", doc: "", file });
  return { codes, wire };
}

/**
 * System errors by the wire code they become: the `case "E...":` labels before each
 * `return new TftpError(WireError.NAME` of the errno mapping, with WireError's numbers.
 * @returns {Map<number, string[]>}
 */
export function readErrnoMapping(repo) {
  const errors = readFileSync(join(repo, "packages/wasm-core/src/errors.ts"), "utf8");
  const block = /export const WireError = \{([\s\S]*?)\}/.exec(errors)?.[1] ?? "";
  const numbers = new Map([...block.matchAll(/(\w+):\s*(\d+)/g)].map((m) => [m[1], Number(m[2])]));
  const out = new Map();
  let cases = [];
  for (const line of readFileSync(join(repo, "packages/wasm-core/src/errno.ts"), "utf8").split("\n")) {
    const c = /case "(E[A-Z]+)":/.exec(line);
    if (c) cases.push(c[1]);
    const r = /return new TftpError\(WireError\.(\w+)/.exec(line);
    if (r && cases.length) {
      const n = numbers.get(r[1]);
      if (n !== undefined) out.set(n, [...(out.get(n) ?? []), ...cases]);
      cases = [];
    }
  }
  return out;
}

const WIRE_NAMES = ["Not defined", "File not found", "Access violation", "Disk full or allocation exceeded", "Illegal TFTP operation", "Unknown transfer ID", "File already exists", "No such user", "Option negotiation refused"];

/** The page. */
export function errorsPage(repo) {
  const { codes, wire } = readErrorCatalogs(repo);
  const errno = readErrnoMapping(repo);
  const byCatalog = new Map();
  for (const [code, e] of codes) {
    const key = e.kind === "union" || e.kind === "object" ? e.catalog : "";
    byCatalog.set(key, [...(byCatalog.get(key) ?? []), [code, e]]);
  }
  const configClass = [...codes].find(([, e]) => e.kind === "class" && e.catalog === "TftpConfigError");
  const out = [
    "<!-- generated by `npm run docs` from the error catalogs in the sources; do not edit -->",
    "",
    "# Errors",
    "",
    "Every stable error code of tftpkit. Errors of the libraries carry a `code` that never changes",
    "between releases (`TFTP_ERR_*`, in the manner of Node's `ERR_*` and undici's `UND_ERR_*`): test",
    "`err.code`, not the message. This page is generated from the catalogs in the sources",
    "(`npm run docs`; a test fails when it is stale or misses a code).",
    "",
    "## On the wire",
    "",
    "A TFTP ERROR packet carries a number from 0 to 8 (RFC 1350; 8 from RFC 2347). A handler answers",
    "with one by throwing a `TftpError` (`TftpError.notFound()`, `TftpError.accessViolation()`,",
    "`new TftpError(3, \"Disk full\")`); a system error becomes the wire code of its errno (below);",
    "any other exception is ERROR 0 \"Internal server error\", and its text never leaves the server",
    "(it goes to the session's log line as `handlerError`).",
    "",
    "| wire code | meaning (RFC 1350) | `code` | system errors answered with it |",
    "|---|---|---|---|",
    ...WIRE_NAMES.map((name, n) => {
      const c = [...wire].filter(([, w]) => w === n).map(([c]) => `\`${c}\``);
      const errnos = (errno.get(n) ?? []).map((e) => `\`${e}\``).join(" ");
      return `| ${n} | ${name} | ${c.join(" ")} | ${n === 0 ? "any other (message \"Internal server error\")" : errnos} |`;
    }),
    "",
  ];
  for (const [catalog, list] of [...byCatalog].filter(([k]) => k !== "").sort()) {
    const config = list.every(([c]) => c.startsWith("TFTP_ERR_CONFIG_"));
    out.push(`## \`${catalog}\``, "");
    if (config && configClass) {
      out.push(
        `Every configuration problem (options given to \`createServer()\` or \`createClient()\`, config files,`,
        `flags, the environment, start-up checks) is one class, \`TftpConfigError\`: its \`code\` is always`,
        `\`${configClass[0]}\`, its \`reason\` the code of the first problem, \`problems\` every problem as one`,
        "line naming the key or flag, and `issues` every problem as `{ code, key, message }`. The reasons:",
        "",
      );
    } else if (list.some(([c]) => wire.has(c))) {
      out.push("`TftpError.code` (and its subclasses'): a wire code's own code, or one of the codes below for what never reaches the wire as such.", "");
    }
    if (list.some(([c]) => wire.has(c))) {
      out.push("| code | wire code | meaning |", "|---|---|---|");
      for (const [code, e] of list) out.push(`| \`${code}\` | ${wire.has(code) ? wire.get(code) : ""} | ${cell(e.doc)} |`);
    } else {
      out.push("| code | meaning |", "|---|---|");
      for (const [code, e] of list) out.push(`| \`${code}\` | ${cell(e.doc)} |`);
    }
    out.push("");
  }
  const others = [...codes].filter(([c, e]) => (e.kind === "class" && !(configClass && c === configClass[0])) || e.kind === "used");
  if (others.length) {
    out.push("## Other error classes", "", "| code | class | meaning |", "|---|---|---|");
    for (const [code, e] of others) out.push(`| \`${code}\` | ${e.catalog ? `\`${e.catalog}\`` : `used in \`${e.file}\``} | ${cell(e.doc)} |`);
    out.push("");
  }
  return out.join("\n");
}
