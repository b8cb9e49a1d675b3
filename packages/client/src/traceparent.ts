// W3C trace context carried in the file name, the convention Tinkerbell uses
// and tftpkit strips: `name-00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.

import { randomBytes } from "node:crypto";

/** A fresh traceparent, sampled, with random non-zero ids. */
export function randomTraceparent(): string {
  let trace = randomBytes(16);
  while (trace.every((b) => b === 0)) trace = randomBytes(16);
  let span = randomBytes(8);
  while (span.every((b) => b === 0)) span = randomBytes(8);
  return `00-${trace.toString("hex")}-${span.toString("hex")}-01`;
}

/** The file name with the traceparent suffix. */
export function withTraceparent(name: string, traceparent: string): string {
  return `${name}-${traceparent}`;
}
