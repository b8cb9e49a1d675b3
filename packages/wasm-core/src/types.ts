export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Largest blksize RFC 2348 allows (the DATA payload of the largest TFTP packet). */
export const BLKSIZE_MAX = 65464;

export type Mode = "octet" | "netascii" | "mail";

/** The options the core knows, in the order of its known-option table (and of `AskedOptions.ranks`). */
export const KNOWN_OPTIONS = ["blksize", "tsize", "timeout", "windowsize"] as const;
export type KnownOption = (typeof KNOWN_OPTIONS)[number];

/**
 * Known options as the client asked them: a number, -1 when absent, -2 when
 * present with a value that is not a decimal number, +Infinity for a decimal
 * number above 2^53 (any number of digits parses: such a value is simply too
 * large). `ranks` holds the position of each (blksize, tsize, timeout,
 * windowsize) in the request, -1 when absent, so the OACK can answer in the
 * order asked.
 */
export interface AskedOptions {
  blksize: number;
  tsize: number;
  timeout: number;
  windowsize: number;
  ranks: readonly [number, number, number, number];
}

export interface RequestPacket {
  opcode: 1 | 2;
  filename: string;
  mode: Mode;
  /** Every option as sent, names lower-cased, in order (unknown ones too). */
  options: Array<[string, string]>;
  asked: AskedOptions;
}
export interface DataPacket {
  opcode: 3;
  block: number;
  data: Uint8Array;
}
export interface AckPacket {
  opcode: 4;
  block: number;
}
export interface ErrorPacket {
  opcode: 5;
  code: number;
  message: string;
}
export interface OackPacket {
  opcode: 6;
  options: Array<[string, string]>;
  asked: AskedOptions;
}
export type Packet = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** A packet the codec refused: `status` says why (Status.*), `opcode` what it claimed to be (0 if unknown). */
export interface Malformed {
  opcode: 0;
  status: number;
  claimed: number;
}
export type Decoded = Packet | Malformed;

export interface NegotiationLimits {
  /** Largest blksize granted (8..BLKSIZE_MAX); 0 refuses blksize. */
  maxBlksize: number;
  /** Largest windowsize granted (1..65535); 0 refuses windowsize. */
  maxWindowsize: number;
  /** Size announced for tsize on a read, -1 when unknown (tsize is then left out). */
  tsize: number;
  /** A write request (tsize is echoed as asked). */
  write: boolean;
  /** Options never granted: for clients that break on them. */
  refuse?: ReadonlyArray<"blksize" | "tsize" | "timeout" | "windowsize">;
  /**
   * Largest timeout (RFC 2349, seconds) acknowledged; a client asking more
   * gets no timeout in the OACK (RFC 2347 lets a server decline an option)
   * and the server's own retransmission timing. Default 255 (RFC maximum).
   */
  maxTimeout?: number;
}

/** What was granted: -1 for an option not in the OACK. `oack` is null when nothing was granted. */
export interface Negotiated {
  blksize: number;
  tsize: number;
  timeout: number;
  windowsize: number;
  oack: Uint8Array | null;
}

export interface RequestFields {
  opcode: 1 | 2;
  filename: string;
  mode: Mode;
  blksize?: number;
  tsize?: number;
  timeout?: number;
  windowsize?: number;
}

/** The codec's surface, implemented by the WebAssembly core and by the TypeScript reference. */
export interface Codec {
  decode(packet: Uint8Array): Decoded;
  /** Block number of an ACK (any length >= 4), or a negative number for anything else. */
  decodeAck(packet: Uint8Array): number;
  encodeData(block: number, payload: Uint8Array): Uint8Array;
  encodeAck(block: number): Uint8Array;
  encodeError(code: number, message: string): Uint8Array;
  encodeRequest(fields: RequestFields): Uint8Array;
  negotiate(asked: AskedOptions, limits: NegotiationLimits): Negotiated;
  netasciiEncode(chunk: Uint8Array): Uint8Array;
  netasciiDecode(chunk: Uint8Array, pendingCR: boolean): { data: Uint8Array; pendingCR: boolean };
}

export const refuseBits = { blksize: 1, tsize: 2, timeout: 4, windowsize: 8 } as const;
