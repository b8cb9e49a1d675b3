// A server that cannot do what it was told must not serve: a wrong user,
// group or root, a handler module that does not load, a taken admin port all
// stop the start before anything is answered. Handler exceptions reach the
// log (never the wire); an error of tftpkit itself ends the process.

import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { V8_FLAGS } from "../src/cluster/flags.js";
import { procIds } from "../src/startup.js";
import { BIN, curlTftp, freeUdpPort, hasCurl, removeTrees, runTftpkit, startCli, startServe, stopAllClis, tree, waitFor } from "./helpers.js";

afterEach(() => stopAllClis());
afterAll(() => removeTrees());

const isRoot = process.getuid?.() === 0;
const passwd = readFileSync("/etc/passwd", "utf8");
const nobody = /^nobody:[^:]*:(\d+):(\d+):/m.exec(passwd);

/** `tftpkit serve` on loopback that must not start: its exit code and output. */
function serveFails(args: string[]): ReturnType<typeof runTftpkit> {
  return runTftpkit(["serve", "--host", "127.0.0.1", "--port", "0", "--admin", "off", ...args]);
}

/** One RRQ from a fresh socket; the first answer's opcode, error code and message. */
function rrqAnswer(port: number, name: string): Promise<{ opcode: number; code: number; message: string }> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const t = setTimeout(() => {
      s.close();
      reject(new Error("no answer"));
    }, 10_000);
    s.on("message", (m) => {
      clearTimeout(t);
      s.close();
      resolve({ opcode: m.readUInt16BE(0), code: m.readUInt16BE(2), message: m.subarray(4, m.indexOf(0, 4)).toString("utf8") });
    });
    s.bind(0, "127.0.0.1", () => s.send(Buffer.from(`\0\x01${name}\0octet\0`, "latin1"), port, "127.0.0.1"));
  });
}

describe("start-up: refuse to start wrong", () => {
  it("--user nosuchuser exits non-zero before anything is bound or answered", async () => {
    const dir = tree({ "a.txt": "a" });
    const r = await serveFails(["--root", dir, "--user", "nosuchuser-tftpkit"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--user nosuchuser-tftpkit: no such user/);
    expect(r.stderr).not.toMatch(/serving/);
  });

  it("--group without --user is an error; an unknown group too", async () => {
    const dir = tree({ "a.txt": "a" });
    const a = await serveFails(["--root", dir, "--group", "nogroup"]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/"group" needs "user"/);
    const b = await serveFails(["--root", dir, "--user", "nobody", "--group", "nosuchgroup-tftpkit"]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/--group nosuchgroup-tftpkit: no such group/);
    expect(b.stderr).not.toMatch(/serving/);
  });

  it.skipIf(!isRoot || !nobody || !hasCurl)("after --user/--group every uid and gid is the account's and no root group is left (/proc/PID/status)", async () => {
    const dir = tree({ "pub.txt": "public\n" });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "pub.txt"), 0o644);
    const uid = Number(nobody![1]);
    const gid = Number(nobody![2]);
    const cli = await startCli(["--root", dir, "--admin", "off", "--user", "nobody", "--group", String(gid)]);
    const ids = procIds(cli.proc.pid!)!;
    expect(ids.uid).toEqual([uid, uid, uid, uid]);
    expect(ids.gid).toEqual([gid, gid, gid, gid]);
    expect(ids.groups).toEqual([gid]);
    expect(cli.stderr()).toMatch(new RegExp(`running as nobody \\(uid ${uid}, gid ${gid}\\)`));
    expect((await curlTftp(cli.udpPort, "pub.txt")).data.toString()).toBe("public\n");
  });

  it("a root that is missing or not a directory stops the start, every one named", async () => {
    const dir = tree({ "file.txt": "x", "rack/a": "a" });
    const r = await serveFails(["--root", join(dir, "nonexistent"), "--client-roots", `10.0.0.0/8=${join(dir, "file.txt")},10.1.0.0/16=${join(dir, "rack")}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`--root ${join(dir, "nonexistent")}: does not exist`));
    expect(r.stderr).toMatch(new RegExp(`--client-roots ${join(dir, "file.txt")}: is not a directory`));
    expect(r.stderr).not.toMatch(/rack: /);
    expect(r.stderr).not.toMatch(/serving/);
    const f = await serveFails([join(dir, "file.txt")]);
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/file\.txt: is not a directory/);
  });

  it.skipIf(!isRoot || !nobody)("a root the dropped user cannot read stops the start", async () => {
    const dir = tree({ "private/a.txt": "a" });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "private"), 0o700);
    const r = await serveFails(["--root", join(dir, "private"), "--user", "nobody"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/private: cannot be read by nobody/);
    expect(r.stderr).not.toMatch(/serving/);
  });

  it.skipIf(!hasCurl)("SIGHUP with a root that went missing: the reload is refused, logged, and the old root keeps serving", async () => {
    const dir = tree({ "a/v.txt": "A\n" });
    const cfg = join(dir, "tftpkit.yaml");
    writeFileSync(cfg, "root: a\nadmin: 'off'\n");
    const cli = await startCli(["--config", cfg]);
    writeFileSync(cfg, "root: gone\nadmin: 'off'\n");
    cli.proc.kill("SIGHUP");
    await waitFor("the refused reload", () => (/reload failed, the previous configuration stays: --root \S+gone: does not exist/.test(cli.stderr()) ? true : undefined), 10_000, 20);
    expect((await curlTftp(cli.udpPort, "v.txt")).data.toString()).toBe("A\n");
  });

  // The kernel's default action for SIGHUP and SIGTERM ends a process: the handlers must be in
  // place before the start-up lines tell a supervisor that the server is up.
  it.each([["--workers", "1"], ["--workers", "2"]])("a signal sent at the first start-up line is handled (%s %s)", async (flag, n) => {
    const dir = tree({ "v.txt": "A\n" });
    for (const signal of ["SIGHUP", "SIGHUP", "SIGHUP", "SIGTERM"] as const) {
      const proc = spawn(process.execPath, [BIN, "serve", "--host", "127.0.0.1", "--port", "0", "--admin", "off", flag, n, dir], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      let sent = false;
      proc.stderr!.setEncoding("utf8").on("data", (d: string) => {
        err += d;
        if (!sent && /tftpkit serving/.test(err)) {
          sent = true;
          proc.kill(signal);
        }
      });
      const exit = new Promise<[number | null, string | null]>((resolve) => proc.once("exit", (code, sig) => resolve([code, sig])));
      if (signal === "SIGHUP") {
        await waitFor(`the reload after ${signal}`, () => (/tftpkit reloaded the configuration/.test(err) ? true : undefined), 10_000, 20);
        proc.kill("SIGTERM");
      }
      expect(await exit).toEqual([0, null]);
      expect(err).toMatch(/SIGTERM: draining/);
    }
  });

  it("a handler module that does not load names the file and the line", async () => {
    const dir = tree({
      "syntax.js": "export default function handler() {\n  return 'x';\n}\nconst broken = ;\n",
      "throws.js": "export default () => 'x';\n\nthrow new Error('no config for this rack');\n",
      "nothing.js": "export const x = 1;\n",
      "package.json": '{ "type": "module" }',
    });
    const syntax = await serveFails(["--handler", join(dir, "syntax.js")]);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toContain(`--handler ${join(dir, "syntax.js")}: cannot load (line 4): SyntaxError: Unexpected token ';'`);
    const throws = await serveFails(["--handler", join(dir, "throws.js")]);
    expect(throws.stderr).toContain(`--handler ${join(dir, "throws.js")}: cannot load (line 3, column 7): no config for this rack`);
    const missing = await serveFails(["--handler", join(dir, "missing.js")]);
    expect(missing.stderr).toMatch(/--handler \S+missing\.js: cannot load: .*Cannot find module/);
    const nothing = await serveFails(["--handler", join(dir, "nothing.js")]);
    expect(nothing.stderr).toMatch(/nothing\.js: the module must export a handler function/);
    for (const r of [syntax, throws, missing, nothing]) expect(r.stderr).not.toMatch(/serving/);
  });
});

describe("start-up: the V8 flags", () => {
  // V8 sets its memory reducer up with the heap: only flags on node's command
  // line stop it (see flags.ts), so the launcher's first line names them.
  it("bin/tftpkit.js's first line names exactly V8_FLAGS; run as a program, the primary and every worker have them on node's command line", async () => {
    expect(readFileSync(BIN, "utf8").split("\n")[0]).toBe(`#!/usr/bin/env -S node ${V8_FLAGS.join(" ")}`);
    const cli = await startServe(["--host", "127.0.0.1", "--port", "0", "--admin", "off", "--workers", "2", "--root", tree({ a: "x" })], {}, { executable: true });
    const workers = [.../workers: ([^)]*)\)/.exec(cli.stderr())![1].matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(workers).toHaveLength(2);
    for (const pid of [cli.proc.pid!, ...workers]) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      expect(argv[0]).toMatch(/node/);
      for (const flag of V8_FLAGS) expect(argv).toContain(flag);
    }
  });
});

describe("start-up: the admin port", () => {
  const held: Server[] = [];
  afterAll(() => held.forEach((s) => s.close()));
  const hold = (port: number): Promise<number | undefined> =>
    new Promise((resolve) => {
      const s = createNetServer();
      s.once("error", () => resolve(undefined)); // taken already (by another process): as good
      s.listen(port, "127.0.0.1", () => {
        held.push(s);
        resolve((s.address() as { port: number }).port);
      });
    });

  it("an explicit admin address that is taken stops the start before anything is announced", async () => {
    const port = (await hold(0))!;
    const dir = tree({ "a.txt": "a" });
    const r = await runTftpkit(["serve", "--host", "127.0.0.1", "--port", "0", "--root", dir, "--admin", `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`--admin 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    expect(r.stderr).not.toMatch(/serving/);
  });

  it("the default admin port taken (a second instance): a free port instead, said in one line", async () => {
    await hold(9069);
    const dir = tree({ "a.txt": "a" });
    const cli = await startCli(["--root", dir]);
    expect(cli.stderr()).toMatch(/^tftpkit: admin port 9069 is taken; admin on a free port instead \(choose one with --admin HOST:PORT, or --admin off\)$/m);
    expect(cli.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cli.adminUrl).not.toBe("http://127.0.0.1:9069");
    const health = await fetch(`${cli.adminUrl}/healthz`);
    expect(health.status).toBe(200);
  });
});

describe("start-up: the TFTP port", () => {
  it("a UDP port already taken stops the start with one line naming --port", async () => {
    const sock = createSocket("udp4");
    const port = await new Promise<number>((resolve) => sock.bind(0, "127.0.0.1", () => resolve(sock.address().port)));
    try {
      const dir = tree({ "a.txt": "a" });
      const r = await runTftpkit(["serve", "--host", "127.0.0.1", "--port", String(port), "--admin", "off", dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`tftpkit: --host 127.0.0.1 --port ${port}: the UDP port is taken (another TFTP server?); choose another --port\n`);
    } finally {
      sock.close();
    }
  });
});

describe("faults", () => {
  it("a handler's exception: ERROR 0 \"Internal server error\" on the wire, its message and stack in the session's log line", async () => {
    const dir = tree({
      "h.js": [
        "export default function handler(req) {",
        "  if (req.path === 'sync') throw new RangeError('disk table corrupt');",
        "  if (req.path === 'async') return Promise.reject(new Error('upstream said 500'));",
        "  if (req.path === 'value') throw 'a thrown string';",
        "  return 'fine\\n';",
        "}",
      ].join("\n"),
      "package.json": '{ "type": "module" }',
    });
    const cli = await startCli(["--handler", join(dir, "h.js"), "--admin", "off", "--log", "json"]);
    for (const path of ["sync", "async", "value"]) {
      expect(await rrqAnswer(cli.udpPort, path)).toEqual({ opcode: 5, code: 0, message: "Internal server error" });
    }
    const lines = await waitFor("three log lines", () => {
      const l = cli.stdout().split("\n").filter((x) => x.includes('"outcome":"handler-error"'));
      return l.length === 3 ? l.map((x) => JSON.parse(x) as { path: string; handlerError: { name: string; message: string; stack?: string } }) : undefined;
    }, 10_000, 20);
    const by = Object.fromEntries(lines.map((l) => [l.path, l.handlerError]));
    expect(by.sync).toMatchObject({ name: "RangeError", message: "disk table corrupt" });
    expect(by.sync.stack).toMatch(/RangeError: disk table corrupt\n\s+at handler \(file:\/\/\S+h\.js\?v=\d+:2:\d+\)/);
    expect(by.async).toMatchObject({ name: "Error", message: "upstream said 500" });
    expect(by.async.stack).toMatch(/h\.js\?v=\d+:3:/);
    expect(by.value).toEqual({ name: "string", message: "a thrown string" });
    expect(cli.proc.exitCode).toBeNull(); // still running
    expect(await rrqAnswer(cli.udpPort, "ok")).toMatchObject({ opcode: 3 });
  });

  it("the text log line carries the handler's error too", async () => {
    const dir = tree({ "h.js": "export default () => { throw new TypeError('bad mac'); };\n", "package.json": '{ "type": "module" }' });
    const cli = await startCli(["--handler", join(dir, "h.js"), "--admin", "off", "--log", "text"]);
    expect(await rrqAnswer(cli.udpPort, "x")).toMatchObject({ opcode: 5, code: 0 });
    await waitFor("the log line", () => (/^read handler-error .* handlerError="TypeError: bad mac" stack="TypeError: bad mac\\n\s+at /m.test(cli.stdout()) ? true : undefined), 10_000, 20);
  });

  it("an error nothing catches (not a handler's) is logged with its stack and the process exits 70 (one process; with workers the primary restarts the worker)", async () => {
    const port = await freeUdpPort();
    const dir = tree({
      "h.js": "export default () => 'x';\nsetTimeout(() => { throw new Error('stray timer of the module'); }, 2500);\n",
      "package.json": '{ "type": "module" }',
    });
    const r = await runTftpkit(["serve", "--workers", "1", "--host", "127.0.0.1", "--port", String(port), "--admin", "off", "--handler", join(dir, "h.js")], 30_000);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/serving/);
    expect(r.stderr).toMatch(/tftpkit: internal error \(uncaught exception\), exiting: Error: stray timer of the module\n\s+at Timeout\._onTimeout \(file:\/\/\S+h\.js\?v=\d+:2:/);
  });
});
