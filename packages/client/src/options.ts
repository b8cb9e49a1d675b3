// Client options: each declared once in TRANSFER_OPTIONS (type and range,
// unit, default, description), validated once per transfer, then frozen. The
// load generator takes its transfer options from the same table. An
// out-of-range value is a clear error, never silently clamped.

import { BLKSIZE_MAX } from "@tftpkit/wasm-core";
import {
  TftpConfigError, applyRenames, bool, custom, defaultsOf, int, num, oneOf, option, resolveTable, str, warnDeprecated,
  type OptionsInput, type OptionTable, type Renames,
} from "@tftpkit/options";
import type { LossInjector, LossOptions } from "./loss.js";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const isTraceparent = (v: unknown): boolean =>
  v === true || v === false || (typeof v === "string" && TRACEPARENT.test(v) && !/^00-0{32}-|-0{16}-/.test(v));

export const TRANSFER_OPTIONS = {
  blksize: option({ ...int(8, BLKSIZE_MAX), unit: "bytes", description: "ask for this block size (RFC 2348); not asked when left out: 512-byte blocks" }),
  windowsize: option({ ...int(1, 65535), unit: "blocks", description: "ask for this window (RFC 7440); not asked when left out: lock-step" }),
  tsize: option({ ...bool(), default: false, description: "ask for the transfer size (RFC 2349): a get learns the size, a put announces it when known" }),
  timeoutSeconds: option({
    ...num(0.001, 255, "seconds"), arg: "S", default: 1, unit: "s",
    description: "seconds without an answer before this side retransmits (fractions allowed); left out: an adaptive timeout with this as its ceiling",
  }),
  rtoFloorMs: option({
    ...int(1, 60_000), default: 50, unit: "ms",
    description: "lowest adaptive retransmission timeout (when timeoutSeconds is left out: max(this, SRTT + 4 RTTVAR), doubled per timeout)",
  }),
  timeoutOptionSeconds: option({ ...int(1, 255), unit: "s", description: "also ask the server to use this retransmission timeout (RFC 2349 timeout)" }),
  retries: option({ ...int(0, 1000), default: 5, description: "retransmissions of one packet or window before the transfer fails" }),
  mode: option({ ...oneOf("octet", "netascii"), default: "octet" as "octet" | "netascii", description: "octet, or netascii (LF <-> CR LF on the wire)" }),
  signal: option({
    ...custom<AbortSignal>((v) => v instanceof AbortSignal, "must be an AbortSignal"),
    description: "aborts the transfer: the server is told with ERROR 0 and the promise rejects with TFTP_ERR_ABORTED",
  }),
  traceparent: option({
    ...custom<string | boolean>(isTraceparent, "must be 00-<32 hex>-<16 hex>-<2 hex>, ids not all zero, or true for a fresh one"),
    description: "W3C traceparent appended to the file name (name-00-<trace>-<span>-<flags>); true makes a fresh random one",
  }),
  loss: option({
    ...custom<LossOptions | LossInjector>((v) => typeof v === "object" && v !== null, "must be { data, ack } rates or a LossInjector"),
    description: "injected loss (load testing): a share of DATA and of ACK packets dropped, from a seeded PRNG",
  }),
  dallyMs: option({
    ...int(0, 600_000), default: 0, unit: "ms",
    description: "after the last ACK of a get, keep re-ACKing a retransmitted last block this long (RFC 1350 dallying)",
  }),
  localAddress: option({ ...str("ADDR"), description: "local address to bind (default: any address of the target's family)" }),
  connect: option({
    ...bool(), default: false,
    description:
      "connect the socket to the server's transfer port once it answered: cheaper sends (the load generator's default); " +
      "the kernel then drops packets from other ports instead of this side answering them with ERROR 5",
  }),
};

/** Options of a transfer (and client defaults): see TRANSFER_OPTIONS for each one's meaning, range and default. */
export type TransferOptions = OptionsInput<typeof TRANSFER_OPTIONS>;

/** The options the load generator shares with the client (same names, same meaning, same ranges). */
export const SHARED_TRANSFER_KEYS = ["blksize", "windowsize", "tsize", "timeoutSeconds", "timeoutOptionSeconds", "retries", "mode"] as const;
export type SharedTransferOptions = Pick<TransferOptions, (typeof SHARED_TRANSFER_KEYS)[number]>;

/** The sub-table of TRANSFER_OPTIONS for `keys`. */
export function transferOptionTable<K extends keyof typeof TRANSFER_OPTIONS>(keys: readonly K[]): Pick<typeof TRANSFER_OPTIONS, K> {
  const out: OptionTable = {};
  for (const k of keys) out[k] = TRANSFER_OPTIONS[k];
  return out as Pick<typeof TRANSFER_OPTIONS, K>;
}

export interface ResolvedTransferOptions {
  blksize: number; // bytes asked, -1 = not asked
  windowsize: number; // blocks asked, -1 = not asked
  tsize: boolean;
  timeoutMs: number; // ms before this side retransmits (the ceiling of an adaptive timeout)
  rtoFloorMs: number; // ms: lowest adaptive timeout; 0 = fixed (the user set timeout)
  timeoutOption: number; // seconds asked of the server, -1 = not asked
  retries: number; // count
  mode: "octet" | "netascii";
  signal: AbortSignal | undefined;
  traceparent: string | undefined;
  loss: LossOptions | LossInjector | undefined;
  dallyMs: number; // ms
  localAddress: string | undefined;
  connect: boolean;
}

export const CLIENT_DEFAULTS = defaultsOf(TRANSFER_OPTIONS) as Readonly<{ tsize: boolean; timeoutSeconds: number; retries: number; mode: "octet" | "netascii"; dallyMs: number; connect: boolean }>;

export { TftpConfigError };

/**
 * Transfer options renamed so that every duration names its unit: the old
 * names keep working for one release, with a DeprecationWarning naming the new one.
 */
export const RENAMED_TRANSFER_OPTIONS: Renames = Object.freeze({
  timeout: "timeoutSeconds",
  timeoutOption: "timeoutOptionSeconds",
});

/** Reads old option names (RENAMED_TRANSFER_OPTIONS) as the new ones, warning once per name; both names at once is an error. */
export function renameTransferOptions<T extends object | undefined>(o: T): T {
  if (!o) return o;
  const r = applyRenames(o as Record<string, unknown>, RENAMED_TRANSFER_OPTIONS, (k) => k);
  if (r.problems.length) throw new TftpConfigError(r.problems);
  warnDeprecated(r.warnings.map((w) => `@tftpkit/client: ${w}`));
  return r.input as T;
}

export function resolveTransferOptions(given: TransferOptions): ResolvedTransferOptions {
  const o = renameTransferOptions(given);
  const v = resolveTable(TRANSFER_OPTIONS, o as Record<string, unknown>);
  return Object.freeze({
    blksize: v.blksize ?? -1,
    windowsize: v.windowsize ?? -1,
    tsize: v.tsize,
    timeoutMs: v.timeoutSeconds * 1000,
    rtoFloorMs: o.timeoutSeconds === undefined ? v.rtoFloorMs : 0,
    timeoutOption: v.timeoutOptionSeconds ?? -1,
    retries: v.retries,
    mode: v.mode,
    signal: v.signal,
    traceparent: typeof v.traceparent === "string" ? v.traceparent : v.traceparent === true ? "" : undefined,
    loss: v.loss,
    dallyMs: v.dallyMs,
    localAddress: v.localAddress,
    connect: v.connect,
  });
}
