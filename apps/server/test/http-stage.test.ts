// `tftpkit serve --http`: a real process (workers as by default: the primary
// hands each connection to the worker of its client) serves the example boot
// handler over TFTP and HTTP. A machine (curl from its own loopback address)
// fetches its loader and iPXE script over TFTP, then the kernel and initrd
// the script names over HTTP, byte for byte, whole and by range; its boot
// flow holds the TFTP and HTTP steps, the OTLP receiver gets every span in
// the flow's one trace, and a GET of --http-booted-path ends the flow as
// booted.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CURL, curlTftp, hasCurl, runTftpkit, startCli, startOtlpReceiver, stopAllClis, tempTree, waitFor, type Cli, type OtlpReceiver } from "./helpers.js";

const HANDLER = fileURLToPath(new URL("../examples/boot-handler.js", import.meta.url));
const kernel = randomBytes(2 * 1024 * 1024 + 99);
const initrd = randomBytes(600_000);
const tree = tempTree({ "undionly.kpxe": randomBytes(70_000), "boot/vmlinuz": kernel, "boot/initrd.img": initrd });
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(async () => {
  await stopAllClis();
});
afterAll(async () => {
  await receiver?.close();
  tree.cleanup();
});

/** curl over HTTP from a loopback source address: the body. */
function curlHttp(url: string, from: string, extra: string[] = []): Promise<{ code: number; data: Buffer }> {
  return new Promise((resolve) => {
    execFile(CURL, ["-s", "--max-time", "20", "--interface", from, ...extra, "-o", "-", url], { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, data: stdout });
    });
  });
}

const httpUrlOf = (cli: Cli): string => /tftpkit http on (http:\/\/\S+)/.exec(cli.stderr())![1];

interface Flow {
  id: string;
  traceId?: string;
  bootedAt?: number;
  endedAt: number | null;
  steps: Array<{ kind: string; path: string; outcome: string; bytes: number; httpStatus?: number }>;
}

describe.skipIf(!hasCurl)("tftpkit serve --http", () => {
  it("a machine boots over TFTP then HTTP: byte for byte, one flow, one trace, booted at the callback", async () => {
    const before = receiver.spans.length;
    const cli = await startCli(
      ["--root", tree.dir, "--handler", HANDLER, "--admin", "127.0.0.1:0", "--log", "off", "--http", "127.0.0.1:0", "--http-booted-path", "/booted"],
      {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "100",
      },
    );
    const http = httpUrlOf(cli);
    const me = "127.0.0.41";
    expect((await curlTftp(cli.udpPort, "undionly.kpxe", me)).code).toBe(0);
    const script = (await curlTftp(cli.udpPort, "boot.ipxe", me)).data.toString();
    const urls = [...script.matchAll(/^(?:kernel|initrd) (\S+)/gm)].map((m) => new URL(m[1]));
    expect(urls.map((u) => `${u.origin}${u.pathname}`)).toEqual([`${http}/boot/vmlinuz`, `${http}/boot/initrd.img`]);
    expect(urls[0].searchParams.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    // What iPXE does next, and a resumed download of the kernel.
    const k = await curlHttp(urls[0].href, me);
    expect(k.code).toBe(0);
    expect(k.data.equals(kernel)).toBe(true);
    const kPart = await curlHttp(urls[0].href, me, ["-r", "1048576-"]);
    expect(kPart.data.equals(kernel.subarray(1_048_576))).toBe(true);
    const i = await curlHttp(urls[1].href, me);
    expect(i.data.equals(initrd)).toBe(true);

    const flowsOf = async (): Promise<Flow[]> =>
      ((await (await fetch(`${cli.adminUrl}/api/v1/flows?client=${me}`)).json()) as { flows: Flow[] }).flows;
    // The last byte reaches curl a moment before the step ends.
    let flows = await waitFor("the flow to settle", async () => {
      const f = await flowsOf();
      return f.length === 1 && f[0].steps.length === 5 && f[0].steps.every((s) => s.outcome !== "running") ? f : undefined;
    });
    expect(flows[0].steps.map((s) => [s.kind, s.path, s.outcome, s.httpStatus ?? null])).toEqual([
      ["read", "undionly.kpxe", "ok", null],
      ["read", "boot.ipxe", "ok", null],
      ["http", "boot/vmlinuz", "ok", 200],
      ["http", "boot/vmlinuz", "ok", 206],
      ["http", "boot/initrd.img", "ok", 200],
    ]);
    expect(flows[0].steps[3].bytes).toBe(kernel.length - 1_048_576);
    expect(flows[0].endedAt).toBeNull();

    // The machine is up: its flow ends as booted, and with it the tftp.boot span.
    expect((await curlHttp(`${http}/booted`, me)).data.toString()).toBe("booted\n");
    flows = await flowsOf();
    expect(flows[0].bootedAt).toBeGreaterThan(0);
    expect(flows[0].endedAt).toBe(flows[0].bootedAt);
    const traceId = flows[0].traceId!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const boot = await waitFor("the tftp.boot span", () => receiver.spans.slice(before).find((s) => s.name === "tftp.boot" && s.traceId === traceId));
    const gets = await waitFor("the HTTP spans", () => {
      const g = receiver.spans.slice(before).filter((s) => s.traceId === traceId && s.name === "GET");
      return g.length === 4 ? g : undefined;
    });
    const reads = receiver.spans.slice(before).filter((s) => s.traceId === traceId && s.name === "tftp.read");
    expect(reads).toHaveLength(2);
    for (const s of [...reads, ...gets]) expect(s.parentSpanId).toBe(boot.spanId);
    expect(gets.map((s) => s.attributes["http.response.status_code"]).sort()).toEqual([200, 200, 200, 206]);
    expect(urls[0].searchParams.get("traceparent")).toBe(`00-${traceId}-${boot.spanId}-01`);
    expect(await cli.stop()).toBe(0);
  });

  it("one process (--workers 1) serves the same; hostile requests are refused and counted in the stats", async () => {
    const cli = await startCli(["--root", tree.dir, "--admin", "127.0.0.1:0", "--log", "off", "--http", "127.0.0.1:0", "--workers", "1"]);
    const http = httpUrlOf(cli);
    const k = await curlHttp(`${http}/boot/vmlinuz`, "127.0.0.42");
    expect(k.data.equals(kernel)).toBe(true);
    const status = async (args: string[]): Promise<string> =>
      (await curlHttp(`${http}/boot/vmlinuz`, "127.0.0.42", ["-w", "%{http_code}", "-o", "/dev/null", ...args])).data.toString().slice(-3);
    expect(await status(["-X", "POST"])).toBe("405");
    expect(await status(["-r", "99999999-"])).toBe("416");
    expect(await status(["-H", `X-Big: ${"a".repeat(20_000)}`])).toBe("431");
    expect((await curlHttp(`${http}/..%2f..%2fetc/passwd`, "127.0.0.42", ["--path-as-is", "-w", "%{http_code}", "-o", "/dev/null"])).data.toString()).toBe("403");
    const { stats } = (await (await fetch(`${cli.adminUrl}/api/v1/stats`)).json()) as { stats: { httpRequests: number; httpRefused: number; httpBytesSent: number } };
    expect(stats.httpRefused).toBe(4);
    expect(stats.httpBytesSent).toBeGreaterThanOrEqual(kernel.length);
    expect(await cli.stop()).toBe(0);
  });

  it("a bad --http, or a taken port, stops the start with one line naming --http", async () => {
    const bad = await runTftpkit(["serve", "--root", tree.dir, "--http", "nope", "--admin", "off"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/"http" must be "HOST:PORT"/);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await runTftpkit(["serve", "--root", tree.dir, "--host", "127.0.0.1", "--port", "0", "--http", `127.0.0.1:${port}`, "--admin", "off", "--workers", "1"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`--http 127\\.0\\.0\\.1:${port}: the TCP port is taken`));
    } finally {
      taken.close();
    }
  });
});
