// W3C trace context through @opentelemetry/api (an optional peer dependency):
// with a propagator and a context manager registered, the upstream GET carries
// the active span's traceparent; traceContext: false sends none.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT_CONTEXT, context, propagation, trace, TraceFlags } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { httpSource } from "../src/index.js";
import { startUpstream, type Upstream } from "./helpers/upstream.js";

let up: Upstream;
const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const spanId = "00f067aa0ba902b7";

beforeAll(async () => {
  up = await startUpstream({ "/a": { body: Buffer.from("a") }, "/b": { body: Buffer.from("b") } });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(async () => {
  propagation.disable();
  context.disable();
  await up.close();
});

const inSpan = <T>(fn: () => Promise<T>): Promise<T> =>
  context.with(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED }), fn);

describe("trace context on upstream requests", () => {
  it("injects the active span's traceparent when @opentelemetry/api is present", async () => {
    const src = httpSource({ baseUrl: up.url });
    const r = await inSpan(() => src("a"));
    for await (const _ of r.body as AsyncIterable<Uint8Array>) void _;
    expect(up.lastHeaders.get("/a")?.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  });

  it("sends none with traceContext: false", async () => {
    const src = httpSource({ baseUrl: up.url, traceContext: false });
    const r = await inSpan(() => src("b"));
    for await (const _ of r.body as AsyncIterable<Uint8Array>) void _;
    expect(up.lastHeaders.get("/b")?.traceparent).toBeUndefined();
  });
});
