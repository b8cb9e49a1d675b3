// Hex fixtures per packet type, decoded and encoded by both codecs.

import { describe, expect, it } from "vitest";
import { Status, type Decoded } from "../src/index.js";
import { ascii, codecs, hex, norm, toHex } from "./util.js";

const none = [-1, -1, -1, -1] as const;

interface DecodeCase {
  name: string;
  bytes: string;
  expected: Decoded | { opcode: 3; block: number; data: string };
}

const decodeCases: DecodeCase[] = [
  {
    name: "RRQ with blksize, tsize, windowsize",
    bytes:
      "0001 | 626f6f742f7078656c696e75782e30 00 | 6f63746574 00 |" +
      "626c6b73697a65 00 31343638 00 | 7473697a65 00 30 00 | 77696e646f7773697a65 00 3136 00",
    expected: {
      opcode: 1,
      filename: "boot/pxelinux.0",
      mode: "octet",
      options: [["blksize", "1468"], ["tsize", "0"], ["windowsize", "16"]],
      asked: { blksize: 1468, tsize: 0, timeout: -1, windowsize: 16, ranks: [0, 1, -1, 2] },
    },
  },
  {
    name: "WRQ, mixed-case mode and names, unknown option, repeated blksize keeps the first",
    bytes:
      "0002 | 75702e62696e 00 | 4e65744153434949 00 | 54494d454f5554 00 35 00 |" +
      "782d76656e646f72 00 616263 00 | 426c6b53697a65 00 353132 00 | 626c6b73697a65 00 31303234 00",
    expected: {
      opcode: 2,
      filename: "up.bin",
      mode: "netascii",
      options: [["timeout", "5"], ["x-vendor", "abc"], ["blksize", "512"], ["blksize", "1024"]],
      asked: { blksize: 512, tsize: -1, timeout: 5, windowsize: -1, ranks: [2, -1, 0, -1] },
    },
  },
  {
    name: "RRQ in mail mode with trailing NUL padding",
    bytes: "0001 | 61 00 | 4d41494c 00 | 000000",
    expected: {
      opcode: 1, filename: "a", mode: "mail", options: [],
      asked: { blksize: -1, tsize: -1, timeout: -1, windowsize: -1, ranks: none },
    },
  },
  {
    name: "RRQ with a UTF-8 file name",
    bytes: "0001 | 72c3a973756dc3a9 00 | 6f63746574 00",
    expected: {
      opcode: 1, filename: "résumé", mode: "octet", options: [],
      asked: { blksize: -1, tsize: -1, timeout: -1, windowsize: -1, ranks: none },
    },
  },
  {
    name: "RRQ with invalid values: letters, empty are -2; numbers with leading zeros parse at any length (16 and 15 digits)",
    bytes:
      "0001 | 66 00 | 6f63746574 00 | 626c6b73697a65 00 616263 00 | 7473697a65 00 00 |" +
      "74696d656f7574 00 30303030303030303030303030303031 00 | 77696e646f7773697a65 00 303030303030303030303030303034 00",
    expected: {
      opcode: 1, filename: "f", mode: "octet",
      options: [["blksize", "abc"], ["tsize", ""], ["timeout", "0000000000000001"], ["windowsize", "000000000000004"]],
      asked: { blksize: -2, tsize: -2, timeout: 1, windowsize: 4, ranks: [0, 1, 2, 3] },
    },
  },
  {
    // A tsize of 16 or more digits must not read as "absent": a WRQ with one gets the early ERROR 3.
    name: "WRQ tsize of any length: exact up to 2^53, +Infinity (too large) past it, however many digits",
    bytes:
      "0002 | 66 00 | 6f63746574 00 | 7473697a65 00 " + ascii("9007199254740993") + " 00 |" +
      "626c6b73697a65 00 " + ascii("0".repeat(300) + "1468") + " 00 | 74696d656f7574 00 " + ascii("9".repeat(400)) + " 00 |" +
      "77696e646f7773697a65 00 " + ascii("9007199254740992") + " 00",
    expected: {
      opcode: 2, filename: "f", mode: "octet",
      options: [["tsize", "9007199254740993"], ["blksize", "0".repeat(300) + "1468"], ["timeout", "9".repeat(400)], ["windowsize", "9007199254740992"]],
      asked: { blksize: 1468, tsize: Infinity, timeout: Infinity, windowsize: 2 ** 53, ranks: [1, 0, 2, 3] },
    },
  },
  {
    name: "RRQ option values with a sign or a space are -2",
    bytes: "0001 | 66 00 | 6f63746574 00 | 626c6b73697a65 00 2b353132 00 | 74696d656f7574 00 2035 00",
    expected: {
      opcode: 1, filename: "f", mode: "octet",
      options: [["blksize", "+512"], ["timeout", " 5"]],
      asked: { blksize: -2, tsize: -1, timeout: -2, windowsize: -1, ranks: [0, -1, 1, -1] },
    },
  },
  {
    name: "DATA block 0x1234 with 'hello'",
    bytes: "0003 | 1234 | 68656c6c6f",
    expected: { opcode: 3, block: 0x1234, data: "68656c6c6f" },
  },
  {
    name: "DATA block 65535, empty payload",
    bytes: "0003 | ffff",
    expected: { opcode: 3, block: 65535, data: "" },
  },
  { name: "ACK 0", bytes: "0004 | 0000", expected: { opcode: 4, block: 0 } },
  { name: "ACK 65535", bytes: "0004 | ffff", expected: { opcode: 4, block: 65535 } },
  { name: "ACK with an extra byte (WDS clients)", bytes: "0004 | 0001 | 00", expected: { opcode: 4, block: 1 } },
  {
    name: "ERROR 1 File not found",
    bytes: "0005 | 0001 | 46696c65206e6f7420666f756e64 00",
    expected: { opcode: 5, code: 1, message: "File not found" },
  },
  {
    name: "ERROR without terminator: the rest is the message",
    bytes: "0005 | 0002 | 64656e696564",
    expected: { opcode: 5, code: 2, message: "denied" },
  },
  {
    name: "ERROR with code 9 (out of range) is still decoded",
    bytes: "0005 | 0009 | 6f6464 00",
    expected: { opcode: 5, code: 9, message: "odd" },
  },
  {
    name: "ERROR with UTF-8 message and bytes after the NUL",
    bytes: "0005 | 0000 | 636166c3a9 00 | 6a756e6b",
    expected: { opcode: 5, code: 0, message: "café" },
  },
  {
    name: "ERROR with only the header: empty message",
    bytes: "0005 | 0003",
    expected: { opcode: 5, code: 3, message: "" },
  },
  {
    name: "OACK with blksize and tsize",
    bytes: "0006 | 626c6b73697a65 00 31343638 00 | 7473697a65 00 31303438353736 00",
    expected: {
      opcode: 6,
      options: [["blksize", "1468"], ["tsize", "1048576"]],
      asked: { blksize: 1468, tsize: 1048576, timeout: -1, windowsize: -1, ranks: [0, 1, -1, -1] },
    },
  },
  {
    name: "empty OACK",
    bytes: "0006",
    expected: { opcode: 6, options: [], asked: { blksize: -1, tsize: -1, timeout: -1, windowsize: -1, ranks: none } },
  },
];

const decodeAckCases: Array<[string, string, number]> = [
  ["empty", "", -Status.TOO_SHORT],
  ["opcode only", "0004", -Status.TOO_SHORT],
  ["3 bytes", "0004 01", -Status.TOO_SHORT],
  ["ACK 258", "0004 0102", 258],
  ["ACK 65535 with a trailing byte", "0004 ffff 00", 65535],
  ["DATA", "0003 0001 41", -103],
  ["ERROR", "0005 0001 00", -105],
  ["opcode 0", "0000 0000", -100],
];

describe.each(codecs)("%s", (_name, codec) => {
  describe("decode fixtures", () => {
    it.each(decodeCases)("$name", ({ bytes, expected }) => {
      expect(norm(codec.decode(hex(bytes)))).toEqual(expected);
    });

    it("DATA payload of 65464 bytes and the 65596-byte maximum packet", () => {
      for (const size of [65464, 65596]) {
        const p = new Uint8Array(4 + size).fill(0x5a);
        p.set([0, 3, 0xab, 0xcd]);
        const d = codec.decode(p);
        expect(d.opcode).toBe(3);
        if (d.opcode !== 3) return;
        expect(d.block).toBe(0xabcd);
        expect(d.data.length).toBe(size);
        expect(d.data.every((b) => b === 0x5a)).toBe(true);
      }
    });

    it("decodes consecutive packets independently (no state left from the previous one)", () => {
      expect(norm(codec.decode(hex(decodeCases[1].bytes)))).toEqual(decodeCases[1].expected);
      expect(norm(codec.decode(hex("0001 61 00 6f63746574 00")))).toEqual({
        opcode: 1, filename: "a", mode: "octet", options: [],
        asked: { blksize: -1, tsize: -1, timeout: -1, windowsize: -1, ranks: none },
      });
    });
  });

  describe("decodeAck", () => {
    it.each(decodeAckCases)("%s", (_n, bytes, expected) => {
      expect(codec.decodeAck(hex(bytes))).toBe(expected);
    });
    it("agrees with decode on ACKs", () => {
      for (const b of [0, 1, 255, 256, 0x7fff, 0x8000, 65535]) {
        const p = Uint8Array.of(0, 4, b >> 8, b & 0xff);
        expect(codec.decodeAck(p)).toBe(b);
        expect(codec.decode(p)).toEqual({ opcode: 4, block: b });
      }
    });
  });

  describe("encodeData", () => {
    it("block 1 with 'abc'", () => {
      expect(toHex(codec.encodeData(1, hex("616263")))).toBe("00030001616263");
    });
    it("empty payload", () => {
      expect(toHex(codec.encodeData(0x1234, new Uint8Array(0)))).toBe("00031234");
    });
    it("block numbers wrap to 16 bits", () => {
      expect(toHex(codec.encodeData(65536 + 7, hex("ff")))).toBe("00030007ff");
      expect(toHex(codec.encodeData(65535, hex("")))).toBe("0003ffff");
      expect(toHex(codec.encodeData(-1, hex("")))).toBe("0003ffff");
    });
    it("a 1468-byte block: header then the payload unchanged", () => {
      const payload = Uint8Array.from({ length: 1468 }, (_, i) => (i * 7 + 3) & 0xff);
      const p = codec.encodeData(300, payload);
      expect(p.length).toBe(1472);
      expect(toHex(p.subarray(0, 4))).toBe("0003012c");
      expect(toHex(p.subarray(4))).toBe(toHex(payload));
    });
    it("accepts 65464 bytes and refuses 65465", () => {
      expect(codec.encodeData(1, new Uint8Array(65464)).length).toBe(65468);
      expect(() => codec.encodeData(1, new Uint8Array(65465))).toThrow(RangeError);
    });
    it("returns a copy, not a view that the next call overwrites", () => {
      const a = codec.encodeData(1, hex("aa"));
      codec.encodeData(2, hex("bb"));
      expect(toHex(a)).toBe("00030001aa");
    });
  });

  describe("encodeAck", () => {
    it.each([
      [0, "00040000"],
      [1, "00040001"],
      [0x1234, "00041234"],
      [65535, "0004ffff"],
      [65536, "00040000"],
      [131073, "00040001"],
    ])("block %i", (block, expected) => {
      expect(toHex(codec.encodeAck(block))).toBe(expected);
    });
  });

  describe("encodeError", () => {
    it("code 1 File not found", () => {
      expect(toHex(codec.encodeError(1, "File not found"))).toBe("00050001" + "46696c65206e6f7420666f756e64" + "00");
    });
    it("empty message", () => {
      expect(toHex(codec.encodeError(0, ""))).toBe("0005000000");
    });
    it("a NUL in the message cuts it", () => {
      expect(toHex(codec.encodeError(8, "ab\0cd"))).toBe("00050008616200");
    });
    it("UTF-8 message", () => {
      expect(toHex(codec.encodeError(2, "café"))).toBe("00050002636166c3a900");
    });
    it("messages are cut at 500 bytes", () => {
      const p = codec.encodeError(0, "x".repeat(600));
      expect(p.length).toBe(4 + 500 + 1);
      expect(p[504]).toBe(0);
      expect(p[503]).toBe(0x78);
    });
    it("the 500-byte cut does not split a UTF-8 character", () => {
      // 499 ASCII bytes + "é" (2 bytes): 501 bytes, cut before the é.
      const p = codec.encodeError(0, "x".repeat(499) + "é");
      expect(p.length).toBe(4 + 499 + 1);
      expect(p[503]).toBe(0);
      // 498 + "€" (3 bytes) = 501: cut before the €.
      expect(codec.encodeError(0, "x".repeat(498) + "€").length).toBe(4 + 498 + 1);
      // 497 + "€" = 500 bytes: fits exactly.
      expect(toHex(codec.encodeError(0, "x".repeat(497) + "€").subarray(501))).toBe("e282ac00");
    });
    it("code 65535 is allowed, codes outside 0..65535 throw", () => {
      expect(toHex(codec.encodeError(65535, "z"))).toBe("0005ffff7a00");
      expect(() => codec.encodeError(65536, "x")).toThrow(RangeError);
      expect(() => codec.encodeError(-1, "x")).toThrow(RangeError);
    });
  });

  describe("encodeRequest", () => {
    it("RRQ octet, no options", () => {
      expect(toHex(codec.encodeRequest({ opcode: 1, filename: "a.txt", mode: "octet" }))).toBe(
        "0001" + "612e747874" + "00" + "6f63746574" + "00",
      );
    });
    it("WRQ netascii with every option, in canonical order", () => {
      const p = codec.encodeRequest({
        opcode: 2, filename: "a.txt", mode: "netascii", windowsize: 8, timeout: 3, tsize: 0, blksize: 1428,
      });
      expect(toHex(p)).toBe(toHex(hex(
        "0002 | 612e747874 00 | 6e65746173636969 00 | 626c6b73697a65 00 31343238 00 | 7473697a65 00 30 00 |" +
          "74696d656f7574 00 33 00 | 77696e646f7773697a65 00 38 00",
      )));
    });
    it("RRQ mail with a UTF-8 name and a 12-digit tsize", () => {
      expect(toHex(codec.encodeRequest({ opcode: 1, filename: "résumé", mode: "mail", tsize: 123456789012 }))).toBe(
        toHex(hex("0001 72c3a973756dc3a9 00 6d61696c 00 7473697a65 00 313233343536373839303132 00")),
      );
    });
    it("negative option values are left out", () => {
      expect(toHex(codec.encodeRequest({ opcode: 1, filename: "a", mode: "octet", blksize: -1, timeout: 5 }))).toBe(
        toHex(hex("0001 61 00 6f63746574 00 74696d656f7574 00 35 00")),
      );
    });
    it("round-trips through decode", () => {
      const p = codec.encodeRequest({ opcode: 2, filename: "dir/f.bin", mode: "octet", blksize: 65464, windowsize: 65535 });
      expect(codec.decode(p)).toEqual({
        opcode: 2, filename: "dir/f.bin", mode: "octet",
        options: [["blksize", "65464"], ["windowsize", "65535"]],
        asked: { blksize: 65464, tsize: -1, timeout: -1, windowsize: 65535, ranks: [0, -1, -1, 1] },
      });
    });
    it("refuses empty, too long and NUL-containing names and bad opcodes", () => {
      expect(() => codec.encodeRequest({ opcode: 1, filename: "", mode: "octet" })).toThrow(RangeError);
      expect(() => codec.encodeRequest({ opcode: 1, filename: "x".repeat(1025), mode: "octet" })).toThrow(RangeError);
      expect(codec.encodeRequest({ opcode: 1, filename: "x".repeat(1024), mode: "octet" }).length).toBe(2 + 1024 + 1 + 6);
      expect(() => codec.encodeRequest({ opcode: 1, filename: "a\0b", mode: "octet" })).toThrow(RangeError);
      expect(() => codec.encodeRequest({ opcode: 3 as 1, filename: "a", mode: "octet" })).toThrow(RangeError);
    });
  });

  describe("OACK encoding (via negotiate)", () => {
    it("in the order asked, with the granted values", () => {
      const n = codec.negotiate(
        { blksize: 9000, tsize: 0, timeout: -1, windowsize: 64, ranks: [2, 1, -1, 0] },
        { maxBlksize: 1468, maxWindowsize: 16, tsize: 524288, write: false },
      );
      expect(toHex(n.oack)).toBe(
        toHex(hex("0006 | 77696e646f7773697a65 00 3136 00 | 7473697a65 00 353234323838 00 | 626c6b73697a65 00 31343638 00")),
      );
      expect(n).toMatchObject({ blksize: 1468, tsize: 524288, timeout: -1, windowsize: 16 });
    });
    it("a 15-digit tsize is written in full", () => {
      const n = codec.negotiate(
        { blksize: -1, tsize: 999999999999999, timeout: -1, windowsize: -1, ranks: [-1, 0, -1, -1] },
        { maxBlksize: 1468, maxWindowsize: 16, tsize: -1, write: true },
      );
      expect(toHex(n.oack)).toBe("0006" + "7473697a65" + "00" + "393939393939393939393939393939" + "00");
    });
  });
});

describe("the core and the glue agree on the known-option table and the protocol limit", () => {
  it("same options, same BLKSIZE_MAX", async () => {
    const { core } = await import("../src/core.js");
    const { KNOWN_OPTIONS, BLKSIZE_MAX } = await import("../src/types.js");
    const c = core();
    expect(c.KNOWN_OPTIONS).toBe(KNOWN_OPTIONS.length);
    expect(c.KNOWN_OPTIONS * c.KNOWN_STRIDE).toBeLessThanOrEqual(8 * 32); // layout.ts KNOWN_MAX rows
    expect(c.x.BLKSIZE_MAX.value).toBe(BLKSIZE_MAX);
  });
});
