// The example boot handler (examples/boot-handler.js) carries the boot flow's
// trace across services: a machine (curl from its own loopback address)
// fetches its loader and the generated iPXE script over TFTP; the script's
// HTTP URLs carry the flow's traceparent, which an HTTP server (here one that
// records what it is asked) takes as its parent: the same trace as the TFTP
// sessions, under the flow's tftp.boot span (exported when tftpkit stops).

import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { curlTftp, hasCurl, startCli, startOtlpReceiver, stopAllClis, tempTree, waitFor, type OtlpReceiver } from "./helpers.js";

const HANDLER = fileURLToPath(new URL("../examples/boot-handler.js", import.meta.url));
const tree = tempTree({ "undionly.kpxe": randomBytes(70_000) });
let receiver: OtlpReceiver;
let http: Server;
let httpUrl = "";
const asked: URL[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  http = createServer((req, res) => {
    asked.push(new URL(req.url ?? "/", "http://x"));
    res.end("kernel");
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  httpUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
});

afterEach(async () => {
  await stopAllClis();
});

afterAll(async () => {
  await receiver?.close();
  http?.closeAllConnections();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
  tree.cleanup();
});

/** The URLs of the kernel and initrd lines of an iPXE script. */
function scriptUrls(script: string): URL[] {
  return [...script.matchAll(/^(?:kernel|initrd) (\S+)/gm)].map((m) => new URL(m[1]));
}

describe.skipIf(!hasCurl)("the example boot handler", () => {
  it("puts the boot flow's traceparent into the iPXE script's HTTP URLs: the HTTP fetches join the TFTP sessions' trace", async () => {
    const before = receiver.spans.length;
    const cli = await startCli(["--root", tree.dir, "--handler", HANDLER, "--admin", "127.0.0.1:0", "--log", "off"], {
      BOOT_HTTP_URL: httpUrl,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    expect((await curlTftp(cli.udpPort, "undionly.kpxe", "127.0.0.20")).code).toBe(0);
    const got = await curlTftp(cli.udpPort, "boot.ipxe", "127.0.0.20");
    expect(got.code).toBe(0);
    const script = got.data.toString();
    expect(script).toMatch(/^#!ipxe\n/);
    expect(script).toContain("set hostname node-127-0-0-20");

    const flows = (await (await fetch(`${cli.adminUrl}/api/v1/flows?client=127.0.0.20`)).json()) as { flows: Array<{ id: string; traceId?: string; steps: Array<{ path: string }> }> };
    expect(flows.flows).toHaveLength(1);
    const flow = flows.flows[0];
    expect(flow.steps.map((s) => s.path)).toEqual(["undionly.kpxe", "boot.ipxe"]);
    expect(flow.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(script).toContain(`# boot flow ${flow.id}, trace ${flow.traceId}`);

    const urls = scriptUrls(script);
    expect(urls.map((u) => u.pathname)).toEqual(["/boot/vmlinuz", "/boot/initrd.img"]);
    for (const u of urls) {
      expect(u.origin).toBe(httpUrl);
      expect(u.searchParams.get("traceparent")).toMatch(new RegExp(`^00-${flow.traceId}-[0-9a-f]{16}-01$`));
      // What iPXE would do next: fetch it over HTTP.
      expect(await (await fetch(u)).text()).toBe("kernel");
    }
    expect(asked.map((u) => u.searchParams.get("traceparent"))).toEqual(urls.map((u) => u.searchParams.get("traceparent")));

    expect(await cli.stop()).toBe(0);
    // The flow ended with tftpkit: its tftp.boot span (exported before the exit) is the HTTP fetches' parent.
    const boot = await waitFor("the tftp.boot span", () => receiver.spans.slice(before).find((s) => s.name === "tftp.boot" && s.traceId === flow.traceId));
    expect(urls[0].searchParams.get("traceparent")).toBe(`00-${boot.traceId}-${boot.spanId}-01`);
    const sessions = receiver.spans.slice(before).filter((s) => s.name === "tftp.read");
    expect(sessions.map((s) => s.attributes["tftp.path"]).sort()).toEqual(["boot.ipxe", "undionly.kpxe"]);
    for (const s of sessions) {
      expect(s.traceId).toBe(flow.traceId);
      expect(s.parentSpanId).toBe(boot.spanId);
    }
  });

  it("without tracing: plain HTTP URLs; without BOOT_HTTP_URL: tftp:// as before; a bad BOOT_HTTP_URL stops the start", async () => {
    const plain = await startCli(["--root", tree.dir, "--handler", HANDLER, "--admin", "off", "--log", "off"], { BOOT_HTTP_URL: httpUrl });
    const s1 = (await curlTftp(plain.udpPort, "boot.ipxe", "127.0.0.21")).data.toString();
    expect(scriptUrls(s1).map((u) => u.href)).toEqual([`${httpUrl}/boot/vmlinuz`, `${httpUrl}/boot/initrd.img`]);
    expect(s1).not.toContain("traceparent");
    await plain.stop();

    const tftp = await startCli(["--root", tree.dir, "--handler", HANDLER, "--admin", "off", "--log", "off"]);
    const s2 = (await curlTftp(tftp.udpPort, "boot.ipxe", "127.0.0.21")).data.toString();
    expect(s2).toContain("kernel tftp://${next-server}/boot/vmlinuz");
    await tftp.stop();

    await expect(startCli(["--root", tree.dir, "--handler", HANDLER, "--admin", "off"], { BOOT_HTTP_URL: "ftp://x" })).rejects.toThrow(
      /BOOT_HTTP_URL must be an http:\/\/ or https:\/\/ URL/,
    );
  });

  it("with --http: the script chains kernel and initrd over tftpkit's own HTTP stage (every address: the one the request came to)", async () => {
    const cli = await startCli(["--root", tree.dir, "--handler", HANDLER, "--admin", "off", "--log", "off", "--http", ":0", "--workers", "1"]);
    const port = Number(/tftpkit http on http:\/\/\S+:(\d+)/.exec(cli.stderr())?.[1]);
    expect(port).toBeGreaterThan(0);
    const script = (await curlTftp(cli.udpPort, "boot.ipxe", "127.0.0.23")).data.toString();
    expect(scriptUrls(script).map((u) => u.href)).toEqual([`http://127.0.0.1:${port}/boot/vmlinuz`, `http://127.0.0.1:${port}/boot/initrd.img`]);
    expect(await cli.stop()).toBe(0);
  });
});
