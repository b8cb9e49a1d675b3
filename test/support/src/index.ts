// Shared support of the tftpkit tests (a private workspace, never published).

export { bytes, hex, sleep, tempTree, waitFor, within, TimeoutError, type TempTree } from "./fixtures.js";
export { CURL, IN_TFTPD, curlTftp, freeTcpPort, freeUdpPort, hasCurl, hasInTftpd, udpBoundBy, waitUdpBound, type CurlResult } from "./hosts.js";
export { ackPacket, dataPacket, errorPacket, oackPacket, parse, rrq, wrq, type OptionList, type Pkt } from "./packets.js";
export { UdpPeer, closeAllPeers, type Received } from "./udp-peer.js";
export { dataBlocks, get, tftpGet, type AckInfo, type Event, type GetOptions, type GetResult, type TftpGetOptions, type TftpGetResult } from "./get.js";
