// The log line of a finished session (`--log json|text`): one line each,
// the handler's exception included (never on the wire).

import type { SessionStats } from "@tftpkit/server";

/** The second of the last timestamp and its ISO text up to the milliseconds ("2026-01-02T03:04:05."). */
let isoSecond = NaN;
let isoPrefix = "";

/** `new Date(t).toISOString()`, the date and time worked out once per second. */
export function isoTime(t: number): string {
  const ms = Math.trunc(t);
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    if (!Number.isFinite(ms)) return new Date(t).toISOString(); // throws, as Date does
    const whole = new Date(second * 1000).toISOString();
    isoPrefix = whole.slice(0, whole.length - 4);
    isoSecond = second;
  }
  const rest = ms - second * 1000;
  return `${isoPrefix}${rest < 10 ? "00" : rest < 100 ? "0" : ""}${rest}Z`;
}

/** One log line per finished session; `worker`: the worker process that ran it (with --workers). */
export function formatSession(s: SessionStats, format: "json" | "text", worker?: number): string {
  if (format === "json") {
    // Built as a string (the same text JSON.stringify makes of the object
    // with these keys in this order): no object per line, the strings
    // escaped by JSON.stringify one by one.
    const q = JSON.stringify;
    let line = `{"time":"${isoTime(s.startedAt + s.durationMs)}","event":"session","id":${s.id},"kind":"${s.kind}"` +
      `,"outcome":"${s.outcome}","peer":${q(`${s.peer.address}:${s.peer.port}`)}` +
      (s.local.address === undefined ? "" : `,"local":${q(s.local.address)}`) +
      `,"path":${q(s.path)},"mode":${q(s.mode)},"asked":${q(s.optionsAsked)},"acked":${q(s.optionsAcked)}` +
      `,"bytes":${s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent},"packets":${s.packetsSent},"retransmits":${s.retransmits}` +
      `,"ms":${q(Math.round(s.durationMs * 10) / 10)}`;
    if (s.error) line += `,"error":${q(s.error)}`;
    if (s.handlerError) line += `,"handlerError":${q(s.handlerError)}`;
    if (s.finalAckMissing) line += `,"finalAckMissing":true`;
    if (worker !== undefined) line += `,"worker":${worker}`;
    return line + "}";
  }
  const he = s.handlerError;
  const err = (s.error ? ` error=${s.error.code}:${JSON.stringify(s.error.message)}` : "") +
    (he ? ` handlerError=${JSON.stringify(`${he.name}: ${he.message}`)}${he.stack ? ` stack=${JSON.stringify(he.stack)}` : ""}` : "");
  const bytes = s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent;
  return `${s.kind} ${s.outcome} ${s.peer.address}:${s.peer.port} ${JSON.stringify(s.path)} ${bytes}B ${s.durationMs.toFixed(1)}ms blksize=${s.blksize} window=${s.windowsize} retransmits=${s.retransmits}${err}${worker !== undefined ? ` worker=${worker}` : ""}`;
}
