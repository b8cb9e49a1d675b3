// What the OTEL_* environment and the flags turn on, and --admin parsing.

import { describe, expect, it } from "vitest";
import { parseAdminAddress } from "../src/admin/admin.js";
import { TelemetryConfigError, telemetryPlan } from "../src/observe/telemetry.js";

describe("telemetryPlan", () => {
  it("nothing exported without an endpoint; Prometheus only with the admin server", () => {
    const p = telemetryPlan({});
    expect(p.traces).toEqual({ console: false, otlp: undefined });
    expect(p.metrics).toMatchObject({ prometheus: false, console: false, otlp: undefined });
    expect(telemetryPlan({}, { prometheus: true }).metrics.prometheus).toBe(true);
    expect(p.serviceName).toBe("tftpkit");
  });

  it("OTEL_EXPORTER_OTLP_ENDPOINT turns on both signals over http/protobuf", () => {
    const p = telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" });
    expect(p.traces.otlp).toBe("http/protobuf");
    expect(p.metrics.otlp).toBe("http/protobuf");
    expect(p.metrics.intervalMs).toBe(60_000);
  });

  it("per-signal endpoints turn on one signal each; per-signal protocols win", () => {
    const t = telemetryPlan({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" });
    expect(t.traces.otlp).toBe("http/json");
    expect(t.metrics.otlp).toBeUndefined();
    const m = telemetryPlan({
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://c:4318/v1/metrics",
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "5000",
    });
    expect(m.traces.otlp).toBeUndefined();
    expect(m.metrics).toMatchObject({ otlp: "http/json", intervalMs: 5000 });
  });

  it("OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER decide when set", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none", OTEL_METRICS_EXPORTER: "console" };
    const p = telemetryPlan(env);
    expect(p.traces.otlp).toBeUndefined();
    expect(p.metrics).toMatchObject({ otlp: undefined, console: true });
    expect(telemetryPlan({ OTEL_TRACES_EXPORTER: "otlp,console" }).traces).toEqual({ console: true, otlp: "http/protobuf" });
  });

  it("--trace-console prints spans; OTEL_SDK_DISABLED turns everything off", () => {
    expect(telemetryPlan({}, { traceConsole: true }).traces.console).toBe(true);
    const off = telemetryPlan({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }, { traceConsole: true, prometheus: true });
    expect(off.disabled).toBe(true);
    expect(off.traces).toEqual({ console: false, otlp: undefined });
    expect(off.metrics).toMatchObject({ prometheus: false, otlp: undefined });
  });

  it("service.name from the environment is left alone", () => {
    expect(telemetryPlan({ OTEL_SERVICE_NAME: "tftp-edge" }).serviceName).toBeUndefined();
    expect(telemetryPlan({ OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=lab,service.name=x" }).serviceName).toBeUndefined();
  });

  it("clear errors for what is not supported", () => {
    expect(() => telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(TelemetryConfigError);
    expect(() => telemetryPlan({ OTEL_METRIC_EXPORT_INTERVAL: "soon" })).toThrow(/OTEL_METRIC_EXPORT_INTERVAL/);
  });
});

describe("parseAdminAddress", () => {
  it.each([
    ["127.0.0.1:9069", { host: "127.0.0.1", port: 9069 }],
    ["0.0.0.0:80", { host: "0.0.0.0", port: 80 }],
    ["[::1]:9069", { host: "::1", port: 9069 }],
    [":0", { host: "127.0.0.1", port: 0 }],
    ["localhost:9100", { host: "localhost", port: 9100 }],
  ])("%s", (v, want) => expect(parseAdminAddress(v)).toEqual(want));

  it("off disables; malformed values are errors", () => {
    expect(parseAdminAddress("off")).toBeUndefined();
    for (const bad of ["9069", "::1:9069", "host:", "host:70000", "host:port"]) expect(() => parseAdminAddress(bad), bad).toThrow(/--admin/);
  });
});
