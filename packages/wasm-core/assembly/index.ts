// The tftpkit protocol core. Only exports here, no top-level code.
export { decode, decodeAck, encodeData, encodeAck, encodeError, encodeRequest } from "./codec";
export { negotiate } from "./options";
export { netasciiEncode, netasciiDecode } from "./netascii";
export {
  schedInit, schedCapacity, reserve, close, slotsOpen, setTimeout, adaptRto, rto, srttOf, touch,
  rttvarOf, rttPeakOf, seedRtt, txFirstAnswered, rttGuardReset, noteStall, rtoGuard, holdBack,
  sessionDeadline, clearSessionDeadline, setProgressLimit, expire,
  txOpen, txStart, txSetLast, txSetWindow, txOnAck, txSendable, txNext, txBase, txSent, txOnTimeout,
  rxOpen, rxStart, rxSetWindow, rxOnData, rxAckBlock, rxReceived, rxAcked, rxOnTimeout,
} from "./scheduler";
export { nextDeadline, timersQueued } from "./timers";
export { IN, OUT, RES, OPTS, KNOWN, KNOWN_STRIDE, LIMITS, PACKET_MAX, MAX_OPTIONS } from "./layout";
export { KNOWN_OPTIONS } from "./options";
export { BLKSIZE_MAX } from "./wire";
