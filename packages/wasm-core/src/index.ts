/**
 * `@tftpkit/wasm-core`: the TFTP protocol core (codec, option negotiation,
 * netascii, block scheduler) compiled to WebAssembly, with the TypeScript
 * senders and receivers that drive it.
 *
 * Subpath: `@tftpkit/wasm-core/testing` holds the pure TypeScript reference
 * codec for differential tests. Option schemas live in `@tftpkit/options`.
 *
 * @packageDocumentation
 */

export { wasmCodec } from "./codec.js";
export { Scheduler, scheduler, Ack, Timeout, Rx, type DeadlineOwner, type RttEstimate } from "./scheduler.js";
export { NetasciiEncoder, NetasciiDecoder } from "./netascii.js";
export { KNOWN_OPTIONS, type KnownOption } from "./types.js";
export { Status, statusMessage } from "./status.js";
export { TftpError, TftpMalformedError, WireError, hasBrand, type TftpErrorCode } from "./errors.js";
export { toTftpError } from "./errno.js";
export {
  BLKSIZE_MAX, Opcode, refuseBits,
  type AskedOptions, type AckPacket, type Codec, type DataPacket, type Decoded, type ErrorPacket, type Malformed,
  type Mode, type Negotiated, type NegotiationLimits, type OackPacket, type Packet, type RequestFields, type RequestPacket,
} from "./types.js";
export type { BufferBudget, FlowConfig, PacketLink } from "./flow.js";
export {
  BlockSender, ringSlots,
  type BlockSource, type RetransmitReason, type SendProgress, type SendTimeout, type SenderConfig, type SenderHooks,
} from "./sender.js";
export {
  BlockReceiver,
  type BlockConsumer, type ReceiveResult, type ReceiveTimeout, type ReceiverConfig, type ReceiverHooks,
} from "./receiver.js";
