export { wasmCodec } from "./codec.js";
export { referenceCodec } from "./reference.js";
export { Scheduler, scheduler, Ack, Timeout, Rx, type DeadlineOwner } from "./scheduler.js";
export { NetasciiEncoder, NetasciiDecoder } from "./netascii.js";
export { coreModule, DEFAULT_SLOTS } from "./core.js";
export {
  Status, statusMessage, TftpError, TftpMalformedError, WireError, toTftpError,
  type TftpErrorCode,
} from "./status.js";
export {
  Opcode, refuseBits,
  type AskedOptions, type AckPacket, type Codec, type DataPacket, type Decoded, type ErrorPacket, type Malformed,
  type Mode, type Negotiated, type NegotiationLimits, type OackPacket, type Packet, type RequestFields, type RequestPacket,
} from "./types.js";
