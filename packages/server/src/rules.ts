// Request rules: tftp-hpa style file name remapping (`compileRemapRules`),
// and client address matching (`compileAddressMatch`, used for per-client
// roots).
//
// A remap file holds one rule per line (man in.tftpd, FILENAME REMAPPING):
//
//   # comment
//   rg   \\              /          # every backslash becomes a slash
//   ri   ^pxelinux\.0$   boot/\x/pxelinux.0
//   a    \.\.            # refuse (ERROR 2)
//
//   op       letters: r replace, g repeat while it matches (gg: sed-style, every
//            occurrence once), i case-insensitive, e end if matched, s start
//            over from the first rule if matched, a abort (refuse) if matched,
//            G reads only, P writes only, 4 IPv4 only, 6 IPv6 only, ~ inverse
//            (act when the regex does NOT match; not with r)
//   regex    POSIX ERE, translated to a JS RegExp once (see translateEre)
//   replace  \0..\9 groups, \i client address, \x client address in hex,
//            \U \L \E upper/lower/no case change, \\ backslash, \<space>,
//            \# and any other \c: the character c
//
// Tokens end at unescaped whitespace; an unescaped # starts a comment. Rule
// processing is bounded (maxSteps rule evaluations, including each repeat of
// a g rule and each restart) and so is the length of the name it produces.
//
// Checked against in.tftpd 5.2+20150808 (a final `a ^.*$ <\0>` rule makes it
// answer the rewritten name). Same results except, on purpose:
// - s restarts at the first rule, as documented (5.2 skips the first rule
//   after a restart; later tftp-hpa fixed it);
// - a g rule that keeps matching (rg a a, rg x* -) is refused here; 5.2 spins
//   forever in that request's process;
// - gg is sed-style global (later tftp-hpa); 5.2 reads it as g;
// - \d, \n and other escaped letters are refused at compile time (glibc reads
//   them as the plain letter, which is never what was meant);
// - POSIX leftmost-longest alternation is not reproduced: ^(a|ab) on "abc"
//   matches "ab" in 5.2 and "a" here (see translateEre).

import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { TftpConfigError } from "./options.js";

// ----------------------------------------------------------------- types

export interface RewriteContext {
  /** The client's address as the socket reports it (IPv4-mapped IPv6 is read as IPv4). */
  address: string;
  op: "read" | "write";
}

export type RewriteResult =
  | { path: string }
  | {
      refused: true;
      /** Line (1-based) of the rule that refused, or that was running when a bound was hit. */
      rule: number;
      /** "abort": an `a` rule matched; "loop": maxSteps ran out; "length": the name grew past maxLength (or arrived longer). */
      reason: "abort" | "loop" | "length";
      /** The expanded replacement of an `a` rule, when it has one (tftp-hpa sends it as the ERROR message). */
      message?: string;
    };

/**
 * Rewrites a requested file name before the handler sees it. A refusal should
 * be answered with ERROR 2 (access violation), like tftp-hpa does.
 */
export type RewriteFn = (path: string, ctx: RewriteContext) => RewriteResult;

export interface RemapOptions {
  /** Rule evaluations allowed per request (each g repeat and each restart counts); tftp-hpa's deadman. */
  maxSteps?: number;
  /** Longest name (UTF-16 code units) accepted as input or produced by a rewrite. */
  maxLength?: number;
  /** Named in error messages (e.g. the remap file's path). */
  source?: string;
}

export const REMAP_DEFAULTS = Object.freeze({
  maxSteps: 4096, // rule evaluations per request (tftp-hpa 5.2: 1024, later versions: configurable)
  maxLength: 4096, // UTF-16 code units (PATH_MAX on Linux)
});

/** A remap file that cannot be compiled; `line` is 1-based. */
export class RemapSyntaxError extends TftpConfigError {
  constructor(readonly line: number, readonly detail: string, source = "remap") {
    super(`${source}: line ${line}: ${detail}`);
    this.name = "RemapSyntaxError";
  }
}

// ------------------------------------------------------------- parsing

type Part =
  | { t: "lit"; s: string }
  | { t: "group"; n: number }
  | { t: "ip" }
  | { t: "hex" }
  | { t: "case"; to: "upper" | "lower" | "none" };

interface Rule {
  line: number;
  rewrite: boolean;
  repeat: boolean; // g: rewrite again from the start while it matches
  sed: boolean; // gg: every occurrence once, left to right
  exit: boolean;
  restart: boolean;
  abort: boolean;
  inverse: boolean;
  readOnly: boolean;
  writeOnly: boolean;
  v4Only: boolean;
  v6Only: boolean;
  re: RegExp;
  reAll: RegExp | undefined; // with the g flag, for sed-style rules
  replacement: Part[];
  needsAddress: boolean;
}

/**
 * Splits a line into tokens the way tftp-hpa's readescstring does: leading
 * whitespace skipped, a token ends at unescaped whitespace or #, backslashes
 * are kept (a pair of them is one escaped backslash), # starts a comment.
 */
function tokens(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length || line[i] === "#") return out;
    let tok = "";
    let escaped = false;
    while (i < line.length) {
      const c = line[i];
      if (!escaped && (/\s/.test(c) || c === "#")) break;
      escaped = !escaped && c === "\\";
      tok += c;
      i++;
    }
    out.push(tok);
  }
}

const FLAG_LETTERS = "rgiesaGP46~";

function parseReplacement(s: string, groups: number, fail: (msg: string) => Error): Part[] {
  const parts: Part[] = [];
  let lit = "";
  const flush = (): void => {
    if (lit) parts.push({ t: "lit", s: lit });
    lit = "";
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== "\\") {
      lit += c;
      continue;
    }
    if (i + 1 >= s.length) {
      lit += "\\"; // a trailing backslash stands for itself (tftp-hpa)
      continue;
    }
    const m = s[++i];
    if (m >= "0" && m <= "9") {
      const n = m.charCodeAt(0) - 48;
      if (n > groups) throw fail(`replacement uses \\${n} but the regex has ${groups} group${groups === 1 ? "" : "s"}`);
      flush();
      parts.push({ t: "group", n });
    } else if (m === "i" || m === "x") {
      flush();
      parts.push({ t: m === "i" ? "ip" : "hex" });
    } else if (m === "U" || m === "L" || m === "E") {
      flush();
      parts.push({ t: "case", to: m === "U" ? "upper" : m === "L" ? "lower" : "none" });
    } else {
      lit += m; // \\ \# \<space> and any other \c: the character itself
    }
  }
  flush();
  return parts;
}

function parseLine(text: string, line: number, source: string): Rule | undefined {
  const fail = (msg: string): Error => new RemapSyntaxError(line, msg, source);
  const tok = tokens(text);
  if (tok.length === 0) return undefined;
  const [op, regex, replacement = "", ...extra] = tok;
  if (op.startsWith(":")) throw fail(`labels (${op}) are not supported`);
  const count = (ch: string): number => op.split(ch).length - 1;
  for (const ch of op) {
    if (!FLAG_LETTERS.includes(ch)) {
      if (ch === "E" || ch === "j") throw fail(`operation flag "${ch}" (a later tftp-hpa extension) is not supported`);
      throw fail(`invalid operation flag "${ch}" in "${op}" (valid: ${FLAG_LETTERS})`);
    }
  }
  const has = (ch: string): boolean => count(ch) > 0;
  if (count("g") > 2) throw fail(`"g" given more than twice in "${op}"`);
  for (const [a, b, why] of [
    ["r", "~", "an inverse rule has no match to replace"],
    ["r", "a", "an abort rule does not rewrite"],
    ["a", "s", "an abort rule ends processing"],
    ["a", "e", "an abort rule ends processing"],
    ["e", "s", "e ends processing, s restarts it"],
    ["G", "P", "the rule would never apply"],
    ["4", "6", "the rule would never apply"],
  ] as const) {
    if (has(a) && has(b)) throw fail(`flags ${a} and ${b} cannot be combined: ${why}`);
  }
  if (regex === undefined) throw fail("regex missing");
  if (extra.length > 0) throw fail(`unexpected "${extra[0]}" after the replacement (escape spaces in it with \\)`);
  let translated: { source: string; groups: number };
  try {
    translated = translateEre(regex);
  } catch (err) {
    if (err instanceof EreError) throw fail(`bad regex ${JSON.stringify(regex)}: ${err.message}`);
    throw err;
  }
  const jsFlags = "s" + (has("i") ? "i" : "");
  let re: RegExp;
  try {
    re = new RegExp(translated.source, jsFlags);
  } catch (err) {
    // The translation should only produce valid JS; keep the engine's words if not.
    throw fail(`bad regex ${JSON.stringify(regex)}: ${(err as Error).message}`);
  }
  const rewrite = has("r");
  const repeat = rewrite && count("g") === 1;
  const sed = rewrite && count("g") === 2;
  const parts = rewrite || has("a") ? parseReplacement(replacement, translated.groups, fail) : [];
  return {
    line,
    rewrite,
    repeat,
    sed,
    exit: has("e"),
    restart: has("s"),
    abort: has("a"),
    inverse: has("~"),
    readOnly: has("G"),
    writeOnly: has("P"),
    v4Only: has("4"),
    v6Only: has("6"),
    re,
    reAll: sed ? new RegExp(translated.source, jsFlags + "g") : undefined,
    replacement: parts,
    needsAddress: has("4") || has("6") || parts.some((p) => p.t === "ip" || p.t === "hex"),
  };
}

// ------------------------------------------------------------ applying

interface Client {
  ip: string; // \i
  hex: string; // \x
  v4: boolean;
  v6: boolean;
}

function clientOf(address: string): Client {
  const bytes = parseAddress(address);
  if (!bytes) return { ip: address, hex: "", v4: false, v6: false };
  const v4 = isMapped(bytes);
  const shown = v4 ? bytes.subarray(12) : bytes;
  let hex = "";
  for (const b of shown) hex += (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
  const ip = v4 ? Array.from(bytes.subarray(12)).join(".") : address.replace(/%.*$/, "").toLowerCase();
  return { ip, hex, v4, v6: !v4 };
}

function expand(parts: Part[], m: RegExpExecArray | null, client: () => Client): string {
  let out = "";
  let xf: (s: string) => string = (s) => s;
  for (const p of parts) {
    switch (p.t) {
      case "lit":
        out += xf(p.s);
        break;
      case "group":
        out += xf(m?.[p.n] ?? "");
        break;
      case "ip":
        out += xf(client().ip);
        break;
      case "hex":
        out += xf(client().hex);
        break;
      case "case":
        xf = p.to === "upper" ? (s) => s.toUpperCase() : p.to === "lower" ? (s) => s.toLowerCase() : (s) => s;
        break;
    }
  }
  return out;
}

/**
 * Compiles a remap file (tftp-hpa syntax) into a RewriteFn. Throws a
 * RemapSyntaxError naming the line of the first bad rule.
 */
export function compileRemapRules(text: string, opts: RemapOptions = {}): RewriteFn {
  const source = opts.source ?? "remap";
  const maxSteps = opts.maxSteps ?? REMAP_DEFAULTS.maxSteps;
  const maxLength = opts.maxLength ?? REMAP_DEFAULTS.maxLength;
  if (!Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > 1_000_000) {
    throw new TftpConfigError(`maxSteps must be an integer from 1 to 1000000 (got ${maxSteps})`);
  }
  if (!Number.isInteger(maxLength) || maxLength < 1 || maxLength > 1_000_000) {
    throw new TftpConfigError(`maxLength must be an integer from 1 to 1000000 (got ${maxLength})`);
  }
  const rules: Rule[] = [];
  // Like tftp-hpa's read_line: NUL and CR are dropped, LF ends a line.
  const lines = text.replace(/[\0\r]/g, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const r = parseLine(lines[i], i + 1, source);
    if (r) rules.push(r);
  }
  Object.freeze(rules);

  return (path, ctx) => {
    if (path.length > maxLength) return { refused: true, rule: 0, reason: "length" };
    let cached: Client | undefined;
    const client = (): Client => (cached ??= clientOf(ctx.address));
    let cur = path;
    let steps = maxSteps;
    let i = 0;
    while (i < rules.length) {
      const r = rules[i];
      let next = i + 1;
      if ((r.readOnly && ctx.op !== "read") || (r.writeOnly && ctx.op !== "write") ||
          (r.needsAddress && ((r.v4Only && !client().v4) || (r.v6Only && !client().v6)))) {
        i = next;
        continue;
      }
      if (steps-- <= 0) return { refused: true, rule: r.line, reason: "loop" };
      let m = r.re.exec(cur);
      if (r.inverse ? m !== null : m === null) {
        i = next;
        continue;
      }
      if (r.inverse) m = null;
      if (r.abort) {
        const message = expand(r.replacement, m, client);
        return message ? { refused: true, rule: r.line, reason: "abort", message } : { refused: true, rule: r.line, reason: "abort" };
      }
      if (r.rewrite && m) {
        if (r.sed) {
          const re = r.reAll!;
          re.lastIndex = 0;
          let out = "";
          let from = 0;
          let g: RegExpExecArray | null;
          while ((g = re.exec(cur)) !== null) {
            out += cur.slice(from, g.index) + expand(r.replacement, g, client);
            from = g.index + g[0].length;
            if (out.length > maxLength) return { refused: true, rule: r.line, reason: "length" };
            if (g[0].length === 0) {
              // An empty match: keep the next character as it is and go on after it.
              if (from >= cur.length) break;
              out += cur[from];
              re.lastIndex = ++from;
            }
          }
          cur = out + cur.slice(from);
        } else {
          for (;;) {
            cur = cur.slice(0, m.index) + expand(r.replacement, m, client) + cur.slice(m.index + m[0].length);
            if (cur.length > maxLength) return { refused: true, rule: r.line, reason: "length" };
            if (!r.repeat) break;
            m = r.re.exec(cur);
            if (m === null) break;
            if (steps-- <= 0) return { refused: true, rule: r.line, reason: "loop" };
          }
        }
        if (cur.length > maxLength) return { refused: true, rule: r.line, reason: "length" };
      }
      if (r.exit) break;
      if (r.restart) next = 0;
      i = next;
    }
    return { path: cur };
  };
}

/** Reads and compiles a remap file; errors name the file and line. */
export async function readRemapFile(file: string, opts: Omit<RemapOptions, "source"> = {}): Promise<RewriteFn> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new TftpConfigError(`${file}: cannot read the remap file (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return compileRemapRules(text, { ...opts, source: file });
}

// -------------------------------------------------- POSIX ERE -> RegExp

class EreError extends Error {}

// Named classes in the C locale (tftpd runs with it), as class contents.
const NAMED_CLASSES: Record<string, string> = {
  alpha: "A-Za-z",
  digit: "0-9",
  alnum: "0-9A-Za-z",
  upper: "A-Z",
  lower: "a-z",
  space: " \\t\\n\\v\\f\\r",
  blank: " \\t",
  punct: "!-\\/:-@\\[-`{-~",
  print: " -~",
  graph: "!-~",
  cntrl: "\\x00-\\x1f\\x7f",
  xdigit: "0-9A-Fa-f",
};

/** One character for use inside a JS class or as a literal outside one. */
function escChar(c: string, inClass: boolean): string {
  const code = c.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) return "\\x" + code.toString(16).padStart(2, "0");
  if (inClass ? "\\]^-[".includes(c) : "\\^$.*+?()[]{}|/-".includes(c)) return "\\" + c;
  return c;
}

/**
 * Parses a bracket expression starting after its "[" at `i`; returns the JS
 * class and the index after its "]". Backslash is an ordinary character
 * inside a POSIX bracket expression.
 */
function bracket(src: string, i: number): { js: string; end: number } {
  const start = i - 1;
  let negate = false;
  if (src[i] === "^") {
    negate = true;
    i++;
  }
  let body = "";
  let first = true;
  // A single character at `i`, or a [.x.] / [=x=] element; undefined for ] ending the expression.
  const element = (): { ch: string; next: number } | { cls: string; next: number } | undefined => {
    if (i >= src.length) throw new EreError(`unmatched [ at offset ${start}`);
    const c = src[i];
    if (c === "]" && !first) return undefined;
    if (c === "[" && (src[i + 1] === ":" || src[i + 1] === "." || src[i + 1] === "=")) {
      const kind = src[i + 1];
      const close = src.indexOf(kind + "]", i + 2);
      if (close < 0) throw new EreError(`unterminated [${kind} at offset ${i}`);
      const name = src.slice(i + 2, close);
      const next = close + 2;
      if (kind === ":") {
        const cls = NAMED_CLASSES[name];
        if (cls === undefined) throw new EreError(`unknown character class [:${name}:]`);
        return { cls, next };
      }
      if ([...name].length !== 1) {
        throw new EreError(`[${kind}${name}${kind}]: only single-character collating elements are supported`);
      }
      return { ch: name, next };
    }
    return { ch: c, next: i + 1 };
  };
  for (;;) {
    const a = element();
    first = false;
    if (a === undefined) break;
    i = a.next;
    if ("cls" in a) {
      if (src[i] === "-" && src[i + 1] !== "]") throw new EreError("a character class cannot start a range");
      body += a.cls;
      continue;
    }
    // A range a-b (a "-" right before "]" is a literal).
    if (src[i] === "-" && i + 1 < src.length && src[i + 1] !== "]") {
      i++;
      const b = element();
      if (b === undefined || "cls" in b) throw new EreError("a range must end with a character");
      i = b.next;
      if (b.ch.codePointAt(0)! < a.ch.codePointAt(0)!) throw new EreError(`invalid range ${a.ch}-${b.ch}`);
      body += escChar(a.ch, true) + "-" + escChar(b.ch, true);
    } else {
      body += escChar(a.ch, true);
    }
  }
  return { js: "[" + (negate ? "^" : "") + body + "]", end: i + 1 };
}

const RE_DUP_MAX = 32767; // glibc's bound on {n,m}

/**
 * Translates a POSIX extended regular expression (with the GNU extensions
 * glibc accepts: \w \W \s \S \b \B \< \> \` \' and back-references \1-\9)
 * to the source of an equivalent JS RegExp (to be compiled with the "s"
 * flag, so that "." matches any character as in POSIX).
 *
 * Not translatable: POSIX leftmost-longest matching. JS alternation takes the
 * first alternative that matches ((a|ab) on "ab" matches "a", POSIX "ab"),
 * and sub-match assignment can differ in such cases. Multi-character
 * collating elements and locale classes are refused; classes are ASCII.
 */
export function translateEre(src: string): { source: string; groups: number } {
  let out = "";
  let groups = 0;
  const open: number[] = []; // out index of each open "("
  let atom = -1; // out index where the last quantifiable atom starts, -1 if none
  let quantified = false; // the atom already carries a quantifier
  const startAtom = (js: string): void => {
    atom = out.length;
    quantified = false;
    out += js;
  };
  const noAtom = (js: string): void => {
    atom = -1;
    quantified = false;
    out += js;
  };
  const quantify = (q: string, at: number): void => {
    if (atom < 0) throw new EreError(`quantifier ${q} at offset ${at} follows nothing`);
    // ERE allows stacked quantifiers (a+? is (a+)?, never lazy; a** is fine): group them.
    if (quantified) out = out.slice(0, atom) + "(?:" + out.slice(atom) + ")";
    out += q;
    quantified = true;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    switch (c) {
      case "\\": {
        if (i + 1 >= src.length) throw new EreError("trailing backslash");
        const e = src[++i];
        if ("^.[]$()|*+?{}\\".includes(e)) startAtom("\\" + e);
        else if (e >= "1" && e <= "9") {
          const n = e.charCodeAt(0) - 48;
          if (n > groups) throw new EreError(`back-reference \\${n} before group ${n}`);
          startAtom(`(?:\\${n})`);
        } else if ("wWsS".includes(e)) startAtom("\\" + e);
        else if (e === "b" || e === "B") noAtom("\\" + e);
        else if (e === "<") noAtom("\\b(?=\\w)");
        else if (e === ">") noAtom("\\b(?<=\\w)");
        else if (e === "`") noAtom("^");
        else if (e === "'") noAtom("$");
        else if (/[0-9A-Za-z]/.test(e)) {
          throw new EreError(`\\${e} has no meaning in POSIX ERE (tftp-hpa reads it as "${e}")` +
            (e === "d" ? "; use [0-9] or [[:digit:]]" : ""));
        } else startAtom(escChar(e, false)); // \. \/ \# \<space>: the character
        break;
      }
      case "[": {
        const b = bracket(src, i + 1);
        startAtom(b.js);
        i = b.end - 1;
        break;
      }
      case "(":
        groups++;
        open.push(out.length);
        noAtom("(");
        break;
      case ")":
        if (open.length === 0) {
          startAtom("\\)"); // glibc: an unmatched ) is an ordinary character
          break;
        }
        out += ")";
        atom = open.pop()!;
        quantified = false;
        break;
      case "|":
        noAtom("|");
        break;
      case "^":
      case "$":
        noAtom(c);
        break;
      case ".":
        startAtom(".");
        break;
      case "*":
      case "+":
      case "?":
        quantify(c, i);
        break;
      case "{": {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
        if (!m) throw new EreError(`invalid interval at offset ${i} (a literal { is written \\{)`);
        const lo = Number(m[1]);
        const hi = m[2] === undefined ? lo : m[3] === "" ? Infinity : Number(m[3]);
        if (lo > RE_DUP_MAX || (hi !== Infinity && hi > RE_DUP_MAX)) throw new EreError(`interval bound over ${RE_DUP_MAX}`);
        if (hi < lo) throw new EreError(`invalid interval {${m[1]}${m[2]}}`);
        quantify(m[2] === undefined ? `{${lo}}` : hi === Infinity ? `{${lo},}` : `{${lo},${hi}}`, i);
        i += m[0].length - 1;
        break;
      }
      default:
        startAtom(escChar(c, false));
    }
  }
  if (open.length > 0) throw new EreError("unmatched (");
  return { source: out, groups };
}

// ---------------------------------------------------- client addresses

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (b[i] !== MAPPED_PREFIX[i]) return false;
  return true;
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

/**
 * An address as 16 bytes: IPv6 as it is, IPv4 as its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d). A zone (%eth0) is ignored. Undefined if not an address.
 */
export function parseAddress(address: string): Uint8Array | undefined {
  const s = address.replace(/%.*$/, "");
  const kind = isIP(s);
  if (kind === 4) return Uint8Array.from([...MAPPED_PREFIX, ...parseV4(s)!]);
  if (kind !== 6) return undefined;
  const out = new Uint8Array(16);
  let head = s;
  let tail = "";
  const dc = s.indexOf("::");
  if (dc >= 0) {
    head = s.slice(0, dc);
    tail = s.slice(dc + 2);
  }
  const words = (part: string): number[] => {
    if (part === "") return [];
    const w: number[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const v4 = parseV4(g)!;
        w.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else w.push(parseInt(g, 16));
    }
    return w;
  };
  const h = words(head);
  const t = words(tail);
  const all = dc >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/**
 * A predicate for client addresses from "10.0.0.5", "10.0.1.0/24",
 * "2001:db8::1" or "fd00::/64". IPv4 rules also match IPv4-mapped IPv6
 * clients (::ffff:10.0.0.5). Throws TftpConfigError on a bad pattern,
 * including a prefix with host bits set.
 */
export function compileAddressMatch(pattern: string): (address: string) => boolean {
  const slash = pattern.indexOf("/");
  const addr = slash < 0 ? pattern : pattern.slice(0, slash);
  const net = parseAddress(addr);
  if (!net || addr.includes("%")) throw new TftpConfigError(`client match "${pattern}": not an IPv4 or IPv6 address`);
  const v4 = isIP(addr) === 4;
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const p = pattern.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      throw new TftpConfigError(`client match "${pattern}": prefix length must be 0..${max}`);
    }
    bits = Number(p);
  }
  const prefix = v4 ? bits + 96 : bits;
  for (let bit = prefix; bit < 128; bit++) {
    if (net[bit >> 3] & (0x80 >> (bit & 7))) {
      throw new TftpConfigError(`client match "${pattern}": host bits are set after /${bits}`);
    }
  }
  const full = prefix >> 3;
  const rest = prefix & 7;
  const mask = rest ? (0xff << (8 - rest)) & 0xff : 0;
  return (address) => {
    const a = parseAddress(address);
    if (!a) return false;
    for (let i = 0; i < full; i++) if (a[i] !== net[i]) return false;
    return rest === 0 || (a[full] & mask) === net[full];
  };
}
