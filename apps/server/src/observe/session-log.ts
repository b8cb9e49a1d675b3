// The log line of a finished session (`--log json|text`): one line each,
// the handler's exception included (never on the wire).

import type { SessionStats } from "@tftpkit/server";

/** One log line per finished session; `worker`: the worker process that ran it (with --workers). */
export function formatSession(s: SessionStats, format: "json" | "text", worker?: number): string {
  if (format === "json") {
    return JSON.stringify({
      time: new Date(s.startedAt + s.durationMs).toISOString(),
      event: "session",
      id: s.id,
      kind: s.kind,
      outcome: s.outcome,
      peer: `${s.peer.address}:${s.peer.port}`,
      local: s.local.address,
      path: s.path,
      mode: s.mode,
      asked: s.optionsAsked,
      acked: s.optionsAcked,
      bytes: s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent,
      packets: s.packetsSent,
      retransmits: s.retransmits,
      ms: Math.round(s.durationMs * 10) / 10,
      ...(s.error ? { error: s.error } : {}),
      ...(s.handlerError ? { handlerError: s.handlerError } : {}),
      ...(s.finalAckMissing ? { finalAckMissing: true } : {}),
      ...(worker !== undefined ? { worker } : {}),
    });
  }
  const he = s.handlerError;
  const err = (s.error ? ` error=${s.error.code}:${JSON.stringify(s.error.message)}` : "") +
    (he ? ` handlerError=${JSON.stringify(`${he.name}: ${he.message}`)}${he.stack ? ` stack=${JSON.stringify(he.stack)}` : ""}` : "");
  const bytes = s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent;
  return `${s.kind} ${s.outcome} ${s.peer.address}:${s.peer.port} ${JSON.stringify(s.path)} ${bytes}B ${s.durationMs.toFixed(1)}ms blksize=${s.blksize} window=${s.windowsize} retransmits=${s.retransmits}${err}${worker !== undefined ? ` worker=${worker}` : ""}`;
}
