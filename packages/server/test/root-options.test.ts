// Root resolver options: case-insensitive lookup, per-client roots,
// resolveForWrite against hostile names, and an end-to-end check through a
// real server on loopback (raw UDP client, lock-step).

import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  FileResponse, RootResolver, TftpConfigError, TftpError, rootHandler, type ReadRequest,
} from "../src/index.js";
import { RootSelection, rootSelectionOf, rootSelector } from "../src/files/root.js";
import { compileRemapRules } from "../src/files/remap.js";
import { UdpClient, closeAllClients, get } from "./helpers/client.js";
import { closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const cleanups: Array<() => void> = [];
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  for (const c of cleanups) c();
});

function tree(files: Record<string, string>): string {
  const { root, cleanup } = makeRoot(files);
  cleanups.push(cleanup);
  return realpathSync(root);
}

/** The TftpError a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<TftpError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TftpError);
    return err as TftpError;
  }
  throw new Error("expected a rejection");
}

// ------------------------------------------------------ case-insensitive

describe("caseInsensitive lookup", () => {
  const root = tree({
    "Boot/PXELinux.cfg/Default": "default cfg\n",
    "Boot/BCD": "bcd\n",
    "multi/ABC": "upper\n",
    "multi/Abc": "title\n",
    "multi/abc": "lower\n",
    "multi/aBc": "mixed\n",
    "dupdir/SUB/x": "in SUB\n",
    "dupdir/sub/x": "in sub\n",
    "dupdir/sub/only-lower": "only in sub\n",
    "plain.txt": "plain\n",
  });
  const outside = tree({ "Secret.txt": "outside\n" });
  symlinkSync(join(outside, "Secret.txt"), join(root, "Escape"));
  symlinkSync(outside, join(root, "OutDir"));
  symlinkSync("Boot/BCD", join(root, "BcdLink"));
  mkdirSync(join(root, "wide"));
  for (let i = 0; i < 50; i++) writeFileSync(join(root, "wide", `f${String(i).padStart(2, "0")}`), "");
  writeFileSync(join(root, "wide", "Target"), "t\n");

  const ci = new RootResolver(root, { caseInsensitive: true });
  const cs = new RootResolver(root);

  it.each([
    ["boot/pxelinux.cfg/default", "Boot/PXELinux.cfg/Default"],
    ["BOOT/PXELINUX.CFG/DEFAULT", "Boot/PXELinux.cfg/Default"],
    ["\\Boot\\bcd", "Boot/BCD"],
    ["BOOT\\Bcd", "Boot/BCD"],
    ["/boot//./BCD", "Boot/BCD"],
    ["PLAIN.TXT", "plain.txt"],
    ["bcdlink", "Boot/BCD"], // a symlink found case-insensitively, followed inside the root
    // exact names win over other casings
    ["multi/abc", "multi/abc"],
    ["multi/Abc", "multi/Abc"],
    ["multi/aBc", "multi/aBc"],
    // no exact name: the first in code-unit order ("ABC" < "Abc" < "aBc" < "abc")
    ["multi/abC", "multi/ABC"],
    ["MULTI/ABc", "multi/ABC"],
    // a segment that exists exactly is taken as it is, later ones looked up
    ["dupdir/sub/X", "dupdir/sub/x"],
    ["dupdir/sub/ONLY-LOWER", "dupdir/sub/only-lower"],
    // no exact "Sub": "SUB" comes first; "sub" when only it holds the rest (backtracking)
    ["dupdir/Sub/x", "dupdir/SUB/x"],
    ["dupdir/Sub/only-lower", "dupdir/sub/only-lower"],
    ["DUPDIR/SUB/ONLY-LOWER", "dupdir/sub/only-lower"],
    // an exact folder that does not hold the rest gives way to another casing
    ["dupdir/SUB/Only-Lower", "dupdir/sub/only-lower"],
    ["wide/TARGET", "wide/Target"],
  ])("%s -> %s", async (requested, want) => {
    expect(await ci.resolve(requested)).toBe(join(root, want));
  });

  it("without the option, other casings are not found (ERROR 1)", async () => {
    expect((await rejection(cs.resolve("boot/bcd"))).wireCode).toBe(1);
    expect(await cs.resolve("Boot/BCD")).toBe(join(root, "Boot/BCD"));
  });

  it("deterministic: the same choice every time", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) seen.add(await new RootResolver(root, { caseInsensitive: true }).resolve("multi/ABc"));
    expect([...seen]).toEqual([join(root, "multi/ABC")]);
  });

  it.each([
    ["missing name", "boot/nothing", 1],
    ["missing folder", "nothing/bcd", 1],
    ["a file used as a folder", "plain.txt/x", 1],
    ["no casing of the folder holds the name", "dupdir/Sub/nothing", 1],
    ["symlink to a file outside", "ESCAPE", 2],
    ["symlink to a folder outside", "outdir/secret.txt", 2],
    ["..", "boot/../../x", 2],
    ["NUL", "boot/b\0cd", 2],
  ])("%s: ERROR %i", async (_name, requested, code) => {
    expect((await rejection(ci.resolve(requested as string))).wireCode).toBe(code);
  });

  it("bounded: past maxScanEntries the name is not found", async () => {
    const small = new RootResolver(root, { caseInsensitive: true, maxScanEntries: 10 });
    expect((await rejection(small.resolve("wide/TARGET"))).wireCode).toBe(1);
    // The exact name needs no scan.
    expect(await small.resolve("wide/Target")).toBe(join(root, "wide/Target"));
    // The budget is per lookup, not per resolver.
    const enough = new RootResolver(root, { caseInsensitive: true, maxScanEntries: 70 });
    for (let i = 0; i < 3; i++) expect(await enough.resolve("wide/TARGET")).toBe(join(root, "wide/Target"));
    expect(() => new RootResolver(root, { maxScanEntries: 0 })).toThrow(TftpConfigError);
  });
});

// ---------------------------------------------------------- client roots

describe("clientRoots", () => {
  const dirs = {
    a: tree({ "who": "a\n" }),
    b: tree({ "who": "b\n" }),
    c: tree({ "who": "c\n" }),
    d: tree({ "who": "d\n" }),
    net8: tree({ "who": "net8\n" }),
    dflt: tree({ "who": "default\n", "Only/Default.txt": "ci default\n" }),
  };
  const clientRoots = [
    { match: "10.0.0.5", root: dirs.a },
    { match: "10.0.1.0/24", root: dirs.b },
    { match: "fd00::/64", root: dirs.c },
    { match: "2001:db8::1", root: dirs.d },
    { match: "10.0.0.0/8", root: dirs.net8 }, // after the narrower ones: first match wins
  ];
  const select = rootSelector(dirs.dflt, { clientRoots });

  it.each([
    ["10.0.0.5", "a"],
    ["::ffff:10.0.0.5", "a"],
    ["10.0.0.6", "net8"],
    ["10.0.1.77", "b"],
    ["::ffff:10.0.1.255", "b"],
    ["10.0.2.1", "net8"],
    ["11.0.0.1", "dflt"],
    ["fd00::1234", "c"],
    ["fd00:0:0:1::1", "dflt"],
    ["2001:db8::1", "d"],
    ["2001:DB8::0:1", "d"],
    ["2001:db8::2", "dflt"],
    ["fe80::1%eth0", "dflt"],
    ["127.0.0.1", "dflt"],
    ["not-an-address", "dflt"],
  ] as const)("%s -> %s", (address, key) => {
    expect(select(address).root).toBe(dirs[key]);
  });

  it("first match wins when entries overlap", () => {
    const s = rootSelector(dirs.dflt, { clientRoots: [{ match: "10.0.0.0/8", root: dirs.net8 }, { match: "10.0.0.5", root: dirs.a }] });
    expect(s("10.0.0.5").root).toBe(dirs.net8);
  });

  it("one resolver per distinct root, made up front", () => {
    const s = rootSelector(dirs.dflt, { clientRoots: [{ match: "10.0.0.1", root: dirs.a }, { match: "10.0.0.2", root: dirs.a }] });
    expect(s("10.0.0.1")).toBe(s("10.0.0.2"));
    expect(s("10.0.0.3")).toBe(s("10.0.0.4"));
  });

  it.each([
    [[{ match: "10.0.1.5/24", root: "/tmp" }], /host bits/],
    [[{ match: "nope", root: "/tmp" }], /not an IPv4 or IPv6 address/],
    [[{ match: "10.0.0.1", root: "" }], /root folder/],
    [[{ root: "/tmp" }], /match string/],
  ])("bad entry %j", (entries, msg) => {
    expect(() => rootHandler(dirs.dflt, { clientRoots: entries as never })).toThrow(TftpConfigError);
    expect(() => rootHandler(dirs.dflt, { clientRoots: entries as never })).toThrow(msg);
  });

  it("rootHandler picks the root from the request's peer address, with the case option", async () => {
    const h = rootHandler(dirs.dflt, { clientRoots, caseInsensitive: true });
    const req = (path: string, address: string): ReadRequest => ({
      path, mode: "octet", options: {}, peer: { address, port: 1, family: address.includes(":") ? "IPv6" : "IPv4" },
      local: { address: undefined, port: 69 }, signal: new AbortController().signal, sessionId: 1,
    });
    const pathOf = async (p: string, a: string): Promise<string> => {
      const r = await h(req(p, a));
      expect(r).toBeInstanceOf(FileResponse);
      return (r as FileResponse).path;
    };
    expect(await pathOf("WHO", "10.0.1.9")).toBe(join(dirs.b, "who"));
    expect(await pathOf("who", "fd00::9")).toBe(join(dirs.c, "who"));
    expect(await pathOf("only\\DEFAULT.TXT", "192.0.2.1")).toBe(join(dirs.dflt, "Only/Default.txt"));
    await expect(h(req("only/default.txt", "10.0.0.5"))).rejects.toMatchObject({ wireCode: 1 });
  });

  it("a server runs rootHandler's RootSelection (one class for every server), other handlers as they are", async () => {
    const h = rootHandler(dirs.dflt, { clientRoots });
    const selection = rootSelectionOf(h);
    expect(selection).toBeInstanceOf(RootSelection);
    expect(rootSelectionOf(rootHandler(dirs.a))).not.toBe(selection);
    expect(rootSelectionOf((r) => h(r))).toBeUndefined();
    expect(selection!.pick("10.0.1.77").root).toBe(dirs.b);
    expect(selection!.pick("11.0.0.1").root).toBe(dirs.dflt);
    const req = (address: string): ReadRequest => ({
      path: "who", mode: "octet", options: {}, peer: { address, port: 1, family: "IPv4" },
      local: { address: undefined, port: 69 }, signal: new AbortController().signal, sessionId: 1,
    });
    for (const a of ["10.0.0.5", "10.0.1.9", "10.9.9.9", "192.0.2.1"]) {
      expect(((await selection!.read(req(a))) as FileResponse).path).toBe(((await h(req(a))) as FileResponse).path);
    }
    // Through servers on loopback: one given rootHandler's handler, one a handler of its own
    // around it (called as it is); both answer the file of the client's root.
    const direct = await startServer({ handler: rootHandler(dirs.dflt, { clientRoots: [{ match: "127.0.0.0/8", root: dirs.a }] }) });
    let called = 0;
    const inner = rootHandler(dirs.dflt, { clientRoots: [{ match: "127.0.0.0/8", root: dirs.b }] });
    const wrapped = await startServer({ handler: (r) => (called++, inner(r)) });
    const c = await UdpClient.open();
    expect((await get(c, direct.port, "who")).data.toString()).toBe("a\n");
    expect((await get(c, wrapped.port, "who")).data.toString()).toBe("b\n");
    expect(called).toBe(1);
  });
});

// ------------------------------------------------------- resolveForWrite

let hasFifo = true;
function mkfifoOrSkip(path: string): void {
  try {
    execFileSync("mkfifo", [path]);
  } catch {
    hasFifo = false;
  }
}

describe("resolveForWrite", () => {
  const root = tree({ "small.bin": "small\n", "sub/inner.txt": "inner\n", "Cfg/Switch.cfg": "old\n" });
  const outside = tree({ "secret.txt": "outside\n", "dir/x": "x\n" });
  symlinkSync(join(outside, "secret.txt"), join(root, "escape"));
  symlinkSync(outside, join(root, "outdir"));
  symlinkSync(join(root, "small.bin"), join(root, "inner-link"));
  symlinkSync("../" + outside.split("/").pop() + "/secret.txt", join(root, "relative-escape"));
  symlinkSync(join(root, "missing"), join(root, "dangling"));
  symlinkSync(join(outside, "nothing-yet"), join(root, "dangling-out"));
  symlinkSync(join(outside, "dir"), join(root, "sub", "outlink"));
  mkfifoOrSkip(join(root, "fifo"));
  const w = new RootResolver(root);
  const wci = new RootResolver(root, { caseInsensitive: true });

  it.each([
    ["new.bin", "new.bin"],
    ["/new.bin", "new.bin"],
    ["//new.bin", "new.bin"],
    ["./new.bin", "new.bin"],
    ["sub/new.txt", "sub/new.txt"],
    ["\\sub\\new.txt", "sub/new.txt"],
    ["sub/./new.txt", "sub/new.txt"],
    ["small.bin", "small.bin"], // an existing file: its path (overwrite is the caller's decision)
    ["inner-link", "small.bin"], // a link inside the root: its real target
    ["sub/inner.txt", "sub/inner.txt"],
  ])("%s -> %s", async (requested, want) => {
    expect(await w.resolveForWrite(requested)).toBe(join(root, want));
  });

  it.each([
    ["..", "../x", 2],
    [".. deeper", "sub/../../x", 2],
    [".. with backslashes", "sub\\..\\..\\x", 2],
    ["NUL", "a\0b", 2],
    ["NUL in a folder", "sub\0/x", 2],
    ["empty", "", 2],
    ["only slashes", "//", 2],
    ["only a dot", ".", 2],
    ["symlink parent outside", "outdir/new.bin", 2],
    ["symlink parent outside, deeper", "sub/outlink/new.bin", 2],
    ["symlink final component to a file outside", "escape", 2],
    ["relative symlink leading outside", "relative-escape", 2],
    ["dangling symlink inside", "dangling", 2],
    ["dangling symlink pointing outside", "dangling-out", 2],
    ["an existing folder", "sub", 2],
    ["missing parent", "nothing/new.bin", 1],
    ["missing parent, deeper", "sub/nothing/new.bin", 1],
    ["a file as parent", "small.bin/new.bin", 1],
  ])("%s: ERROR %i", async (_name, requested, code) => {
    expect((await rejection(w.resolveForWrite(requested as string))).wireCode).toBe(code);
  });

  it.runIf(hasFifo)("a FIFO is not a file to upload onto", async () => {
    expect((await rejection(w.resolveForWrite("fifo"))).wireCode).toBe(2);
  });

  it("missing root: ERROR 1", async () => {
    const gone = new RootResolver(join(root, "no-such-root"));
    expect((await rejection(gone.resolveForWrite("x"))).wireCode).toBe(1);
  });

  it("with caseInsensitive: folders and an existing file found in any case, new names kept as given", async () => {
    expect(await wci.resolveForWrite("SUB/New.TXT")).toBe(join(root, "sub/New.TXT"));
    expect(await wci.resolveForWrite("cfg\\SWITCH.CFG")).toBe(join(root, "Cfg/Switch.cfg"));
    expect(await wci.resolveForWrite("Small.BIN")).toBe(join(root, "small.bin"));
    expect(await wci.resolveForWrite("ESCAPE").catch((e: TftpError) => e.wireCode)).toBe(2);
    expect(await wci.resolveForWrite("OUTDIR/new").catch((e: TftpError) => e.wireCode)).toBe(2);
    expect(await wci.resolveForWrite("NOTHING/new").catch((e: TftpError) => e.wireCode)).toBe(1);
    // Without the option, another casing of a folder is missing.
    expect(await w.resolveForWrite("SUB/new").catch((e: TftpError) => e.wireCode)).toBe(1);
  });
});

// ----------------------------------------------------------- end to end

function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp6");
    s.once("error", () => resolve(false));
    s.bind(0, "::1", () => {
      s.close();
      resolve(true);
    });
  });
}

describe("end to end through a real server", () => {
  const mine = tree({ "boot/pxelinux.cfg/default": "127.0.0.1's own default\n", "Boot/BCD": "own bcd\n" });
  const other = tree({ "boot/pxelinux.cfg/default": "10/8 default\n" });
  const six = tree({ "boot/pxelinux.cfg/default": "::1's default\n" });
  const dflt = tree({ "boot/pxelinux.cfg/default": "shared default\n" });

  it("RRQ from 127.0.0.1: its client root, looked up case-insensitively, Windows separators", async () => {
    const srv = await startServer({
      handler: rootHandler(dflt, {
        caseInsensitive: true,
        clientRoots: [{ match: "10.0.0.0/8", root: other }, { match: "127.0.0.0/8", root: mine }, { match: "::1", root: six }],
      }),
    });
    const c = await UdpClient.open("127.0.0.1");
    const r = await get(c, srv.port, "BOOT\\PXELINUX.CFG\\Default");
    expect(r.error).toBeUndefined();
    expect(r.data.toString()).toBe("127.0.0.1's own default\n");
    const r2 = await get(c, srv.port, "boot/bcd", { options: [["tsize", "0"]] });
    expect(r2.data.toString()).toBe("own bcd\n");
    expect(r2.oack).toEqual([["tsize", "8"]]);
    const r3 = await get(c, srv.port, "boot/missing");
    expect(r3.error?.code).toBe(1);
    const r4 = await get(c, srv.port, "../etc/passwd");
    expect(r4.error?.code).toBe(2);
  });

  it("a client no entry covers gets the default root", async () => {
    const srv = await startServer({ handler: rootHandler(dflt, { clientRoots: [{ match: "10.0.0.0/8", root: other }] }) });
    const c = await UdpClient.open("127.0.0.1");
    expect((await get(c, srv.port, "boot/pxelinux.cfg/default")).data.toString()).toBe("shared default\n");
    // Case-sensitive without the option.
    expect((await get(c, srv.port, "BOOT/pxelinux.cfg/default")).error?.code).toBe(1);
  });

  it("a dual-stack server: 127.0.0.1 (IPv4-mapped) and ::1 each get their root", async () => {
    if (!(await ipv6Loopback())) return;
    const srv = await startServer({
      bindInterfaces: false,
      handler: rootHandler(dflt, { clientRoots: [{ match: "127.0.0.1", root: mine }, { match: "::1/128", root: six }] }),
    }, "::");
    const c4 = await UdpClient.open("127.0.0.1");
    const c6 = await UdpClient.open("::1");
    const [r4, r6] = await Promise.all([
      get(c4, srv.port, "boot/pxelinux.cfg/default"),
      get(c6, srv.port, "boot/pxelinux.cfg/default"),
    ]);
    expect(r4.data.toString()).toBe("127.0.0.1's own default\n");
    expect(r6.data.toString()).toBe("::1's default\n");
    expect(["127.0.0.1", "::ffff:127.0.0.1"]).toContain((await srv.sessionOf(c4.port)).peer.address);
  });

  it("remap rules in front of the handler: \\x per-client folders, refusals as ERROR 2", async () => {
    const perClient = tree({ "7F000001/pxelinux.cfg/default": "by hex address\n" });
    const rewrite = compileRemapRules([
      "rg \\\\ /",
      "a (^|/)secret(/|$) no\\ secrets\\ here",
      "ri ^/*pxelinux\\.cfg/ \\x/pxelinux.cfg/",
    ].join("\n"));
    const files = rootHandler(perClient);
    const srv = await startServer({
      handler: (req) => {
        const r = rewrite(req.path, { address: req.peer.address, op: "read" });
        if ("refused" in r) throw TftpError.accessViolation(r.message ?? "Access violation");
        return files({ ...req, path: r.path });
      },
    });
    const c = await UdpClient.open("127.0.0.1");
    expect((await get(c, srv.port, "\\PXELinux.cfg\\default")).data.toString()).toBe("by hex address\n");
    expect((await get(c, srv.port, "a/secret/b")).error).toEqual({ code: 2, message: "no secrets here" });
  });
});

describe("RootResolver.fileNow", () => {
  it("answers a name file() resolved, at once and the same, only while its stat is trusted", async () => {
    const root = tree({ "a.cfg": "hello", "dir/b.cfg": "x" });
    const r = new RootResolver(root, { statCacheMs: 60_000 });
    expect(r.fileNow("a.cfg")).toBeUndefined(); // never resolved
    const viaFile = await r.file("a.cfg");
    const now = r.fileNow("a.cfg");
    expect(now).toBeInstanceOf(FileResponse);
    expect(now!.path).toBe(viaFile.path);
    expect(now!.stats?.ino).toBe(viaFile.stats?.ino);
    expect(r.fileNow("/a.cfg")).toBeUndefined(); // another spelling: file() first
    await r.file("/a.cfg");
    expect(r.fileNow("/a.cfg")!.path).toBe(viaFile.path);
    expect(r.fileNow("dir/b.cfg")).toBeUndefined();
  });

  it("answers nothing with statCacheMs 0 (a stat per request)", async () => {
    const root = tree({ "a.cfg": "hello" });
    const r = new RootResolver(root, { statCacheMs: 0 });
    await r.file("a.cfg");
    expect(r.fileNow("a.cfg")).toBeUndefined();
  });

  it("rootHandler answers a trusted name without a promise, an unknown one with one", async () => {
    const root = tree({ "a.cfg": "hello" });
    const h = rootHandler(root, { statCacheMs: 60_000 });
    const req = { path: "a.cfg", peer: { address: "127.0.0.1", port: 1, family: "IPv4" } } as ReadRequest;
    const first = h(req);
    expect(first).toBeInstanceOf(Promise);
    const resolved = await first;
    const second = h(req);
    expect(second).toBeInstanceOf(FileResponse);
    expect((second as FileResponse).path).toBe((resolved as FileResponse).path);
  });
});
