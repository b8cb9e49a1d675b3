// The warm-up's own hooks (warmUpHooks of @tftpkit/server): what the
// server's hooks run, writing nowhere. The session log hook is the server's
// own function (SessionLog), which formats each line and drops it while the
// warm-up runs: the same function, so that the JIT's code for the server's
// call of it stays valid when the first real session ends. The telemetry is the same instrumentation on providers of its own:
// a tracer provider without processors, and a meter provider whose one
// reader is never read, so that every record runs the SDK's aggregation as
// the server's own does (a meter provider without readers skips it, and the
// JIT then meets that code cold on the first real sessions). Its spans and
// metrics go nowhere: the process's telemetry (and /metrics) never sees the
// warm-up.

import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { createOtelInstrumentation, type Admission, type SessionStats, type WarmUpHooks } from "@tftpkit/server";
import { Writable } from "node:stream";
import { LineWriter } from "./log-writer.js";
import { formatSession } from "./session-log.js";
import type { Telemetry } from "./telemetry.js";

/** A reader that nobody reads: the warm-up's metrics aggregate as the server's do, then go with the provider. */
class UnreadReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** The buffer of the writer that drops the warm-up's lines (it flushes every few lines). */
const QUIET_BUFFER_BYTES = 4096;

/**
 * The session log: one JSON or text line per ended session (onSessionEnd),
 * written by a LineWriter. While `quiet` (the warm-up runs), each line is
 * formatted all the same (as JSON when the log is off, since -v can turn it
 * on) and written to a LineWriter of its own that drops what it is given:
 * the warm-up runs every step a real session's line takes (the format, the
 * writer's buffer, its flush timer), so the JIT's code for them holds when
 * the first real session ends.
 */
export class SessionLog {
  /**
   * The writer lines go to now (lines, or dropped while quiet). A field, not
   * a choice in onSessionEnd: the hook then runs the same code in the
   * warm-up as after it.
   */
  private out: LineWriter;
  private dropped: LineWriter | undefined;

  constructor(
    private readonly lines: LineWriter,
    private readonly format: () => "json" | "text" | "off",
    private readonly worker?: number,
  ) {
    this.out = lines;
  }

  /** While true, lines are formatted and dropped (the warm-up runs). */
  get quiet(): boolean {
    return this.out !== this.lines;
  }

  set quiet(on: boolean) {
    // A small buffer: the warm-up's few lines also take the path of a full buffer.
    if (on) this.dropped ??= new LineWriter(new Writable({ write: (_chunk, _enc, done) => done() }), QUIET_BUFFER_BYTES);
    else this.dropped?.flush();
    this.out = on ? this.dropped! : this.lines;
  }

  /** The server's onSessionEnd hook (and the warm-up's: the same function). */
  readonly onSessionEnd = (s: SessionStats): void => {
    const asked = this.format();
    const format = asked === "off" && this.quiet ? "json" : asked;
    if (format !== "off") this.out.write(formatSession(s, format, this.worker));
  };
}

/**
 * @param log the server's session log: the warm-up calls the same hook, quiet until the warm-up has ended
 * @param telemetry the server's telemetry: with an instrumentation the warm-up gets a private one
 *   that records spans only when the server's does, so it runs the same code
 * @param admission a private admission of the same kind as the server's that admits by itself (a worker's gate that never asks the primary)
 */
export function warmUpHooks(
  log: SessionLog, telemetry: Pick<Telemetry, "instrumentation" | "tracing">, admission?: () => Admission,
): () => WarmUpHooks {
  return () => {
    log.quiet = true;
    return {
      onSessionEnd: log.onSessionEnd,
      ended: () => void (log.quiet = false),
      instrumentation: telemetry.instrumentation
        ? createOtelInstrumentation({
          tracerProvider: new BasicTracerProvider(), meterProvider: new MeterProvider({ readers: [new UnreadReader()] }), traces: telemetry.tracing,
        })
        : undefined,
      admission: admission?.(),
    };
  };
}
