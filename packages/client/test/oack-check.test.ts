// The client's check of an OACK against what it asked.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkOack } from "../src/transfer.js";

describe("OACK check", () => {
  const asked = { blksize: "1468", tsize: "0", timeout: "2", windowsize: "16" };
  it.each<[string, Array<[string, string]>, string | object]>([
    ["all granted", [["blksize", "1468"], ["tsize", "1234"], ["timeout", "2"], ["windowsize", "16"]], { blksize: 1468, tsize: 1234, timeout: 2, windowsize: 16 }],
    ["smaller blksize and window", [["blksize", "1024"], ["windowsize", "4"]], { blksize: 1024, windowsize: 4, tsize: -1, timeout: -1 }],
    ["none", [], { blksize: 512, windowsize: 1, tsize: -1, timeout: -1 }],
    ["larger blksize", [["blksize", "1469"]], "blksize 1469 outside 8..1468"],
    ["blksize below 8", [["blksize", "7"]], "blksize 7 outside 8..1468"],
    ["larger window", [["windowsize", "17"]], "windowsize 17 outside 1..16"],
    ["changed timeout", [["timeout", "3"]], "timeout 3 differs from the 2 asked"],
    ["option not asked", [["utimeout", "1000"]], "option utimeout was not asked"],
    ["non-numeric", [["tsize", "enable"]], 'option tsize has a bad value "enable"'],
  ])("%s", (_name, options, want) => {
    const g = checkOack(options, asked);
    if (typeof want === "string") expect(g).toBe(want);
    else expect(g).toEqual(want);
  });
  it("an option never asked is refused whatever its value", () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9]{1,5}$/), (v) => typeof checkOack([["blksize", v]], {}) === "string"));
  });
});
