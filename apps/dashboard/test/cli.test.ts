// tftpkit-dashboard's flags: bad ones stop the start with one line naming the flag.

import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseListen } from "../src/cli.js";
import { parseMember } from "../src/fleet.js";

const BIN = join(import.meta.dirname, "..", "bin", "tftpkit-dashboard.js");

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stderr });
    });
  });
}

describe("parseMember", () => {
  it("takes URL or NAME=URL, without a trailing slash", () => {
    expect(parseMember("http://127.0.0.1:9069/")).toEqual({ name: "http://127.0.0.1:9069", url: "http://127.0.0.1:9069" });
    expect(parseMember("rack2=http://10.0.2.2:9069")).toEqual({ name: "rack2", url: "http://10.0.2.2:9069" });
    expect(parseMember("edge=https://tftp.example/admin/")).toEqual({ name: "edge", url: "https://tftp.example/admin" });
  });

  it("refuses what is not an http(s) admin address", () => {
    expect(() => parseMember("127.0.0.1:9069")).toThrow(/--server/);
    expect(() => parseMember("file:///etc/passwd")).toThrow(/only http: and https:/);
    expect(() => parseMember("http://u:p@127.0.0.1:9069")).toThrow(/credentials/);
  });
});

describe("parseListen", () => {
  it("reads HOST:PORT, [v6]:PORT and :PORT (loopback)", () => {
    expect(parseListen("127.0.0.1:9070")).toEqual({ host: "127.0.0.1", port: 9070 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListen(":9070")).toEqual({ host: "127.0.0.1", port: 9070 });
    expect(() => parseListen("9070")).toThrow(/--listen/);
    expect(() => parseListen("127.0.0.1:70000")).toThrow(/--listen/);
  });
});

describe("tftpkit-dashboard", () => {
  it("without --server exits 2 with one line naming --server", async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^tftpkit-dashboard: --server/);
  });

  it("with a bad --listen or a repeated name exits 2 naming the flag", async () => {
    const bad = await run(["--server", "http://127.0.0.1:1", "--listen", "nowhere"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--listen/);
    const twice = await run(["--server", "a=http://127.0.0.1:1", "--server", "a=http://127.0.0.1:2", "--listen", "127.0.0.1:0"]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/--server a: named twice/);
  });
});
