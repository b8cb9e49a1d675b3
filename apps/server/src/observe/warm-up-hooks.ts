// The warm-up's own hooks (warmUpHooks of @tftpkit/server): what the
// server's hooks run, writing nowhere. The session log line is formatted and
// dropped; the telemetry is the same instrumentation on providers of its own
// without processors or readers, so its spans and metrics go nowhere and the
// process's telemetry (and /metrics) never sees the warm-up.

import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { createOtelInstrumentation, type Admission, type SessionStats, type WarmUpHooks } from "@tftpkit/server";
import { formatSession } from "./session-log.js";
import type { Telemetry } from "./telemetry.js";

/**
 * @param log the server's log format now (off: formatted as json all the same, since -v can turn it on)
 * @param telemetry the server's telemetry: with an instrumentation the warm-up gets a private one
 *   that records spans only when the server's does, so it runs the same code
 * @param worker the worker slot, as the log lines carry it
 * @param admission a private admission of the same kind as the server's that admits by itself (a worker's gate that never asks the primary)
 */
export function warmUpHooks(
  log: () => "json" | "text" | "off", telemetry: Pick<Telemetry, "instrumentation" | "tracing">, worker?: number, admission?: () => Admission,
): () => WarmUpHooks {
  return () => {
    const onSessionEnd = (s: SessionStats): void => {
      const format = log();
      formatSession(s, format === "off" ? "json" : format, worker); // formatted, then dropped
    };
    return {
      onSessionEnd,
      instrumentation: telemetry.instrumentation
        ? createOtelInstrumentation({ tracerProvider: new BasicTracerProvider(), meterProvider: new MeterProvider(), traces: telemetry.tracing })
        : undefined,
      admission: admission?.(),
    };
  };
}
