// Remap rules (tftp-hpa syntax): parsing, every flag, replacement escapes,
// loop and length bounds, bad lines with their line numbers, the POSIX ERE
// translation, and client address matching.

import { describe, expect, it } from "vitest";
import { compileAddressMatch, parseAddress } from "../src/files/address-match.js";
import { translateEre } from "../src/files/ere.js";
import { compileRemapRules, RemapSyntaxError, type RewriteContext, type RewriteResult } from "../src/files/remap.js";
import { TftpConfigError } from "../src/options.js";

const read = (address = "192.0.2.169"): RewriteContext => ({ address, op: "read" });
const write = (address = "192.0.2.169"): RewriteContext => ({ address, op: "write" });

interface Case {
  name: string;
  rules: string;
  input: string;
  ctx?: RewriteContext;
  want: RewriteResult;
}

const ok = (path: string): RewriteResult => ({ path });
const refused = (rule: number, reason: "abort" | "loop" | "length", message?: string): RewriteResult =>
  message === undefined ? { refused: true, rule, reason } : { refused: true, rule, reason, message };

const cases: Case[] = [
  // r, i, g
  { name: "r replaces the first match", rules: "r ^foo bar", input: "foo/foo", want: ok("bar/foo") },
  { name: "r leaves a name it does not match", rules: "r ^foo bar", input: "x/foo", want: ok("x/foo") },
  { name: "r without replacement deletes the match", rules: "r ^/+", input: "//boot/x", want: ok("boot/x") },
  { name: "matching is case-sensitive by default", rules: "r ^pxelinux pxe", input: "PXELINUX.0", want: ok("PXELINUX.0") },
  { name: "i matches case-insensitively", rules: "ri ^pxelinux pxe", input: "PXELinux.0", want: ok("pxe.0") },
  { name: "r alone replaces one backslash", rules: "r \\\\ /", input: "a\\b\\c", want: ok("a/b\\c") },
  { name: "g repeats the rule until it no longer matches", rules: "rg \\\\ /", input: "a\\b\\c\\d", want: ok("a/b/c/d") },
  { name: "gg is sed-style: every occurrence once", rules: "rgg a aa", input: "banana", want: ok("baanaanaa") },
  { name: "gg with an empty match steps over each character", rules: "rgg x* -", input: "abc", want: ok("-a-b-c-") },
  { name: "gg: ^ only at the start", rules: "rgg ^a X", input: "aaa", want: ok("Xaa") },
  { name: "g without r is ignored (tftp-hpa)", rules: "g a\ne a", input: "a", want: ok("a") },

  // replacement escapes
  { name: "\\1 \\2 groups", rules: "r ^([^/]+)/(.*)$ \\2/\\1", input: "a/b/c", want: ok("b/c/a") },
  { name: "\\0 is the whole match", rules: "r ^.*$ boot/\\0", input: "x.cfg", want: ok("boot/x.cfg") },
  { name: "an unmatched group is empty", rules: "r ^(a)?(b)$ [\\1][\\2]", input: "b", want: ok("[][b]") },
  { name: "\\i is the client address", rules: "r ^ \\i/", input: "x", ctx: read("10.0.0.5"), want: ok("10.0.0.5/x") },
  { name: "\\x is the IPv4 address as 8 hex digits", rules: "r ^ \\x/", input: "x", want: ok("C00002A9/x") },
  {
    name: "\\x of an IPv6 client is 32 hex digits",
    rules: "r ^ \\x/", input: "x", ctx: read("2001:db8::1"), want: ok("20010DB8000000000000000000000001/x"),
  },
  { name: "\\i of an IPv6 client", rules: "r ^ \\i/", input: "x", ctx: read("2001:db8::1"), want: ok("2001:db8::1/x") },
  {
    name: "an IPv4-mapped client reads as IPv4 in \\i and \\x",
    rules: "r ^ \\i-\\x/", input: "x", ctx: read("::ffff:192.0.2.169"), want: ok("192.0.2.169-C00002A9/x"),
  },
  { name: "\\\\ is a backslash", rules: "rg / \\\\", input: "a/b/c", want: ok("a\\b\\c") },
  { name: "\\U upper-cases groups and text, \\E stops", rules: "r ^([a-z]+)\\.(.*)$ \\U\\1_x\\E.\\2", input: "pxe.cfg", want: ok("PXE_X.cfg") },
  { name: "\\L lower-cases", rules: "r ^.*$ \\L\\0", input: "BOOT/BCD", want: ok("boot/bcd") },
  { name: "\\U applies to \\i and \\x too", rules: "r ^ \\U\\i/", input: "x", ctx: read("fe80::ab"), want: ok("FE80::AB/x") },
  { name: "any other \\c is the character", rules: "r ^ \\.\\q\\-", input: "x", want: ok(".q-x") },
  { name: "a trailing backslash stands for itself", rules: "r ^a b\\", input: "ax", want: ok("b\\x") },

  // e, s, a
  { name: "e ends processing when it matches", rules: "e ^keep/\nr ^.*$ X", input: "keep/a", want: ok("keep/a") },
  { name: "e does nothing when it does not match", rules: "e ^keep/\nr ^.*$ X", input: "other", want: ok("X") },
  { name: "re rewrites then ends", rules: "re ^a b\nr ^b c", input: "a", want: ok("b") },
  { name: "without s, earlier rules are not run again", rules: "r ^b c\nr ^a b", input: "a", want: ok("b") },
  { name: "s starts over from the first rule", rules: "r ^b c\nrs ^a b", input: "a", want: ok("c") },
  { name: "s when the rule does not match continues", rules: "r ^b c\nrs ^a b\nr $ !", input: "z", want: ok("z!") },
  { name: "a refuses with the rule's line", rules: "# no dots\n\na \\.\\.", input: "x/../y", want: refused(3, "abort") },
  { name: "a with a message", rules: "a ^secret/(.*) no\\ access\\ to\\ \\1", input: "secret/k", want: refused(1, "abort", "no access to k") },
  { name: "a that does not match lets the request through", rules: "a \\.\\.", input: "x/y", want: ok("x/y") },
  { name: "rules after a refusal do not run", rules: "a ^x\nr ^x y", input: "x", want: refused(1, "abort") },

  // G P 4 6 ~
  { name: "G applies to reads", rules: "rG ^ get/", input: "x", want: ok("get/x") },
  { name: "G does not apply to writes", rules: "rG ^ get/", input: "x", ctx: write(), want: ok("x") },
  { name: "P applies to writes", rules: "rP ^ put/", input: "x", ctx: write(), want: ok("put/x") },
  { name: "P does not apply to reads", rules: "rP ^ put/", input: "x", want: ok("x") },
  { name: "aP refuses writes only (write)", rules: "aP .", input: "x", ctx: write(), want: refused(1, "abort") },
  { name: "aP refuses writes only (read)", rules: "aP .", input: "x", want: ok("x") },
  { name: "4 applies to IPv4 clients", rules: "r4 ^ v4/", input: "x", want: ok("v4/x") },
  { name: "4 applies to IPv4-mapped clients", rules: "r4 ^ v4/", input: "x", ctx: read("::ffff:10.1.2.3"), want: ok("v4/x") },
  { name: "4 skips IPv6 clients", rules: "r4 ^ v4/", input: "x", ctx: read("::1"), want: ok("x") },
  { name: "6 applies to IPv6 clients", rules: "r6 ^ v6/", input: "x", ctx: read("fd00::1"), want: ok("v6/x") },
  { name: "~ acts when the regex does not match", rules: "a~ ^pxe/", input: "etc/passwd", want: refused(1, "abort") },
  { name: "~ lets a matching name through", rules: "a~ ^pxe/", input: "pxe/x", want: ok("pxe/x") },
  { name: "~e ends when the regex does not match", rules: "e~ ^a\nr ^ X", input: "b", want: ok("b") },

  // file syntax
  { name: "comments, blank lines, trailing comments", rules: "# c\n\n   \nr a b # to b\n  # c2", input: "a", want: ok("b") },
  { name: "\\# is a literal hash", rules: "r \\# hash", input: "a#b", want: ok("ahashb") },
  { name: "escaped spaces in regex and replacement", rules: "r a\\ b c\\ d", input: "xa by", want: ok("xc dy") },
  { name: "CRLF line ends", rules: "r ^a b\r\nr ^b c\r\n", input: "a", want: ok("c") },
  { name: "tabs separate tokens", rules: "r\t^a\tb", input: "a", want: ok("b") },
  { name: "no rules: unchanged", rules: "# nothing\n", input: "x", want: ok("x") },

  // ERE translation
  { name: "[[:digit:]]", rules: "r [[:digit:]]+ N", input: "abc123def", want: ok("abcNdef") },
  { name: "[[:upper:]] with gg", rules: "rgg [[:upper:]] _", input: "AbC", want: ok("_b_") },
  { name: "[^[:alpha:]]", rules: "rgg [^[:alpha:]] .", input: "a1b-c", want: ok("a.b.c") },
  { name: "[[:alnum:]_-] with a class, a char and a trailing -", rules: "rgg [[:alnum:]_-] x", input: "a_-!", want: ok("xxx!") },
  { name: "[[:space:]] and [[:punct:]]", rules: "rgg [[:space:][:punct:]] _", input: "a b.c\\d", want: ok("a_b_c_d") },
  { name: "[[:xdigit:]]{2} pairs", rules: "rgg ([[:xdigit:]]{2}) \\1:", input: "0aFF", want: ok("0a:FF:") },
  { name: "] first in a bracket is literal", rules: "rgg []a] x", input: "a]b", want: ok("xxb") },
  { name: "[^]] negates ]", rules: "rgg [^]] x", input: "a]b", want: ok("x]x") },
  { name: "backslash is literal inside a bracket", rules: "rgg [\\] /", input: "a\\b", want: ok("a/b") },
  { name: "[\\\\/] matches both separators", rules: "rgg [\\\\/]+ /", input: "a\\\\b//c", want: ok("a/b/c") },
  { name: "[.-.] collating element", rules: "rgg [[.-.]] +", input: "a-b", want: ok("a+b") },
  { name: "[=a=] equivalence class", rules: "rgg [[=a=]] o", input: "banana", want: ok("bonono") },
  { name: "a+? is (a+)?, greedy, not lazy", rules: "r ^a+? X", input: "aaab", want: ok("Xb") },
  { name: "a** is allowed", rules: "r ^a** X", input: "aab", want: ok("Xb") },
  { name: "intervals {n} {n,} {n,m}", rules: "r ^a{2}b{1,}c{0,1}$ X", input: "aabbbc", want: ok("X") },
  { name: "an unmatched ) is a literal", rules: "r a) X", input: "a)b", want: ok("Xb") },
  { name: "back-reference in the regex", rules: "r ^(.)\\1 X", input: "aab", want: ok("Xb") },
  { name: "\\< and \\> word edges", rules: "rgg \\<b\\> X", input: "b-ab-b", want: ok("X-ab-X") },
  { name: "\\w and \\W", rules: "rgg \\W+ _", input: "a.-b", want: ok("a_b") },
  { name: ". matches any character, newline included", rules: "r ^a.b X", input: "a\nb", want: ok("X") },
  { name: "\\. matches a dot only", rules: "r \\.0$ .1", input: "pxelinux.0", want: ok("pxelinux.1") },
  { name: "/ needs no escape", rules: "r ^/ ", input: "/x", want: ok("x") },
  { name: "alternation", rules: "r ^(pxe|ipxe)/ boot/\\1/", input: "ipxe/x", want: ok("boot/ipxe/x") },

  // bounds
  { name: "g rule that never stops hits the step bound", rules: "rg a a", input: "a", want: refused(1, "loop") },
  { name: "g rule that grows the name hits a bound", rules: "rg a aa", input: "a", want: refused(1, "length") },
  { name: "s loop hits the step bound", rules: "# loop\nrs ^a a", input: "a", want: refused(2, "loop") },
  { name: "two rules restarting each other", rules: "rs ^a b\nrs ^b a", input: "a", want: refused(1, "loop") },
  { name: "a name doubling each round hits the length bound", rules: "rs ^.+$ \\0\\0", input: "ab", want: refused(1, "length") },
  { name: "an over-long request is refused before any rule", rules: "r a b", input: "x".repeat(4097), want: refused(0, "length") },
];

describe("compileRemapRules: flags, escapes, syntax, translation, bounds", () => {
  it.each(cases)("$name", ({ rules, input, ctx, want }) => {
    expect(compileRemapRules(rules)(input, ctx ?? read())).toEqual(want);
  });

  it("the rewrite function is reusable and has no state between calls", () => {
    const f = compileRemapRules("rgg a b\nrs ^c d\nr ^d e");
    for (let i = 0; i < 3; i++) {
      expect(f("aca", read())).toEqual({ path: "bcb" });
      expect(f("c", read())).toEqual({ path: "e" });
    }
  });

  it("maxSteps and maxLength are options", () => {
    // Two rules, each applicable once: two steps.
    expect(compileRemapRules("r a b\nr b c", { maxSteps: 2 })("a", read())).toEqual({ path: "c" });
    expect(compileRemapRules("r a b\nr b c", { maxSteps: 1 })("a", read())).toEqual(refused(2, "loop"));
    // Each repeat of a g rule counts as a step.
    expect(compileRemapRules("rg a b", { maxSteps: 3 })("aaa", read())).toEqual({ path: "bbb" });
    expect(compileRemapRules("rg a b", { maxSteps: 2 })("aaa", read())).toEqual(refused(1, "loop"));
    // Rules that do not apply (G on a write) cost nothing.
    expect(compileRemapRules("rG a b\nrG a b\nr a c", { maxSteps: 1 })("a", write())).toEqual({ path: "c" });
    expect(compileRemapRules("r ^ xx", { maxLength: 3 })("ab", read())).toEqual(refused(1, "length"));
    expect(compileRemapRules("r ^ x", { maxLength: 3 })("ab", read())).toEqual({ path: "xab" });
    expect(() => compileRemapRules("", { maxSteps: 0 })).toThrow(TftpConfigError);
    expect(() => compileRemapRules("", { maxLength: 1.5 })).toThrow(/maxLength/);
  });

  it("a typical Windows/PXE remap file", () => {
    const f = compileRemapRules(String.raw`
# tftp-hpa map file, as shipped for WDS and PXELINUX
rg  \\                /                  # backslashes
r   ^/+                                  # leading slashes
a   (^|/)\.\.(/|$)                        # no way up (tftpkit refuses .. anyway)
ri  ^boot/bcd$        boot/\x/bcd        # per-client BCD
ri  ^pxelinux\.cfg/default$  pxelinux.cfg/\i.cfg
e   ^boot/
rP  ^                 uploads/\x-         # uploads are kept apart
`);
    expect(f("\\Boot\\BCD", read("10.1.2.3"))).toEqual({ path: "boot/0A010203/bcd" });
    expect(f("/pxelinux.cfg/DEFAULT", read("10.1.2.3"))).toEqual({ path: "pxelinux.cfg/10.1.2.3.cfg" });
    expect(f("boot\\wim\\x.wim", read())).toEqual({ path: "boot/wim/x.wim" });
    expect(f("a/../../etc/passwd", read())).toEqual({ refused: true, rule: 5, reason: "abort" });
    expect(f("switch.cfg", write("10.0.0.1"))).toEqual({ path: "uploads/0A000001-switch.cfg" });
    expect(f("boot/x", write("10.0.0.1"))).toEqual({ path: "boot/x" });
  });
});

describe("compileRemapRules: bad rules name their line", () => {
  const bad: Array<[string, string, number, RegExp]> = [
    ["no regex", "r", 1, /regex missing/],
    ["unknown flag", "\n\nx foo", 3, /invalid operation flag "x"/],
    ["unknown flag among good ones", "# c\nrgz a b", 2, /invalid operation flag "z"/],
    ["r~", "r~ a b", 1, /r and ~ cannot be combined/],
    ["ra", "ra a b", 1, /r and a cannot be combined/],
    ["as", "as a", 1, /a and s cannot be combined/],
    ["ae", "ae a", 1, /a and e cannot be combined/],
    ["es", "es a", 1, /e and s cannot be combined/],
    ["GP", "GP a", 1, /G and P cannot be combined/],
    ["46", "r46 a b", 1, /4 and 6 cannot be combined/],
    ["ggg", "rggg a b", 1, /more than twice/],
    ["label (later tftp-hpa)", ":start", 1, /labels/],
    ["E flag (later tftp-hpa)", "rE a b", 1, /"E".*not supported/],
    ["j flag (later tftp-hpa)", "j a b", 1, /"j".*not supported/],
    ["extra token", "r a b c", 1, /unexpected "c" after the replacement/],
    ["unmatched (", "r a\nr (a x", 2, /unmatched \(/],
    ["unmatched [", "r [a x", 1, /unmatched \[/],
    ["leading *", "r * x", 1, /quantifier \* at offset 0 follows nothing/],
    ["quantifier after (", "r (+a) x", 1, /follows nothing/],
    ["quantifier after |", "r a|*b x", 1, /follows nothing/],
    ["quantifier after ^", "r ^* x", 1, /follows nothing/],
    ["quantifier after \\<", "r \\<* x", 1, /follows nothing/],
    ["bad interval order", "r a{3,1} x", 1, /invalid interval/],
    ["unclosed interval", "r a{2 x", 1, /invalid interval/],
    ["interval too big", "r a{40000} x", 1, /interval bound/],
    ["\\d is not ERE", "r \\d x", 1, /\\d has no meaning in POSIX ERE.*\[0-9\]/],
    ["\\n is not ERE", "r a\\n x", 1, /\\n has no meaning/],
    ["unknown class", "r [[:foo:]] x", 1, /unknown character class \[:foo:\]/],
    ["unterminated class", "r [[:alpha x", 1, /unterminated \[:/],
    ["reversed range", "r [z-a] x", 1, /invalid range z-a/],
    ["class in a range", "r [[:alpha:]-z] x", 1, /class cannot start a range/],
    ["multi-char collating element", "r [[.ch.]] x", 1, /single-character/],
    ["group not in the regex", "r (a) \\2", 1, /replacement uses \\2 but the regex has 1 group$/],
    ["back-reference before its group", "r \\1(a) x", 1, /back-reference \\1 before group 1/],
    ["trailing backslash in the regex", "r a\\", 1, /trailing backslash/],
  ];
  it.each(bad)("%s", (_name, text, line, msg) => {
    let err: unknown;
    try {
      compileRemapRules(text, { source: "test.map" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RemapSyntaxError);
    expect(err).toBeInstanceOf(TftpConfigError);
    const e = err as RemapSyntaxError;
    expect(e.line).toBe(line);
    expect(e.code).toBe("TFTP_ERR_CONFIG");
    expect(e.message.startsWith(`test.map: line ${line}: `)).toBe(true);
    expect(e.detail).toMatch(msg);
  });

  it("another configuration error is not a RemapSyntaxError (each class checks its own brand)", () => {
    expect(new TftpConfigError("x must be 1")).not.toBeInstanceOf(RemapSyntaxError);
  });
});

describe("translateEre", () => {
  it.each([
    ["a.b", "a.b", 0],
    ["[[:digit:]]", "[0-9]", 0],
    ["[^[:alpha:]_]", "[^A-Za-z_]", 0],
    ["[\\]", "[\\\\]", 0],
    ["(a)(b(c))", "(a)(b(c))", 3],
    ["a+?", "(?:a+)?", 0],
    ["(ab)*{2}", "(?:(ab)*){2}", 1],
    ["a{2,}", "a{2,}", 0],
    ["\\<x\\>", "\\b(?=\\w)x\\b(?<=\\w)", 0],
    ["\\`a\\'", "^a$", 0],
    ["a}", "a\\}", 0],
    ["a/b", "a\\/b", 0],
    ["(a)\\1", "(a)(?:\\1)", 1],
  ])("%s -> %s", (ere, js, groups) => {
    expect(translateEre(ere)).toEqual({ source: js, groups });
  });

  it("limits: leftmost-first alternation, unlike POSIX leftmost-longest", () => {
    // POSIX would match "ab" (longest); JS takes the first alternative. Documented, not translated.
    const f = compileRemapRules("r ^(a|ab) X");
    expect(f("abc", read())).toEqual({ path: "Xbc" });
  });

  it("refuses with a TftpConfigError of reason TFTP_ERR_CONFIG_REMAP", () => {
    let err: unknown;
    try {
      translateEre("a[b");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TftpConfigError);
    expect((err as TftpConfigError).reason).toBe("TFTP_ERR_CONFIG_REMAP");
  });
});

describe("client addresses", () => {
  it("parseAddress: IPv4 as mapped IPv6, IPv6 with :: and dotted tails, zones ignored", () => {
    const hex = (a: string): string | undefined => {
      const b = parseAddress(a);
      return b && Buffer.from(b).toString("hex");
    };
    expect(hex("10.0.0.5")).toBe("00000000000000000000ffff0a000005");
    expect(hex("::ffff:10.0.0.5")).toBe("00000000000000000000ffff0a000005");
    expect(hex("2001:db8::1")).toBe("20010db8000000000000000000000001");
    expect(hex("::")).toBe("0".repeat(32));
    expect(hex("::1")).toBe("0".repeat(31) + "1");
    expect(hex("fe80::1%eth0")).toBe("fe80" + "0".repeat(27) + "1");
    expect(hex("1:2:3:4:5:6:7:8")).toBe("00010002000300040005000600070008");
    expect(hex("1::")).toBe("0001" + "0".repeat(28));
    expect(hex("10.0.0.256")).toBeUndefined();
    expect(hex("010.0.0.1")).toBeUndefined();
    expect(hex("example.com")).toBeUndefined();
    expect(hex("")).toBeUndefined();
  });

  const table: Array<[string, string, boolean]> = [
    ["10.0.0.5", "10.0.0.5", true],
    ["10.0.0.5", "::ffff:10.0.0.5", true],
    ["10.0.0.5", "10.0.0.6", false],
    ["10.0.1.0/24", "10.0.1.0", true],
    ["10.0.1.0/24", "10.0.1.255", true],
    ["10.0.1.0/24", "::ffff:10.0.1.77", true],
    ["10.0.1.0/24", "10.0.2.1", false],
    ["10.0.0.0/9", "10.127.255.255", true],
    ["10.0.0.0/9", "10.128.0.0", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["0.0.0.0/0", "::ffff:203.0.113.9", true],
    ["0.0.0.0/0", "2001:db8::1", false],
    ["fd00::/64", "fd00::1234", true],
    ["fd00::/64", "fd00:0:0:0:ffff:ffff:ffff:ffff", true],
    ["fd00::/64", "fd00:0:0:1::1", false],
    ["fc00::/7", "fdff::1", true],
    ["fc00::/7", "fe00::1", false],
    ["2001:db8::1", "2001:db8::1", true],
    ["2001:db8::1", "2001:DB8:0:0:0:0:0:1", true],
    ["2001:db8::1", "2001:db8::2", false],
    ["fe80::/10", "fe80::1%eth0", true],
    ["::/0", "2001:db8::1", true],
    ["::/0", "10.0.0.1", true],
    ["::ffff:0:0/96", "192.0.2.1", true],
    ["::ffff:10.0.0.0/104", "10.9.9.9", true],
    ["10.0.0.5", "not an address", false],
    ["10.0.0.5", "", false],
  ];
  it.each(table)("%s covers %s: %s", (pattern, address, want) => {
    expect(compileAddressMatch(pattern)(address)).toBe(want);
  });

  it.each([
    ["10.0.0.256", /not an IPv4 or IPv6 address/],
    ["host.example", /not an IPv4 or IPv6 address/],
    ["fe80::1%eth0", /not an IPv4 or IPv6 address/],
    ["10.0.0.0/33", /prefix length must be 0..32/],
    ["fd00::/129", /prefix length must be 0..128/],
    ["10.0.0.0/", /prefix length/],
    ["10.0.0.0/-1", /prefix length/],
    ["10.0.0.0/8/8", /prefix length/],
    ["10.0.1.5/24", /host bits are set after \/24/],
    ["fd00::1/64", /host bits/],
    ["fd00::/7", /host bits are set after \/7/],
  ])("bad pattern %s", (pattern, msg) => {
    expect(() => compileAddressMatch(pattern)).toThrow(TftpConfigError);
    expect(() => compileAddressMatch(pattern)).toThrow(msg);
  });
});
