// Per-transfer statistics, returned with every result and attached to every error.

export type TransferOutcome = "ok" | "remote-error" | "timeout" | "aborted" | "error";

export interface TransferStats {
  kind: "get" | "put";
  /** The file name as sent (with the traceparent suffix, if any). */
  remote: string;
  mode: "octet" | "netascii";
  host: string;
  port: number;
  /** The server's transfer port (TID), 0 if it never answered. */
  peerPort: number;
  /** This side's port. */
  localPort: number;
  /** Local bytes delivered (get) or read from the source (put), after netascii translation. */
  bytes: number;
  /** Payload bytes on the wire, each block counted once. */
  wireBytes: number;
  /** Blocks transferred (counted once each). */
  blocks: number;
  /** Every packet sent (requests, DATA, ACKs, retransmissions included; injected drops excluded). */
  packetsSent: number;
  packetsReceived: number;
  /** Packets this side sent again (after a timeout, a gap reported by the receiver, or a duplicate). */
  retransmits: number;
  /** Deadlines that passed without progress. */
  timeouts: number;
  /** DATA blocks received again (get) or duplicate ACKs received (put). */
  duplicates: number;
  /** Gaps seen in a window (get). */
  gaps: number;
  /** Injected loss: packets dropped on purpose. */
  dataDropped: number;
  acksDropped: number;
  /** Options as asked, and as the server's OACK granted ({} when it sent none). */
  optionsAsked: Record<string, string>;
  optionsAcked: Record<string, string>;
  blksize: number;
  windowsize: number;
  /** Size from the OACK (get) or announced (put), -1 unknown. */
  tsize: number;
  startedAt: number; // epoch ms
  durationMs: number;
  outcome: TransferOutcome;
  error?: { code: string; wireCode: number; message: string };
}
