// One declaration per option: --help, --print-config, config files (JSON and
// YAML), the table of docs/cli.md and the in.tftpd flags all come from the same
// tables, and stay in step.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { SERVER_OPTIONS } from "@tftpkit/server/internal";
import { ConfigErrorCode, TftpConfigError } from "@tftpkit/options";
import { flagsToInput, parseServeArgs, UsageError } from "../src/config/args.js";
import { CONFIG_KEYS, loadConfig, printableConfig, validateConfig } from "../src/config/config.js";
import { optionsTable } from "../src/config/options-doc.js";
import { curlPut, curlTftp, freeUdpPort, hasCurl, runTftpkit, startCli, startServe, stopAllClis, removeTrees, tree, waitFor } from "./helpers.js";

afterEach(() => stopAllClis());
afterAll(() => removeTrees());

const COMMAND_ONLY = ["help", "config", "print-config", "version"];
const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe("one declaration per option", () => {
  it("--print-config keys and --help flags match one to one (plus --help, --config, --print-config, --version)", async () => {
    const dir = tree({ "f.txt": "x" });
    const help = await runTftpkit(["serve", "--help"]);
    expect(help.code).toBe(0);
    const flags = new Set([...help.stdout.matchAll(/--(?:\[no-\])?([a-z][a-z0-9-]*)/g)].map((m) => m[1]));
    const printed = await runTftpkit(["serve", "--root", dir, "--print-config"]);
    expect(printed.code).toBe(0);
    const keys = Object.keys(JSON.parse(printed.stdout) as object);
    expect(keys).toEqual([...CONFIG_KEYS]);
    expect([...flags].sort()).toEqual([...keys.map(kebab), ...COMMAND_ONLY].sort());
  });

  it("--print-config shows defaults, file and flags merged, and its output is a valid config file", async () => {
    const dir = tree({ "files/a.txt": "a", "tftpkit.yaml": "root: files\nmaxBlksize: 1468\nlog: text\n" });
    const r = await runTftpkit(["serve", "--config", join(dir, "tftpkit.yaml"), "--max-windowsize", "8", "--print-config"]);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ root: join(dir, "files"), maxBlksize: 1468, maxWindowsize: 8, log: "text", port: 69, rateBurst: null });
    writeFileSync(join(dir, "printed.json"), r.stdout);
    const again = await loadConfig(join(dir, "printed.json"));
    expect(again).toMatchObject({ root: join(dir, "files"), maxBlksize: 1468, maxWindowsize: 8, log: "text" });
  });

  it("every data option of the library is a config key; options set in code only are not", () => {
    for (const [k, spec] of Object.entries(SERVER_OPTIONS)) {
      expect(CONFIG_KEYS.includes(k as never), k).toBe(!("code" in spec && spec.code) || k === "handler");
    }
  });

  it("the generated flag table has a row per config key (docs/cli.md holds it: test/docs)", () => {
    for (const k of CONFIG_KEYS) expect(optionsTable()).toContain(`| \`${k}\` |`);
  });

  it("tftpkit --version and tftpkit serve --version print the package's version", async () => {
    const { version } = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as { version: string };
    for (const args of [["--version"], ["serve", "--version"], ["serve", "-V"]]) {
      const r = await runTftpkit(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toBe(`tftpkit ${version}\n`);
    }
  });
});

describe("config files", () => {
  it("a YAML config file is read like a JSON one (paths relative to the file)", async () => {
    const dir = tree({
      "tftpkit.yml": [
        "# comments are fine",
        "root: files",
        "maxBlksize: 1468",
        "refuseOptions: [tsize]",
        "portRange: [50000, 50010]",
        "clientRoots:",
        "  - match: 10.0.0.0/8",
        "    root: rack",
        "allowWrite: true",
        "rateBurst: null",
        "log: 'off'",
      ].join("\n"),
    });
    const c = await loadConfig(join(dir, "tftpkit.yml"));
    expect(c).toMatchObject({
      root: join(dir, "files"), maxBlksize: 1468, refuseOptions: ["tsize"], portRange: [50000, 50010],
      clientRoots: [{ match: "10.0.0.0/8", root: join(dir, "rack") }], allowWrite: true, log: "off",
    });
    expect(c.rateBurst).toBeUndefined();
  });

  it("a bad YAML file lists every problem with its key", async () => {
    const dir = tree({
      "bad.yaml": ["root: .", "port: sixty-nine", "maxBlksize: 70000", "max_sessions: 5", "allowOverwrite: true", "log: xml", "timeoutSeconds: 0"].join("\n"),
    });
    const err = (await loadConfig(join(dir, "bad.yaml")).catch((e: unknown) => e)) as TftpConfigError;
    expect(err).toBeInstanceOf(TftpConfigError);
    expect(err.code).toBe("TFTP_ERR_CONFIG");
    expect(err.problems).toEqual([
      '"port" must be an integer from 0 to 65535 (got "sixty-nine")',
      '"maxBlksize" must be an integer from 8 to 65464 (got 70000)',
      'unknown key "max_sessions" (did you mean "maxSessions"?)',
      '"log" must be one of json, text, off (got "xml")',
      '"timeoutSeconds" must be a number from 0.01 to 255 seconds (got 0)',
      '"allowOverwrite" needs "allowWrite": true',
    ]);
    expect(err.issues.map((p) => [p.key, p.code])).toEqual([
      ["port", ConfigErrorCode.VALUE],
      ["maxBlksize", ConfigErrorCode.VALUE],
      ["max_sessions", ConfigErrorCode.UNKNOWN],
      ["log", ConfigErrorCode.VALUE],
      ["timeoutSeconds", ConfigErrorCode.VALUE],
      ["allowOverwrite", ConfigErrorCode.CONFLICT],
    ]);
    expect(err.reason).toBe(ConfigErrorCode.VALUE);
    expect(err.message).toContain("bad.yaml");
  });

  it("YAML that does not parse: every syntax error with its line", async () => {
    const dir = tree({ "broken.yaml": "root: .\nport: [1, 2\nroot: again\n" });
    const err = (await loadConfig(join(dir, "broken.yaml")).catch((e: unknown) => e)) as TftpConfigError;
    expect(err).toBeInstanceOf(TftpConfigError);
    expect(err.reason).toBe(ConfigErrorCode.FILE);
    expect(err.problems.length).toBeGreaterThanOrEqual(1);
    for (const p of err.problems) expect(p).toMatch(/^not valid YAML at line \d+, column \d+: /);
  });

  it("a bad JSON file lists every problem with its key, and so do flags", async () => {
    const dir = tree({ "bad.json": JSON.stringify({ root: ".", retries: "many", mtu: 20, singlePort: "yes", portRange: [9, 3] }) });
    const err = (await loadConfig(join(dir, "bad.json")).catch((e: unknown) => e)) as TftpConfigError;
    expect(err.issues.map((p) => p.key)).toEqual(["retries", "mtu", "singlePort", "portRange"]);
    expect(err.problems[1]).toBe('"mtu" must be 0 or an integer from 68 to 65575 (got 20)');
    expect(err.problems[3]).toBe('"portRange" must be [low, high] with 1 <= low <= high <= 65535 (got [9,3])');
    expect(() => validateConfig(flagsToInput({ root: "/", "max-blksize": "big", "drain-seconds": "-1" }), "command line", "/")).toThrow(
      /command line: \n {2}"maxBlksize" must be an integer from 8 to 65464 \(got "big"\)\n {2}"drainSeconds" must be a number from 0 to 3600 seconds/,
    );
  });
});

describe("renamed keys and flags (one release of grace)", () => {
  it("an old config key is read as its new one, with one line naming the new key", async () => {
    const dir = tree({ "old.yaml": ["root: .", "timeout: 2", "maxClientTimeout: 20", "flowsMax: 5", "flowStepsMax: 7", "fileCacheMaxFileBytes: 1000"].join("\n") });
    const warnings: string[] = [];
    const c = await loadConfig(join(dir, "old.yaml"), warnings);
    expect(c).toMatchObject({ timeoutSeconds: 2, maxClientTimeoutSeconds: 20, maxFlows: 5, maxFlowSteps: 7, maxCachedFileBytes: 1000 });
    expect(warnings).toEqual([
      `${join(dir, "old.yaml")}: "timeout" is deprecated: use "timeoutSeconds"`,
      `${join(dir, "old.yaml")}: "maxClientTimeout" is deprecated: use "maxClientTimeoutSeconds"`,
      `${join(dir, "old.yaml")}: "flowsMax" is deprecated: use "maxFlows"`,
      `${join(dir, "old.yaml")}: "flowStepsMax" is deprecated: use "maxFlowSteps"`,
      `${join(dir, "old.yaml")}: "fileCacheMaxFileBytes" is deprecated: use "maxCachedFileBytes"`,
    ]);
    expect(Object.keys(printableConfig(c))).not.toContain("timeout");
  });

  it("an old key next to its new one is a conflict; an old key's bad value names the new key", () => {
    const err = (() => {
      try {
        validateConfig({ root: "/", timeout: 2, timeoutSeconds: 3, flowsMax: -1 }, "c.json", "/");
      } catch (e) {
        return e as TftpConfigError;
      }
      throw new Error("no error");
    })();
    expect(err).toBeInstanceOf(TftpConfigError);
    expect(err.issues.map((p) => [p.key, p.code])).toEqual([
      ["maxFlows", ConfigErrorCode.VALUE],
      ["timeout", ConfigErrorCode.CONFLICT],
    ]);
    expect(err.problems[1]).toBe('"timeout" is the old name of "timeoutSeconds": give only "timeoutSeconds"');
  });

  it("an old flag is read as its new one, with one notice naming the new flag", () => {
    const a = parseServeArgs(["--timeout", "2", "--flows-max=5", "--max-client-timeout", "20", "--flow-steps-max", "7", "--file-cache-max-file-bytes", "1000", "/srv"]);
    expect(a.values).toEqual({
      "timeout-seconds": "2", "max-flows": "5", "max-client-timeout-seconds": "20", "max-flow-steps": "7", "max-cached-file-bytes": "1000", root: "/srv",
    });
    expect(a.notices).toEqual([
      "--timeout is deprecated: use --timeout-seconds",
      "--flows-max is deprecated: use --max-flows",
      "--max-client-timeout is deprecated: use --max-client-timeout-seconds",
      "--flow-steps-max is deprecated: use --max-flow-steps",
      "--file-cache-max-file-bytes is deprecated: use --max-cached-file-bytes",
    ]);
    expect(validateConfig(flagsToInput(a.values), "command line", "/")).toMatchObject({ timeoutSeconds: 2, maxFlows: 5 });
  });
});

describe("in.tftpd flags", () => {
  it("map to config flags", () => {
    const a = parseServeArgs(["-s", "/srv/tftp", "-a", "127.0.0.1:6969", "-B", "1468", "-c", "-u", "tftp", "-m", "/etc/remap", "-r", "tsize", "-rblksize", "-R", "50000:50010", "-T", "250000", "-vv", "-l", "-L"]);
    expect(a.values).toEqual({
      root: "/srv/tftp", host: "127.0.0.1", port: "6969", "max-blksize": "1468", "allow-write": true, user: "tftp",
      remap: "/etc/remap", "refuse-options": "tsize,blksize", "port-range": "50000:50010", "timeout-seconds": "0.25",
    });
    expect(a.verbose).toBe(2);
    expect(flagsToInput(a.values)).toEqual({
      root: "/srv/tftp", host: "127.0.0.1", port: 6969, maxBlksize: 1468, allowWrite: true, user: "tftp",
      remap: "/etc/remap", refuseOptions: ["tsize", "blksize"], portRange: [50000, 50010], timeoutSeconds: 0.25,
    });
    expect(parseServeArgs(["-svc", "/srv"]).values).toEqual({ root: "/srv", "allow-write": true });
    expect(parseServeArgs(["-a", "[::1]:69"]).values).toEqual({ host: "::1", port: "69" });
    expect(parseServeArgs(["-a", "::1"]).values).toEqual({ host: "::1" });
    expect(parseServeArgs(["-a", ":6969"]).values).toEqual({ port: "6969" });
    expect(parseServeArgs(["-4"]).values).toEqual({ host: "0.0.0.0" });
    expect(parseServeArgs(["--address", "10.0.0.1", "-6"]).values).toEqual({ host: "10.0.0.1" });
    expect(parseServeArgs(["--secure", "--create", "--blocksize=512", "/x"]).values).toEqual({ root: "/x", "allow-write": true, "max-blksize": "512" });
    expect(parseServeArgs(["-p", "-U", "022"]).notices).toEqual([
      expect.stringMatching(/^-p \(permissive\) is ignored/),
      expect.stringMatching(/^-U \(umask\) is ignored/),
    ]);
    expect(parseServeArgs(["--no-bind-interfaces", "--allow-write=false"]).values).toEqual({ "bind-interfaces": false, "allow-write": false });
  });

  it("wrong command lines are usage errors", () => {
    const err = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as UsageError).code).toBe("TFTP_ERR_USAGE");
        return (e as Error).message;
      }
      throw new Error("no error");
    };
    expect(err(() => parseServeArgs(["--max-blksze", "1468"]))).toMatch(/^unknown flag --max-blksze \(did you mean --max-blksize\?\)/);
    expect(err(() => parseServeArgs(["--allow_write"]))).toMatch(/did you mean --allow-write\?/);
    expect(err(() => parseServeArgs(["-x"]))).toMatch(/^unknown flag -x/);
    expect(err(() => parseServeArgs(["-B"]))).toBe("-B needs a value");
    expect(err(() => parseServeArgs(["--port"]))).toBe("--port needs a value");
    expect(err(() => parseServeArgs(["/a", "/b"]))).toMatch(/one root directory only/);
    expect(err(() => parseServeArgs(["--root", "/a", "/b"]))).toMatch(/the root is given twice/);
  });

  it("an unknown flag prints the closest known one and exits 2", async () => {
    const r = await runTftpkit(["serve", "--max-blksze", "1468", "/tmp"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown flag --max-blksze \(did you mean --max-blksize\?\)/);
    expect(r.stdout).toBe("");
  });

  it.skipIf(!hasCurl)("tftpkit serve -s DIR -a 127.0.0.1:PORT -B 1468 -c serves and accepts uploads", async () => {
    const content = randomBytes(50_000);
    const dir = tree({ "boot/kernel": content });
    const src = tree({ "up.bin": randomBytes(30_000) });
    const port = await freeUdpPort();
    const cli = await startServe(["-s", dir, "-a", `127.0.0.1:${port}`, "-B", "1468", "-c", "-p", "--admin", "off", "--log", "text"]);
    expect(cli.udpPort).toBe(port);
    expect(cli.stderr()).toMatch(/-p \(permissive\) is ignored/);
    const r = await curlTftp(port, "boot/kernel", ["--tftp-blksize", "8192"]);
    expect(r.code).toBe(0);
    expect(r.data.equals(content)).toBe(true);
    expect(await curlPut(port, join(src, "up.bin"), "up.bin", ["--tftp-blksize", "8192"])).toBe(0);
    expect(readFileSync(join(dir, "up.bin")).equals(readFileSync(join(src, "up.bin")))).toBe(true);
    await waitFor("both log lines", () => (/^write ok .*blksize=1468/m.test(cli.stdout()) && /^read ok .*blksize=1468/m.test(cli.stdout()) ? true : undefined), 5000, 20);
  });

  it("tftpkit serve with an old flag and an old config key starts and prints one line naming each new name", async () => {
    const dir = tree({ "a.txt": "A\n", "old.yaml": "root: .\ntimeout: 2\n" });
    const cli = await startCli(["--config", join(dir, "old.yaml"), "--admin", "off", "--workers", "1", "--flows-max", "10"]);
    const lines = cli.stderr().split("\n");
    expect(lines).toContain("tftpkit: --flows-max is deprecated: use --max-flows");
    expect(lines).toContain(`tftpkit: ${join(dir, "old.yaml")}: "timeout" is deprecated: use "timeoutSeconds"`);
  });

  it.skipIf(!hasCurl)("a config flag and its in.tftpd alias on one line: the later one wins", async () => {
    const dir = tree({ "a.txt": "A\n" });
    const cli = await startCli([dir, "--admin", "off", "--max-blksize", "512", "-B", "1024", "--log", "text"]);
    expect((await curlTftp(cli.udpPort, "a.txt", ["--tftp-blksize", "4096"])).data.toString()).toBe("A\n");
    await waitFor("the log line", () => (/^read ok .*blksize=1024/m.test(cli.stdout()) ? true : undefined), 5000, 20);
  });
});
