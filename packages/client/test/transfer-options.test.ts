// Client and transfer options: validation and defaults.

import { describe, expect, it } from "vitest";
import { createClient, TftpConfigError } from "../src/index.js";
import { resolveTransferOptions } from "../src/options.js";

describe("options", () => {
  it("are validated once, with clear errors", () => {
    expect(() => resolveTransferOptions({ blksize: 7 })).toThrow(/blksize must be an integer from 8 to 65464/);
    expect(() => resolveTransferOptions({ blksize: 65465 })).toThrow(TftpConfigError);
    expect(() => resolveTransferOptions({ windowsize: 0 })).toThrow(/windowsize/);
    expect(() => resolveTransferOptions({ timeoutSeconds: 0 })).toThrow(/timeout/);
    expect(() => resolveTransferOptions({ timeoutOptionSeconds: 256 })).toThrow(/timeoutOption/);
    expect(() => resolveTransferOptions({ retries: -1 })).toThrow(/retries/);
    expect(() => createClient({ host: "127.0.0.1", port: 70000 })).toThrow(/port/);
    const r = resolveTransferOptions({});
    expect(r).toMatchObject({ blksize: -1, windowsize: -1, tsize: false, timeoutMs: 1000, retries: 5, mode: "octet" });
    expect(Object.isFrozen(r)).toBe(true);
  });

  it("no timeout set: an adaptive RTO (floor rtoFloorMs, ceiling the default timeout); a timeout set: fixed", () => {
    expect(resolveTransferOptions({})).toMatchObject({ timeoutMs: 1000, rtoFloorMs: 50 });
    expect(resolveTransferOptions({ rtoFloorMs: 5 })).toMatchObject({ timeoutMs: 1000, rtoFloorMs: 5 });
    expect(resolveTransferOptions({ timeoutSeconds: 2 })).toMatchObject({ timeoutMs: 2000, rtoFloorMs: 0 });
    expect(resolveTransferOptions({ timeoutSeconds: 1, rtoFloorMs: 5 }).rtoFloorMs).toBe(0);
    expect(() => resolveTransferOptions({ rtoFloorMs: 0 })).toThrow(/rtoFloorMs/);
  });
});
