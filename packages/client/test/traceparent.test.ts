// W3C traceparent values the client makes and carries.

import { describe, expect, it } from "vitest";
import { randomTraceparent, withTraceparent, TftpConfigError } from "../src/index.js";
import { resolveTransferOptions } from "../src/options.js";

describe("traceparent", () => {
  it("a fresh one has the W3C shape and non-zero ids", () => {
    for (let i = 0; i < 50; i++) {
      const tp = randomTraceparent();
      expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(tp).not.toMatch(/^00-0{32}-/);
    }
  });
  it("is appended to the name with a dash", () => {
    const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    expect(withTraceparent("pxelinux.cfg/default", tp)).toBe(`pxelinux.cfg/default-${tp}`);
  });
  it("a malformed one is refused", () => {
    expect(() => resolveTransferOptions({ traceparent: "00-abc-def-01" })).toThrow(TftpConfigError);
    expect(() => resolveTransferOptions({ traceparent: `00-${"0".repeat(32)}-b7ad6b7169203331-01` })).toThrow(TftpConfigError);
  });
});
