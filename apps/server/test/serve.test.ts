// The tftpkit command as an operator runs it: a config file, flags over it,
// SIGHUP reload during a transfer, SIGTERM drain, privilege drop, remap rules
// and uploads through the CLI.

import { execFile } from "node:child_process";
import { chmodSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TftpConfigError } from "@tftpkit/options";
import { CONFIG_DEFAULTS, loadConfig, validateConfig } from "../src/config/config.js";
import { flagsToInput } from "../src/cli.js";
import { CURL, curlTftp, hasCurl, sleep, startCli, stopAllClis, removeTrees, tree, waitFor } from "./helpers.js";

/** curl into a file (large downloads do not fit execFile's stdout buffer). */
function curlToFile(port: number, name: string, out: string): Promise<{ code: number; data: Buffer }> {
  return new Promise((resolve) => {
    execFile(CURL, ["-s", "--max-time", "60", "-o", out, `tftp://127.0.0.1:${port}/${name}`], { timeout: 70_000 }, (error) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      let data = Buffer.alloc(0);
      try {
        data = readFileSync(out);
      } catch {
        // no file
      }
      resolve({ code, data });
    });
  });
}

afterEach(() => stopAllClis());
afterAll(() => removeTrees());

describe("configuration file", () => {
  it("every problem is reported with its key, not just the first", async () => {
    const dir = tree({
      "bad.json": JSON.stringify({ root: ".", port: "sixty-nine", maxBlksize: 70000, max_sessions: 5, allowOverwrite: true, log: "xml" }),
    });
    const err = await loadConfig(join(dir, "bad.json")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TftpConfigError);
    const problems = (err as TftpConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/"port" must be an integer from 0 to 65535 \(got "sixty-nine"\)/),
        expect.stringMatching(/"maxBlksize" must be an integer from 8 to 65464/),
        expect.stringMatching(/unknown key "max_sessions" \(did you mean "maxSessions"\?\)/),
        expect.stringMatching(/"allowOverwrite" needs "allowWrite": true/),
        expect.stringMatching(/"log" must be one of json, text, off/),
      ]),
    );
    expect((err as Error).message).toContain("bad.json");
  });

  it("not JSON, or neither root nor handler: a clear error", async () => {
    const dir = tree({ "broken.json": "{ root: 1 ", "empty.json": "{}" });
    await expect(loadConfig(join(dir, "broken.json"))).rejects.toThrow(/not valid JSON/);
    await expect(loadConfig(join(dir, "empty.json"))).rejects.toThrow(/needs "root" or "handler"/);
  });

  it("paths are relative to the file; defaults fill the rest", async () => {
    const dir = tree({ "c.json": JSON.stringify({ root: "files", remap: "rules/remap", clientRoots: [{ match: "10.0.0.0/8", root: "rack" }] }) });
    const c = await loadConfig(join(dir, "c.json"));
    expect(c.root).toBe(join(dir, "files"));
    expect(c.remap).toBe(join(dir, "rules/remap"));
    expect(c.clientRoots).toEqual([{ match: "10.0.0.0/8", root: join(dir, "rack") }]);
    expect(c.port).toBe(CONFIG_DEFAULTS.port);
    expect(c.allowWrite).toBe(false);
  });

  it("flags become config keys and win over the file", () => {
    const input = flagsToInput({ root: "/srv", port: "6969", "allow-write": true, "refuse-options": "blksize, windowsize", "port-range": "50000-50010", "rate-limit": "2.5", "file-cache-bytes": "0" });
    expect(input).toEqual({ root: "/srv", port: 6969, allowWrite: true, refuseOptions: ["blksize", "windowsize"], portRange: [50000, 50010], rateLimit: 2.5, fileCacheBytes: 0 });
    const base = validateConfig({ root: "/a", port: 69, log: "text" }, "file", "/");
    const merged = validateConfig(input, "command line", "/", base);
    expect(merged).toMatchObject({ root: "/srv", port: 6969, log: "text", allowWrite: true });
    expect(() => validateConfig(flagsToInput({ port: "x" }), "command line", "/", base)).toThrow(/"port" must be an integer/);
  });
});

describe.skipIf(!hasCurl)("tftpkit serve", () => {
  it("serves from --config, with flags over it", async () => {
    const dir = tree({ "files/hello.txt": "hello from config\n", "other/hello.txt": "hello from flag\n" });
    writeFileSync(join(dir, "tftpkit.json"), JSON.stringify({ root: "files", log: "json", admin: "off" }));
    const a = await startCli(["--config", join(dir, "tftpkit.json")]);
    expect((await curlTftp(a.udpPort, "hello.txt")).data.toString()).toBe("hello from config\n");
    await a.stop();
    const b = await startCli(["--config", join(dir, "tftpkit.json"), "--root", join(dir, "other")]);
    expect((await curlTftp(b.udpPort, "hello.txt")).data.toString()).toBe("hello from flag\n");
  });

  it("a bad config file stops start-up with the problems listed", async () => {
    const dir = tree({ "c.json": JSON.stringify({ root: ".", port: -1, bogus: true }) });
    await expect(startCli(["--config", join(dir, "c.json")])).rejects.toThrow(/"port" must be an integer[\s\S]*unknown key "bogus"/);
  });

  it("SIGHUP reloads the configuration during a transfer without breaking it", async () => {
    const big = randomBytes(24 * 1024 * 1024);
    const dir = tree({ "a/big.bin": big, "a/v.txt": "A\n", "b/v.txt": "B\n" });
    const cfg = join(dir, "tftpkit.json");
    writeFileSync(cfg, JSON.stringify({ root: "a", admin: "off", log: "text" }));
    const cli = await startCli(["--config", cfg]);
    expect((await curlTftp(cli.udpPort, "v.txt")).data.toString()).toBe("A\n");
    const transfer = curlToFile(cli.udpPort, "big.bin", join(tree(), "out.bin"));
    await sleep(150); // the transfer is under way (24 MiB at 512 bytes a block takes a while)
    writeFileSync(cfg, JSON.stringify({ root: "b", admin: "off", log: "text" }));
    cli.proc.kill("SIGHUP");
    await waitFor("the reload", () => (/reloaded the configuration/.test(cli.stderr()) ? true : undefined), 10_000, 20);
    expect((await curlTftp(cli.udpPort, "v.txt")).data.toString()).toBe("B\n");
    const r = await transfer;
    expect(r.code).toBe(0);
    expect(r.data.equals(big)).toBe(true);
    // The log line follows the last ACK (from a worker, through its pipe): wait for it rather than race curl's exit.
    await waitFor("the big.bin log line", () => (/^read ok 127\.0\.0\.1:\d+ "big\.bin" 25165824B/m.test(cli.stdout()) ? true : undefined), 10_000, 20);
    expect(cli.stdout()).toMatch(/^read ok 127\.0\.0\.1:\d+ "big\.bin" 25165824B/m);
  });

  it("SIGHUP with a broken file keeps the running configuration", async () => {
    const dir = tree({ "a/v.txt": "A\n" });
    const cfg = join(dir, "tftpkit.json");
    writeFileSync(cfg, JSON.stringify({ root: "a", admin: "off" }));
    const cli = await startCli(["--config", cfg]);
    writeFileSync(cfg, JSON.stringify({ root: "a", admin: "off", retries: "many" }));
    cli.proc.kill("SIGHUP");
    await waitFor("the failed reload", () => (/reload failed, the previous configuration stays: .*"retries"/.test(cli.stderr()) ? true : undefined), 10_000, 20);
    expect((await curlTftp(cli.udpPort, "v.txt")).data.toString()).toBe("A\n");
  });

  it("SIGTERM drains a running transfer, then exits 0", async () => {
    const big = randomBytes(16 * 1024 * 1024);
    const dir = tree({ "big.bin": big });
    const cli = await startCli(["--root", dir, "--admin", "off", "--drain-seconds", "30"]);
    const transfer = curlToFile(cli.udpPort, "big.bin", join(tree(), "out.bin"));
    await sleep(200); // the transfer is under way
    const code = await cli.stop(40_000);
    const r = await transfer;
    expect(r.code).toBe(0);
    expect(r.data.equals(big)).toBe(true);
    expect(code).toBe(0);
    expect(cli.stderr()).toMatch(/draining \d+ session/);
  });

  it.skipIf(process.getuid?.() !== 0)("--user drops root privileges after binding", async () => {
    const dir = tree({ "pub.txt": "public\n" });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "pub.txt"), 0o644);
    const cli = await startCli(["--root", dir, "--admin", "off", "--user", "nobody"]);
    const status = readFileSync(`/proc/${cli.proc.pid}/status`, "utf8");
    const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status)!;
    expect(Number(uid[1])).not.toBe(0);
    expect(Number(uid[2])).not.toBe(0);
    expect((await curlTftp(cli.udpPort, "pub.txt")).data.toString()).toBe("public\n");
  });

  it("--remap rewrites names before lookup (tftp-hpa syntax)", async () => {
    const dir = tree({ "files/pxelinux.0": "pxe\n", "remap": "# comment\nrg \\\\ /\nr ^/?tftpboot/ \n" });
    const cli = await startCli(["--root", join(dir, "files"), "--admin", "off", "--remap", join(dir, "remap")]);
    expect((await curlTftp(cli.udpPort, "tftpboot/pxelinux.0")).data.toString()).toBe("pxe\n");
  });

  it("--allow-write: curl uploads land byte for byte; without it uploads are refused", async () => {
    const dir = tree();
    chmodSync(dir, 0o755);
    const src = tree({ "up.bin": randomBytes(100_000) });
    const upload = (port: number): Promise<number> =>
      new Promise((resolve) => {
        execFile(CURL, ["-s", "--max-time", "20", "-T", join(src, "up.bin"), `tftp://127.0.0.1:${port}/up.bin`], (error) =>
          resolve(error ? (typeof error.code === "number" ? error.code : -1) : 0),
        );
      });
    const ro = await startCli(["--root", dir, "--admin", "off"]);
    expect(await upload(ro.udpPort)).not.toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    await ro.stop();
    const rw = await startCli(["--root", dir, "--admin", "off", "--allow-write"]);
    expect(await upload(rw.udpPort)).toBe(0);
    expect(readFileSync(join(dir, "up.bin")).equals(readFileSync(join(src, "up.bin")))).toBe(true);
    await waitFor("the upload's log line", () => (/"kind":"write","outcome":"ok".*"bytes":100000/.test(rw.stdout()) ? true : undefined), 5000, 20);
  });
});
