// The remap language: tftp-hpa style file name remapping (`compileRemapRules`).
// Its regexes are POSIX EREs (translated by ere.ts); client addresses in
// replacements come from address-match.ts.
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
import { ConfigErrorCode, TftpConfigError, isBranded } from "@tftpkit/options";
import { isMapped, parseAddress } from "./address-match.js";
import { translateEre } from "./ere.js";

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

const kRemapSyntaxError = Symbol.for("tftpkit.error.TFTP_ERR_CONFIG_REMAP");

/** A remap file that cannot be compiled (a TftpConfigError, reason TFTP_ERR_CONFIG_REMAP); `line` is 1-based. */
export class RemapSyntaxError extends TftpConfigError {
  /** Its own brand: the inherited check would take every TftpConfigError for a RemapSyntaxError. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isBranded(value, kRemapSyntaxError);
  }
  get [kRemapSyntaxError](): true {
    return true;
  }
  constructor(readonly line: number, readonly detail: string, source = "remap") {
    super({ code: ConfigErrorCode.REMAP, key: source, message: `${source}: line ${line}: ${detail}` });
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
    if (err instanceof TftpConfigError) throw fail(`bad regex ${JSON.stringify(regex)}: ${err.message}`);
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
    throw new TftpConfigError({ code: ConfigErrorCode.FILE, key: file, message: `${file}: cannot read the remap file (${(err as NodeJS.ErrnoException).code ?? err})` });
  }
  return compileRemapRules(text, { ...opts, source: file });
}
