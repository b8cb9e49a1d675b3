// OpenTelemetry instrumentation: session spans (attributes, status, events,
// parents) and metrics, through the SDK's in-memory exporter and a reader
// collected on demand. Loopback, port 0, every wait bounded.

import { ROOT_CONTEXT, SpanStatusCode, context, trace, type SpanContext } from "@opentelemetry/api";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  TftpError, createOtelInstrumentation,
  type Instrumentation, type ReadHandler, type ReadRequest, type SessionStats,
} from "../src/index.js";
import { splitTraceparent } from "../src/observe/instrument.js";
import { describeError } from "../src/observe/stats.js";
import { parentContext } from "../src/observe/telemetry.js";
import * as A from "../src/observe/attributes.js";
import { UdpClient, ackPacket, closeAllClients, errorPacket, get, rrq } from "./helpers/client.js";
import { bytes, closeAllServers, startServer, type TestServer } from "./helpers/server.js";
import { assertSpan, metricAttributeKeys, otelHarness, sumOf } from "./helpers/otel.js";

const otel = otelHarness();
const tracer = otel.tracerProvider.getTracer("handler-under-test");
const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });

const hello = bytes(3000);
const requests: ReadRequest[] = [];
const handlerSpans: SpanContext[] = [];

const handler: ReadHandler = async (req) => {
  requests.push(req);
  switch (req.path) {
    case "hello.bin":
      return hello;
    case "boot/ipxe.efi":
      // What a handler does becomes child spans of the session span.
      return tracer.startActiveSpan("lookup machine", async (span) => {
        handlerSpans.push(span.spanContext());
        await new Promise((r) => setImmediate(r));
        span.end();
        return "#!ipxe\n";
      });
    case "boom":
      throw new Error("boom");
    case "boom-string":
      throw "plain string"; // eslint-disable-line no-throw-literal
    default:
      throw TftpError.notFound();
  }
};

let srv: TestServer;

beforeEach(async () => {
  otel.exporter.reset();
  requests.length = 0;
  handlerSpans.length = 0;
  srv = await startServer({ handler, instrumentation, timeoutSeconds: 0.05, retries: 2, connectSessionSockets: false });
});

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});

afterAll(() => otel.shutdown());

function sessionSpans() {
  return otel.exporter.getFinishedSpans().filter((s) => s.name.startsWith("tftp.") && s.name !== A.SPAN_BOOT);
}

/** The tftp.boot span a session span is the child of (its flow ends when the server closes). */
async function bootSpanOf(span: { parentSpanContext?: { spanId: string } }) {
  await srv.close();
  const boot = otel.exporter.getFinishedSpans().find((s) => s.name === A.SPAN_BOOT && s.spanContext().spanId === span.parentSpanContext?.spanId);
  expect(boot, "the session span's parent is its flow's tftp.boot span").toBeDefined();
  return boot!;
}

async function onlySessionSpan() {
  const spans = sessionSpans();
  expect(spans).toHaveLength(1);
  return spans[0];
}

describe("session spans", () => {
  it("ok: tftp.read with peer, local, path, options asked and acked, sizes, blocks; no error status", async () => {
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "hello.bin", { options: [["blksize", "1024"], ["tsize", "0"]] });
    expect(r.data.equals(hello)).toBe(true);
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    assertSpan(span, {
      name: "tftp.read",
      attributes: {
        [A.ATTR_KIND]: "read",
        [A.ATTR_NETWORK_TRANSPORT]: "udp",
        [A.ATTR_NETWORK_PEER_ADDRESS]: "127.0.0.1",
        [A.ATTR_NETWORK_PEER_PORT]: c.port,
        [A.ATTR_NETWORK_LOCAL_ADDRESS]: "127.0.0.1",
        [A.ATTR_NETWORK_LOCAL_PORT]: srv.port,
        [A.ATTR_PATH]: "hello.bin",
        [A.ATTR_MODE]: "octet",
        [A.ATTR_OPTIONS_ASKED]: ["blksize=1024", "tsize=0"],
        [A.ATTR_OPTIONS_ACKED]: ["blksize=1024", "tsize=3000"],
        [A.ATTR_BLKSIZE]: 1024,
        [A.ATTR_WINDOWSIZE]: 1,
        [A.ATTR_TSIZE]: 3000,
        [A.ATTR_BYTES_SENT]: 3000,
        [A.ATTR_BLOCKS]: 3,
        [A.ATTR_RETRANSMITS]: 0,
        [A.ATTR_OUTCOME]: "ok",
      },
      events: [A.EVENT_NEGOTIATED],
    });
    expect(span.attributes[A.ATTR_ERROR_CODE]).toBeUndefined();
    expect(span.attributes[A.ATTR_ERROR_TYPE]).toBeUndefined();
    // Under the flow's tftp.boot span, itself a root span.
    expect((await bootSpanOf(span)).parentSpanContext).toBeUndefined();
    const neg = span.events.find((e) => e.name === A.EVENT_NEGOTIATED)!;
    expect(neg.attributes).toMatchObject({ [A.ATTR_BLKSIZE]: 1024, [A.ATTR_TSIZE]: 3000 });
  });

  it("not found: outcome not-found, TFTP error code 1, status ERROR", async () => {
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "nope.bin");
    expect(r.error?.code).toBe(1);
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    assertSpan(span, {
      name: "tftp.read",
      status: SpanStatusCode.ERROR,
      attributes: { [A.ATTR_PATH]: "nope.bin", [A.ATTR_OUTCOME]: "not-found", [A.ATTR_ERROR_CODE]: 1, [A.ATTR_ERROR_TYPE]: "not-found", [A.ATTR_BYTES_SENT]: 0 },
    });
    expect(span.status.message).toBe("File not found");
  });

  it("a timeout after retries: timeout and retransmit events, outcome timeout, status ERROR", async () => {
    const c = await UdpClient.open();
    c.send(rrq("hello.bin"), srv.port); // 6 blocks of 512, lock-step; block 1 is never ACKed
    const first = await c.recv();
    expect(first.pkt).toMatchObject({ op: "DATA", block: 1 });
    const stats = await srv.sessionOf(c.port);
    expect(stats.outcome).toBe("timeout");
    const span = await onlySessionSpan();
    assertSpan(span, {
      name: "tftp.read",
      status: SpanStatusCode.ERROR,
      attributes: { [A.ATTR_OUTCOME]: "timeout", [A.ATTR_RETRANSMITS]: 2, [A.ATTR_ERROR_CODE]: 0, [A.ATTR_BLOCKS]: 0 },
      events: [A.EVENT_NEGOTIATED, A.EVENT_TIMEOUT, A.EVENT_RETRANSMIT, A.EVENT_TIMEOUT, A.EVENT_RETRANSMIT, A.EVENT_TIMEOUT],
    });
    const names = span.events.map((e) => e.name);
    expect(names.filter((n) => n === A.EVENT_TIMEOUT)).toHaveLength(3);
    const resent = span.events.filter((e) => e.name === A.EVENT_RETRANSMIT);
    expect(resent.map((e) => e.attributes)).toEqual([
      { [A.ATTR_RETRANSMIT_FROM]: 1, [A.ATTR_RETRANSMIT_COUNT]: 1, [A.ATTR_RETRANSMIT_REASON]: "timeout" },
      { [A.ATTR_RETRANSMIT_FROM]: 1, [A.ATTR_RETRANSMIT_COUNT]: 1, [A.ATTR_RETRANSMIT_REASON]: "timeout" },
    ]);
    expect(span.events.filter((e) => e.name === A.EVENT_TIMEOUT).map((e) => e.attributes?.[A.ATTR_RETRY])).toEqual([1, 2, 3]);
  });

  it("the size probe (tsize, then ERROR 8 after the OACK): outcome probe, not an error", async () => {
    const c = await UdpClient.open();
    c.send(rrq("hello.bin", "octet", [["tsize", "0"], ["blksize", "1468"]]), srv.port);
    const oack = await c.recv();
    expect(oack.pkt.op).toBe("OACK");
    c.send(errorPacket(8, "User aborted the transfer"), oack.port);
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    assertSpan(span, {
      name: "tftp.read",
      status: SpanStatusCode.UNSET,
      attributes: { [A.ATTR_OUTCOME]: "probe", [A.ATTR_TSIZE]: 3000, [A.ATTR_ERROR_CODE]: 8, [A.ATTR_OPTIONS_ACKED]: ["blksize=1468", "tsize=3000"] },
      events: [A.EVENT_NEGOTIATED],
    });
    expect(span.attributes[A.ATTR_ERROR_TYPE]).toBeUndefined();
  });

  it("a handler error: outcome handler-error, the exception recorded, status ERROR", async () => {
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "boom");
    expect(r.error?.code).toBe(0);
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    assertSpan(span, {
      name: "tftp.read",
      status: SpanStatusCode.ERROR,
      attributes: { [A.ATTR_OUTCOME]: "handler-error", [A.ATTR_ERROR_TYPE]: "handler-error", [A.ATTR_ERROR_CODE]: 0 },
      events: ["exception"],
    });
    const ex = span.events.find((e) => e.name === "exception")!;
    expect(ex.attributes?.["exception.message"]).toBe("boom");
    // From SessionStats.handlerError: the exception's type and stack too (the client saw only ERROR 0).
    expect(ex.attributes?.["exception.type"]).toBe("Error");
    expect(String(ex.attributes?.["exception.stacktrace"])).toMatch(/^Error: boom\n\s+at /);
    expect(srv.ended[0].handlerError).toMatchObject({ name: "Error", message: "boom" });
  });

  it("a handler that throws something other than an Error: the exception event still names it", async () => {
    const c = await UdpClient.open();
    expect((await get(c, srv.port, "boom-string")).error?.code).toBe(0);
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    const ex = span.events.find((e) => e.name === "exception")!;
    expect(ex.attributes).toMatchObject({ "exception.type": "string", "exception.message": "plain string" });
    expect(ex.attributes?.["exception.stacktrace"]).toBeUndefined();
  });

  it("a traceparent in the file name: in the remote parent's trace (under the flow's tftp.boot span, the remote parent's child), the handler sees the stripped path, its spans are children", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const c = await UdpClient.open();
    const r = await get(c, srv.port, `boot/ipxe.efi-00-${traceId}-${parentId}-01`);
    expect(r.data.toString()).toBe("#!ipxe\n");
    await srv.sessionOf(c.port);
    expect(requests.map((q) => q.path)).toEqual(["boot/ipxe.efi"]);
    const span = await onlySessionSpan();
    assertSpan(span, { name: "tftp.read", attributes: { [A.ATTR_PATH]: "boot/ipxe.efi", [A.ATTR_OUTCOME]: "ok" } });
    expect(span.spanContext().traceId).toBe(traceId);
    const boot = await bootSpanOf(span);
    expect(boot.spanContext().traceId).toBe(traceId);
    expect(boot.parentSpanContext).toMatchObject({ traceId, spanId: parentId, isRemote: true });

    const child = otel.exporter.getFinishedSpans().find((s) => s.name === "lookup machine")!;
    expect(child).toBeDefined();
    expect(handlerSpans).toHaveLength(1);
    expect(child.spanContext().traceId).toBe(traceId);
    expect(child.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
  });

  it("without a traceparent the handler's spans are children of the session span (under a root tftp.boot span)", async () => {
    const c = await UdpClient.open();
    await get(c, srv.port, "boot/ipxe.efi");
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    expect((await bootSpanOf(span)).parentSpanContext).toBeUndefined();
    const child = otel.exporter.getFinishedSpans().find((s) => s.name === "lookup machine")!;
    expect(child.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
    expect(child.spanContext().traceId).toBe(span.spanContext().traceId);
  });

  it("the session span does not inherit the context listen() ran in", async () => {
    await srv.close();
    const outer = tracer.startSpan("start-up");
    srv = await context.with(trace.setSpan(context.active(), outer), () =>
      startServer({ handler, instrumentation, timeoutSeconds: 0.05, retries: 2 }),
    );
    outer.end();
    const c = await UdpClient.open();
    await get(c, srv.port, "hello.bin");
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    expect((await bootSpanOf(span)).parentSpanContext).toBeUndefined();
  });

  it("an unsampled traceparent (flags 00): no span recorded, the session still counted", async () => {
    const before = sumOf((await otel.metrics()).get(A.METRIC_SESSIONS), { [A.ATTR_OUTCOME]: "ok" });
    const c = await UdpClient.open();
    await get(c, srv.port, `hello.bin-00-${"ab".repeat(16)}-${"cd".repeat(8)}-00`);
    await srv.sessionOf(c.port);
    expect(sessionSpans()).toHaveLength(0);
    const after = sumOf((await otel.metrics()).get(A.METRIC_SESSIONS), { [A.ATTR_OUTCOME]: "ok" });
    expect(after - before).toBe(1);
  });

  it("a packet from an unknown TID: a tftp.unknown_tid event; the transfer carries on", async () => {
    const c = await UdpClient.open();
    const stranger = await UdpClient.open();
    let sent = false;
    const r = await get(c, srv.port, "hello.bin", {
      onPacket: (p) => {
        if (sent || p.pkt.op !== "DATA") return;
        sent = true;
        stranger.send(ackPacket(1), p.port);
      },
      // Give the stranger's ACK time to arrive before ours.
      ack: (b, send) => void setTimeout(() => send(b), b === 1 ? 30 : 0),
    });
    expect(r.data.equals(hello)).toBe(true);
    const err = await stranger.recv();
    expect(err.pkt).toMatchObject({ op: "ERROR", code: 5 });
    await srv.sessionOf(c.port);
    const span = await onlySessionSpan();
    assertSpan(span, { name: "tftp.read", attributes: { [A.ATTR_OUTCOME]: "ok" }, events: [A.EVENT_NEGOTIATED, A.EVENT_UNKNOWN_TID] });
    const ev = span.events.find((e) => e.name === A.EVENT_UNKNOWN_TID)!;
    expect(ev.attributes).toEqual({ [A.ATTR_NETWORK_PEER_ADDRESS]: "127.0.0.1", [A.ATTR_NETWORK_PEER_PORT]: stranger.port });
  });
});

describe("metrics", () => {
  it("sessions by outcome, active sessions, bytes, retransmits, malformed, duration and handler histograms; low-cardinality attributes only", async () => {
    const before = await otel.metrics();
    const base = (name: string, attrs = {}) => sumOf(before.get(name), attrs);
    const okBefore = base(A.METRIC_SESSIONS, { [A.ATTR_KIND]: "read", [A.ATTR_OUTCOME]: "ok" });
    const nfBefore = base(A.METRIC_SESSIONS, { [A.ATTR_OUTCOME]: "not-found" });
    const toBefore = base(A.METRIC_SESSIONS, { [A.ATTR_OUTCOME]: "timeout" });
    const bytesBefore = base(A.METRIC_BYTES_SENT);
    const rtBefore = base(A.METRIC_RETRANSMITS, { [A.ATTR_RETRANSMIT_REASON]: "timeout" });
    const malBefore = base(A.METRIC_MALFORMED);
    const durBefore = base(A.METRIC_SESSION_DURATION, { [A.ATTR_OUTCOME]: "ok" });
    const hBefore = base(A.METRIC_HANDLER_DURATION);

    for (let i = 0; i < 2; i++) {
      const c = await UdpClient.open();
      await get(c, srv.port, "hello.bin");
      await srv.sessionOf(c.port);
    }
    const nf = await UdpClient.open();
    await get(nf, srv.port, "missing");
    await srv.sessionOf(nf.port);
    const silent = await UdpClient.open();
    silent.send(rrq("hello.bin"), srv.port);
    await silent.recv();
    const silentStats = await srv.sessionOf(silent.port);
    // Quick resends below the ceiling (from a learnt RTO), then the 2 counted retries at it.
    expect(silentStats.retransmits).toBeGreaterThanOrEqual(2);
    const bad = await UdpClient.open();
    bad.send(Buffer.from([0, 9, 1, 2, 3]), srv.port);
    expect((await bad.recv()).pkt).toMatchObject({ op: "ERROR", code: 4 });

    const m = await otel.metrics();
    expect(sumOf(m.get(A.METRIC_SESSIONS), { [A.ATTR_KIND]: "read", [A.ATTR_OUTCOME]: "ok" }) - okBefore).toBe(2);
    expect(sumOf(m.get(A.METRIC_SESSIONS), { [A.ATTR_OUTCOME]: "not-found" }) - nfBefore).toBe(1);
    expect(sumOf(m.get(A.METRIC_SESSIONS), { [A.ATTR_OUTCOME]: "timeout" }) - toBefore).toBe(1);
    expect(sumOf(m.get(A.METRIC_ACTIVE_SESSIONS))).toBe(0);
    // Two whole files, and the one block the silent client got (counted once however often it was resent).
    expect(sumOf(m.get(A.METRIC_BYTES_SENT)) - bytesBefore).toBe(2 * 3000 + 512);
    expect(sumOf(m.get(A.METRIC_RETRANSMITS), { [A.ATTR_RETRANSMIT_REASON]: "timeout" }) - rtBefore).toBe(silentStats.retransmits);
    expect(sumOf(m.get(A.METRIC_MALFORMED)) - malBefore).toBe(1);
    expect(sumOf(m.get(A.METRIC_SESSION_DURATION), { [A.ATTR_OUTCOME]: "ok" }) - durBefore).toBe(2);
    expect(sumOf(m.get(A.METRIC_HANDLER_DURATION)) - hBefore).toBe(4);

    expect(m.get(A.METRIC_SESSION_DURATION)?.descriptor.unit).toBe("s");
    expect(m.get(A.METRIC_BYTES_SENT)?.descriptor.unit).toBe("By");
    const allowed = new Set([A.ATTR_KIND, A.ATTR_OUTCOME, A.ATTR_RETRANSMIT_REASON]);
    for (const k of metricAttributeKeys(m)) expect(allowed.has(k), `metric attribute ${k}`).toBe(true);
  });

  it("active sessions counts a session while its handler runs", async () => {
    await srv.close();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    srv = await startServer({
      handler: async () => {
        entered();
        await gate;
        return "late";
      },
      instrumentation,
    });
    const c = await UdpClient.open();
    const transfer = get(c, srv.port, "slow");
    await inHandler;
    expect(sumOf((await otel.metrics()).get(A.METRIC_ACTIVE_SESSIONS))).toBe(1);
    release();
    await transfer;
    await srv.sessionOf(c.port);
    expect(sumOf((await otel.metrics()).get(A.METRIC_ACTIVE_SESSIONS))).toBe(0);
  });
});

describe("the observer on its own", () => {
  const stats = (over: Partial<SessionStats>): SessionStats => ({
    id: 7, kind: "read", peer: { address: "192.0.2.9", port: 2000 }, local: { address: "", port: 69 },
    path: "x", mode: "octet", optionsAsked: {}, optionsAcked: {}, blksize: 512, windowsize: 1, tsize: -1,
    bytesSent: 0, packetsSent: 0, blocksAcked: 0, retransmits: 0, duplicateAcks: 0,
    startedAt: Date.now(), durationMs: 12, handlerMs: 1, outcome: "ok", ...over,
  });

  it("names the span after the kind (tftp.write) and records bytes and blocks received", () => {
    otel.exporter.reset();
    const inst: Instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const obs = inst.session({
      id: 7, kind: "write", path: "upload.bin", mode: "octet",
      peer: { address: "192.0.2.9", port: 2000 }, local: { address: "", port: 69 }, optionsAsked: { blksize: "1428" },
    })!;
    obs.negotiated({ blksize: "1428" }, 1428, 1, -1);
    const end = Object.assign(stats({ outcome: "ok" }), { kind: "write", bytesReceived: 5000, blocksReceived: 4 }) as SessionStats;
    obs.end(end);
    obs.end(end); // a second end is ignored
    const spans = sessionSpans();
    expect(spans).toHaveLength(1);
    assertSpan(spans[0], {
      name: "tftp.write",
      attributes: { [A.ATTR_KIND]: "write", [A.ATTR_BYTES_RECEIVED]: 5000, [A.ATTR_BLOCKS]: 4, [A.ATTR_OPTIONS_ASKED]: ["blksize=1428"] },
    });
    // A wildcard local address is left out rather than recorded empty.
    expect(spans[0].attributes[A.ATTR_NETWORK_LOCAL_ADDRESS]).toBeUndefined();
  });

  it("runHandler runs inside the session span's context, synchronous throws included", () => {
    otel.exporter.reset();
    const obs = instrumentation.session({
      id: 8, kind: "read", path: "p", mode: "octet",
      peer: { address: "192.0.2.9", port: 2001 }, local: { address: "192.0.2.1", port: 69 }, optionsAsked: {},
    })!;
    const seen = obs.runHandler(() => trace.getSpan(context.active())?.spanContext().spanId);
    let thrown: unknown;
    expect(() => obs.runHandler(() => { throw new Error("sync boom"); })).toThrow("sync boom");
    try {
      obs.runHandler(() => { throw new Error("sync boom"); });
    } catch (err) {
      thrown = err;
    }
    // As a session reports it: the exception in SessionStats.handlerError.
    obs.end(stats({ outcome: "handler-error", error: { code: 0, message: "sync boom" }, handlerError: describeError(thrown) }));
    const [span] = sessionSpans();
    expect(seen).toBe(span.spanContext().spanId);
    expect(span.events.map((e) => e.name)).toContain("exception");
  });

  it("traces: false records the metrics and no span; the handler runs in the caller's context", async () => {
    otel.exporter.reset();
    const inst = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider, traces: false });
    const before = await otel.metrics();
    const okBefore = sumOf(before.get(A.METRIC_SESSIONS), { [A.ATTR_KIND]: "read", [A.ATTR_OUTCOME]: "ok" });
    const nfBefore = sumOf(before.get(A.METRIC_SESSIONS), { [A.ATTR_KIND]: "read", [A.ATTR_OUTCOME]: "not-found" });
    const bytesBefore = sumOf(before.get(A.METRIC_BYTES_SENT), { [A.ATTR_KIND]: "read" });
    const durBefore = sumOf(before.get(A.METRIC_SESSION_DURATION), { [A.ATTR_OUTCOME]: "ok" });
    const outer = tracer.startSpan("caller");
    // More ends than one batch of counts (256): those of a full batch and those still pending both reach the reader.
    for (let i = 0; i < 300; i++) {
      const obs = inst.session({
        id: i, kind: "read", path: "x", mode: "octet", peer: { address: "192.0.2.9", port: 2000 + i }, local: { address: "", port: 69 }, optionsAsked: {},
      })!;
      const seen = context.with(trace.setSpan(ROOT_CONTEXT, outer), () => obs.runHandler(() => trace.getSpan(context.active())));
      expect(seen).toBe(outer);
      obs.end(stats({ outcome: i % 3 === 0 ? "not-found" : "ok", bytesSent: i % 3 === 0 ? 0 : 1024 }));
    }
    outer.end();
    expect(sessionSpans()).toHaveLength(0);
    const m = await otel.metrics();
    expect(sumOf(m.get(A.METRIC_SESSIONS), { [A.ATTR_KIND]: "read", [A.ATTR_OUTCOME]: "ok" }) - okBefore).toBe(200);
    expect(sumOf(m.get(A.METRIC_SESSIONS), { [A.ATTR_KIND]: "read", [A.ATTR_OUTCOME]: "not-found" }) - nfBefore).toBe(100);
    expect(sumOf(m.get(A.METRIC_BYTES_SENT), { [A.ATTR_KIND]: "read" }) - bytesBefore).toBe(200 * 1024);
    expect(sumOf(m.get(A.METRIC_SESSION_DURATION), { [A.ATTR_OUTCOME]: "ok" }) - durBefore).toBe(200);
  });

  it("parentContext: valid traceparents only", () => {
    const sc = (tp?: string) => trace.getSpanContext(parentContext(tp));
    expect(sc(undefined)).toBeUndefined();
    expect(sc("garbage")).toBeUndefined();
    expect(sc(`00-${"0".repeat(32)}-${"1".repeat(16)}-01`)).toBeUndefined();
    expect(sc(`00-${"a".repeat(32)}-${"b".repeat(16)}-03`)).toEqual({ traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 1, isRemote: true });
    expect(parentContext(undefined)).toBe(ROOT_CONTEXT);
    // What splitTraceparent hands over is what parentContext reads.
    const split = splitTraceparent(`k-00-${"c".repeat(32)}-${"d".repeat(16)}-01`);
    expect(sc(split.traceparent)?.traceId).toBe("c".repeat(32));
  });
});
