// OpenTelemetry SDK pieces for tests: spans into an InMemorySpanExporter,
// metrics from a MetricReader collected on demand, and small assertion
// helpers in the spirit of OpenTelemetry's instrumentation-*/test/utils.

import { SpanKind, SpanStatusCode, context, type Attributes } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import {
  DataPointType, MeterProvider, MetricReader,
  type DataPoint, type Histogram, type MetricData,
} from "@opentelemetry/sdk-metrics";
import { expect } from "vitest";

/** A reader that only exports when a test calls collect(). */
export class TestMetricReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export interface OtelHarness {
  exporter: InMemorySpanExporter;
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  reader: TestMetricReader;
  /** Every metric collected now, by name. */
  metrics(): Promise<Map<string, MetricData>>;
  shutdown(): Promise<void>;
}

/** Installs the AsyncLocalStorage context manager (once per file) and fresh providers. */
export function otelHarness(): OtelHarness {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    exporter,
    tracerProvider,
    meterProvider,
    reader,
    async metrics() {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const out = new Map<string, MetricData>();
      for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
      return out;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      context.disable();
    },
  };
}

/** The value of a counter's data point whose attributes include `attrs` (0 when none). */
export function sumOf(m: MetricData | undefined, attrs: Attributes = {}): number {
  if (!m) return 0;
  let total = 0;
  for (const p of m.dataPoints as DataPoint<number | Histogram>[]) {
    if (!Object.entries(attrs).every(([k, v]) => p.attributes[k] === v)) continue;
    total += m.dataPointType === DataPointType.HISTOGRAM ? (p.value as Histogram).count : (p.value as number);
  }
  return total;
}

/** Every attribute key used by any data point of the metrics. */
export function metricAttributeKeys(all: Map<string, MetricData>): Set<string> {
  const keys = new Set<string>();
  for (const m of all.values()) for (const p of m.dataPoints) for (const k of Object.keys(p.attributes)) keys.add(k);
  return keys;
}

export interface ExpectedSpan {
  name: string;
  attributes?: Attributes;
  status?: SpanStatusCode;
  events?: string[];
}

/** Checks a session span: name, kind SERVER, attributes (a subset), status and event names (a subset, in order). */
export function assertSpan(span: ReadableSpan, e: ExpectedSpan): void {
  expect(span.name).toBe(e.name);
  expect(span.kind).toBe(SpanKind.SERVER);
  if (e.attributes) expect(span.attributes).toMatchObject(e.attributes);
  expect(span.status.code).toBe(e.status ?? SpanStatusCode.UNSET);
  if (e.events) {
    const names = span.events.map((ev) => ev.name);
    let i = 0;
    for (const n of names) if (n === e.events[i]) i++;
    expect(i, `events ${JSON.stringify(names)} should contain ${JSON.stringify(e.events)} in order`).toBe(e.events.length);
  }
  expect(span.ended).toBe(true);
}
