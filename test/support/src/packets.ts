// TFTP packets built and parsed with plain Buffers, independent of the codec
// under test (RFC 1350 opcodes 1-5, RFC 2347 OACK 6).

export type Pkt =
  | { op: "RRQ" | "WRQ"; raw: Buffer }
  | { op: "DATA"; block: number; data: Buffer }
  | { op: "ACK"; block: number }
  | { op: "ERROR"; code: number; message: string }
  | { op: "OACK"; options: Array<[string, string]> }
  | { op: "OTHER"; opcode: number };

export type OptionList = Array<[string, string]>;

/** Parses a packet the way a client would see it (no validation beyond what is needed). */
export function parse(buf: Buffer): Pkt {
  const opcode = buf.length >= 2 ? buf.readUInt16BE(0) : -1;
  switch (opcode) {
    case 1:
    case 2:
      return { op: opcode === 1 ? "RRQ" : "WRQ", raw: buf };
    case 3:
      return { op: "DATA", block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case 4:
      return { op: "ACK", block: buf.readUInt16BE(2) };
    case 5: {
      const end = buf.indexOf(0, 4);
      return { op: "ERROR", code: buf.readUInt16BE(2), message: buf.toString("utf8", 4, end < 0 ? buf.length : end) };
    }
    case 6: {
      const parts = buf.toString("latin1", 2).split("\0");
      parts.pop(); // after the final NUL
      const options: OptionList = [];
      for (let i = 0; i + 1 < parts.length; i += 2) options.push([parts[i], parts[i + 1]]);
      return { op: "OACK", options };
    }
    default:
      return { op: "OTHER", opcode };
  }
}

function request(opcode: 1 | 2, filename: string | Buffer, mode: string, options: OptionList): Buffer {
  const parts: Buffer[] = [Buffer.from([0, opcode])];
  const z = Buffer.from([0]);
  parts.push(typeof filename === "string" ? Buffer.from(filename, "utf8") : filename, z, Buffer.from(mode, "latin1"), z);
  for (const [k, v] of options) parts.push(Buffer.from(k, "latin1"), z, Buffer.from(v, "latin1"), z);
  return Buffer.concat(parts);
}

export function rrq(filename: string | Buffer, mode = "octet", options: OptionList = []): Buffer {
  return request(1, filename, mode, options);
}

export function wrq(filename: string | Buffer, mode = "octet", options: OptionList = []): Buffer {
  return request(2, filename, mode, options);
}

/** ACK of `block` (masked to 16 bits); `extra` trailing bytes like WDS clients send. */
export function ackPacket(block: number, extra = 0): Buffer {
  const b = Buffer.alloc(4 + extra);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

export function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, (code >> 8) & 0xff, code & 0xff]), Buffer.from(message, "utf8"), Buffer.from([0])]);
}

export function dataPacket(block: number, data: Uint8Array): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(3, 0);
  h.writeUInt16BE(block & 0xffff, 2);
  return Buffer.concat([h, data]);
}

/** OACK with the options in the order given. */
export function oackPacket(options: Record<string, string> | OptionList): Buffer {
  const parts = [Buffer.from([0, 6])];
  for (const [k, v] of Array.isArray(options) ? options : Object.entries(options)) parts.push(Buffer.from(`${k}\0${v}\0`, "latin1"));
  return Buffer.concat(parts);
}

