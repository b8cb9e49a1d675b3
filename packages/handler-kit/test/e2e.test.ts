// End to end: a real tftpkit server whose handler uses the sources, a real
// HTTP upstream, and a raw TFTP client, all on 127.0.0.1.

import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TftpError, type ReadHandler } from "@tftpkit/server";
import { createCache, httpSource, templateSource } from "../src/index.js";
import { startTftp, type TestTftp } from "./helpers/server.js";
import { tftpGet } from "./helpers/tftp.js";
import { pattern, startUpstream, type Upstream } from "./helpers/upstream.js";

let up: Upstream;
const dirs: string[] = [];
const servers: TestTftp[] = [];
const MiB = 1024 * 1024;

beforeAll(async () => {
  up = await startUpstream();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await up.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cacheDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tftpkit-e2e-"));
  dirs.push(d);
  return d;
}

async function serve(handler: ReadHandler): Promise<number> {
  const s = await startTftp(handler);
  servers.push(s);
  return s.port;
}

describe("HTTP upstream through TFTP", () => {
  for (const cached of [false, true]) {
    const label = cached ? "through the disk cache" : "without cache";

    it(`${label}: byte for byte, tsize from Content-Length`, async () => {
      const body = pattern(300_000 + 17, 5);
      up.routes.set("/boot/vmlinuz", { body, pieceBytes: 32 * 1024 });
      const cache = cached ? createCache({ disk: { dir: cacheDir(), maxBytes: 10 * MiB } }) : undefined;
      const src = httpSource({ baseUrl: up.url, cache });
      const port = await serve((req) => src(req.path, req));
      const r = await tftpGet(port, "boot/vmlinuz", { tsize: true, blksize: 1428 });
      expect(r.error).toBeUndefined();
      expect(r.oack).toMatchObject({ tsize: String(body.length), blksize: "1428" });
      expect(r.data.equals(body)).toBe(true);
    });

    it(`${label}: an upstream reset mid-transfer ends the transfer with an ERROR packet`, async () => {
      const path = cached ? "/reset-cached" : "/reset";
      up.routes.set(path, { body: pattern(200_000, 6), resetAfter: 50_000 });
      const cache = cached ? createCache({ disk: { dir: cacheDir(), maxBytes: 10 * MiB } }) : undefined;
      const src = httpSource({ baseUrl: up.url, cache });
      const port = await serve((req) => src(req.path, req));
      const r = await tftpGet(port, path, { tsize: true });
      expect(r.oack?.tsize).toBe("200000");
      // How many bytes came before the reset varies (a TCP RST may discard unread ones).
      expect(r.error?.code).toBe(0);
      expect(r.error?.message).toMatch(/^Upstream transfer failed after \d+ of 200000 bytes$/);
      expect(r.data.length).toBeLessThanOrEqual(50_000);
      expect(r.data.equals(pattern(200_000, 6).subarray(0, r.data.length))).toBe(true);
    });

    it(`${label}: a body shorter than Content-Length ends the transfer with an ERROR packet, not a short file`, async () => {
      const path = cached ? "/short-cached" : "/short";
      up.routes.set(path, { body: pattern(200_000, 6), closeAfter: 70_000 });
      const cache = cached ? createCache({ disk: { dir: cacheDir(), maxBytes: 10 * MiB } }) : undefined;
      const src = httpSource({ baseUrl: up.url, cache });
      const port = await serve((req) => src(req.path, req));
      const r = await tftpGet(port, path, { blksize: 1024 });
      // Node drops bytes it had buffered when it learns of the early close: at most 70000 get through.
      expect(r.error?.code).toBe(0);
      const got = Number(/^Upstream transfer failed after (\d+) of 200000 bytes$/.exec(r.error?.message ?? "")?.[1]);
      expect(got).toBeLessThanOrEqual(70_000);
      expect(r.data.length).toBeLessThanOrEqual(got);
      expect(r.data.length % 1024).toBe(0); // whole blocks only: the short last block never went out
    });
  }

  it("upstream statuses become TFTP errors: 404 -> 1, 403 -> 2, 500 -> 0", async () => {
    up.routes.set("/secret", { status: 403 });
    up.routes.set("/broken", { status: 500 });
    const src = httpSource({ baseUrl: up.url, cache: createCache({ memory: { maxBytes: MiB } }) });
    const port = await serve((req) => src(req.path, req));
    expect((await tftpGet(port, "nothing-here")).error).toEqual({ code: 1, message: "File not found" });
    expect((await tftpGet(port, "secret")).error).toEqual({ code: 2, message: "Access violation" });
    expect((await tftpGet(port, "broken")).error).toEqual({ code: 0, message: "Upstream answered HTTP 500" });
    expect((await tftpGet(port, "../etc/passwd")).error?.code).toBe(2);
  });

  it("an upstream that stays silent ends the transfer with ERROR 0 (timeout)", async () => {
    up.routes.set("/hang", { hang: true });
    const src = httpSource({ baseUrl: up.url, timeoutMs: 300 });
    const port = await serve((req) => src(req.path, req));
    const r = await tftpGet(port, "hang");
    expect(r.error).toEqual({ code: 0, message: "Upstream timed out (silent for 300 ms)" });
  });

  it("an upstream that stalls mid-body ends the transfer with ERROR 0 (timeout), through the cache too", async () => {
    up.routes.set("/stall", { body: pattern(500_000, 15), stallAfter: 100_000 });
    const cache = createCache({ disk: { dir: cacheDir(), maxBytes: 10 * MiB } });
    for (const src of [httpSource({ baseUrl: up.url, timeoutMs: 300 }), httpSource({ baseUrl: up.url, timeoutMs: 300, cache })]) {
      const port = await serve((req) => src(req.path, req));
      const r = await tftpGet(port, "stall", { tsize: true });
      expect(r.oack?.tsize).toBe("500000");
      expect(r.error).toEqual({ code: 0, message: "Upstream timed out (silent for 300 ms)" });
    }
    await cache.settled();
    expect(cache.stats()).toMatchObject({ failures: 1, disk: { entries: 0, reserved: 0 } });
  });

  it("a boot storm of 20 clients for one 4 MiB file makes one upstream request; all get the bytes", async () => {
    const body = pattern(4 * MiB, 7);
    up.routes.set("/storm/initrd.img", { body, pieceBytes: 64 * 1024 });
    const cache = createCache({ memory: { maxBytes: 4 * MiB, maxEntryBytes: 256 * 1024 }, disk: { dir: cacheDir(), maxBytes: 64 * MiB } });
    const src = httpSource({ baseUrl: up.url, cache });
    const port = await serve((req) => src(req.path, req));
    const results = await Promise.all(
      Array.from({ length: 20 }, () => tftpGet(port, "storm/initrd.img", { tsize: true, blksize: 8192 })),
    );
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.oack?.tsize).toBe(String(body.length));
      expect(r.data.equals(body)).toBe(true);
    }
    expect(up.count("/storm/initrd.img")).toBe(1);
    const s = cache.stats();
    expect(s.misses).toBe(1);
    expect(s.downloads).toBe(1);
    expect(s.joined + s.hits).toBe(19);
    expect(s.memory!.bytes).toBe(0); // 4 MiB went to disk, not memory
    await cache.settled();
    expect(cache.stats().disk).toMatchObject({ entries: 1, bytes: body.length });
  }, 40_000);

  it("clients are served while the upstream download is still running", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const body = pattern(2 * MiB, 8);
    up.routes.set("/gated", { body, gateAfter: 768 * 1024, gate });
    const cache = createCache({ disk: { dir: cacheDir(), maxBytes: 64 * MiB } });
    const src = httpSource({ baseUrl: up.url, cache });
    const port = await serve((req) => src(req.path, req));
    // The upstream holds the rest back until both clients got 512 KiB through TFTP:
    // a cache that waited for the whole file would never get there.
    const progress = [0, 0];
    const check = (): void => {
      if (progress.every((b) => b >= 512 * 1024)) open();
    };
    const results = await Promise.all([0, 1].map((i) =>
      tftpGet(port, "gated", { blksize: 8192, onData: (b) => { progress[i] = b; check(); } })));
    for (const r of results) expect(r.data.equals(body)).toBe(true);
    expect(up.count("/gated")).toBe(1);
  }, 20_000);

  it("a failed shared download: every client gets the ERROR, nothing is stored, the next request fetches again", async () => {
    up.routes.set("/flaky", { body: pattern(1 * MiB, 9), closeAfter: 256 * 1024 });
    const dir = cacheDir();
    const cache = createCache({ disk: { dir, maxBytes: 64 * MiB } });
    const src = httpSource({ baseUrl: up.url, cache });
    const port = await serve((req) => src(req.path, req));
    const results = await Promise.all(Array.from({ length: 5 }, () => tftpGet(port, "flaky", { blksize: 8192 })));
    for (const r of results) {
      expect(r.error?.code).toBe(0);
      expect(r.error?.message).toMatch(new RegExp(`^Upstream transfer failed after \\d+ of ${MiB} bytes$`));
    }
    expect(new Set(results.map((r) => r.error?.message)).size).toBe(1); // one failure, shared
    expect(up.count("/flaky")).toBe(1);
    await cache.settled();
    expect(cache.stats().disk).toMatchObject({ entries: 0, bytes: 0, reserved: 0 });
    up.routes.set("/flaky", { body: pattern(1 * MiB, 9) });
    const again = await tftpGet(port, "flaky", { blksize: 8192 });
    expect(again.data.equals(pattern(1 * MiB, 9))).toBe(true);
    expect(up.count("/flaky")).toBe(2);
  }, 20_000);
});

describe("clients that leave", () => {
  const openFilesUnder = (dir: string): string[] =>
    readdirSync("/proc/self/fd").flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(dir) ? [target] : [];
      } catch {
        return [];
      }
    });

  it("without cache: a client giving up drops the upstream connection", async () => {
    up.routes.set("/long", { body: pattern(4 * MiB, 13), pieceBytes: 16 * 1024 });
    const src = httpSource({ baseUrl: up.url });
    const port = await serve((req) => src(req.path, req));
    const r = await tftpGet(port, "long", { abortAfterBlocks: 20 });
    expect(r.blocks).toBe(20);
    await until(() => up.closedEarly.includes("/long"));
  });

  it("with cache: the download goes on and is stored; every file handle is closed afterwards", async () => {
    const body = pattern(3 * MiB, 14);
    up.routes.set("/left", { body, pieceBytes: 64 * 1024 });
    const dir = cacheDir();
    const cache = createCache({ disk: { dir, maxBytes: 64 * MiB } });
    const src = httpSource({ baseUrl: up.url, cache });
    const port = await serve((req) => src(req.path, req));
    const results = await Promise.all([
      tftpGet(port, "left", { abortAfterBlocks: 10, blksize: 8192 }),
      tftpGet(port, "left", { blksize: 8192 }),
    ]);
    expect(results[0].blocks).toBe(10);
    expect(results[1].data.equals(body)).toBe(true);
    await cache.settled();
    expect(cache.stats().disk).toMatchObject({ entries: 1, bytes: body.length });
    expect((await tftpGet(port, "left", { blksize: 8192 })).data.equals(body)).toBe(true);
    expect(up.count("/left")).toBe(1);
    await until(() => openFilesUnder(dir).length === 0);
  }, 20_000);
});

describe("templates through TFTP", () => {
  const inventory = new Map([
    ["aa:bb:cc:dd:ee:01", { hostname: "web-1", role: "web", disks: ["sda", "sdb"] }],
    ["127.0.0.1", { hostname: "loopback", role: "test", disks: [] as string[] }],
  ]);
  const templates = templateSource({
    templates: {
      "boot.ipxe": [
        "#!ipxe",
        "# {{ip}} ({{hexIp}}){{#if mac}} mac {{mac}}{{/if}}",
        "set hostname {{hostname}}",
        "kernel tftp://${next-server}/{{role}}/vmlinuz hostname={{hostname}}",
        "{{#each disks}}",
        "echo disk {{this}}",
        "{{/each}}",
        "boot",
        "",
      ].join("\n"),
      "pxelinux.cfg/default": "DEFAULT {{role}}\nLABEL {{role}}\n  KERNEL {{role}}/vmlinuz\n  APPEND hostname={{hostname}} BOOTIF=01-{{macHyphen}}\n",
    },
    vars: async (request, { client, path }) => {
      await new Promise((r) => setImmediate(r)); // an async lookup
      const host = inventory.get(path.mac ?? client.ip);
      if (!host) throw TftpError.notFound("Unknown client");
      return host;
    },
  });

  it("renders per client address, per MAC folder prefix and per pxelinux MAC file", async () => {
    const port = await serve(async (req) => (await templates(req)) ?? Promise.reject(TftpError.notFound()));
    const byAddress = await tftpGet(port, "boot.ipxe");
    expect(byAddress.data.toString()).toBe(
      "#!ipxe\n# 127.0.0.1 (7F000001)\nset hostname loopback\nkernel tftp://${next-server}/test/vmlinuz hostname=loopback\nboot\n",
    );
    const byMac = await tftpGet(port, "01-AA-BB-CC-DD-EE-01/boot.ipxe", { tsize: true });
    expect(byMac.data.toString()).toBe(
      "#!ipxe\n# 127.0.0.1 (7F000001) mac aa:bb:cc:dd:ee:01\nset hostname web-1\n" +
        "kernel tftp://${next-server}/web/vmlinuz hostname=web-1\necho disk sda\necho disk sdb\nboot\n",
    );
    expect(byMac.oack?.tsize).toBe(String(byMac.data.length));
    const pxe = await tftpGet(port, "pxelinux.cfg/01-aa-bb-cc-dd-ee-01");
    expect(pxe.data.toString()).toBe("DEFAULT web\nLABEL web\n  KERNEL web/vmlinuz\n  APPEND hostname=web-1 BOOTIF=01-aa-bb-cc-dd-ee-01\n");
  });

  it("an unknown client and a template error answer clear TFTP errors", async () => {
    const port = await serve(async (req) => (await templates(req)) ?? Promise.reject(TftpError.notFound()));
    expect((await tftpGet(port, "aa:bb:cc:dd:ee:99/boot.ipxe")).error).toEqual({ code: 1, message: "Unknown client" });
    // pxelinux.cfg/default asked by address: macHyphen is not set.
    expect((await tftpGet(port, "pxelinux.cfg/default")).error).toEqual({
      code: 0, message: "Template pxelinux.cfg/default: line 4: {{macHyphen}} is not set",
    });
    expect((await tftpGet(port, "no-such-template")).error?.code).toBe(1);
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
