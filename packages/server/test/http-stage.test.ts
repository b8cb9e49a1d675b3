// The HTTP stage (src/net/http-stage.ts) beside a TFTP server on loopback:
// curl fetches files byte for byte (whole, with Range, HEAD), each request
// joins the client's boot flow as an "http" step with its span under the
// flow's tftp.boot span, and hostile requests (encoded traversal, bad
// ranges, oversized heads, other methods, too many connections, a client
// that stops reading) get their status, are counted, and change nothing.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { SpanKind } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpStage, createOtelInstrumentation, parseRange } from "../src/index.js";
import * as A from "../src/observe/attributes.js";
import { UdpClient, closeAllClients, get, sleep } from "./helpers/client.js";
import { otelHarness, sumOf } from "./helpers/otel.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

const CURL = "/usr/bin/curl";
const hasCurl = existsSync(CURL);
const otel = otelHarness();
const instrumentation = createOtelInstrumentation({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider });

const kernel = bytes(3 * 1024 * 1024 + 17);
const initrd = bytes(700_000);
const big = bytes(24 * 1024 * 1024);
const { root, cleanup } = makeRoot({
  "boot/vmlinuz": kernel,
  "boot/initrd.img": initrd,
  "boot/big.bin": big,
  "undionly.kpxe": bytes(70_000),
  "empty.bin": Buffer.alloc(0),
});

let srv: TestServer;
let stage: HttpStage;
let base = "";
let port = 0;

beforeAll(async () => {
  srv = await startServer({
    root,
    instrumentation,
    httpIdleTimeoutMs: 400,
    httpMaxConnectionsPerClient: 3,
    httpMaxHeaderBytes: 2048,
    httpBootedPath: "/booted",
  });
  stage = new HttpStage(srv.server);
  const at = await stage.listen({ host: "127.0.0.1", port: 0 });
  port = at.port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await stage?.close();
  closeAllClients();
  await closeAllServers();
  await otel.shutdown();
  cleanup();
});

/** curl's output (the body, or with -I the head) as bytes, from a given local address. */
function curl(args: string[]): Promise<{ code: number; out: Buffer }> {
  return new Promise((resolve) => {
    execFile(CURL, ["-s", "--max-time", "20", ...args], { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, out: stdout });
    });
  });
}

/** One raw request on a fresh connection: the status line and head, and the body. */
function raw(request: string, opts: { local?: string } = {}): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, localAddress: opts.local });
    const chunks: Buffer[] = [];
    s.on("data", (d) => chunks.push(d));
    s.on("error", reject);
    s.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const i = text.indexOf("\r\n\r\n");
      const head = i < 0 ? text : text.slice(0, i);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: i < 0 ? "" : text.slice(i + 4) });
    });
    s.write(request.includes("\r\n\r\n") ? request : `${request}\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

const flowOf = (client: string) => srv.server.flows({ client })[0];

/** Polls `probe` until it returns a value (bounded): a response's last byte reaches curl before its step and span end. */
async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = probe();
    if (v !== undefined) return v;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The client's flow once none of its steps runs. */
const settledFlow = (client: string) => until(() => {
  const f = flowOf(client);
  return f && f.steps.every((s) => s.outcome !== "running") ? f : undefined;
}, `the flow of ${client} to settle`);

describe("parseRange", () => {
  it.each([
    ["bytes=0-99", 1000, [0, 99]],
    ["bytes=900-", 1000, [900, 999]],
    ["bytes=-100", 1000, [900, 999]],
    ["bytes=-5000", 1000, [0, 999]],
    ["bytes=990-5000", 1000, [990, 999]],
    ["bytes=1000-", 1000, "bad"],
    ["bytes=5-2", 1000, "bad"],
    ["bytes=-0", 1000, "bad"],
    ["bytes=0-1,5-6", 1000, "bad"],
    ["items=0-1", 1000, "bad"],
    ["bytes=-", 1000, "bad"],
    ["bytes=0-", 0, "bad"],
    ["bytes=99999999999999999999-", 1000, "bad"],
  ] as const)("%s of %i bytes -> %j", (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });
  it("no header: no range", () => expect(parseRange(undefined, 10)).toBeUndefined());
});

describe.skipIf(!hasCurl)("the HTTP stage with curl", () => {
  it("serves the kernel byte for byte, whole and by range, and HEAD tells its size; the flow holds the TFTP and HTTP steps in one trace", async () => {
    const client = "127.0.0.31";
    const c = await UdpClient.open(client);
    const tftp = await get(c, srv.port, "undionly.kpxe", { host: "127.0.0.1" });
    expect(tftp.error).toBeUndefined();
    c.close();

    const whole = await curl(["--interface", client, `${base}/boot/vmlinuz`]);
    expect(whole.code).toBe(0);
    expect(whole.out.equals(kernel)).toBe(true);
    const part = await curl(["--interface", client, "-r", "1000-200999", `${base}/boot/vmlinuz`]);
    expect(part.out.equals(kernel.subarray(1000, 201_000))).toBe(true);
    const tail = await curl(["--interface", client, "-r", "-4096", `${base}/boot/initrd.img`]);
    expect(tail.out.equals(initrd.subarray(initrd.length - 4096))).toBe(true);
    const head = await curl(["--interface", client, "-I", `${base}/boot/vmlinuz`]);
    expect(head.out.toString()).toMatch(new RegExp(`content-length: ${kernel.length}\\r\\n`, "i"));
    expect(head.out.toString()).toMatch(/accept-ranges: bytes/i);

    const flow = await settledFlow(client);
    expect(flow.steps.map((s) => [s.kind, s.path, s.outcome, s.httpStatus ?? null])).toEqual([
      ["read", "undionly.kpxe", "ok", null],
      ["http", "boot/vmlinuz", "ok", 200],
      ["http", "boot/vmlinuz", "ok", 206],
      ["http", "boot/initrd.img", "ok", 206],
      ["http", "boot/vmlinuz", "probe", 200],
    ]);
    expect(flow.steps[1].bytes).toBe(kernel.length);
    expect(flow.steps[1].tsize).toBe(kernel.length);
    expect(flow.steps[2].bytes).toBe(200_000);

    const spans = await until(() => {
      const all = otel.exporter.getFinishedSpans();
      return all.filter((s) => s.attributes[A.ATTR_CLIENT_ADDRESS] === client).length === 4 ? all : undefined;
    }, "the HTTP spans");
    const read = spans.find((s) => s.name === "tftp.read" && s.attributes[A.ATTR_NETWORK_PEER_ADDRESS] === client)!;
    const https = spans.filter((s) => s.kind === SpanKind.SERVER && s.attributes[A.ATTR_CLIENT_ADDRESS] === client);
    expect(https.map((s) => s.name)).toEqual(["GET", "GET", "GET", "HEAD"]);
    for (const s of https) {
      expect(s.spanContext().traceId).toBe(read.spanContext().traceId);
      expect(s.parentSpanContext?.spanId).toBe(read.parentSpanContext?.spanId); // both under tftp.boot
    }
    expect(https[0].attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE]).toBe(200);
    expect(https[1].attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE]).toBe(206);
    expect(https[1].attributes[A.ATTR_HTTP_RANGE]).toBe("bytes=1000-200999");
    expect(https[0].attributes[A.ATTR_HTTP_RESPONSE_BODY_SIZE]).toBe(kernel.length);

    const m = await otel.metrics();
    expect(m.get(A.METRIC_HTTP_DURATION)?.descriptor.unit).toBe("s");
    expect(sumOf(m.get(A.METRIC_HTTP_DURATION), { [A.ATTR_HTTP_REQUEST_METHOD]: "GET", [A.ATTR_HTTP_RESPONSE_STATUS_CODE]: 206 })).toBeGreaterThanOrEqual(2);
    expect(sumOf(m.get(A.METRIC_HTTP_BODY_SIZE), { [A.ATTR_HTTP_REQUEST_METHOD]: "HEAD" })).toBeGreaterThanOrEqual(1);
  });

  it("a traceparent header, query parameter or name suffix makes the request a child of that span", async () => {
    const tp = (n: number): string => `00-${"ab".repeat(15)}0${n}-${"cd".repeat(7)}0${n}-01`;
    await curl(["--interface", "127.0.0.32", "-H", `traceparent: ${tp(1)}`, `${base}/boot/initrd.img`]);
    await curl(["--interface", "127.0.0.32", `${base}/boot/initrd.img?traceparent=${tp(2)}`]);
    await curl(["--interface", "127.0.0.32", `${base}/boot/initrd.img-${tp(3)}`]);
    const spans = await until(() => {
      const got = otel.exporter.getFinishedSpans().filter((s) => s.attributes[A.ATTR_CLIENT_ADDRESS] === "127.0.0.32");
      return got.length === 3 ? got : undefined;
    }, "three spans");
    spans.forEach((s, i) => {
      expect(s.spanContext().traceId).toBe(tp(i + 1).split("-")[1]);
      expect(s.parentSpanContext?.spanId).toBe(tp(i + 1).split("-")[2]);
      expect(s.attributes[A.ATTR_PATH]).toBe("boot/initrd.img");
    });
    expect((await settledFlow("127.0.0.32")).steps.map((s) => s.outcome)).toEqual(["ok", "ok", "ok"]);
  });

  it("a GET of the booted path ends the flow as booted", async () => {
    const client = "127.0.0.33";
    await curl(["--interface", client, "-o", "/dev/null", `${base}/boot/initrd.img`]);
    expect((await settledFlow(client)).endedAt).toBeNull();
    const r = await curl(["--interface", client, `${base}/booted`]);
    expect(r.out.toString()).toBe("booted\n");
    const flow = flowOf(client);
    expect(flow.bootedAt).toBeGreaterThan(0);
    expect(flow.endedAt).toBe(flow.bootedAt);
    // The callback ends the flow; it is not a step of the boot.
    expect(flow.steps.map((s) => s.path)).toEqual(["boot/initrd.img"]);
    expect(flow.bootedBy).toBe("callback");
    // Its span is still part of the boot's trace.
    const gets = await until(() => {
      const g = otel.exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.attributes[A.ATTR_CLIENT_ADDRESS] === client);
      return g.length === 2 ? g : undefined;
    }, "both GET spans");
    expect(gets.map((s) => s.spanContext().traceId)).toEqual([flow.traceId, flow.traceId]);
  });

  it("a POST to the booted path (cloud-init phone_home) counts as well; a POST anywhere else is 405", async () => {
    const client = "127.0.0.39";
    await curl(["--interface", client, "-o", "/dev/null", `${base}/boot/initrd.img`]);
    const r = await curl(["--interface", client, "-X", "POST", "--data", "instance_id=i-1&hostname=web1", `${base}/booted`]);
    expect(r.out.toString()).toBe("booted\n");
    expect(flowOf(client).bootedAt).toBeGreaterThan(0);
    const other = await curl(["--interface", client, "-X", "POST", "--data", "x", "-w", "%{http_code}", "-o", "/dev/null", `${base}/boot/initrd.img`]);
    expect(other.out.toString()).toBe("405");
  });
});

describe("hostile HTTP input", () => {
  it("encoded traversal, backslashes and NUL are refused with 403 and counted; nothing outside the root is read", async () => {
    const before = stage.stats().refused.traversal;
    const targets = [
      "/../../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/boot/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2fetc%2fpasswd",
      "/boot%2fvmlinuz",
      "/boot%5cvmlinuz",
      "/boot\\..\\..\\etc\\passwd",
      "/boot/vmlinuz%00.txt",
      "/%2E%2E%2F%2E%2E%2Fetc/passwd",
    ];
    for (const t of targets) {
      const r = await raw(`GET ${t} HTTP/1.1`, { local: "127.0.0.34" });
      expect(r.status, t).toBe(403);
      expect(r.body).not.toContain("root:");
    }
    expect(stage.stats().refused.traversal - before).toBe(targets.length);
    const flow = await settledFlow("127.0.0.34");
    expect(flow.steps.every((s) => s.kind === "http" && s.outcome === "access-denied")).toBe(true);
  });

  it("a missing file is 404, a bad percent-encoding 400", async () => {
    expect((await raw("GET /nope.bin HTTP/1.1")).status).toBe(404);
    expect((await raw("GET /boot/%zz HTTP/1.1")).status).toBe(400);
    expect((await raw("GET / HTTP/1.1")).status).toBe(404);
  });

  it("bad, several and unsatisfiable ranges get 416 with the size", async () => {
    const before = stage.stats().refused.range;
    for (const range of ["bytes=5-2", "bytes=0-1,4-5", "bytes=99999999-", "lines=1-2", "bytes=-0"]) {
      const r = await raw(`GET /boot/initrd.img HTTP/1.1\r\nRange: ${range}`);
      expect(r.status, range).toBe(416);
      expect(r.head).toMatch(new RegExp(`content-range: bytes \\*/${initrd.length}`, "i"));
    }
    expect((await raw("GET /empty.bin HTTP/1.1\r\nRange: bytes=0-")).status).toBe(416);
    expect(stage.stats().refused.range - before).toBe(6);
  });

  it("methods other than GET and HEAD get 405 with Allow", async () => {
    const before = stage.stats().refused.method;
    for (const m of ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]) {
      const r = await raw(`${m} /boot/vmlinuz HTTP/1.1\r\nContent-Length: 0`);
      expect(r.status, m).toBe(405);
      expect(r.head).toMatch(/allow: GET, HEAD/i);
    }
    expect(stage.stats().refused.method - before).toBe(6);
  });

  it("a head larger than httpMaxHeaderBytes gets 431, garbage 400", async () => {
    const before = stage.stats().refused;
    expect((await raw(`GET /boot/vmlinuz HTTP/1.1\r\nX-Big: ${"a".repeat(4000)}`)).status).toBe(431);
    expect((await raw("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n")).status).toBe(400);
    const after = stage.stats().refused;
    expect(after.headers - before.headers).toBe(1);
    expect(after["bad-request"] - before["bad-request"]).toBe(1);
  });

  it("more connections from one client than httpMaxConnectionsPerClient: the next gets 503", async () => {
    const before = stage.stats().refused.busy;
    const held: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.35" });
      s.on("error", () => {});
      await new Promise((r) => s.once("connect", r));
      held.push(s);
    }
    await sleep(50);
    expect((await raw("GET /boot/initrd.img HTTP/1.1", { local: "127.0.0.35" })).status).toBe(503);
    expect(stage.stats().refused.busy - before).toBe(1);
    for (const s of held) s.destroy();
    // Another client is not affected.
    expect((await raw("HEAD /boot/initrd.img HTTP/1.1", { local: "127.0.0.36" })).status).toBe(200);
  });

  it("a request that never completes, and a client that stops reading, are cut at the idle timeout", async () => {
    const before = stage.stats().refused.idle;
    // Slow headers: half a request line, then nothing.
    const slow = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.37" });
    slow.on("error", () => {});
    slow.write("GET /boot/vmlinuz HTTP/1.1\r\nHost: x\r\n");
    const slowClosed = new Promise<void>((r) => slow.once("close", () => r()));
    // A reader that stops: asks for 24 MiB and never reads.
    const stuck = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.38" });
    stuck.on("error", () => {});
    stuck.pause();
    stuck.write("GET /boot/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    slow.resume();
    await slowClosed;
    for (let i = 0; i < 100 && flowOf("127.0.0.38")?.steps[0]?.outcome !== "timeout"; i++) await sleep(50);
    const step = flowOf("127.0.0.38").steps[0];
    expect(step.outcome).toBe("timeout");
    expect(step.bytes).toBeLessThan(big.length);
    stuck.destroy();
    expect(stage.stats().refused.idle - before).toBe(2);
    expect(srv.server.stats().httpRefused).toBeGreaterThanOrEqual(stage.stats().refused.idle);
  });

  it("after all of it the stage still serves", async () => {
    const r = await raw("GET /boot/initrd.img HTTP/1.1");
    expect(r.status).toBe(200);
    expect(Buffer.from(r.body, "latin1").equals(initrd)).toBe(true);
    const m = await otel.metrics();
    expect(sumOf(m.get(A.METRIC_HTTP_REFUSED), { [A.ATTR_HTTP_REFUSAL]: "traversal" })).toBeGreaterThanOrEqual(9);
  });
});

describe("closing the stage", () => {
  it("a download in progress finishes within the grace; the port stops accepting", async () => {
    const extra = new HttpStage(srv.server);
    const at = await extra.listen({ host: "127.0.0.1", port: 0 });
    const s = connect({ host: "127.0.0.1", port: at.port });
    const chunks: Buffer[] = [];
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    const first = new Promise<void>((r) => s.once("data", () => r()));
    s.on("data", (d) => chunks.push(d));
    s.on("error", () => {});
    s.write("GET /boot/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    await first;
    await extra.close({ graceMs: 10_000 });
    await closed;
    const all = Buffer.concat(chunks);
    expect(all.subarray(all.indexOf("\r\n\r\n") + 4).equals(big)).toBe(true);
    const refused = await new Promise<string>((r) => {
      const c = connect({ host: "127.0.0.1", port: at.port });
      c.on("error", (e: NodeJS.ErrnoException) => r(e.code ?? "error"));
      c.on("connect", () => (c.destroy(), r("connected")));
    });
    expect(refused).toBe("ECONNREFUSED");
  });
});

describe("the handler over HTTP", () => {
  it("sees the request as over TFTP plus request.http; its errors and a timeout get their status", async () => {
    const seen: Array<{ path: string; method?: string; query?: string; aborted?: boolean }> = [];
    const h = await startServer({
      handlerTimeoutMs: 200,
      handler: async (req) => {
        seen.push({ path: req.path, method: req.http?.method, query: req.http?.query });
        if (req.path === "slow") {
          await new Promise((r) => req.signal.addEventListener("abort", r));
          seen.push({ path: "slow", aborted: req.signal.aborted });
          return "late";
        }
        if (req.path === "denied") throw Object.assign(new Error("nope"), { code: "EACCES" });
        if (req.path === "boom") throw new Error("a bug in the handler");
        if (req.path === "stream") return { body: (async function* () { yield Buffer.from("ab"); yield Buffer.from("cd"); })(), size: 4 };
        if (req.path === "vmlinuz") return { body: "kernel", stage: "initrd", last: true };
        return `hello ${req.path}`;
      },
    });
    const st = new HttpStage(h.server);
    const at = await st.listen({ host: "127.0.0.1", port: 0 });
    const ask = async (t: string, extra = ""): Promise<{ status: number; body: string; head: string }> => {
      const r = await fetch(`http://127.0.0.1:${at.port}${t}`, extra ? { headers: { range: extra } } : {});
      return { status: r.status, body: await r.text(), head: [...r.headers].map(([k, v]) => `${k}: ${v}`).join("\n") };
    };
    expect(await ask("/a/b.cfg?x=1")).toMatchObject({ status: 200, body: "hello a/b.cfg" });
    expect(seen[0]).toEqual({ path: "a/b.cfg", method: "GET", query: "x=1" });
    expect((await ask("/denied")).status).toBe(403);
    const boom = await ask("/boom");
    expect(boom.status).toBe(500);
    expect(boom.body).not.toContain("a bug");
    expect((await ask("/slow")).status).toBe(503);
    expect(seen).toContainEqual({ path: "slow", aborted: true });
    const stream = await ask("/stream", "bytes=0-1");
    expect(stream.status).toBe(200); // a stream ignores Range
    expect(stream.body).toBe("abcd");
    expect(stream.head).toMatch(/content-length: 4/);
    const steps = h.server.flows({ client: "127.0.0.1" })[0].steps.map((s) => s.outcome);
    expect(steps).toEqual(["ok", "access-denied", "handler-error", "error", "ok"]);
    // HTTP steps settle as TFTP steps do: the three failures count.
    expect(h.server.flows({ client: "127.0.0.1" })[0]).toMatchObject({ failedSteps: 3, failed: true, endedAt: null });
    // A handler's last file over HTTP boots the flow, with the stage it gave.
    expect((await ask("/vmlinuz")).body).toBe("kernel");
    const booted = await until(() => {
      const f = h.server.flows({ client: "127.0.0.1" })[0];
      return f.bootedAt !== undefined ? f : undefined;
    }, "the flow to boot");
    expect(booted.bootedBy).toBe("last-step");
    expect(booted.steps.at(-1)).toMatchObject({ kind: "http", path: "vmlinuz", stage: "initrd", last: true, httpStatus: 200, outcome: "ok" });
    await st.close();
    await h.close();
  });
});
