// Option negotiation (RFC 2347/2348/2349/7440) as both codecs decide it,
// starting from real request bytes wherever the rule is about what clients send.

import { describe, expect, it } from "vitest";
import type { AskedOptions, Codec, NegotiationLimits } from "../src/index.js";
import { ascii, codecs, hex, toHex } from "./util.js";

const read: NegotiationLimits = { maxBlksize: 1468, maxWindowsize: 16, tsize: -1, write: false };

/** Request bytes for `opcode` with the given options in order. */
function request(opcode: 1 | 2, options: Array<[string, string]>): Uint8Array {
  let s = `000${opcode}` + ascii("f") + "00" + ascii("octet") + "00";
  for (const [n, v] of options) s += ascii(n) + "00" + ascii(v) + "00";
  return hex(s);
}

function asked(codec: Codec, opcode: 1 | 2, options: Array<[string, string]>): AskedOptions {
  const d = codec.decode(request(opcode, options));
  if (d.opcode !== opcode) throw new Error(`fixture did not decode: ${JSON.stringify(d)}`);
  return d.asked;
}

/** OACK bytes as hex for "name\0value\0" pairs in order. */
function oack(pairs: Array<[string, string]>): string {
  return "0006" + pairs.map(([n, v]) => ascii(n) + "00" + ascii(v) + "00").join("");
}

describe.each(codecs)("%s", (_name, codec) => {
  const neg = (opcode: 1 | 2, options: Array<[string, string]>, limits: NegotiationLimits = read) =>
    codec.negotiate(asked(codec, opcode, options), limits);

  it("option names are case-insensitive; the OACK uses lower case", () => {
    const n = neg(1, [["BLKSIZE", "1024"], ["TimeOut", "3"], ["WindowSize", "4"]]);
    expect(n).toMatchObject({ blksize: 1024, tsize: -1, timeout: 3, windowsize: 4 });
    expect(toHex(n.oack)).toBe(oack([["blksize", "1024"], ["timeout", "3"], ["windowsize", "4"]]));
  });

  describe("blksize", () => {
    it("below 8 is ignored; 8 is granted", () => {
      expect(neg(1, [["blksize", "7"]])).toEqual({ blksize: -1, tsize: -1, timeout: -1, windowsize: -1, oack: null });
      expect(neg(1, [["blksize", "0"]]).oack).toBeNull();
      const n = neg(1, [["blksize", "8"]]);
      expect(n.blksize).toBe(8);
      expect(toHex(n.oack)).toBe(oack([["blksize", "8"]]));
    });
    it("never more than asked", () => {
      expect(toHex(neg(1, [["blksize", "512"]]).oack)).toBe(oack([["blksize", "512"]]));
    });
    it("above the server maximum is clamped to it", () => {
      const n = neg(1, [["blksize", "9000"]]);
      expect(n.blksize).toBe(1468);
      expect(toHex(n.oack)).toBe(oack([["blksize", "1468"]]));
    });
    it("above 65464 is clamped to 65464 even when the server allows more", () => {
      const limits = { ...read, maxBlksize: 100000 };
      expect(neg(1, [["blksize", "65535"]], limits).blksize).toBe(65464);
      expect(toHex(neg(1, [["blksize", "999999999999999"]], limits).oack)).toBe(oack([["blksize", "65464"]]));
      expect(neg(1, [["blksize", "65464"]], limits).blksize).toBe(65464);
    });
    it("refused when the server maximum is 0 or below 8", () => {
      expect(neg(1, [["blksize", "1024"]], { ...read, maxBlksize: 0 }).oack).toBeNull();
      expect(neg(1, [["blksize", "1024"]], { ...read, maxBlksize: 7 }).blksize).toBe(-1);
      expect(neg(1, [["blksize", "1024"]], { ...read, maxBlksize: 8 }).blksize).toBe(8);
    });
    it("non-numeric value is ignored", () => {
      expect(neg(1, [["blksize", "big"]]).oack).toBeNull();
    });
  });

  describe("timeout", () => {
    it("0 and 256 are ignored; 1 and 255 are echoed", () => {
      expect(neg(1, [["timeout", "0"]]).oack).toBeNull();
      expect(neg(1, [["timeout", "256"]]).oack).toBeNull();
      expect(toHex(neg(1, [["timeout", "1"]]).oack)).toBe(oack([["timeout", "1"]]));
      const n = neg(1, [["timeout", "255"]]);
      expect(n.timeout).toBe(255);
      expect(toHex(n.oack)).toBe(oack([["timeout", "255"]]));
    });
    it("leading zeros are accepted and the OACK holds the plain number", () => {
      expect(toHex(neg(1, [["timeout", "007"]]).oack)).toBe(oack([["timeout", "7"]]));
    });
    it("above maxTimeout it is declined (not in the OACK); at maxTimeout it is echoed", () => {
      const capped = { ...read, maxTimeout: 10 };
      const declined = neg(1, [["timeout", "11"], ["blksize", "1024"]], capped);
      expect(declined).toMatchObject({ timeout: -1, blksize: 1024 });
      expect(toHex(declined.oack)).toBe(oack([["blksize", "1024"]]));
      expect(neg(1, [["timeout", "255"]], capped).oack).toBeNull();
      expect(toHex(neg(1, [["timeout", "10"]], capped).oack)).toBe(oack([["timeout", "10"]]));
      expect(neg(1, [["timeout", "1"]], { ...read, maxTimeout: 0 }).oack).toBeNull();
      expect(neg(1, [["timeout", "255"]], { ...read, maxTimeout: 1000 }).timeout).toBe(255); // never above the RFC's 255
    });
    it("a timeout of hundreds of digits is too large: declined", () => {
      expect(neg(1, [["timeout", "9".repeat(300)]]).oack).toBeNull();
    });
  });

  describe("windowsize", () => {
    it("clamped by the server maximum, else echoed", () => {
      expect(neg(1, [["windowsize", "64"]]).windowsize).toBe(16);
      expect(toHex(neg(1, [["windowsize", "64"]]).oack)).toBe(oack([["windowsize", "16"]]));
      expect(neg(1, [["windowsize", "4"]]).windowsize).toBe(4);
      expect(neg(1, [["windowsize", "65535"]], { ...read, maxWindowsize: 65535 }).windowsize).toBe(65535);
    });
    it("0 and 65536 are ignored; a server maximum of 0 refuses it", () => {
      expect(neg(1, [["windowsize", "0"]]).oack).toBeNull();
      expect(neg(1, [["windowsize", "65536"]], { ...read, maxWindowsize: 65535 }).oack).toBeNull();
      expect(neg(1, [["windowsize", "4"]], { ...read, maxWindowsize: 0 }).windowsize).toBe(-1);
    });
  });

  describe("tsize", () => {
    it("non-numeric ('enable') is ignored", () => {
      const a = asked(codec, 1, [["tsize", "enable"]]);
      expect(a.tsize).toBe(-2);
      expect(codec.negotiate(a, { ...read, tsize: 1234 })).toEqual({
        blksize: -1, tsize: -1, timeout: -1, windowsize: -1, oack: null,
      });
    });
    it("on a read it is announced only when the size is known", () => {
      expect(neg(1, [["tsize", "0"]], { ...read, tsize: -1 }).oack).toBeNull();
      const n = neg(1, [["tsize", "0"]], { ...read, tsize: 123456 });
      expect(n.tsize).toBe(123456);
      expect(toHex(n.oack)).toBe(oack([["tsize", "123456"]]));
      expect(toHex(neg(1, [["tsize", "0"]], { ...read, tsize: 0 }).oack)).toBe(oack([["tsize", "0"]]));
    });
    it("on a write the asked size is echoed, whatever limits.tsize says", () => {
      const n = neg(2, [["tsize", "5000"]], { ...read, write: true, tsize: -1 });
      expect(n.tsize).toBe(5000);
      expect(toHex(n.oack)).toBe(oack([["tsize", "5000"]]));
      expect(toHex(neg(2, [["tsize", "5000"]], { ...read, write: true, tsize: 99 }).oack)).toBe(oack([["tsize", "5000"]]));
    });
    it("on a write a size of any length parses; one past 2^53 is too large and not echoed", () => {
      const w = { ...read, write: true };
      const long = asked(codec, 2, [["tsize", "0".repeat(20) + "5000"]]);
      expect(long.tsize).toBe(5000);
      expect(toHex(codec.negotiate(long, w).oack)).toBe(oack([["tsize", "5000"]]));
      const huge = asked(codec, 2, [["tsize", "123456789012345678901234567890"], ["blksize", "512"]]);
      expect(huge.tsize).toBe(Infinity); // still "larger than maxUploadBytes" for the session
      const n = codec.negotiate(huge, w);
      expect(n).toMatchObject({ tsize: -1, blksize: 512 });
      expect(toHex(n.oack)).toBe(oack([["blksize", "512"]]));
      expect(toHex(neg(2, [["tsize", "9007199254740992"]], w).oack)).toBe(oack([["tsize", "9007199254740992"]]));
      expect(asked(codec, 2, [["tsize", "9007199254740993"]]).tsize).toBe(Infinity);
    });
    it("not asked: not announced even when known", () => {
      expect(neg(1, [["blksize", "512"]], { ...read, tsize: 777 }).tsize).toBe(-1);
    });
  });

  it("the OACK answers in the order asked and only with what was asked", () => {
    const limits = { ...read, tsize: 42 };
    expect(toHex(neg(1, [["windowsize", "8"], ["tsize", "0"], ["timeout", "2"], ["blksize", "1024"]], limits).oack)).toBe(
      oack([["windowsize", "8"], ["tsize", "42"], ["timeout", "2"], ["blksize", "1024"]]),
    );
    expect(toHex(neg(1, [["timeout", "2"], ["blksize", "1024"]], limits).oack)).toBe(
      oack([["timeout", "2"], ["blksize", "1024"]]),
    );
  });

  it("unknown options are ignored and do not disturb the order", () => {
    const n = neg(1, [["multicast", ""], ["tsize", "0"], ["x-foo", "1"], ["blksize", "1400"], ["rollover", "0"]], { ...read, tsize: 9 });
    expect(toHex(n.oack)).toBe(oack([["tsize", "9"], ["blksize", "1400"]]));
    expect(neg(1, [["multicast", ""], ["utimeout", "1000"]]).oack).toBeNull();
  });

  it("a repeated option is answered once, with its first value", () => {
    expect(toHex(neg(1, [["blksize", "1024"], ["BLKSIZE", "512"]]).oack)).toBe(oack([["blksize", "1024"]]));
  });

  it("the refuse list drops options for clients that break on them", () => {
    const all: Array<[string, string]> = [["blksize", "1024"], ["tsize", "0"], ["timeout", "2"], ["windowsize", "8"]];
    const limits = { ...read, tsize: 10 };
    const n = neg(1, all, { ...limits, refuse: ["tsize", "windowsize"] });
    expect(n).toMatchObject({ blksize: 1024, tsize: -1, timeout: 2, windowsize: -1 });
    expect(toHex(n.oack)).toBe(oack([["blksize", "1024"], ["timeout", "2"]]));
    expect(toHex(neg(1, all, { ...limits, refuse: ["blksize"] }).oack)).toBe(
      oack([["tsize", "10"], ["timeout", "2"], ["windowsize", "8"]]),
    );
    expect(neg(1, all, { ...limits, refuse: ["blksize", "tsize", "timeout", "windowsize"] })).toEqual({
      blksize: -1, tsize: -1, timeout: -1, windowsize: -1, oack: null,
    });
  });

  it("no options asked: nothing granted, no OACK", () => {
    expect(neg(1, [])).toEqual({ blksize: -1, tsize: -1, timeout: -1, windowsize: -1, oack: null });
  });

  it("an option with an extreme rank is still in the OACK (last)", () => {
    const n = codec.negotiate(
      { blksize: 512, tsize: -1, timeout: 5, windowsize: -1, ranks: [2147483647, -1, 0, -1] },
      read,
    );
    expect(n.blksize).toBe(512);
    expect(toHex(n.oack)).toBe(oack([["timeout", "5"], ["blksize", "512"]]));
  });

  it("accepted options without a rank follow the ranked ones in canonical order", () => {
    const n = codec.negotiate(
      { blksize: 512, tsize: 0, timeout: 5, windowsize: 2, ranks: [-1, 3, -1, 1] },
      { ...read, tsize: 1 },
    );
    expect(toHex(n.oack)).toBe(oack([["windowsize", "2"], ["tsize", "1"], ["blksize", "512"], ["timeout", "5"]]));
  });
});
