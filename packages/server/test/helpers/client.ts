// The raw UDP TFTP test peer and the packets it builds live in
// @tftpkit/test-support; the server's tests import them from here under the
// names they have always used.

export {
  TimeoutError,
  UdpPeer as UdpClient,
  ackPacket,
  closeAllPeers as closeAllClients,
  dataBlocks,
  dataPacket,
  errorPacket,
  get,
  parse,
  rrq,
  sleep,
  within,
  wrq,
  type AckInfo,
  type Event,
  type GetOptions,
  type GetResult,
  type OptionList,
  type Pkt,
  type Received,
} from "@tftpkit/test-support";
