// Malformed packets: each is refused with a precise status and the opcode it claimed.

import { describe, expect, it } from "vitest";
import { Status } from "../src/index.js";
import { ascii, codecs, hex } from "./util.js";

const octet = "6f63746574 00";

/** n options "o1\0v\0" ... after an RRQ header. */
function withOptions(n: number): Uint8Array {
  let s = "0001 61 00" + octet;
  for (let i = 0; i < n; i++) s += ascii(`o${i}`) + "00 76 00";
  return hex(s);
}

function bytes(len: number, head: number[]): Uint8Array {
  const p = new Uint8Array(len).fill(0x41);
  p.set(head);
  return p;
}

const cases: Array<{ name: string; packet: Uint8Array; status: number; claimed: number }> = [
  { name: "empty", packet: hex(""), status: Status.TOO_SHORT, claimed: 0 },
  { name: "1 byte", packet: hex("00"), status: Status.TOO_SHORT, claimed: 0 },
  { name: "1 byte 0x01", packet: hex("01"), status: Status.TOO_SHORT, claimed: 0 },
  { name: "opcode 0", packet: hex("0000 0001"), status: Status.BAD_OPCODE, claimed: 0 },
  { name: "opcode 7", packet: hex("0007 0001 00"), status: Status.BAD_OPCODE, claimed: 7 },
  { name: "opcode 0xffff", packet: hex("ffff"), status: Status.BAD_OPCODE, claimed: 0xffff },
  { name: "opcode 0x0100 (little-endian RRQ)", packet: hex("0100 61 00" + octet), status: Status.BAD_OPCODE, claimed: 0x100 },
  { name: "RRQ opcode only", packet: hex("0001"), status: Status.FILENAME_UNTERMINATED, claimed: 1 },
  { name: "RRQ without filename NUL", packet: hex("0001 666f6f"), status: Status.FILENAME_UNTERMINATED, claimed: 1 },
  { name: "WRQ without filename NUL", packet: hex("0002 666f6f"), status: Status.FILENAME_UNTERMINATED, claimed: 2 },
  { name: "RRQ with empty filename", packet: hex("0001 00" + octet), status: Status.FILENAME_EMPTY, claimed: 1 },
  { name: "WRQ with empty filename", packet: hex("0002 00 00"), status: Status.FILENAME_EMPTY, claimed: 2 },
  { name: "RRQ without mode", packet: hex("0001 61 00"), status: Status.MODE_UNTERMINATED, claimed: 1 },
  { name: "RRQ without mode NUL", packet: hex("0001 61 00 6f63746574"), status: Status.MODE_UNTERMINATED, claimed: 1 },
  { name: "RRQ with unknown mode 'binary'", packet: hex("0001 61 00" + ascii("binary") + "00"), status: Status.MODE_UNKNOWN, claimed: 1 },
  { name: "RRQ with mode 'octets'", packet: hex("0001 61 00" + ascii("octets") + "00"), status: Status.MODE_UNKNOWN, claimed: 1 },
  { name: "RRQ with empty mode", packet: hex("0001 61 00 00"), status: Status.MODE_UNKNOWN, claimed: 1 },
  {
    name: "option name without NUL",
    packet: hex("0001 61 00" + octet + ascii("blksize")),
    status: Status.OPTION_UNTERMINATED, claimed: 1,
  },
  {
    name: "option without value",
    packet: hex("0001 61 00" + octet + ascii("blksize") + "00"),
    status: Status.OPTION_NO_VALUE, claimed: 1,
  },
  {
    name: "option value without NUL",
    packet: hex("0001 61 00" + octet + ascii("blksize") + "00" + ascii("512")),
    status: Status.OPTION_UNTERMINATED, claimed: 1,
  },
  {
    name: "second option without value",
    packet: hex("0002 61 00" + octet + ascii("blksize") + "00 353132 00" + ascii("tsize") + "00"),
    status: Status.OPTION_NO_VALUE, claimed: 2,
  },
  {
    name: "empty option name followed by data",
    packet: hex("0001 61 00" + octet + "00" + ascii("blksize") + "00 353132 00"),
    status: Status.OPTION_EMPTY_NAME, claimed: 1,
  },
  {
    name: "NUL padding then a stray byte",
    packet: hex("0001 61 00" + octet + "00 00 41"),
    status: Status.OPTION_EMPTY_NAME, claimed: 1,
  },
  { name: "33 options", packet: withOptions(33), status: Status.TOO_MANY_OPTIONS, claimed: 1 },
  {
    name: "33 options in an OACK",
    packet: hex("0006" + Array.from({ length: 33 }, (_, i) => ascii(`o${i}`) + "00 76 00").join("")),
    status: Status.TOO_MANY_OPTIONS, claimed: 6,
  },
  { name: "OACK option without NUL", packet: hex("0006" + ascii("blksize")), status: Status.OPTION_UNTERMINATED, claimed: 6 },
  { name: "OACK option without value", packet: hex("0006" + ascii("tsize") + "00"), status: Status.OPTION_NO_VALUE, claimed: 6 },
  { name: "OACK starting with NUL then data", packet: hex("0006 00 41 00 42 00"), status: Status.OPTION_EMPTY_NAME, claimed: 6 },
  { name: "DATA of 65601 bytes (> 65600)", packet: bytes(65601, [0, 3, 0, 1]), status: Status.TOO_LONG, claimed: 0 },
  { name: "ACK padded to 70000 bytes", packet: bytes(70000, [0, 4, 0, 1]), status: Status.TOO_LONG, claimed: 0 },
  { name: "DATA opcode only", packet: hex("0003"), status: Status.TOO_SHORT, claimed: 3 },
  { name: "DATA of 3 bytes", packet: hex("0003 00"), status: Status.TOO_SHORT, claimed: 3 },
  { name: "ACK of 2 bytes", packet: hex("0004"), status: Status.TOO_SHORT, claimed: 4 },
  { name: "ACK of 3 bytes", packet: hex("0004 00"), status: Status.TOO_SHORT, claimed: 4 },
  { name: "ERROR of 2 bytes", packet: hex("0005"), status: Status.TOO_SHORT, claimed: 5 },
  { name: "ERROR of 3 bytes", packet: hex("0005 00"), status: Status.TOO_SHORT, claimed: 5 },
];

describe.each(codecs)("%s", (_name, codec) => {
  it.each(cases)("$name -> status $status", ({ packet, status, claimed }) => {
    expect(codec.decode(packet)).toEqual({ opcode: 0, status, claimed });
  });

  it("32 options are accepted", () => {
    const d = codec.decode(withOptions(32));
    expect(d.opcode).toBe(1);
    if (d.opcode !== 1) return;
    expect(d.options).toHaveLength(32);
    expect(d.options[31]).toEqual(["o31", "v"]);
  });

  it("a packet of exactly 65600 bytes is decoded", () => {
    const d = codec.decode(bytes(65600, [0, 3, 0xff, 0xfe]));
    expect(d).toMatchObject({ opcode: 3, block: 0xfffe });
    if (d.opcode === 3) expect(d.data.length).toBe(65596);
  });

  it("a malformed packet does not leak state into the next decode", () => {
    expect(codec.decode(withOptions(33))).toMatchObject({ opcode: 0, status: Status.TOO_MANY_OPTIONS });
    expect(codec.decode(hex("0006"))).toEqual({
      opcode: 6, options: [], asked: { blksize: -1, tsize: -1, timeout: -1, windowsize: -1, ranks: [-1, -1, -1, -1] },
    });
  });
});
