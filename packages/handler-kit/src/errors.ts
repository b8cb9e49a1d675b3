// Errors of the upstream layer. An UpstreamError is a TftpError, so the
// session answers it with its wire code and message as they are; the message
// is what the TFTP client sees (short, no URL), the rest is for logs.
//
//   upstream said            wire code   reason
//   404, 410                 1           status
//   401, 403                 2           status
//   any other status         0           status
//   connect/DNS/TLS failure  0           unreachable
//   silent for timeoutMs     0           timeout
//   body cut short           0           truncated
//   request aborted          0           aborted

import { TftpError } from "@tftpkit/server";

export type UpstreamReason = "status" | "unreachable" | "timeout" | "truncated" | "aborted";

// Each class checks a Symbol.for brand, so `instanceof` holds across two installed copies of this package.
const kUpstreamError = Symbol.for("tftpkit.error.UpstreamError");
const kTemplateError = Symbol.for("tftpkit.error.TemplateError");
const branded = (value: unknown, brand: symbol): boolean =>
  typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;

export class UpstreamError extends TftpError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, kUpstreamError);
  }
  get [kUpstreamError](): true {
    return true;
  }
  readonly reason: UpstreamReason;
  /** The URL asked (for logs; never sent to the client). */
  readonly url: string;
  /** The HTTP status, for reason "status". */
  readonly status: number | undefined;

  constructor(
    wireCode: number,
    message: string,
    reason: UpstreamReason,
    url: string,
    extra: { status?: number; cause?: unknown } = {},
  ) {
    super(wireCode, message, reason === "timeout" ? "TFTP_ERR_TIMEOUT" : reason === "aborted" ? "TFTP_ERR_ABORTED" : undefined, {
      cause: extra.cause,
    });
    this.name = "UpstreamError";
    this.reason = reason;
    this.url = url;
    this.status = extra.status;
  }

  /** Maps an HTTP status that is not a success to its TFTP error. */
  static fromStatus(status: number, url: string): UpstreamError {
    if (status === 404 || status === 410) return new UpstreamError(1, "File not found", "status", url, { status });
    if (status === 401 || status === 403) return new UpstreamError(2, "Access violation", "status", url, { status });
    return new UpstreamError(0, `Upstream answered HTTP ${status}`, "status", url, { status });
  }

  static unreachable(url: string, cause: unknown): UpstreamError {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    return new UpstreamError(0, `Upstream unreachable${code ? ` (${code})` : ""}`, "unreachable", url, { cause });
  }

  static timeout(url: string, ms: number): UpstreamError {
    return new UpstreamError(0, `Upstream timed out (silent for ${ms} ms)`, "timeout", url);
  }

  static truncated(url: string, got: number, size: number | undefined, cause?: unknown): UpstreamError {
    const of = size === undefined ? "" : ` of ${size}`;
    return new UpstreamError(0, `Upstream transfer failed after ${got}${of} bytes`, "truncated", url, { cause });
  }

  static aborted(url: string): UpstreamError {
    return new UpstreamError(0, "Upstream request aborted", "aborted", url);
  }
}

/** A template that cannot be compiled or rendered (line numbers are 1-based). */
export class TemplateError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, kTemplateError);
  }
  get [kTemplateError](): true {
    return true;
  }
  readonly code = "TFTP_ERR_TEMPLATE";
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}
