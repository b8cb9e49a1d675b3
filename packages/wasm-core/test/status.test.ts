// The status numbers and limits shared by the core and the TypeScript side agree.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { core } from "../src/core.js";
import { Status, TftpMalformedError, statusMessage } from "../src/index.js";

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
