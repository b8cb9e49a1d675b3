// The client against tftpd-hpa (Debian's in.tftpd), started here on a
// loopback port: gets and puts of every boundary size, rollover, netascii,
// injected loss, IPv6. Skipped only when the binary is not installed.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type TftpClient } from "../src/index.js";
import { bytes, hasHpa, startHpa, tempRoot, written } from "./helpers.js";

const SIZES = [0, 1, 511, 512, 513, 1024, 1536, 70_000];
const files: Record<string, Buffer> = {};
for (const n of SIZES) files[`f${n}`] = bytes(n);
files.mib = bytes(1024 * 1024, 77);
const text = Buffer.from("a\nb\r\nc\rd\n".repeat(100) + "tail\r");

describe.skipIf(!hasHpa)("tftpd-hpa", () => {
  let root: ReturnType<typeof tempRoot>;
  let hpa: Awaited<ReturnType<typeof startHpa>>;
  let client: TftpClient;

  beforeAll(async () => {
    root = tempRoot(files);
    // -T: retransmit after 20 ms, so that injected loss recovers fast.
    hpa = await startHpa(root.dir, "127.0.0.1", ["-T", "20000"]);
    client = createClient({ host: "127.0.0.1", port: hpa.port, timeoutSeconds: 0.5, retries: 10 });
  });
  afterAll(async () => {
    await hpa?.stop();
    root?.cleanup();
  });

  describe("get", () => {
    for (const n of SIZES) {
      it(`${n} bytes, tsize`, async () => {
        const r = await client.get(`f${n}`, { tsize: true, blksize: 512 });
        expect(r.data.equals(files[`f${n}`])).toBe(true);
        expect(r.stats).toMatchObject({ outcome: "ok", blocks: Math.floor(n / 512) + 1, tsize: n });
      });
    }

    it("windowsize is not granted by tftpd-hpa: lock-step", async () => {
      const r = await client.get("f70000", { blksize: 1468, windowsize: 16 });
      expect(r.data.equals(files.f70000)).toBe(true);
      expect(r.stats.optionsAcked).toEqual({ blksize: "1468" });
      expect(r.stats.windowsize).toBe(1);
    });

    it("1 MiB at blksize 8 rolls the block number over", async () => {
      const r = await client.get("mib", { blksize: 8 });
      expect(r.data.equals(files.mib)).toBe(true);
      expect(r.stats.blocks).toBe(131073);
    }, 120_000); // 131,073 lock-step round trips with in.tftpd: 5-14 s here, once over 30 s in a CI run

    it("recovers from 10 percent injected loss", async () => {
      const r = await client.get("f70000", { loss: { data: 0.1, ack: 0.1, seed: 5 }, dallyMs: 300 });
      expect(r.data.equals(files.f70000)).toBe(true);
      expect(r.stats.dataDropped + r.stats.acksDropped).toBeGreaterThan(0);
    });

    it("not found is ERROR 1", async () => {
      expect(await client.get("missing").catch((e) => e)).toMatchObject({ wireCode: 1, remote: true, code: "TFTP_ERR_NOT_FOUND" });
    });
  });

  describe("put", () => {
    for (const n of SIZES) {
      it(`${n} bytes`, async () => {
        const r = await client.put(`up${n}`, files[`f${n}`], { tsize: true });
        expect((await written(join(root.dir, `up${n}`), files[`f${n}`].length)).equals(files[`f${n}`])).toBe(true);
        expect(r.stats).toMatchObject({ outcome: "ok", kind: "put", bytes: n, blocks: Math.floor(n / 512) + 1, tsize: n });
        expect(r.stats.optionsAcked).toEqual({ tsize: String(n) });
      });
    }

    it("from a stream and from a file, blksize 1468", async () => {
      await client.put("upstream", Readable.from([files.f70000.subarray(0, 1000), files.f70000.subarray(1000)]), { blksize: 1468 });
      expect((await written(join(root.dir, "upstream"), files.f70000.length)).equals(files.f70000)).toBe(true);
      const local = join(root.dir, "local.bin");
      writeFileSync(local, files.f1536);
      const r = await client.putFile(local, "upfile", { blksize: 1468, tsize: true });
      expect(r.stats.tsize).toBe(1536);
      expect((await written(join(root.dir, "upfile"), files.f1536.length)).equals(files.f1536)).toBe(true);
    });

    it("1 MiB at blksize 8 rolls the block number over", async () => {
      const r = await client.put("upmib", files.mib, { blksize: 8 });
      expect((await written(join(root.dir, "upmib"), files.mib.length)).equals(files.mib)).toBe(true);
      expect(r.stats.blocks).toBe(131073);
    }, 120_000); // 131,073 lock-step round trips with in.tftpd: 5-14 s here, once over 30 s in a CI run

    it("recovers from 10 percent injected loss", async () => {
      const r = await client.put("uplossy", files.f70000, { loss: { data: 0.1, ack: 0.1, seed: 6 }, timeoutSeconds: 0.05, retries: 20 });
      expect((await written(join(root.dir, "uplossy"), files.f70000.length)).equals(files.f70000)).toBe(true);
      expect(r.stats.retransmits).toBeGreaterThan(0);
    });
  });

  it("netascii both ways: tftpd-hpa stores local text, the wire carries CR LF", async () => {
    const p = await client.put("text.txt", text, { mode: "netascii" });
    expect((await written(join(root.dir, "text.txt"), text.length)).equals(text)).toBe(true);
    expect(p.stats.wireBytes).toBe(text.length + 300 + 201); // each LF (300) and CR (201) gains a byte
    const g = await client.get("text.txt", { mode: "netascii" });
    expect(g.data.equals(text)).toBe(true);
  });

  it("IPv6: get and put over ::1", async () => {
    const h6 = await startHpa(root.dir, "::1");
    try {
      const c = createClient({ host: "::1", port: h6.port });
      await c.put("v6.bin", files.f1536, { blksize: 1024 });
      await written(join(root.dir, "v6.bin"), files.f1536.length);
      const r = await c.get("v6.bin", { blksize: 1024 });
      expect(r.data.equals(files.f1536)).toBe(true);
    } finally {
      await h6.stop();
    }
  });
});
