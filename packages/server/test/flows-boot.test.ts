// Time to boot: a flow ends as "booted" when the handler marks a step as the
// last one (`last: true` on the read answer) or when the machine calls back
// (TftpServer.markBooted). Its time from first packet to booted is in the
// flow, on the tftp.boot span (which ends there) and in the tftp.boot.duration
// histogram by loader chain. A flow that never boots ends after the idle gap
// as before. Loopback, port 0, every wait bounded; no assertion on how long
// anything took beyond its order.

import { Readable } from "node:stream";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Histogram } from "@opentelemetry/sdk-metrics";
import { TftpError, createOtelInstrumentation, type ReadHandler } from "../src/index.js";
import * as A from "../src/observe/attributes.js";
import { UdpClient, ackPacket, closeAllClients, errorPacket, get as rawGet, rrq, sleep, type OptionList } from "./helpers/client.js";
import { bytes, closeAllServers, startServer, type TestServer } from "./helpers/server.js";
import { otelHarness } from "./helpers/otel.js";

const files: Record<string, Buffer> = {
  "pxelinux.0": bytes(3000),
  "pxelinux.cfg/default": Buffer.from("DEFAULT linux\n"),
  "vmlinuz": bytes(8000),
  "initrd.img": bytes(4000),
};
const handler: ReadHandler = (req) => {
  const f = files[req.path];
  if (!f) throw TftpError.notFound();
  return req.path === "initrd.img" && req.options["x-last"] !== "no" ? { body: f, last: true } : f;
};
const PXELINUX: OptionList = [["tsize", "0"], ["blksize", "1408"]];

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});

async function fetch(srv: TestServer, address: string, name: string, options: OptionList = PXELINUX): Promise<void> {
  const c = await UdpClient.open(address);
  await rawGet(c, srv.port, name, { host: "127.0.0.1", options });
  c.close();
  await srv.session((s) => s.peer.address === address && s.peer.port === c.port);
}

describe("time to boot", () => {
  const otel = otelHarness();
  afterAll(() => otel.shutdown());

  it("the handler's last step boots the flow: bootedAt, timeToBootMs, the span ends there, the histogram by loader chain; the next request starts a new flow", async () => {
    otel.exporter.reset();
    const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const srv = await startServer({ handler, instrumentation });
    const before = srv.server.flows();
    expect(before).toEqual([]);
    for (const n of ["pxelinux.0", "pxelinux.cfg/01-52-54-00-00-00-01", "pxelinux.cfg/default", "vmlinuz", "initrd.img"]) await fetch(srv, "127.0.40.1", n);
    const [f] = srv.server.flows({ client: "127.0.40.1" });
    expect(f.bootedBy).toBe("last-step");
    expect(f.bootedAt).toBeGreaterThanOrEqual(f.steps[4].startedAt);
    expect(f.endedAt).toBe(f.bootedAt);
    expect(f.timeToBootMs).toBe(f.bootedAt! - f.startedAt);
    expect(f.steps[4].last).toBe(true);
    expect(f.steps.filter((s) => s.last)).toHaveLength(1);
    expect(f).toMatchObject({ failed: false, loaderChain: ["PXELINUX", "Linux"] });

    // The boot span ended when the flow booted (before the server closed), with the time to boot.
    const boot = otel.exporter.getFinishedSpans().find((s) => s.name === A.SPAN_BOOT);
    expect(boot).toBeDefined();
    expect(boot!.attributes).toMatchObject({
      [A.ATTR_BOOT_BOOTED_BY]: "last-step",
      [A.ATTR_BOOT_TIME_TO_BOOT]: f.timeToBootMs,
      [A.ATTR_BOOT_LOADER_CHAIN]: "PXELINUX, Linux",
    });
    const endMs = boot!.endTime[0] * 1e3 + boot!.endTime[1] / 1e6;
    expect(Math.abs(endMs - f.bootedAt!)).toBeLessThan(50); // Date.now() against the SDK's clock: a few ms apart

    const m = (await otel.metrics()).get(A.METRIC_BOOT_DURATION);
    expect(m?.descriptor.unit).toBe("s");
    const point = m!.dataPoints.find((p) => p.attributes[A.ATTR_BOOT_LOADER_CHAIN] === "PXELINUX, Linux")!;
    expect((point.value as Histogram).count).toBe(1);
    expect((point.value as Histogram).sum).toBeCloseTo(f.timeToBootMs! / 1000, 6);

    // The machine comes back (a reboot): another flow.
    await fetch(srv, "127.0.40.1", "pxelinux.0");
    const flows = srv.server.flows({ client: "127.0.40.1" });
    expect(flows).toHaveLength(2);
    expect(flows[0].endedAt).toBeNull();
    expect(flows[0].bootedAt).toBeUndefined();
  }, 30_000);

  it("a last step that fails does not boot the flow", async () => {
    const body = () => new Readable({ read() { this.destroy(new Error("disk gone")); } });
    const srv = await startServer({ handler: () => ({ body: body(), last: true }) }); // the read fails mid-way
    await fetch(srv, "127.0.40.2", "anything");
    const [f] = srv.server.flows({ client: "127.0.40.2" });
    expect(f.steps[0].outcome).not.toBe("ok");
    expect(f.bootedAt).toBeUndefined();
    expect(f.endedAt).toBeNull();
  }, 30_000);

  it("markBooted: the machine calls back; the open flow boots once; unknown clients and booted flows answer false", async () => {
    otel.exporter.reset();
    const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const srv = await startServer({ handler, instrumentation });
    for (const n of ["pxelinux.0", "pxelinux.cfg/default", "vmlinuz"]) await fetch(srv, "127.0.40.3", n);
    expect(srv.server.markBooted("127.0.40.99")).toBe(false);
    const calledAt = Date.now();
    expect(srv.server.markBooted("127.0.40.3")).toBe(true);
    expect(srv.server.markBooted("127.0.40.3")).toBe(false); // booted already
    const [f] = srv.server.flows({ client: "127.0.40.3" });
    expect(f).toMatchObject({ bootedBy: "callback" });
    expect(f.endedAt).toBe(f.bootedAt);
    // The callback's time (a step's startedAt is wall-clock, its duration monotonic: not added up).
    expect(f.bootedAt).toBeGreaterThanOrEqual(calledAt);
    expect(f.bootedAt).toBeGreaterThanOrEqual(f.steps[2].startedAt);
    const boot = otel.exporter.getFinishedSpans().find((s) => s.name === A.SPAN_BOOT);
    expect(boot?.attributes[A.ATTR_BOOT_BOOTED_BY]).toBe("callback");
    const m = (await otel.metrics()).get(A.METRIC_BOOT_DURATION)!;
    expect(m.dataPoints.some((p) => p.attributes[A.ATTR_BOOT_LOADER_CHAIN] === "PXELINUX, Linux")).toBe(true);
  }, 30_000);

  it("a flow that never boots ends after the idle gap as before; a callback after that still records the time (not on the ended span)", async () => {
    otel.exporter.reset();
    const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const srv = await startServer({ handler, instrumentation, flowIdleSeconds: 0.2 });
    await fetch(srv, "127.0.40.4", "pxelinux.0");
    await fetch(srv, "127.0.40.4", "initrd.img", [...PXELINUX, ["x-last", "no"]]);
    await sleep(900);
    const [ended] = srv.server.flows({ client: "127.0.40.4" });
    expect(ended.endedAt).not.toBeNull();
    expect(ended.bootedAt).toBeUndefined();
    const span = otel.exporter.getFinishedSpans().find((s) => s.name === A.SPAN_BOOT)!;
    expect(span.attributes[A.ATTR_BOOT_BOOTED_BY]).toBeUndefined();

    const events: string[] = [];
    srv.server.subscribe((e) => e.type === "flow" && e.flow.bootedAt !== undefined && events.push(e.flow.id));
    expect(srv.server.markBooted("127.0.40.4")).toBe(true);
    const [late] = srv.server.flows({ client: "127.0.40.4" });
    expect(late.bootedBy).toBe("callback");
    expect(late.endedAt).toBe(ended.endedAt); // its last step, as before
    expect(late.timeToBootMs).toBe(late.bootedAt! - late.startedAt);
    expect(late.bootedAt!).toBeGreaterThan(late.endedAt!);
    expect(events).toEqual([late.id]);
    const m = (await otel.metrics()).get(A.METRIC_BOOT_DURATION)!;
    expect(m.dataPoints.length).toBeGreaterThan(0);
    expect(srv.server.markBooted("127.0.40.4")).toBe(false);
  }, 30_000);

  it("the histogram tells at most 100 loader chains apart; made-up chains past that are \"other\"", async () => {
    const { MeterProvider } = await import("@opentelemetry/sdk-metrics");
    const { TestMetricReader } = await import("./helpers/otel.js");
    const reader = new TestMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const inst = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider });
    for (let i = 0; i < 150; i++) {
      inst.flowBooted!({
        id: String(i), client: "192.0.2.9", startedAt: 0, endedAt: 1000, steps: [], loaderChain: [`X${i}`, "Linux"],
        failedSteps: 0, searchMisses: 0, failed: false, bootedAt: 1000, timeToBootMs: 1000, bootedBy: "callback",
      });
    }
    const { resourceMetrics } = await reader.collect();
    const m = resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics).find((x) => x.descriptor.name === A.METRIC_BOOT_DURATION)!;
    expect(m.dataPoints).toHaveLength(101);
    const other = m.dataPoints.find((p) => p.attributes[A.ATTR_BOOT_LOADER_CHAIN] === "other")!;
    expect((other.value as Histogram).count).toBe(50);
    await meterProvider.shutdown();
  });

  it("with flowsMax 0 there is nothing to boot", async () => {
    const srv = await startServer({ handler, flowsMax: 0 });
    await fetch(srv, "127.0.40.5", "initrd.img");
    expect(srv.server.markBooted("127.0.40.5")).toBe(false);
  });
});

describe("a late copy of a request already served", () => {
  it("meets the client's closed port: the step is a repeat, not a failure; an unanswered request never served stays a failure", async () => {
    const srv = await startServer({ handler: (req) => files[req.path] ?? Buffer.from("x"), timeoutSeconds: 1, retries: 5 });
    const address = "127.0.40.9";
    const c = await UdpClient.open(address);
    await rawGet(c, srv.port, "pxelinux.cfg/default", { host: "127.0.0.1", options: PXELINUX });
    await srv.sessionOf(c.port);
    // The copy resent while the server was slow, reaching it after the first session ended; the client has gone.
    c.send(rrq("pxelinux.cfg/default", "octet", PXELINUX), srv.port, "127.0.0.1");
    c.close();
    const ghost = await srv.sessionOf(c.port, 4000);
    expect(ghost).toMatchObject({ outcome: "aborted", unanswered: true });
    let [f] = srv.server.flows({ client: address });
    expect(f.steps.map((s) => [s.path, s.outcome])).toEqual([["pxelinux.cfg/default", "ok"], ["pxelinux.cfg/default", "repeat"]]);
    expect(f.failedSteps).toBe(0);
    expect(f.failed).toBe(false);

    // The same from the same machine for a name it was never served: a failure as before.
    const d = await UdpClient.open(address);
    d.send(rrq("vmlinuz", "octet", PXELINUX), srv.port, "127.0.0.1");
    d.close();
    expect(await srv.sessionOf(d.port, 4000)).toMatchObject({ outcome: "aborted", unanswered: true });
    [f] = srv.server.flows({ client: address });
    expect(f.steps.map((s) => s.outcome)).toEqual(["ok", "repeat", "aborted"]);
    expect(f.failedSteps).toBe(1);
    expect(f.failed).toBe(true);
  }, 30_000);

  it("meets the client's open port, bound to the first session: the client's ERROR 5 makes it a repeat; an ERROR 5 after blocks were acknowledged stays a failure", async () => {
    const srv = await startServer({ handler: (req) => files[req.path] ?? Buffer.from("x"), timeoutSeconds: 1, retries: 5 });
    const address = "127.0.40.10";
    const c = await UdpClient.open(address);
    await rawGet(c, srv.port, "pxelinux.cfg/default", { host: "127.0.0.1" });
    await srv.sessionOf(c.port);
    // The copy reaches the server after the first session ended; the client still listens and refuses the new TID.
    // (With tsize asked, an ERROR right after the OACK is a size probe: not a failure either.)
    c.send(rrq("pxelinux.cfg/default", "octet"), srv.port, "127.0.0.1");
    const first = await c.recv(2000);
    expect(first.pkt).toMatchObject({ op: "DATA", block: 1 });
    c.send(errorPacket(5, "Unknown transfer ID"), first.port, "127.0.0.1");
    expect(await srv.sessionOf(c.port, 4000)).toMatchObject({ outcome: "client-error", error: { code: 5 } });
    let [f] = srv.server.flows({ client: address });
    expect(f.steps.map((s) => [s.path, s.outcome])).toEqual([["pxelinux.cfg/default", "ok"], ["pxelinux.cfg/default", "repeat"]]);
    expect(f.failedSteps).toBe(0);

    // A file served before, fetched again; the client takes a block, then answers ERROR 5: a failure.
    await rawGet(c, srv.port, "pxelinux.0", { host: "127.0.0.1" });
    await srv.sessionOf(c.port);
    const d = await UdpClient.open(address);
    d.send(rrq("pxelinux.0", "octet"), srv.port, "127.0.0.1");
    const data = await d.recv(2000);
    expect(data.pkt).toMatchObject({ op: "DATA", block: 1 });
    d.send(ackPacket(1), data.port, "127.0.0.1");
    const next = await d.recv(2000);
    expect(next.pkt).toMatchObject({ op: "DATA", block: 2 });
    d.send(errorPacket(5, "Unknown transfer ID"), data.port, "127.0.0.1");
    expect(await srv.sessionOf(d.port, 4000)).toMatchObject({ outcome: "client-error", blocksAcked: 1 });
    [f] = srv.server.flows({ client: address });
    expect(f.steps.map((s) => s.outcome)).toEqual(["ok", "repeat", "ok", "client-error"]);
    expect(f.failedSteps).toBe(1);
  }, 30_000);
});

describe("the tracker on its own", () => {
  it("names past the tracker's table of names (4,096) are kept as asked", async () => {
    const { FlowTracker } = await import("../src/observe/flows.js");
    const t = new FlowTracker({ idleMs: 86_400_000, flowsMax: 100, stepsMax: 64, junkMax: 25 }, "", () => {});
    const end = { kind: "read" as const, outcome: "ok" as const, bytesSent: 1, tsize: 1, blksize: 512, windowsize: 1, durationMs: 1, handlerMs: 0, retransmits: 0 };
    for (let i = 0; i < 5000; i++) {
      const a = t.start({ id: i, kind: "read", path: `cfg/${i % 4500}`, peer: { address: `192.0.2.${i % 50}` } }, 1000 + i);
      t.finish(a.flow, a.step, end, 1001 + i);
    }
    const [f] = t.query({ client: "192.0.2.7" }, 10_000);
    expect(f.steps).toHaveLength(64);
    expect(f.stepsDropped).toBe(100 - 64);
    expect(f.steps.map((s) => s.path)).toEqual(Array.from({ length: 64 }, (_, k) => `cfg/${(7 + 50 * (36 + k)) % 4500}`));
  });

  it("a settled step keeps its figures as given: epoch start, durations to the microsecond, prefixed id, error, status", async () => {
    const { FlowTracker } = await import("../src/observe/flows.js");
    const t = new FlowTracker({ idleMs: 86_400_000, flowsMax: 10, stepsMax: 8, junkMax: 3 }, "w2:", () => {});
    const t0 = 1_764_000_000_123;
    const a = t.start({ id: 41, kind: "read", path: "pxelinux.0", peer: { address: "192.0.2.9" } }, t0);
    t.finish(a.flow, a.step, {
      kind: "read", outcome: "ok", bytesSent: 3_000_000_000, tsize: 3_000_000_000, blksize: 1468, windowsize: 4,
      durationMs: 12.345_67, handlerMs: 0.000_4, retransmits: 3,
    }, t0 + 13);
    const b = t.start({ id: "h7", kind: "http", path: "boot/vmlinuz", peer: { address: "192.0.2.9" } }, t0 + 2_000_000);
    t.finish(b.flow, b.step, {
      kind: "http", outcome: "not-found", bytesSent: 0, tsize: -1, blksize: 0, windowsize: 0,
      durationMs: 1_234_567.891_2, handlerMs: 2.5, retransmits: 0, httpStatus: 404, errorText: "404: not found",
    }, t0 + 3_300_000);
    const [f] = t.query({ client: "192.0.2.9" }, t0 + 3_300_000);
    expect(f.steps).toEqual([
      {
        sessionId: "w2:41", path: "pxelinux.0", kind: "read", outcome: "ok", stage: "boot-program", bytes: 3_000_000_000,
        tsize: 3_000_000_000, blksize: 1468, windowsize: 4, startedAt: t0, durationMs: 12.346, handlerMs: 0, retransmits: 3,
      },
      {
        sessionId: "w2:h7", path: "boot/vmlinuz", kind: "http", outcome: "not-found", stage: "kernel", bytes: 0, tsize: null,
        blksize: 0, windowsize: 0, startedAt: t0 + 2_000_000, durationMs: 1_234_567.891, handlerMs: 2.5, retransmits: 0,
        error: "404: not found", httpStatus: 404,
      },
    ]);
  });

  it("an http step joins the client's flow with its stage and does not tell who asked; a callback then boots the flow", async () => {
    const { FlowTracker } = await import("../src/observe/flows.js");
    const ended: string[] = [];
    const booted: Array<[string, boolean]> = [];
    const t = new FlowTracker({ idleMs: 60_000, flowsMax: 10, stepsMax: 8, junkMax: 3 }, "", (f) => ended.push(f.ctx.id), (f, late) => booted.push([f.ctx.id, late]));
    const end = { kind: "read" as const, outcome: "ok" as const, bytesSent: 10, tsize: 10, blksize: 1432, windowsize: 1, durationMs: 1, handlerMs: 0, retransmits: 0 };
    const a = t.start({ id: 1, kind: "read", path: "undionly.kpxe", peer: { address: "192.0.2.1" }, optionsAsked: { tsize: "0", blksize: "1456" } }, 1000);
    t.finish(a.flow, a.step, end, 1010);
    const b = t.start({ id: 2, kind: "http", path: "boot/vmlinuz", peer: { address: "192.0.2.1" } }, 1100);
    expect(b.flow).toBe(a.flow);
    t.finish(b.flow, b.step, { ...end, kind: "http" }, 1200);
    const [f] = t.query({ client: "192.0.2.1" }, 1300);
    expect(f.steps.map((s) => [s.kind, s.stage, s.outcome])).toEqual([["read", "boot-program", "ok"], ["http", "kernel", "ok"]]);
    expect(f.loaderChain).toEqual(["BIOS PXE", "iPXE", "Linux"]);
    expect(t.markBooted("192.0.2.1", 5000)).toBe(true);
    expect(booted).toEqual([[f.id, false]]);
    expect(ended).toEqual([f.id]);
    const [g] = t.query({ client: "192.0.2.1" }, 6000);
    expect(g).toMatchObject({ bootedAt: 5000, timeToBootMs: 4000, endedAt: 5000, bootedBy: "callback" });

    // Idle past the gap but not swept yet: the flow ended at its last step; the callback is late.
    const c = t.start({ id: 3, kind: "read", path: "pxelinux.0", peer: { address: "192.0.2.2" } }, 10_000);
    t.finish(c.flow, c.step, end, 10_050);
    expect(t.markBooted("192.0.2.2", 200_000)).toBe(true);
    const [h] = t.query({ client: "192.0.2.2" }, 200_000);
    expect(h).toMatchObject({ endedAt: 10_050, bootedAt: 200_000, timeToBootMs: 190_000 });
    expect(booted.at(-1)).toEqual([h.id, true]);
    t.endAll();
  });
});
