// Boot flows, live sessions, events and tallies with real transfers on
// loopback: each machine is a client socket on its own loopback address
// (127.0.0.0/8), the server on 127.0.0.1, port 0. Every wait is bounded; no
// assertion depends on how fast the machine is (idle gaps are waited out with
// margin, and only their order matters).

import { Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  TftpError, createOtelInstrumentation,
  type ReadHandler, type ReadRequest, type ServerEvent,
} from "../src/index.js";
import * as A from "../src/observe/attributes.js";
import { UdpClient, closeAllClients, errorPacket, get as rawGet, rrq, sleep, within, type GetOptions } from "./helpers/client.js";
import { bytes, closeAllServers, startServer } from "./helpers/server.js";
import { otelHarness } from "./helpers/otel.js";

const MAC = "aa-bb-cc-dd-ee-05";
const files: Record<string, Buffer> = {
  "pxelinux.0": bytes(3000),
  "pxelinux.cfg/default": Buffer.from("DEFAULT linux\n"),
  "boot/vmlinuz": bytes(20_000),
  "boot/initrd.img": bytes(9000),
};
const seen: ReadRequest[] = [];
const handler: ReadHandler = (req) => {
  seen.push(req);
  if (req.path === "slow.bin") {
    // 6 chunks of 8 KiB, one every 500 ms: a transfer of ~3 s.
    let n = 0;
    const body = new Readable({
      read() {
        if (n === 6) return void this.push(null);
        n++;
        setTimeout(() => this.push(Buffer.alloc(8192, n)), 500);
      },
    });
    return { body, size: 6 * 8192 };
  }
  const f = files[req.path];
  if (!f) throw TftpError.notFound();
  return f;
};

/** A read from a client on its own loopback address to the server on 127.0.0.1. */
const get = (c: UdpClient, port: number, name: string, o: GetOptions = {}) => rawGet(c, port, name, { host: "127.0.0.1", ...o });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
  seen.length = 0;
});

/** What a PXELINUX machine fetches: the loader, its MAC config (missing), the default config, kernel, initrd. */
const PXE_SEQUENCE = ["pxelinux.0", `pxelinux.cfg/01-${MAC}`, "pxelinux.cfg/default", "boot/vmlinuz", "boot/initrd.img"];

async function pxeBoot(address: string, port: number): Promise<void> {
  for (const name of PXE_SEQUENCE) {
    const c = await UdpClient.open(address);
    const r = await get(c, port, name, { options: [["blksize", "1408"], ["tsize", "0"]] });
    if (name.includes(MAC)) expect(r.error?.code).toBe(1);
    else expect(r.data.equals(files[name])).toBe(true);
    c.close();
  }
}

/** A UEFI size probe: RRQ with tsize, OACK, then ERROR 8 instead of ACK 0. */
async function probe(address: string, port: number, name: string): Promise<void> {
  const c = await UdpClient.open(address);
  c.send(rrq(name, "octet", [["tsize", "0"], ["blksize", "1468"]]), port, "127.0.0.1");
  const oack = await c.recv();
  expect(oack.pkt.op).toBe("OACK");
  c.send(errorPacket(8, "User aborted the transfer"), oack.port, "127.0.0.1");
  c.close();
}

describe("boot flows", () => {
  it("a PXELINUX boot from one address is one flow of five steps in order, named by its MAC; another address is another flow", async () => {
    const srv = await startServer({ handler });
    await pxeBoot("127.0.0.5", srv.port);
    const other = await UdpClient.open("127.0.0.6");
    await get(other, srv.port, "pxelinux.0");
    await srv.session((s) => s.peer.address === "127.0.0.6");

    const flows = srv.server.flows({ client: "127.0.0.5" });
    expect(flows).toHaveLength(1);
    const f = flows[0];
    expect(f.client).toBe("127.0.0.5");
    expect(f.identity).toEqual({ kind: "mac", value: "aa:bb:cc:dd:ee:05" });
    expect(f.endedAt).toBeNull(); // open until the idle gap
    expect(f.steps.map((s) => s.path)).toEqual(PXE_SEQUENCE);
    // The MAC config missing is how PXELINUX looks for its config: a search miss, not a failure.
    expect(f.steps.map((s) => s.outcome)).toEqual(["ok", "search-miss", "ok", "ok", "ok"]);
    expect(f.steps.map((s) => s.stage)).toEqual(["boot-program", "config", "config", "kernel", "initrd"]);
    expect(f).toMatchObject({ failedSteps: 0, searchMisses: 1, failed: false, loaderChain: ["PXELINUX", "Linux"] });
    expect(f.steps.map((s) => s.bytes)).toEqual([3000, 0, 14, 20_000, 9000]);
    expect(f.steps[0]).toMatchObject({ kind: "read", tsize: 3000, blksize: 1408, windowsize: 1, retransmits: 0 });
    expect(f.steps[1].error).toBe("1: File not found");
    expect(f.steps[1].tsize).toBeNull();
    for (let i = 1; i < f.steps.length; i++) expect(f.steps[i].startedAt).toBeGreaterThanOrEqual(f.steps[i - 1].startedAt);
    for (const s of f.steps) {
      expect(s.durationMs).toBeGreaterThanOrEqual(0);
      expect(s.handlerMs).not.toBeNull();
      expect(Number(s.sessionId)).toBeGreaterThan(0);
    }
    // The handler saw the flow it was part of.
    expect(new Set(seen.filter((r) => r.peer.address === "127.0.0.5").map((r) => r.flow?.id))).toEqual(new Set([f.id]));

    const all = srv.server.flows();
    expect(all.map((x) => x.client)).toEqual(["127.0.0.6", "127.0.0.5"]); // newest first
    expect(all[0].steps).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(all))).toEqual(all); // plain JSON
   }, 30_000);

  it("a UEFI size probe is a step with outcome probe, not a failure", async () => {
    const srv = await startServer({ handler });
    await probe("127.0.0.7", srv.port, "boot/vmlinuz");
    await srv.session((s) => s.peer.address === "127.0.0.7");
    const c = await UdpClient.open("127.0.0.7");
    await get(c, srv.port, "boot/vmlinuz", { options: [["tsize", "0"]] });
    await srv.session((s) => s.peer.address === "127.0.0.7" && s.outcome === "ok");
    const [f] = srv.server.flows({ client: "127.0.0.7" });
    expect(f.steps.map((s) => [s.path, s.outcome])).toEqual([["boot/vmlinuz", "probe"], ["boot/vmlinuz", "ok"]]);
    expect(f.steps[0]).toMatchObject({ tsize: 20_000, bytes: 0 });
    expect(srv.server.summary().topFailingClients).toEqual([]);
  });

  it("an idle gap ends the flow at its last session's end; the next session starts another", async () => {
    const srv = await startServer({ handler, flowIdleSeconds: 0.3 });
    const c1 = await UdpClient.open("127.0.0.8");
    await get(c1, srv.port, "pxelinux.0");
    await srv.session((s) => s.peer.address === "127.0.0.8");
    await sleep(1200);
    const [ended] = srv.server.flows({ client: "127.0.0.8" });
    expect(ended.endedAt).not.toBeNull(); // the sweep ended it
    const c2 = await UdpClient.open("127.0.0.8");
    await get(c2, srv.port, "pxelinux.cfg/default");
    await srv.session((s) => s.peer.address === "127.0.0.8" && s.path === "pxelinux.cfg/default");
    const flows = srv.server.flows({ client: "127.0.0.8" });
    expect(flows).toHaveLength(2);
    expect(flows[0].steps.map((s) => s.path)).toEqual(["pxelinux.cfg/default"]);
    expect(flows[0].endedAt).toBeNull();
    expect(flows[1].steps.map((s) => s.path)).toEqual(["pxelinux.0"]);
    expect(flows[1].endedAt!).toBeLessThanOrEqual(flows[0].startedAt);
    expect(flows[1].endedAt!).toBeGreaterThanOrEqual(flows[1].startedAt);
    // Closing the server ends the open flow.
    await srv.close();
    expect(srv.server.flows({ client: "127.0.0.8" }).every((f) => f.endedAt !== null)).toBe(true);
   }, 30_000);

  it("identity: a MAC outranks an IP named earlier; grub, Raspberry Pi serial and iPXE ?mac= name machines too", async () => {
    const srv = await startServer({ handler });
    const fetch = async (address: string, name: string) => {
      const c = await UdpClient.open(address);
      await get(c, srv.port, name);
      await srv.session((s) => s.peer.address === address && s.path === name);
    };
    await fetch("127.0.0.9", "pxelinux.cfg/7F000009");
    expect(srv.server.flows({ client: "127.0.0.9" })[0].identity).toEqual({ kind: "ip", value: "127.0.0.9" });
    await fetch("127.0.0.9", "grub/grub.cfg-01-52-54-00-00-00-09");
    expect(srv.server.flows({ client: "127.0.0.9" })[0].identity).toEqual({ kind: "mac", value: "52:54:00:00:00:09" });
    await fetch("127.0.0.9", "pxelinux.cfg/7F000009");
    expect(srv.server.flows({ client: "127.0.0.9" })[0].identity?.kind).toBe("mac");
    await fetch("127.0.0.10", "1234abcd/start4.elf");
    expect(srv.server.flows({ client: "127.0.0.10" })[0].identity).toEqual({ kind: "serial", value: "1234abcd" });
    await fetch("127.0.0.11", "boot.ipxe?mac=52:54:00:00:00:0b");
    expect(srv.server.flows({ client: "127.0.0.11" })[0].identity).toEqual({ kind: "mac", value: "52:54:00:00:00:0b" });
  });
});

describe("bounded memory", () => {
  it("maxFlowSteps keeps the last steps; maxFlows bounds open and ended flows", async () => {
    const srv = await startServer({ handler, maxFlows: 4, maxFlowSteps: 3 });
    const c = await UdpClient.open("127.0.1.1");
    for (const name of ["pxelinux.0", "pxelinux.cfg/default", "boot/vmlinuz", "boot/initrd.img", "pxelinux.0"]) {
      await get(c, srv.port, name);
    }
    await srv.session((s) => s.peer.address === "127.0.1.1" && srv.ended.filter((e) => e.peer.address === "127.0.1.1").length === 5);
    const [f] = srv.server.flows({ client: "127.0.1.1" });
    expect(f.steps.map((s) => s.path)).toEqual(["boot/vmlinuz", "boot/initrd.img", "pxelinux.0"]);
    expect(f.stepsDropped).toBe(2);

    // Ten more machines of two good steps each: at most 4 open and 4 ended are kept.
    for (let i = 2; i <= 11; i++) {
      const m = await UdpClient.open(`127.0.1.${i}`);
      await get(m, srv.port, "pxelinux.0");
      await get(m, srv.port, "pxelinux.cfg/default");
      m.close();
    }
    await srv.session((s) => s.peer.address === "127.0.1.11" && s.path === "pxelinux.cfg/default");
    const flows = srv.server.flows({ limit: 1000 });
    expect(flows.length).toBeLessThanOrEqual(8);
    expect(flows.filter((x) => x.endedAt === null).length).toBeLessThanOrEqual(4);
    // The newest machines are the ones kept.
    expect(flows.map((x) => x.client)).toContain("127.0.1.11");
    expect(flows.map((x) => x.client)).not.toContain("127.0.1.1");
    expect(srv.server.flows({ limit: 2 })).toHaveLength(2);
   }, 30_000);

  it("a flood of one-packet clients (a failed request each) churns its own small budget and never evicts a real boot", async () => {
    const srv = await startServer({ handler, maxFlows: 4 }); // one-step failures: ceil(4 / 4) = 1 open, 1 ended
    await pxeBoot("127.0.2.1", srv.port);
    await pxeBoot("127.0.2.2", srv.port);
    for (let i = 1; i <= 40; i++) {
      const c = await UdpClient.open(`127.0.3.${i}`);
      const r = await get(c, srv.port, `missing-${i}`);
      expect(r.error?.code).toBe(1);
      c.close();
    }
    await srv.session((s) => s.peer.address === "127.0.3.40");
    const flows = srv.server.flows({ limit: 1000 });
    const clients = flows.map((f) => f.client);
    expect(clients).toContain("127.0.2.1");
    expect(clients).toContain("127.0.2.2");
    expect(flows.find((f) => f.client === "127.0.2.1")!.steps).toHaveLength(5);
    // Of the 40 flood flows, at most the open one and one ended one are held.
    expect(clients.filter((c) => c.startsWith("127.0.3.")).length).toBeLessThanOrEqual(2);
    expect(clients).toContain("127.0.3.40");
    // The tallies are bounded too, and count every failure.
    const sum = srv.server.summary();
    expect(sum.errorsByCode["1"]).toBe(42);
    expect(sum.topFailingClients.length).toBeLessThanOrEqual(10);
   }, 30_000);

  it("maxFlows 0: no flows, the handler sees no flow, live sessions still work", async () => {
    const srv = await startServer({ handler, maxFlows: 0 });
    const c = await UdpClient.open("127.0.4.1");
    await get(c, srv.port, "pxelinux.0");
    await srv.session((s) => s.peer.address === "127.0.4.1");
    expect(srv.server.flows()).toEqual([]);
    expect(seen[0].flow).toBeUndefined();
  });

  it("refuses bad flow options with one clear line", async () => {
    await expect(startServer({ handler, flowIdleSeconds: 0 })).rejects.toThrow(/flowIdleSeconds must be a number from 0.01 to 86400/);
    await expect(startServer({ handler, maxFlows: -1 })).rejects.toThrow(/maxFlows must be an integer/);
    await expect(startServer({ handler, maxFlowSteps: 0 })).rejects.toThrow(/maxFlowSteps must be an integer/);
    await expect(startServer({ handler, idPrefix: "no spaces" })).rejects.toThrow(/idPrefix must be up to 16/);
  });

  it("idPrefix (a worker's) goes before live session, step and flow ids, and the handler sees the prefixed flow id", async () => {
    const srv = await startServer({ handler, idPrefix: "w2:" });
    const ids: string[] = [];
    srv.server.subscribe((e) => {
      if (e.type === "session-start") ids.push(e.session.id);
    });
    const c = await UdpClient.open("127.0.4.2");
    await get(c, srv.port, "pxelinux.0");
    await srv.session((s) => s.peer.address === "127.0.4.2");
    const [f] = srv.server.flows({ client: "127.0.4.2" });
    expect(f.id).toMatch(/^w2:\d+$/);
    expect(f.steps[0].sessionId).toBe(`w2:${srv.ended[0].id}`);
    expect(ids).toEqual([f.steps[0].sessionId]);
    expect(seen[0].flow?.id).toBe(f.id);
  });
});

describe("live sessions and events", () => {
  it("a running transfer is a live session with bytes so far and a rate; events say start, progress, end and flow", async () => {
    const srv = await startServer({ handler, timeoutSeconds: 2 });
    const events: ServerEvent[] = [];
    const unsubscribe = srv.server.subscribe((e) => events.push(e));
    const c = await UdpClient.open("127.0.5.1");
    let live: ReturnType<typeof srv.server.liveSessions> = [];
    const done = get(c, srv.port, "slow.bin", { options: [["blksize", "1024"], ["tsize", "0"]], totalTimeoutMs: 20_000 });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      live = srv.server.liveSessions();
      if (live.length === 1 && live[0].bytes >= 16384) break;
      await sleep(100);
    }
    expect(live).toHaveLength(1);
    const s = live[0];
    expect(s).toMatchObject({ kind: "read", path: "slow.bin", tsize: 6 * 8192, blksize: 1024, windowsize: 1, worker: null });
    expect(s.peer.address).toBe("127.0.5.1");
    expect(s.bytes).toBeGreaterThan(0);
    expect(s.bytes).toBeLessThan(6 * 8192);
    expect(s.rateBps).toBeGreaterThan(0);
    expect(s.ageMs).toBeGreaterThan(0);
    const r = await within(done, 20_000, "the slow transfer");
    expect(r.data.length).toBe(6 * 8192);
    await srv.session((x) => x.path === "slow.bin");
    expect(srv.server.liveSessions()).toEqual([]);

    const types = events.map((e) => e.type);
    expect(types[0]).toBe("session-start");
    expect(types).toContain("session-progress");
    expect(types).toContain("flow");
    const end = events.find((e) => e.type === "session-end");
    expect(end).toMatchObject({ type: "session-end", outcome: "ok", session: { bytes: 6 * 8192, path: "slow.bin" } });
    const progress = events.filter((e) => e.type === "session-progress");
    // Rate-limited: at most one per second of the ~3 s transfer (and a spare for timer skew).
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(end!.type === "session-end" ? end.session.ageMs / 1000 : 0) + 1);
    for (const p of progress) if (p.type === "session-progress") expect(p.session.id).toBe(s.id);
    const lastFlow = events.filter((e) => e.type === "flow").at(-1);
    expect(lastFlow?.type === "flow" && lastFlow.flow.steps[0].outcome).toBe("ok");

    unsubscribe();
    const before = events.length;
    const c2 = await UdpClient.open("127.0.5.1");
    await get(c2, srv.port, "pxelinux.0");
    await srv.session((x) => x.path === "pxelinux.0");
    expect(events.length).toBe(before); // unsubscribed: nothing more
  }, 40_000);

  it("a throwing subscriber does not hurt the session or the other subscribers", async () => {
    const srv = await startServer({ handler });
    const got: string[] = [];
    srv.server.subscribe(() => {
      throw new Error("bad listener");
    });
    srv.server.subscribe((e) => got.push(e.type));
    const c = await UdpClient.open("127.0.5.2");
    const r = await get(c, srv.port, "pxelinux.0");
    expect(r.data.length).toBe(3000);
    await srv.session((x) => x.peer.address === "127.0.5.2");
    expect(got).toContain("session-end");
  });

  it("summary: errors by code, top files, top failing clients", async () => {
    const srv = await startServer({ handler });
    const c = await UdpClient.open("127.0.6.1");
    for (const name of ["pxelinux.0", "pxelinux.0", "nope", "nope", "nope"]) await get(c, srv.port, name);
    const d = await UdpClient.open("127.0.6.2");
    await get(d, srv.port, "nope");
    await srv.session(() => srv.ended.length === 6);
    const sum = srv.server.summary();
    expect(sum.errorsByCode).toEqual({ "1": 4 });
    expect(sum.topFiles[0]).toEqual({ path: "nope", sessions: 4, bytes: 0 });
    expect(sum.topFiles[1]).toEqual({ path: "pxelinux.0", sessions: 2, bytes: 6000 });
    expect(sum.topFailingClients).toEqual([{ client: "127.0.6.1", failures: 3 }, { client: "127.0.6.2", failures: 1 }]);
  });
});

describe("one trace per boot flow", () => {
  const otel = otelHarness();
  afterAll(() => otel.shutdown());

  it("every session span of a PXELINUX boot is a child of the flow's tftp.boot root span; it ends (and is exported) when the server closes", async () => {
    otel.exporter.reset();
    const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const srv = await startServer({ handler, instrumentation });
    await pxeBoot("127.0.7.1", srv.port);
    await probe("127.0.7.2", srv.port, "pxelinux.0");
    await srv.session((s) => s.peer.address === "127.0.7.2");
    const [flow] = srv.server.flows({ client: "127.0.7.1" });
    expect(flow.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(otel.exporter.getFinishedSpans().filter((s) => s.name === A.SPAN_BOOT)).toHaveLength(0); // still open
    await new Promise((r) => setTimeout(r, 300)); // so that "ended at close" would be 300 ms late
    await srv.close();

    const spans = otel.exporter.getFinishedSpans();
    const boots = spans.filter((s) => s.name === A.SPAN_BOOT);
    expect(boots).toHaveLength(2);
    const boot = boots.find((b) => b.attributes[A.ATTR_NETWORK_PEER_ADDRESS] === "127.0.7.1")!;
    expect(boot.parentSpanContext).toBeUndefined();
    expect(boot.spanContext().traceId).toBe(flow.traceId);
    expect(boot.attributes).toMatchObject({
      [A.ATTR_FLOW_ID]: flow.id,
      [A.ATTR_BOOT_STEPS]: 5,
      [A.ATTR_BOOT_FAILED_STEPS]: 0,
      [A.ATTR_BOOT_SEARCH_MISSES]: 1,
      [A.ATTR_BOOT_FAILED]: false,
      [A.ATTR_BOOT_LOADER_CHAIN]: "PXELINUX, Linux",
      [A.ATTR_BOOT_IDENTITY_KIND]: "mac",
      [A.ATTR_BOOT_IDENTITY]: "aa:bb:cc:dd:ee:05",
      [A.ATTR_BOOT_LAST_PATH]: "boot/initrd.img",
      [A.ATTR_BOOT_LAST_OUTCOME]: "ok",
    });
    const sessions = spans.filter((s) => s.name === "tftp.read" && s.attributes[A.ATTR_NETWORK_PEER_ADDRESS] === "127.0.7.1");
    expect(sessions.map((s) => s.attributes[A.ATTR_PATH])).toEqual(PXE_SEQUENCE);
    for (const s of sessions) {
      expect(s.spanContext().traceId).toBe(flow.traceId);
      expect(s.parentSpanContext?.spanId).toBe(boot.spanContext().spanId);
    }
    // The boot span covers its sessions and ends with the last one (not at close, 300 ms later).
    // The flow's end is a Date.now() time and session spans end on OpenTelemetry's
    // performance-based clock; the two drift apart by a few ms, hence the 50 ms margin.
    const lastEnd = Math.max(...sessions.map((s) => s.endTime[0] * 1e3 + s.endTime[1] / 1e6));
    expect(Math.abs(boot.endTime[0] * 1e3 + boot.endTime[1] / 1e6 - lastEnd)).toBeLessThan(50);
    // The other machine (a probe only) is a trace of its own.
    const other = boots.find((b) => b.attributes[A.ATTR_NETWORK_PEER_ADDRESS] === "127.0.7.2")!;
    expect(other.spanContext().traceId).not.toBe(flow.traceId);
    expect(other.attributes[A.ATTR_BOOT_PROBES]).toBe(1);
    expect(other.attributes[A.ATTR_BOOT_FAILED_STEPS]).toBe(0);
    // Handlers saw the flow's traceparent (the boot span).
    const tp = seen.find((r) => r.peer.address === "127.0.7.1")!.flow!.traceparent;
    expect(tp).toBe(`00-${flow.traceId}-${boot.spanContext().spanId}-01`);
  }, 30_000);

  it("a traceparent in the first name makes the boot span its child; a later name of another trace is linked", async () => {
    otel.exporter.reset();
    const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });
    const srv = await startServer({ handler, instrumentation });
    const T1 = "4bf92f3577b34da6a3ce929d0e0e4736";
    const P1 = "00f067aa0ba902b7";
    const T2 = "a".repeat(32);
    const c = await UdpClient.open("127.0.7.3");
    await get(c, srv.port, `pxelinux.0-00-${T1}-${P1}-01`);
    await get(c, srv.port, `boot/vmlinuz-00-${T2}-${"b".repeat(16)}-01`);
    await srv.session(() => srv.ended.length === 2);
    await srv.close();
    const spans = otel.exporter.getFinishedSpans();
    const boot = spans.find((s) => s.name === A.SPAN_BOOT)!;
    expect(boot.spanContext().traceId).toBe(T1);
    expect(boot.parentSpanContext).toMatchObject({ traceId: T1, spanId: P1, isRemote: true });
    const [first, second] = spans.filter((s) => s.name === "tftp.read");
    expect(first.parentSpanContext?.spanId).toBe(boot.spanContext().spanId);
    expect(second.parentSpanContext?.spanId).toBe(boot.spanContext().spanId);
    expect(second.spanContext().traceId).toBe(T1);
    expect(second.links.map((l) => l.context.traceId)).toEqual([T2]);
    expect(first.links).toEqual([]);
  }, 30_000);
});

describe("a finished session is let go of", () => {
  it("the flow keeps a step's figures, not the session behind its progress accessor (a session holds its packet ring)", async () => {
    setFlagsFromString("--expose_gc");
    const gc = runInNewContext("gc") as () => void;
    const srv = await startServer({ handler });
    const monitor = srv.server.options.instrumentation!;
    let ref: WeakRef<object> | undefined;
    (() => {
      const sessionLike = { ring: Buffer.alloc(1 << 20) };
      ref = new WeakRef(sessionLike);
      const info = {
        id: 999_001, kind: "read" as const, path: "boot/vmlinuz", mode: "octet",
        peer: { address: "198.51.100.7", port: 4000 }, local: { address: "127.0.0.1", port: 69 }, optionsAsked: {},
        progress: () => ({ bytes: sessionLike.ring.length, blksize: 512, windowsize: 1, tsize: -1, retransmits: 0 }),
      };
      const obs = monitor.session(info)!;
      expect(srv.server.flows({ client: "198.51.100.7" })[0].steps[0]).toMatchObject({ outcome: "running", bytes: 1 << 20 });
      obs.end({
        ...info, optionsAcked: {}, blksize: 512, windowsize: 1, tsize: 10, bytesSent: 10, packetsSent: 1, blocksAcked: 1,
        retransmits: 0, duplicateAcks: 0, startedAt: Date.now(), durationMs: 1, handlerMs: 0, outcome: "ok",
      });
    })();
    for (let i = 0; i < 10 && ref!.deref(); i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    expect(ref!.deref()).toBeUndefined();
    expect(srv.server.flows({ client: "198.51.100.7" })[0].steps[0]).toMatchObject({ outcome: "ok", bytes: 10 });
  });
});
