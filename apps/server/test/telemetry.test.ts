// `tftpkit serve` with OpenTelemetry: curl transfers show up as tftp.read
// spans (console, OTLP/HTTP protobuf and JSON, decoded by a receiver in the
// test), metrics reach OTLP and the admin server's /metrics, /healthz
// answers, and a handler's HTTP requests join the boot flow's trace.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CURL, curlTftp, hasCurl, startCli, startOtlpReceiver, stopAllClis, tempTree, waitFor,
  type OtlpReceiver, type ReceivedSpan,
} from "./helpers.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const kernel = randomBytes(70_000);

// A handler that fetches what it serves over HTTP (the backend below).
const HANDLER = `
import http from "node:http";
export default function handler(request) {
  if (request.path !== "via-http") return undefined;
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port: Number(process.env.BACKEND_PORT), path: "/kernel" }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
    }).on("error", reject);
  });
}
`;

const tree = tempTree({ "boot/vmlinuz": kernel, "hello.txt": "hello\n", "handler.mjs": HANDLER });
const root = tree.dir;
let receiver: OtlpReceiver;
let backend: Server;
let backendPort = 0;
const backendHeaders: Array<string | undefined> = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  backend = createServer((req, res) => {
    backendHeaders.push(req.headers.traceparent as string | undefined);
    res.end(kernel);
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  backendPort = (backend.address() as { port: number }).port;
});

afterEach(async () => {
  await stopAllClis();
});

afterAll(async () => {
  await receiver?.close();
  backend?.closeAllConnections();
  await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()));
  tree.cleanup();
});

const readSpan = (path: string) => (s: ReceivedSpan) => s.name === "tftp.read" && s.attributes["tftp.path"] === path;

/**
 * The tftp.boot span a session span is the child of: the client's boot flow
 * ends when tftpkit stops, and its span is exported before the exit.
 */
async function bootSpanOf(session: ReceivedSpan, from: number): Promise<ReceivedSpan> {
  return waitFor("the session's tftp.boot span", () =>
    receiver.spans.slice(from).find((s) => s.name === "tftp.boot" && s.spanId === session.parentSpanId));
}

describe.skipIf(!hasCurl)("tftpkit serve with telemetry (curl as the client)", () => {
  it("--trace-console prints the session span of a curl transfer, in the trace of the traceparent in its name (under its flow's tftp.boot span, printed at exit)", async () => {
    const cli = await startCli(["--root", root, "--admin", "off", "--trace-console", "--log", "off"]);
    expect(cli.stderr()).toMatch(/telemetry: traces console; metrics off/);
    const r = await curlTftp(cli.udpPort, `boot/vmlinuz-00-${TRACE}-${PARENT}-01`);
    expect(r.code).toBe(0);
    expect(r.data.equals(kernel)).toBe(true);
    const out = await waitFor("the span on stdout", () => (/name: 'tftp\.read'/.test(cli.stdout()) ? cli.stdout() : undefined));
    expect(out).toContain(`traceId: '${TRACE}'`);
    expect(out).toContain("'tftp.path': 'boot/vmlinuz'");
    expect(out).toContain("'tftp.outcome': 'ok'");
    expect(out).toContain(`'tftp.bytes_sent': ${kernel.length}`);
    expect(out).toContain("'network.peer.address': '127.0.0.1'");
    expect(await cli.stop()).toBe(0);
    // The flow ended at exit: its tftp.boot span, the traceparent's child, was printed before the exit.
    expect(cli.stdout()).toMatch(/name: 'tftp\.boot'/);
    expect(cli.stdout()).toContain(`spanId: '${PARENT}'`);
  });

  for (const protocol of ["http/protobuf", "http/json"] as const) {
    it(`OTLP over ${protocol}: the receiver decodes tftp.read spans with their attributes, and the metrics`, async () => {
      const before = receiver.spans.length;
      const cli = await startCli(["--root", root, "--admin", "off", "--log", "off"], {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_METRIC_EXPORT_INTERVAL: "300",
        OTEL_SERVICE_NAME: "tftpkit-test",
      });
      expect(cli.stderr()).toContain(`traces OTLP ${protocol}; metrics OTLP ${protocol}`);
      const name = `otlp-${protocol.replace("/", "-")}`;
      expect((await curlTftp(cli.udpPort, `hello.txt-00-${TRACE}-${PARENT}-01`)).code).toBe(0);
      expect((await curlTftp(cli.udpPort, `${name}-missing`)).code).not.toBe(0);

      const ok = await waitFor("the ok span", () => receiver.spans.slice(before).find(readSpan("hello.txt")));
      expect(ok.traceId).toBe(TRACE);
      expect(ok.parentSpanId).not.toBe("");
      expect(ok.kind).toBe(2); // SERVER
      expect(ok.attributes).toMatchObject({
        "tftp.kind": "read",
        "tftp.mode": "octet",
        "tftp.outcome": "ok",
        "tftp.bytes_sent": 6,
        "tftp.blocks": 1,
        "tftp.retransmits": 0,
        "tftp.tsize": 6,
        "network.peer.address": "127.0.0.1",
        "network.local.address": "127.0.0.1",
        "network.local.port": cli.udpPort,
      });
      expect(ok.attributes["tftp.options.asked"]).toEqual(expect.arrayContaining(["tsize=0"]));
      expect(ok.events).toContain("tftp.negotiated");
      expect(ok.statusCode).toBe(0);

      const nf = await waitFor("the not-found span", () => receiver.spans.slice(before).find(readSpan(`${name}-missing`)));
      expect(nf.attributes).toMatchObject({ "tftp.outcome": "not-found", "tftp.error.code": 1 });
      expect(nf.statusCode).toBe(2); // ERROR

      const sessions = await waitFor("tftp.server.sessions with both outcomes", () => {
        const last = receiver.metrics.filter((m) => m.name === "tftp.server.sessions").at(-1);
        const ok1 = last?.points.find((p) => p.attributes["tftp.outcome"] === "ok")?.value;
        return ok1 === 1 && last!.points.some((p) => p.attributes["tftp.outcome"] === "not-found") ? last : undefined;
      });
      expect(sessions.points.every((p) => Object.keys(p.attributes).every((k) => k === "tftp.kind" || k === "tftp.outcome"))).toBe(true);
      const types = new Set(receiver.requests.map((q) => q.contentType.split(";")[0]));
      expect(types.has(protocol === "http/json" ? "application/json" : "application/x-protobuf")).toBe(true);
      expect(await cli.stop()).toBe(0);
      // Both sessions came from 127.0.0.1: one flow, whose tftp.boot span is the traceparent's child.
      const boot = await bootSpanOf(ok, before);
      expect(boot.traceId).toBe(TRACE);
      expect(boot.parentSpanId).toBe(PARENT);
      expect(nf.parentSpanId).toBe(boot.spanId);
    });
  }

  it("a handler's HTTP request is a child span of the session and carries the boot flow's traceparent", async () => {
    const before = receiver.spans.length;
    backendHeaders.length = 0;
    const cli = await startCli(["--root", root, "--handler", `${root}/handler.mjs`, "--admin", "off", "--log", "off"], {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      BACKEND_PORT: String(backendPort),
    });
    expect(cli.stderr()).toContain("traces OTLP http/json; metrics off");
    const r = await curlTftp(cli.udpPort, `via-http-00-${TRACE}-${PARENT}-01`);
    expect(r.code).toBe(0);
    expect(r.data.equals(kernel)).toBe(true);
    expect(backendHeaders).toHaveLength(1);
    expect(backendHeaders[0]).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));

    const session = await waitFor("the session span", () => receiver.spans.slice(before).find(readSpan("via-http")));
    const get = await waitFor("the GET span", () => receiver.spans.slice(before).find((s) => s.name === "GET" && s.traceId === TRACE));
    expect(get.parentSpanId).toBe(session.spanId);
    expect(get.kind).toBe(3); // CLIENT
    expect(backendHeaders[0]!.split("-")[2]).toBe(get.spanId);
    expect(await cli.stop()).toBe(0);
    const boot = await bootSpanOf(session, before);
    expect(boot.parentSpanId).toBe(PARENT);
  });

  it("an upload (curl -T) is a tftp.write span with the bytes received, joined to the traceparent in its name", async () => {
    const before = receiver.spans.length;
    const up = tempTree({ "src.bin": randomBytes(5000) });
    try {
      const cli = await startCli(["--root", up.dir, "--allow-write", "--admin", "off", "--log", "off"], {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "100",
      });
      const code = await new Promise<number>((resolve) =>
        execFile(CURL, ["-s", "--max-time", "20", "-T", join(up.dir, "src.bin"), `tftp://127.0.0.1:${cli.udpPort}/up.bin-00-${TRACE}-${PARENT}-01`], { timeout: 30_000 },
          (error) => resolve(error ? (typeof error.code === "number" ? error.code : -1) : 0)),
      );
      expect(code).toBe(0);
      const span = await waitFor("the write span", () => receiver.spans.slice(before).find((s) => s.name === "tftp.write"));
      expect(span.traceId).toBe(TRACE);
      expect(span.attributes).toMatchObject({ "tftp.kind": "write", "tftp.path": "up.bin", "tftp.outcome": "ok", "tftp.bytes_received": 5000 });
      expect(readFileSync(join(up.dir, "up.bin")).equals(readFileSync(join(up.dir, "src.bin")))).toBe(true);
      expect(await cli.stop()).toBe(0);
      const boot = await bootSpanOf(span, before);
      expect(boot.parentSpanId).toBe(PARENT);
    } finally {
      up.cleanup();
    }
  });

  it("the admin server: /healthz JSON, Prometheus /metrics with the session counters, 404 elsewhere", async () => {
    const cli = await startCli(["--root", root, "--admin", "127.0.0.1:0", "--log", "off"]);
    expect(cli.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cli.stderr()).toContain("traces off; metrics Prometheus /metrics");
    expect((await curlTftp(cli.udpPort, "hello.txt")).code).toBe(0);
    expect((await curlTftp(cli.udpPort, "hello.txt")).code).toBe(0);
    expect((await curlTftp(cli.udpPort, "nope")).code).not.toBe(0);

    const health = await fetch(`${cli.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get("content-type")).toBe("application/json");
    const h = (await health.json()) as Record<string, unknown>;
    expect(h).toMatchObject({ status: "ok", activeSessions: 0, sessionsStarted: 3, sessionsOk: 2, sessionsFailed: 1 });
    expect(typeof h.uptimeSeconds).toBe("number");

    const text = await waitFor("both outcomes on /metrics", async () => {
      const t = await (await fetch(`${cli.adminUrl}/metrics`)).text();
      return /tftp_server_sessions_total\{[^}]*tftp_outcome="not-found"[^}]*\} 1/.test(t) ? t : undefined;
    });
    expect(text).toMatch(/tftp_server_sessions_total\{tftp_kind="read",tftp_outcome="ok"[^}]*\} 2\b/);
    expect(text).toMatch(/tftp_server_bytes_sent_total\{tftp_kind="read"[^}]*\} 12\b/);
    expect(text).toMatch(/tftp_server_active_sessions\{tftp_kind="read"[^}]*\} 0\b/);
    expect(text).toMatch(/tftp_server_session_duration_bucket\{tftp_kind="read",tftp_outcome="ok"[^}]*le="\+Inf"\} 2\b/);
    expect(text).toContain("tftp_server_handler_duration_count");
    expect(text).not.toContain("hello.txt"); // no file names in metrics

    expect((await fetch(`${cli.adminUrl}/nothing`)).status).toBe(404);
    expect((await fetch(`${cli.adminUrl}/metrics`, { method: "POST" })).status).toBe(405);
    expect(await cli.stop()).toBe(0);
  });

  it("--admin on a taken port is a clear start-up error", async () => {
    const first = await startCli(["--root", root, "--admin", "127.0.0.1:0", "--log", "off"]);
    const taken = new URL(first.adminUrl!).host;
    await expect(startCli(["--root", root, "--admin", taken, "--log", "off"])).rejects.toThrow(/--admin .*EADDRINUSE/);
  });
});
