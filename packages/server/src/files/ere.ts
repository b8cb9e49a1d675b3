// POSIX extended regular expressions (as tftp-hpa's remap rules use them,
// glibc regcomp with REG_EXTENDED) translated once to a JS RegExp source.

import { ConfigErrorCode, TftpConfigError } from "@tftpkit/options";

/**
 * A regex the translation refuses: a TftpConfigError with reason
 * TFTP_ERR_CONFIG_REMAP; the remap compiler turns it into a RemapSyntaxError with the line.
 */
const ereError = (message: string): TftpConfigError => new TftpConfigError({ code: ConfigErrorCode.REMAP, message });

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
    if (i >= src.length) throw ereError(`unmatched [ at offset ${start}`);
    const c = src[i];
    if (c === "]" && !first) return undefined;
    if (c === "[" && (src[i + 1] === ":" || src[i + 1] === "." || src[i + 1] === "=")) {
      const kind = src[i + 1];
      const close = src.indexOf(kind + "]", i + 2);
      if (close < 0) throw ereError(`unterminated [${kind} at offset ${i}`);
      const name = src.slice(i + 2, close);
      const next = close + 2;
      if (kind === ":") {
        const cls = NAMED_CLASSES[name];
        if (cls === undefined) throw ereError(`unknown character class [:${name}:]`);
        return { cls, next };
      }
      if ([...name].length !== 1) {
        throw ereError(`[${kind}${name}${kind}]: only single-character collating elements are supported`);
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
      if (src[i] === "-" && src[i + 1] !== "]") throw ereError("a character class cannot start a range");
      body += a.cls;
      continue;
    }
    // A range a-b (a "-" right before "]" is a literal).
    if (src[i] === "-" && i + 1 < src.length && src[i + 1] !== "]") {
      i++;
      const b = element();
      if (b === undefined || "cls" in b) throw ereError("a range must end with a character");
      i = b.next;
      if (b.ch.codePointAt(0)! < a.ch.codePointAt(0)!) throw ereError(`invalid range ${a.ch}-${b.ch}`);
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
    if (atom < 0) throw ereError(`quantifier ${q} at offset ${at} follows nothing`);
    // ERE allows stacked quantifiers (a+? is (a+)?, never lazy; a** is fine): group them.
    if (quantified) out = out.slice(0, atom) + "(?:" + out.slice(atom) + ")";
    out += q;
    quantified = true;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    switch (c) {
      case "\\": {
        if (i + 1 >= src.length) throw ereError("trailing backslash");
        const e = src[++i];
        if ("^.[]$()|*+?{}\\".includes(e)) startAtom("\\" + e);
        else if (e >= "1" && e <= "9") {
          const n = e.charCodeAt(0) - 48;
          if (n > groups) throw ereError(`back-reference \\${n} before group ${n}`);
          startAtom(`(?:\\${n})`);
        } else if ("wWsS".includes(e)) startAtom("\\" + e);
        else if (e === "b" || e === "B") noAtom("\\" + e);
        else if (e === "<") noAtom("\\b(?=\\w)");
        else if (e === ">") noAtom("\\b(?<=\\w)");
        else if (e === "`") noAtom("^");
        else if (e === "'") noAtom("$");
        else if (/[0-9A-Za-z]/.test(e)) {
          throw ereError(`\\${e} has no meaning in POSIX ERE (tftp-hpa reads it as "${e}")` +
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
        if (!m) throw ereError(`invalid interval at offset ${i} (a literal { is written \\{)`);
        const lo = Number(m[1]);
        const hi = m[2] === undefined ? lo : m[3] === "" ? Infinity : Number(m[3]);
        if (lo > RE_DUP_MAX || (hi !== Infinity && hi > RE_DUP_MAX)) throw ereError(`interval bound over ${RE_DUP_MAX}`);
        if (hi < lo) throw ereError(`invalid interval {${m[1]}${m[2]}}`);
        quantify(m[2] === undefined ? `{${lo}}` : hi === Infinity ? `{${lo},}` : `{${lo},${hi}}`, i);
        i += m[0].length - 1;
        break;
      }
      default:
        startAtom(escChar(c, false));
    }
  }
  if (open.length > 0) throw ereError("unmatched (");
  return { source: out, groups };
}
