// The client against a tftpkit server in this process, on loopback: every
// boundary size, windows, rollover, netascii, tsize, injected loss, IPv6,
// files and streams, errors.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type TftpServer } from "@tftpkit/server";
import { createClient, type TftpClient } from "../src/index.js";
import { bytes, tempRoot } from "./helpers.js";

const SIZES = [0, 1, 511, 512, 513, 1024, 1536, 4096, 70_000];
const files: Record<string, Buffer> = {};
for (const n of SIZES) files[`f${n}`] = bytes(n);
files.mib = bytes(1024 * 1024, 99);
files["text.txt"] = Buffer.from("line one\nline two\r\nbare\rcr\n\nlast".repeat(40));

let root: ReturnType<typeof tempRoot>;
let server: TftpServer;
let client: TftpClient;
let serverPort = 0;

beforeAll(async () => {
  root = tempRoot(files);
  // A short server timeout so that injected loss recovers fast.
  server = createServer({ root: root.dir, timeoutSeconds: 0.03, retries: 10 });
  const a = await server.listen({ host: "127.0.0.1", port: 0 });
  serverPort = a.port;
  client = createClient({ host: "127.0.0.1", port: a.port, timeoutSeconds: 0.5, retries: 10 });
});
afterAll(async () => {
  await server.close();
  root.cleanup();
});

describe("get from tftpkit", () => {
  for (const windowsize of [undefined, 4, 16]) {
    for (const n of SIZES) {
      it(`${n} bytes, windowsize ${windowsize ?? "-"}`, async () => {
        const r = await client.get(`f${n}`, { windowsize, tsize: true });
        expect(r.data.equals(files[`f${n}`])).toBe(true);
        expect(r.stats).toMatchObject({
          outcome: "ok",
          bytes: n,
          wireBytes: n,
          blocks: Math.floor(n / 512) + 1,
          tsize: n,
          windowsize: windowsize ?? 1,
          retransmits: 0,
        });
      });
    }
  }

  it("1 MiB at blksize 8 rolls the block number over (131073 blocks)", async () => {
    const r = await client.get("mib", { blksize: 8, windowsize: 16 });
    expect(r.data.equals(files.mib)).toBe(true);
    expect(r.stats.blocks).toBe(131073);
    expect(r.stats.optionsAcked).toEqual({ blksize: "8", windowsize: "16" });
  }, 30_000);

  it("1 MiB at blksize 1468, lock-step, into a file", async () => {
    const out = join(root.dir, "out.bin");
    const r = await client.getFile("mib", out, { blksize: 1468 });
    expect(readFileSync(out).equals(files.mib)).toBe(true);
    expect(r.stats).toMatchObject({ blksize: 1468, blocks: Math.floor(files.mib.length / 1468) + 1 });
  });

  it("into a stream and into a chunk callback", async () => {
    const pt = new PassThrough();
    const hash = createHash("sha256");
    pt.on("data", (c) => hash.update(c));
    await client.getTo("f70000", pt, { blksize: 1024, windowsize: 8 });
    expect(hash.digest("hex")).toBe(createHash("sha256").update(files.f70000).digest("hex"));
    let total = 0;
    const h2 = createHash("sha256");
    await client.getTo("f70000", (chunk) => {
      total += chunk.length;
      h2.update(chunk);
    });
    expect(total).toBe(70_000);
    expect(h2.digest("hex")).toBe(createHash("sha256").update(files.f70000).digest("hex"));
  });

  it("netascii: the server translates, the client translates back", async () => {
    const r = await client.get("text.txt", { mode: "netascii", blksize: 100 });
    expect(r.data.equals(files["text.txt"])).toBe(true);
    expect(r.stats.wireBytes).toBeGreaterThan(files["text.txt"].length);
  });

  it("a client with no timeout set (adaptive RTO) recovers from injected loss", async () => {
    const adaptive = createClient({ host: "127.0.0.1", port: serverPort, retries: 10 });
    const r = await adaptive.get("f70000", { windowsize: 4, loss: { data: 0.1, ack: 0.1, seed: 11 }, dallyMs: 300 });
    expect(r.data.equals(files.f70000)).toBe(true);
    expect(r.stats.retransmits + r.stats.dataDropped).toBeGreaterThan(0);
  });

  it.each([1, 4, 16])("recovers from 10 percent injected loss at windowsize %i", async (windowsize) => {
    const r = await client.get("f70000", { windowsize, blksize: 512, loss: { data: 0.1, ack: 0.1, seed: windowsize }, dallyMs: 300 });
    expect(r.data.equals(files.f70000)).toBe(true);
    expect(r.stats.dataDropped).toBeGreaterThan(0);
    expect(r.stats.acksDropped).toBeGreaterThan(0);
  });

  it("not found: ERROR 1 from the server", async () => {
    const err = await client.get("nope").catch((e) => e);
    expect(err).toMatchObject({ code: "TFTP_ERR_NOT_FOUND", wireCode: 1, remote: true });
    expect(err.stats.outcome).toBe("remote-error");
  });

  it("a put is refused by tftpkit (writes are off): ERROR 2", async () => {
    const err = await client.put("up", Buffer.from("x")).catch((e) => e);
    expect(err).toMatchObject({ wireCode: 2, remote: true });
  });

  it("an abort mid-transfer tells the server", async () => {
    const ac = new AbortController();
    const ended = new Promise<string>((resolve) => {
      const s2 = createServer({ root: root.dir, onSessionEnd: (s) => resolve(s.outcome) });
      void s2.listen({ host: "127.0.0.1", port: 0 }).then(async (a) => {
        const c = createClient({ host: "127.0.0.1", port: a.port });
        let n = 0;
        const err = await c
          .getTo("mib", () => {
            if (++n === 10) ac.abort();
          }, { signal: ac.signal })
          .catch((e) => e);
        expect(err.code).toBe("TFTP_ERR_ABORTED");
        setTimeout(() => void s2.close(), 200);
      });
    });
    expect(await ended).toBe("client-error");
  });
});

describe("IPv6", () => {
  it("gets over ::1", async () => {
    const s6 = createServer({ root: root.dir });
    const a = await s6.listen({ host: "::1", port: 0 });
    try {
      const c = createClient({ host: "::1", port: a.port });
      const r = await c.get("f1536", { blksize: 1000, windowsize: 2 });
      expect(r.data.equals(files.f1536)).toBe(true);
      expect(r.stats.host).toBe("::1");
    } finally {
      await s6.close();
    }
  });
});
