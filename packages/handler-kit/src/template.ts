// A small template language for boot configs (iPXE scripts, grub.cfg,
// pxelinux.cfg). No code runs: a template only reads the variables it is given.
//
//   {{name}}  {{host.name}}            a value (string, number, boolean); missing -> TemplateError;
//                                      a value with a control character (newline...) -> TemplateError,
//                                      so that looked-up data cannot add lines to a boot script
//   {{{name}}}                         the same, inserted as it is (newlines allowed)
//   {{#if name}} ... {{else}} ... {{/if}}
//                                      truthy: not missing, false, 0, "", null or an empty list
//   {{#unless name}} ... {{/unless}}
//   {{#each list}} {{this}} {{this.x}} {{@index}} {{/each}}
//                                      inside, plain names look in the item first, then outside
//   {{! a comment }}
//
// A block tag alone on its line takes the line with it, so that templates can
// be laid out one tag per line without leaving blank lines behind.

import { TemplateError } from "./errors.js";

export type TemplateVars = Readonly<Record<string, unknown>>;

type Node =
  | { t: "text"; s: string }
  | { t: "var"; path: string[]; raw: boolean; name: string; line: number }
  | { t: "if"; path: string[]; negate: boolean; then: Node[]; else: Node[] }
  | { t: "each"; path: string[]; name: string; body: Node[]; line: number };

interface Tag {
  kind: "var" | "raw" | "open" | "else" | "close" | "comment";
  word: string; // "if" | "unless" | "each" for open/close
  arg: string;
  start: number;
  end: number;
  line: number;
}

const TAG = /\{\{\{\s*([^{}]*?)\s*\}\}\}|\{\{(!)[\s\S]*?\}\}|\{\{\s*([#/]?)\s*([^{}]*?)\s*\}\}/g;
const PATH = /^(?:@index|this|[A-Za-z_$][\w$-]*)(?:\.[A-Za-z_$][\w$-]*)*$/;

function lineAt(text: string, index: number): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

function scan(text: string): Tag[] {
  const tags: Tag[] = [];
  for (const m of text.matchAll(TAG)) {
    const start = m.index!;
    const end = start + m[0].length;
    const line = lineAt(text, start);
    if (m[1] !== undefined) tags.push({ kind: "raw", word: "", arg: m[1], start, end, line });
    else if (m[2]) tags.push({ kind: "comment", word: "", arg: "", start, end, line });
    else {
      const sigil = m[3];
      const body = m[4];
      if (sigil === "#" || sigil === "/") {
        const [word, ...rest] = body.split(/\s+/);
        tags.push({ kind: sigil === "#" ? "open" : "close", word, arg: rest.join(" "), start, end, line });
      } else if (body === "else") tags.push({ kind: "else", word: "", arg: "", start, end, line });
      else tags.push({ kind: "var", word: "", arg: body, start, end, line });
    }
  }
  return tags;
}

function parsePath(arg: string, line: number): string[] {
  if (!PATH.test(arg)) throw new TemplateError(`line ${line}: "${arg}" is not a variable name`);
  return arg.split(".");
}

/** A parsed template; render() can be called any number of times. */
export class Template {
  private constructor(private readonly nodes: Node[]) {}

  static compile(text: string): Template {
    const tags = scan(text);
    // Standalone block tags take their line (indentation and newline) with them.
    const cut: Array<[number, number]> = tags.map((t) => [t.start, t.end]);
    tags.forEach((t, i) => {
      if (t.kind === "var" || t.kind === "raw") return;
      const lineStart = text.lastIndexOf("\n", t.start - 1) + 1;
      const nl = text.indexOf("\n", t.end);
      const lineEnd = nl < 0 ? text.length : nl;
      const before = text.slice(lineStart, t.start);
      const after = text.slice(t.end, lineEnd);
      const alone = /^[ \t]*$/.test(before) && /^[ \t\r]*$/.test(after);
      if (alone) cut[i] = [lineStart, nl < 0 ? lineEnd : nl + 1];
    });

    const root: Node[] = [];
    const stack: Array<{ node: Node & { t: "if" | "each" }; word: string; line: number; inElse: boolean }> = [];
    const target = (): Node[] => {
      const top = stack[stack.length - 1];
      if (!top) return root;
      if (top.node.t === "each") return top.node.body;
      return top.inElse ? top.node.else : top.node.then;
    };
    let pos = 0;
    tags.forEach((t, i) => {
      const [from, to] = cut[i];
      if (from > pos) target().push({ t: "text", s: text.slice(pos, from) });
      pos = Math.max(pos, to);
      switch (t.kind) {
        case "comment":
          return;
        case "var":
        case "raw":
          target().push({ t: "var", path: parsePath(t.arg, t.line), raw: t.kind === "raw", name: t.arg, line: t.line });
          return;
        case "open": {
          if (t.word !== "if" && t.word !== "unless" && t.word !== "each") {
            throw new TemplateError(`line ${t.line}: unknown block {{#${t.word}}} (if, unless, each)`);
          }
          const path = parsePath(t.arg, t.line);
          const node: Node & { t: "if" | "each" } = t.word === "each"
            ? { t: "each", path, name: t.arg, body: [], line: t.line }
            : { t: "if", path, negate: t.word === "unless", then: [], else: [] };
          target().push(node);
          stack.push({ node, word: t.word, line: t.line, inElse: false });
          return;
        }
        case "else": {
          const top = stack[stack.length - 1];
          if (!top || top.node.t !== "if" || top.inElse) throw new TemplateError(`line ${t.line}: {{else}} outside {{#if}}/{{#unless}}`);
          top.inElse = true;
          return;
        }
        case "close": {
          const top = stack.pop();
          if (!top || top.word !== t.word) {
            throw new TemplateError(`line ${t.line}: {{/${t.word}}} does not close ${top ? `{{#${top.word}}} of line ${top.line}` : "any block"}`);
          }
          return;
        }
      }
    });
    if (pos < text.length) target().push({ t: "text", s: text.slice(pos) });
    const open = stack.pop();
    if (open) throw new TemplateError(`line ${open.line}: {{#${open.word}}} is never closed`);
    return new Template(root);
  }

  render(vars: TemplateVars): string {
    const out: string[] = [];
    emit(this.nodes, [{ data: vars }], out);
    return out.join("");
  }
}

/** What names are looked up in: the variables, then each {{#each}} item inside. */
interface Scope {
  data: unknown;
  index?: number;
}

const MISSING = Symbol("missing");

function lookup(path: string[], scopes: Scope[]): unknown {
  const [head, ...rest] = path;
  const inner = scopes[scopes.length - 1];
  let v: unknown = MISSING;
  if (head === "this") v = inner.data;
  else if (head === "@index") v = inner.index ?? MISSING;
  else {
    for (let i = scopes.length - 1; i >= 0; i--) {
      const d = scopes[i].data;
      if (d !== null && typeof d === "object" && Object.hasOwn(d, head)) {
        v = (d as Record<string, unknown>)[head];
        break;
      }
    }
  }
  for (const k of rest) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, k)) return MISSING;
    v = (v as Record<string, unknown>)[k];
  }
  return v === undefined ? MISSING : v;
}

function truthy(v: unknown): boolean {
  if (v === MISSING || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function emit(nodes: Node[], scopes: Scope[], out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case "text":
        out.push(n.s);
        break;
      case "var": {
        const v = lookup(n.path, scopes);
        if (v === MISSING || v === null) throw new TemplateError(`line ${n.line}: {{${n.name}}} is not set`);
        if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean" && typeof v !== "bigint") {
          throw new TemplateError(`line ${n.line}: {{${n.name}}} is not a plain value`);
        }
        const s = String(v);
        if (!n.raw && CONTROL.test(s)) {
          throw new TemplateError(`line ${n.line}: {{${n.name}}} contains a control character (use {{{${n.name}}}} to insert it as it is)`);
        }
        out.push(s);
        break;
      }
      case "if":
        emit(truthy(lookup(n.path, scopes)) !== n.negate ? n.then : n.else, scopes, out);
        break;
      case "each": {
        const list = lookup(n.path, scopes);
        if (list === MISSING || list === null) break;
        if (!Array.isArray(list)) throw new TemplateError(`line ${n.line}: {{#each ${n.name}}} is not a list`);
        list.forEach((item: unknown, index) => emit(n.body, [...scopes, { data: item, index }], out));
        break;
      }
    }
  }
}

/** Parses a template once, for many renders. Throws TemplateError on a syntax error. */
export function compileTemplate(text: string): Template {
  return Template.compile(text);
}

/** Renders `text` with `vars`. Throws TemplateError (syntax, missing variable, unsafe value). */
export function renderTemplate(text: string, vars: TemplateVars): string {
  return Template.compile(text).render(vars);
}
