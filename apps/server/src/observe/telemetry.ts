// The OpenTelemetry SDK of the tftpkit command, configured by the standard
// OTEL_* environment variables (the library, @tftpkit/server, knows only the
// API).
//
// What is set up:
//   traces   OTLP/HTTP when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
//            OTEL_EXPORTER_OTLP_ENDPOINT is set, or OTEL_TRACES_EXPORTER names
//            otlp; the console with --trace-console (or OTEL_TRACES_EXPORTER=console)
//   metrics  OTLP/HTTP likewise (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, every
//            OTEL_METRIC_EXPORT_INTERVAL ms); Prometheus text for the admin
//            server's /metrics unless the admin server is off
//   nothing  when none of that applies (and with OTEL_SDK_DISABLED=true): no
//            provider is registered and the server gets no instrumentation,
//            so telemetry costs nothing.
//
// OTEL_EXPORTER_OTLP[_TRACES|_METRICS]_PROTOCOL picks http/protobuf (the
// default) or http/json; headers, timeouts, compression, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and OTEL_PROPAGATORS are read
// by the SDK and exporters themselves.

import { createRequire, syncBuiltinESMExports } from "node:module";
import { OTLPMetricExporter as OTLPMetricExporterJson } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPMetricExporterProto } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter as OTLPTraceExporterJson } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPTraceExporterProto } from "@opentelemetry/exporter-trace-otlp-proto";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { ConsoleMetricExporter, PeriodicExportingMetricReader, type IMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createOtelInstrumentation, type Instrumentation } from "@tftpkit/server";
import { ConfigErrorCode, TftpConfigError } from "@tftpkit/options";

export type OtlpProtocol = "http/protobuf" | "http/json";

export interface TelemetryPlan {
  disabled: boolean;
  traces: { console: boolean; otlp: OtlpProtocol | undefined };
  metrics: { prometheus: boolean; console: boolean; otlp: OtlpProtocol | undefined; intervalMs: number; timeoutMs: number };
  /** service.name when the environment names none. */
  serviceName: string | undefined;
}

export interface TelemetryFlags {
  /** Print every span to stdout (--trace-console). */
  traceConsole?: boolean;
  /** A Prometheus /metrics is served (the admin server is on). */
  prometheus?: boolean;
}

/** A bad OTEL_* variable: a TftpConfigError with reason TFTP_ERR_CONFIG_ENV (one error class for all configuration). */
export { TftpConfigError as TelemetryConfigError };
const envError = (variable: string, message: string): TftpConfigError =>
  new TftpConfigError({ code: ConfigErrorCode.ENV, key: variable, message });

type Env = Readonly<Record<string, string | undefined>>;

function set(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function list(env: Env, name: string): string[] | undefined {
  const v = set(env, name);
  return v === undefined ? undefined : v.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
}

function protocol(env: Env, signal: "TRACES" | "METRICS"): OtlpProtocol {
  const p = (set(env, `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`) ?? set(env, "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf").toLowerCase();
  if (p === "http/protobuf" || p === "http/json") return p;
  throw envError(`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`, `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL: "${p}" is not supported (http/protobuf or http/json)`);
}

function ms(env: Env, name: string, dflt: number): number {
  const v = set(env, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw envError(name, `${name} must be a positive number of milliseconds (got "${v}")`);
  return n;
}

/**
 * What the environment and flags ask for; pure, so it can be tested without
 * starting anything. OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER, when set,
 * decide (otlp, console, none); unset, OTLP is on only where an endpoint is set.
 */
export function telemetryPlan(env: Env, flags: TelemetryFlags = {}): TelemetryPlan {
  const disabled = set(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true";
  const anyEndpoint = set(env, "OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined;
  const tracesList = list(env, "OTEL_TRACES_EXPORTER");
  const metricsList = list(env, "OTEL_METRICS_EXPORTER");
  const tracesOtlp = tracesList
    ? tracesList.includes("otlp") && !tracesList.includes("none")
    : anyEndpoint || set(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== undefined;
  const metricsOtlp = metricsList
    ? metricsList.includes("otlp") && !metricsList.includes("none")
    : anyEndpoint || set(env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") !== undefined;
  const resourceAttrs = set(env, "OTEL_RESOURCE_ATTRIBUTES") ?? "";
  const named = set(env, "OTEL_SERVICE_NAME") !== undefined || /(^|,)\s*service\.name\s*=/.test(resourceAttrs);
  return {
    disabled,
    traces: {
      console: !disabled && (flags.traceConsole === true || (tracesList?.includes("console") ?? false)),
      otlp: !disabled && tracesOtlp ? protocol(env, "TRACES") : undefined,
    },
    metrics: {
      prometheus: !disabled && flags.prometheus === true,
      console: !disabled && (metricsList?.includes("console") ?? false),
      otlp: !disabled && metricsOtlp ? protocol(env, "METRICS") : undefined,
      intervalMs: ms(env, "OTEL_METRIC_EXPORT_INTERVAL", 60_000),
      timeoutMs: ms(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30_000),
    },
    serviceName: named ? undefined : "tftpkit",
  };
}

/**
 * instrumentation-http patches node:http through require(); an ES module
 * (the CLI, a --handler module) imports the same module object, so requiring
 * http and https once applies the patch to it, and syncBuiltinESMExports()
 * carries it to named imports (`import { get } from "node:http"`).
 */
function patchBuiltinsForEsm(): void {
  const require = createRequire(import.meta.url);
  require("node:http");
  require("node:https");
  syncBuiltinESMExports();
}

export interface Telemetry {
  plan: TelemetryPlan;
  /** For ServerOptions.instrumentation; undefined when nothing is recorded. */
  instrumentation: Instrumentation | undefined;
  /** Whether the instrumentation records spans (some trace exporter is on). */
  tracing: boolean;
  /** Serves /metrics on the admin server; undefined when Prometheus is off. */
  prometheus: PrometheusExporter | undefined;
  /** A line for the start-up message: what is exported where. */
  describe(): string;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

/** Starts the SDK the plan asks for (call before the handler module is loaded, so its HTTP calls are traced). */
export function startTelemetry(env: Env = process.env, flags: TelemetryFlags = {}): Telemetry {
  const plan = telemetryPlan(env, flags);
  const spanProcessors: SpanProcessor[] = [];
  const readers: IMetricReader[] = [];
  let prometheus: PrometheusExporter | undefined;
  if (plan.traces.console) spanProcessors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
  if (plan.traces.otlp) {
    const exporter: SpanExporter = plan.traces.otlp === "http/json" ? new OTLPTraceExporterJson() : new OTLPTraceExporterProto();
    spanProcessors.push(new BatchSpanProcessor(exporter));
  }
  if (plan.metrics.prometheus) {
    prometheus = new PrometheusExporter({ preventServerStart: true });
    readers.push(prometheus);
  }
  const periodic = (exporter: PushMetricExporter): PeriodicExportingMetricReader =>
    new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: plan.metrics.intervalMs,
      exportTimeoutMillis: Math.min(plan.metrics.timeoutMs, plan.metrics.intervalMs),
    });
  if (plan.metrics.otlp) readers.push(periodic(plan.metrics.otlp === "http/json" ? new OTLPMetricExporterJson() : new OTLPMetricExporterProto()));
  if (plan.metrics.console) readers.push(periodic(new ConsoleMetricExporter()));

  const tracing = spanProcessors.length > 0;
  const metering = readers.length > 0;
  let sdk: NodeSDK | undefined;
  if (tracing || metering) {
    sdk = new NodeSDK({
      serviceName: plan.serviceName,
      spanProcessors,
      metricReaders: readers,
      logRecordProcessors: [],
      // Without traces nothing reads the active context: no context manager
      // (AsyncLocalStorage, whose promise hooks cost every promise and
      // callback of the server) and no propagator are registered.
      ...(tracing ? {} : { contextManager: null as unknown as undefined, textMapPropagator: null }),
      // The handler's HTTP requests become child spans and carry traceparent.
      // (Incoming requests are the admin server's: scrapes and health checks make no spans.)
      instrumentations: tracing ? [new HttpInstrumentation({ ignoreIncomingRequestHook: () => true })] : [],
    });
    sdk.start();
    if (tracing) patchBuiltinsForEsm();
  }
  // After sdk.start(): the instrumentation takes the global tracer and meter.
  const instrumentation = sdk ? createOtelInstrumentation({ traces: tracing }) : undefined;
  return {
    plan,
    instrumentation,
    tracing: instrumentation !== undefined && tracing,
    prometheus,
    describe() {
      const t = [plan.traces.otlp && `OTLP ${plan.traces.otlp}`, plan.traces.console && "console"].filter(Boolean).join(" + ") || "off";
      const m = [plan.metrics.otlp && `OTLP ${plan.metrics.otlp}`, plan.metrics.prometheus && "Prometheus /metrics", plan.metrics.console && "console"]
        .filter(Boolean).join(" + ") || "off";
      return `telemetry: traces ${t}; metrics ${m}${plan.disabled ? " (OTEL_SDK_DISABLED)" : ""}`;
    },
    async shutdown() {
      await sdk?.shutdown();
    },
  };
}
