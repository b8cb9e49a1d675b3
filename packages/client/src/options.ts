// Client options: one table of defaults, validated once per transfer, then
// frozen. An out-of-range value is a clear error, never silently clamped.

import type { LossInjector, LossOptions } from "./loss.js";

export interface TransferOptions {
  /** Ask for this block size (RFC 2348, 8..65464). Not asked when left out: 512-byte blocks. */
  blksize?: number;
  /** Ask for this window (RFC 7440, 1..65535 blocks). Not asked when left out: lock-step. */
  windowsize?: number;
  /** Ask for the transfer size (RFC 2349): a get learns the size, a put announces it when known. */
  tsize?: boolean;
  /** Seconds without an answer before this side retransmits (fractions allowed). */
  timeout?: number;
  /** Also ask the server to use this retransmission timeout (RFC 2349 `timeout`, whole seconds 1..255). */
  timeoutOption?: number;
  /** Retransmissions of one packet or window before the transfer fails. */
  retries?: number;
  /** "octet" (default) or "netascii" (LF <-> CR LF on the wire). */
  mode?: "octet" | "netascii";
  /** Aborts the transfer: the server is told with ERROR 0 and the promise rejects with TFTP_ERR_ABORTED. */
  signal?: AbortSignal;
  /**
   * W3C traceparent appended to the file name (`name-00-<trace>-<span>-<flags>`, the
   * Tinkerbell convention tftpkit strips). `true` makes a fresh random one. Off by default.
   */
  traceparent?: string | boolean;
  /** Injected loss (load testing): a share of DATA and of ACK packets dropped, from a seeded PRNG. */
  loss?: LossOptions | LossInjector;
  /**
   * After the last ACK of a get, keep listening this many ms and re-ACK a
   * retransmitted last block (RFC 1350 "dallying"). Resolves before it.
   */
  dallyMs?: number;
  /** Local address to bind (default: any address of the target's family). */
  localAddress?: string;
}

export interface ResolvedTransferOptions {
  blksize: number; // bytes asked, -1 = not asked
  windowsize: number; // blocks asked, -1 = not asked
  tsize: boolean;
  timeoutMs: number; // ms before this side retransmits
  timeoutOption: number; // seconds asked of the server, -1 = not asked
  retries: number; // count
  mode: "octet" | "netascii";
  signal: AbortSignal | undefined;
  traceparent: string | undefined;
  loss: LossOptions | LossInjector | undefined;
  dallyMs: number; // ms
  localAddress: string | undefined;
}

export const DEFAULTS = Object.freeze({
  timeout: 1, // seconds before this side retransmits
  retries: 5, // retransmissions of one packet/window before giving up
  mode: "octet" as const,
  dallyMs: 0, // ms to re-ACK a retransmitted last block after a get
});

export class TftpClientConfigError extends Error {
  readonly code = "TFTP_ERR_CONFIG";
  constructor(message: string) {
    super(message);
    this.name = "TftpClientConfigError";
  }
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new TftpClientConfigError(`${name} must be an integer from ${min} to ${max} (got ${v})`);
  }
  return v;
}

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export function resolveTransferOptions(o: TransferOptions): ResolvedTransferOptions {
  const timeout = o.timeout ?? DEFAULTS.timeout;
  if (typeof timeout !== "number" || !(timeout >= 0.001 && timeout <= 255)) {
    throw new TftpClientConfigError(`timeout must be from 0.001 to 255 seconds (got ${timeout})`);
  }
  const mode = o.mode ?? DEFAULTS.mode;
  if (mode !== "octet" && mode !== "netascii") throw new TftpClientConfigError(`mode must be octet or netascii (got ${String(mode)})`);
  let traceparent: string | undefined;
  if (typeof o.traceparent === "string") {
    if (!TRACEPARENT.test(o.traceparent) || /^00-0{32}-|-0{16}-/.test(o.traceparent)) {
      throw new TftpClientConfigError(`traceparent must be 00-<32 hex>-<16 hex>-<2 hex>, ids not all zero (got ${o.traceparent})`);
    }
    traceparent = o.traceparent;
  } else if (o.traceparent === true) {
    traceparent = "";
  }
  return Object.freeze({
    blksize: o.blksize === undefined ? -1 : intIn("blksize", o.blksize, 8, 65464),
    windowsize: o.windowsize === undefined ? -1 : intIn("windowsize", o.windowsize, 1, 65535),
    tsize: o.tsize ?? false,
    timeoutMs: timeout * 1000,
    timeoutOption: o.timeoutOption === undefined ? -1 : intIn("timeoutOption", o.timeoutOption, 1, 255),
    retries: intIn("retries", o.retries ?? DEFAULTS.retries, 0, 1000),
    mode,
    signal: o.signal,
    traceparent,
    loss: o.loss,
    dallyMs: intIn("dallyMs", o.dallyMs ?? DEFAULTS.dallyMs, 0, 600_000),
    localAddress: o.localAddress,
  });
}
