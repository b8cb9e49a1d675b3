// The option-schema machinery: clear messages, every problem at once, the
// error catalog, defaults and "did you mean".

import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ConfigErrorCode, TftpConfigError, applyRenames, bool, checkOptions, closestKey, defaultsOf, int, listOf, num, oneOf, option, resolveTable, str,
} from "../src/index.js";

const BLKSIZE_MAX = 65464;

const table = {
  blksize: option({ ...int(8, BLKSIZE_MAX), default: 512, description: "block size" }),
  timeout: option({ ...num(0.5, 255, "seconds"), default: 1, description: "timeout" }),
  write: option({ ...bool(), default: false, description: "writes" }),
  name: option({ ...str(), description: "a name" }),
  log: option({ ...oneOf("json", "text"), default: "json" as "json" | "text", description: "log format" }),
  refuse: option({ ...listOf("tsize", "blksize"), default: [], description: "refused" }),
};

describe("option schemas", () => {
  it("fills defaults and keeps valid values", () => {
    expect(resolveTable(table, { blksize: 1468, name: "x" })).toEqual({ blksize: 1468, timeout: 1, write: false, name: "x", log: "json", refuse: [] });
    expect(defaultsOf(table)).toEqual({ blksize: 512, timeout: 1, write: false, log: "json", refuse: [] });
    expect(Object.isFrozen(defaultsOf(table))).toBe(true);
  });

  it("lists every problem, each naming its key, with the value got", () => {
    const { problems } = checkOptions(table, { blksize: 7, timeout: "1", write: 1, name: "", log: "xml", refuse: ["mtu"], other: 1 });
    expect(problems.map((p) => p.message)).toEqual([
      `blksize must be an integer from 8 to ${BLKSIZE_MAX} (got 7)`,
      'timeout must be a number from 0.5 to 255 seconds (got "1")',
      "write must be true or false (got 1)",
      'name must be a non-empty string (got "")',
      'log must be one of json, text (got "xml")',
      'refuse must be a list of tsize, blksize (got ["mtu"])',
    ]);
    expect(problems.every((p) => p.code === ConfigErrorCode.VALUE)).toBe(true);
    const err = (() => {
      try {
        resolveTable(table, { blksize: 1.5, timeout: 300 });
      } catch (e) {
        return e as TftpConfigError;
      }
    })()!;
    expect(err).toBeInstanceOf(TftpConfigError);
    expect(err.code).toBe("TFTP_ERR_CONFIG");
    expect(err.message).toBe(`\n  blksize must be an integer from 8 to ${BLKSIZE_MAX} (got 1.5)\n  timeout must be a number from 0.5 to 255 seconds (got 300)`);
    expect(err.issues.map((i) => i.key)).toEqual(["blksize", "timeout"]);
  });

  it("unknown keys: a problem with the closest key, or ignored", () => {
    const { problems } = checkOptions(table, { Blk_Size: 5, nmae: "x", zzzzzz: 1 }, { unknownKeys: "problem" });
    expect(problems.map((p) => [p.code, p.message])).toEqual([
      [ConfigErrorCode.UNKNOWN, 'unknown key "Blk_Size" (did you mean "blksize"?)'],
      [ConfigErrorCode.UNKNOWN, 'unknown key "nmae" (did you mean "name"?)'],
      [ConfigErrorCode.UNKNOWN, 'unknown key "zzzzzz"'],
    ]);
    expect(checkOptions(table, { zzzzzz: 1 }).problems).toEqual([]);
    expect(closestKey("max-blksze", ["max-blksize", "max-windowsize"])).toBe("max-blksize");
    expect(closestKey("port", ["max-blksize"])).toBeUndefined();
  });

  it("null is unset only where asked (config files)", () => {
    expect(checkOptions(table, { name: null }, { nullIsUnset: true })).toEqual({ values: {}, problems: [] });
    expect(checkOptions(table, { name: null }).problems).toHaveLength(1);
  });

  it("TftpConfigError: one problem, a source, a catalog code", () => {
    const e = new TftpConfigError({ code: ConfigErrorCode.REMAP, key: "remap", message: "line 3: bad" }, "/etc/remap");
    expect(e.message).toBe("/etc/remap: line 3: bad");
    expect(e.reason).toBe("TFTP_ERR_CONFIG_REMAP");
    expect(e.problems).toEqual(["line 3: bad"]);
    expect(new TftpConfigError("plain").reason).toBe(ConfigErrorCode.VALUE);
    expect(Object.values(ConfigErrorCode).every((c) => /^TFTP_ERR_CONFIG_[A-Z]+$/.test(c))).toBe(true);
  });
});

describe("TftpConfigError across copies", () => {
  it("instanceof holds for an error from another copy of the package (a Symbol.for brand)", async () => {
    // A second installed copy, as two versions in one node_modules tree give: the built module copied elsewhere.
    const dir = mkdtempSync(join(tmpdir(), "tftpkit-options-copy-"));
    copyFileSync(fileURLToPath(new URL("../dist/errors.js", import.meta.url)), join(dir, "errors.js"));
    const other = (await import(pathToFileURL(join(dir, "errors.js")).href)) as typeof import("../src/errors.js");
    rmSync(dir, { recursive: true, force: true });
    expect(other.TftpConfigError).not.toBe(TftpConfigError);
    const err = new other.TftpConfigError("x must be 1");
    expect(err).toBeInstanceOf(TftpConfigError);
    expect(new TftpConfigError("y must be 2")).toBeInstanceOf(other.TftpConfigError);
    expect(err.code).toBe("TFTP_ERR_CONFIG");
  });

  it("instanceof is false for other errors and for look-alikes without the brand", () => {
    expect(new Error("x")).not.toBeInstanceOf(TftpConfigError);
    expect({ code: "TFTP_ERR_CONFIG", name: "TftpConfigError" }).not.toBeInstanceOf(TftpConfigError);
    expect(null).not.toBeInstanceOf(TftpConfigError);
  });
});

describe("applyRenames", () => {
  const renames = { timeout: "timeoutSeconds", flowsMax: "maxFlows" };

  it("reads an old name as the new one, with one line per old name", () => {
    expect(applyRenames({ timeout: 2, root: "/srv", flowsMax: 3 }, renames)).toEqual({
      input: { timeoutSeconds: 2, root: "/srv", maxFlows: 3 },
      warnings: ['"timeout" is deprecated: use "timeoutSeconds"', '"flowsMax" is deprecated: use "maxFlows"'],
      problems: [],
    });
    expect(applyRenames({ timeoutSeconds: 2 }, renames)).toEqual({ input: { timeoutSeconds: 2 }, warnings: [], problems: [] });
  });

  it("both names at once is a conflict naming both", () => {
    const r = applyRenames({ timeout: 2, timeoutSeconds: 3 }, renames, (k) => k);
    expect(r.input).toEqual({ timeoutSeconds: 3 });
    expect(r.problems).toEqual([{ code: ConfigErrorCode.CONFLICT, key: "timeout", message: "timeout is the old name of timeoutSeconds: give only timeoutSeconds" }]);
  });
});
