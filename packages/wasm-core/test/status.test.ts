// The status numbers and limits shared by the core and the TypeScript side agree.

import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { core } from "../src/core.js";
import { Status, TftpError, TftpMalformedError, statusMessage } from "../src/index.js";

describe("status numbers", () => {
  it("assembly/status.ts and src/status.ts define the same statuses", () => {
    const src = readFileSync(new URL("../assembly/status.ts", import.meta.url), "utf8");
    const fromCore: Record<string, number> = {};
    for (const m of src.matchAll(/export const (?:E_)?([A-Z_]+): i32 = (\d+);/g)) fromCore[m[1]] = Number(m[2]);
    expect(Object.keys(fromCore).length).toBeGreaterThan(10);
    expect(fromCore).toEqual({ ...Status });
  });

  it("every error status has a message and a typed error", () => {
    for (const [name, n] of Object.entries(Status)) {
      if (n === 0) continue;
      expect(statusMessage(n), name).not.toMatch(/^status /);
      const e = new TftpMalformedError(n);
      expect(e.status).toBe(n);
      expect(e.wireCode).toBe(4);
      expect(e.code).toBe("TFTP_ERR_MALFORMED");
    }
  });

  it("the core's limits are the ones the reference codec assumes", () => {
    const c = core();
    expect(c.PACKET_MAX).toBe(65600);
    expect(c.MAX_OPTIONS).toBe(32);
  });
});

describe("error classes across installed copies", () => {
  it("instanceof TftpError and TftpMalformedError hold for errors of another copy (a Symbol.for brand), and only for their own class", async () => {
    // A second installed copy, as two versions in one node_modules tree give: the built modules copied elsewhere.
    const dir = mkdtempSync(join(tmpdir(), "tftpkit-wasm-core-copy-"));
    for (const f of ["errors.js", "status.js"]) copyFileSync(fileURLToPath(new URL(`../dist/${f}`, import.meta.url)), join(dir, f));
    const other = (await import(pathToFileURL(join(dir, "errors.js")).href)) as typeof import("../src/errors.js");
    rmSync(dir, { recursive: true, force: true });
    expect(other.TftpError).not.toBe(TftpError);
    expect(new other.TftpError(1, "File not found")).toBeInstanceOf(TftpError);
    expect(new other.TftpMalformedError(1)).toBeInstanceOf(TftpMalformedError);
    expect(new other.TftpMalformedError(1)).toBeInstanceOf(TftpError);
    expect(new TftpError(1, "File not found")).not.toBeInstanceOf(other.TftpMalformedError);
    expect(new Error("x")).not.toBeInstanceOf(TftpError);
    expect({ code: "TFTP_ERR_NOT_FOUND", wireCode: 1 }).not.toBeInstanceOf(TftpError);
  });
});
