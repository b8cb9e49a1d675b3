// Resource bounds against hostile clients: no read-ahead before the
// client answers the OACK, rings sized by window and blksize, one budget for
// every session's buffers, a no-progress bound, and stale upload temp files
// of a killed server swept at the next start. Memory is asserted from the
// server's buffer accounting (stats), never from timings or RSS.

import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ringSlots } from "@tftpkit/wasm-core";
import type { WriteTarget } from "../src/index.js";
import { UdpClient, ackPacket, closeAllClients, dataPacket, errorPacket, rrq, wrq, type Received } from "./helpers/client.js";
import { bytes, closeAllServers, rootMaker, startServer } from "./helpers/server.js";

const root = rootMaker();

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});

/** Waits (bounded) until `check` holds; false if it never did. */
async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/** Receives until a packet of `op` (other packets are dropped). */
async function next(c: UdpClient, op: string, ms = 3000): Promise<Received> {
  for (;;) {
    const r = await c.recv(ms);
    if (r.pkt.op === op) return r;
  }
}

/** Starts an upload of `name` and sends `blocks` full blocks, each acknowledged in turn. */
async function uploadBlocks(c: UdpClient, port: number, name: string, blocks: number): Promise<void> {
  c.send(wrq(name), port);
  const ack0 = await next(c, "ACK");
  for (let b = 1; b <= blocks; b++) {
    c.send(dataPacket(b, bytes(512)), ack0.port);
    expect((await next(c, "ACK")).pkt).toEqual({ op: "ACK", block: b });
  }
}

const MiB = 1024 * 1024;

describe("read-ahead waits for the client", () => {
  it("a 65464 x 64 RRQ whose OACK is never answered holds no buffer; ACK 0 gets a ring of one window", async () => {
    const s = await startServer({ root: root({ "big.bin": bytes(4 * MiB) }), timeoutSeconds: 2 });
    const c = await UdpClient.open();
    c.send(rrq("big.bin", "octet", [["blksize", "65464"], ["windowsize", "64"]]), s.port);
    const oack = await next(c, "OACK");
    expect(s.server.stats().sessionsActive).toBe(1);
    expect(s.server.stats().sessionBufferBytes).toBe(0);
    c.send(ackPacket(0), oack.port);
    await next(c, "DATA");
    // One window of 64 blocks (the ring never holds less than the window), nothing more.
    const ring = ringSlots(65464, 64, 65) * (65464 + 4);
    expect(ring).toBe(64 * 65468);
    expect(s.server.stats().sessionBufferBytes).toBe(ring);
    c.send(errorPacket(0, "enough"), oack.port);
    expect((await s.sessionOf(c.port)).outcome).toBe("client-error");
    expect(s.server.stats().sessionBufferBytes).toBe(0);
    expect(s.server.stats().sessionBufferPeakBytes).toBe(ring);
  });

  it("a stream is not read before ACK 0, then only the first window until a DATA block is acknowledged", async () => {
    let pulled = 0;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 200; i++) {
        pulled++;
        yield Buffer.alloc(512, i);
      }
    }
    const s = await startServer({ root: root(), handler: () => chunks(), timeoutSeconds: 2 });
    const c = await UdpClient.open();
    c.send(rrq("stream", "octet", [["windowsize", "4"]]), s.port);
    const oack = await next(c, "OACK");
    await new Promise((r) => setTimeout(r, 50));
    expect(pulled).toBe(0);
    c.send(ackPacket(0), oack.port);
    for (let b = 1; b <= 4; b++) expect((await next(c, "DATA")).pkt).toMatchObject({ block: b });
    // The ring has room for 32 blocks; one window (+ the chunk asked for ahead) was read.
    expect(ringSlots(512, 4, Infinity)).toBe(32);
    expect(pulled).toBeLessThanOrEqual(5);
    c.send(ackPacket(4), oack.port);
    await next(c, "DATA");
    expect(await until(() => pulled > 5)).toBe(true);
  });
});

describe("rings sized by window and blksize", () => {
  for (const blksize of [512, 1468]) {
    it(`20 held lock-step sessions at blksize ${blksize}: at most 48 kB of buffers each`, async () => {
      const s = await startServer({ root: root({ "img.bin": bytes(4 * MiB) }), timeoutSeconds: 5 });
      const clients: UdpClient[] = [];
      for (let i = 0; i < 20; i++) {
        const c = await UdpClient.open();
        clients.push(c);
        c.send(rrq("img.bin", "octet", blksize === 512 ? [] : [["blksize", String(blksize)]]), s.port);
        if (blksize !== 512) c.send(ackPacket(0), (await next(c, "OACK")).port);
        await next(c, "DATA"); // held: block 1 is never acknowledged
      }
      const per = ringSlots(blksize, 1, Infinity) * (blksize + 4);
      expect(per).toBeLessThanOrEqual(48 * 1024);
      expect(s.server.stats().sessionsActive).toBe(20);
      expect(s.server.stats().sessionBufferBytes).toBe(20 * per);
    });
  }
});

describe("one budget for every session's buffers", () => {
  const ring1468 = ringSlots(1468, 1, Infinity) * 1472;

  async function hold(port: number): Promise<{ c: UdpClient; tid: number }> {
    const c = await UdpClient.open();
    c.send(rrq("img.bin", "octet", [["blksize", "1468"]]), port);
    const oack = await next(c, "OACK");
    c.send(ackPacket(0), oack.port);
    await next(c, "DATA");
    return { c, tid: oack.port };
  }

  it("beyond the budget a session is refused with ERROR 0 Server busy, and counted", async () => {
    const budget = 3 * ring1468 + 500;
    const s = await startServer({ root: root({ "img.bin": bytes(MiB) }), timeoutSeconds: 5, sessionBufferBudgetBytes: budget });
    for (let i = 0; i < 3; i++) await hold(s.port);
    const c = await UdpClient.open();
    c.send(rrq("img.bin", "octet", [["blksize", "1468"]]), s.port);
    const oack = await next(c, "OACK");
    c.send(ackPacket(0), oack.port);
    const err = await next(c, "ERROR");
    expect(err.pkt).toEqual({ op: "ERROR", code: 0, message: "Server busy: session buffers exhausted, try again later" });
    const st = s.server.stats();
    expect(st.sessionBufferRefused).toBe(1);
    expect(st.sessionBufferBytes).toBe(3 * ring1468);
    expect(st.sessionBufferPeakBytes).toBeLessThanOrEqual(budget);
  });

  it("with room for less than a full ring, a session runs on a ring of one window and completes", async () => {
    const data = bytes(50_000);
    const s = await startServer({ root: root({ "img.bin": data }), timeoutSeconds: 5, sessionBufferBudgetBytes: 2 * ring1468 + 2000 });
    for (let i = 0; i < 2; i++) await hold(s.port);
    const c = await UdpClient.open();
    c.send(rrq("img.bin", "octet", [["blksize", "1468"]]), s.port);
    const oack = await next(c, "OACK");
    c.send(ackPacket(0), oack.port);
    const got: Buffer[] = [];
    for (let b = 1; ; b++) {
      const d = await next(c, "DATA");
      if (d.pkt.op !== "DATA") continue;
      expect(d.pkt.block).toBe(b);
      expect(s.server.stats().sessionBufferBytes).toBeLessThanOrEqual(2 * ring1468 + 2000);
      got.push(d.pkt.data);
      c.send(ackPacket(b), oack.port);
      if (d.pkt.data.length < 1468) break;
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect((await s.sessionOf(c.port)).outcome).toBe("ok");
    expect(s.server.stats().sessionBufferRefused).toBe(0);
  });

  it("uploads reserve their window from the same budget", async () => {
    const s = await startServer({ root: root(), allowWrite: true, timeoutSeconds: 5, sessionBufferBudgetBytes: 8 * 1468 });
    const c = await UdpClient.open();
    c.send(wrq("w.bin", "octet", [["blksize", "1468"], ["windowsize", "16"]]), s.port);
    const err = await next(c, "ERROR");
    expect(err.pkt).toMatchObject({ code: 0, message: "Server busy: session buffers exhausted, try again later" });
    const c2 = await UdpClient.open();
    c2.send(wrq("w.bin", "octet", [["blksize", "1468"], ["windowsize", "4"]]), s.port);
    expect((await next(c2, "OACK")).pkt.op).toBe("OACK");
    expect(s.server.stats().sessionBufferBytes).toBe(4 * 1468);
    expect(s.server.stats().sessionBufferRefused).toBe(1);
  });
});

describe("no session lives long without progress", () => {
  it("a client timeout of 10 s granted, then silence: the session ends after stallTimeoutMs, not 10 s x retries", async () => {
    const s = await startServer({ root: root({ "f.bin": bytes(10_000) }), stallTimeoutMs: 300, retries: 5 });
    const c = await UdpClient.open();
    c.send(rrq("f.bin", "octet", [["timeout", "10"]]), s.port);
    const oack = await next(c, "OACK");
    expect(oack.pkt).toEqual({ op: "OACK", options: [["timeout", "10"]] });
    const st = await s.sessionOf(c.port, 8000);
    expect(st.outcome).toBe("timeout");
    expect(st.error).toEqual({ code: 0, message: "Transfer timed out: no progress" });
    expect(st.retransmits).toBe(0); // ended before the first 10 s retransmission
  });

  it("a hostile timeout 255 is declined and the session is bounded the same way", async () => {
    const s = await startServer({ root: root({ "f.bin": bytes(10_000) }), stallTimeoutMs: 300, timeoutSeconds: 5 });
    const c = await UdpClient.open();
    c.send(rrq("f.bin", "octet", [["timeout", "255"], ["blksize", "1024"]]), s.port);
    const oack = await next(c, "OACK");
    expect(oack.pkt).toEqual({ op: "OACK", options: [["blksize", "1024"]] });
    const st = await s.sessionOf(c.port, 8000);
    expect(st.outcome).toBe("timeout");
    expect(st.error?.message).toBe("Transfer timed out: no progress");
  });

  it("progress moves the bound: a slow but steady client completes", async () => {
    const data = bytes(512 * 8 + 1);
    const s = await startServer({ root: root({ "f.bin": data }), stallTimeoutMs: 400, timeoutSeconds: 5, rtoFloorMs: 5000 });
    const c = await UdpClient.open();
    c.send(rrq("f.bin"), s.port);
    for (let b = 1; b <= 9; b++) {
      const d = await next(c, "DATA");
      expect(d.pkt).toMatchObject({ block: b });
      await new Promise((r) => setTimeout(r, 150)); // more than the bound in all, less per block
      c.send(ackPacket(b), d.port);
    }
    expect((await s.sessionOf(c.port)).outcome).toBe("ok");
  });

  it("an upload whose target never finishes a write ends (timeout) and the target is aborted", async () => {
    let aborted = 0;
    const target: WriteTarget = {
      write: () => new Promise<void>(() => {}),
      commit: async () => {},
      abort: async () => void aborted++,
    };
    const s = await startServer({ root: root(), writeHandler: () => target, stallTimeoutMs: 300, timeoutSeconds: 0.05, retries: 2 });
    const c = await UdpClient.open();
    c.send(wrq("x.bin"), s.port);
    const ack0 = await next(c, "ACK");
    c.send(dataPacket(1, bytes(512)), ack0.port);
    const st = await s.sessionOf(c.port, 8000);
    expect(st).toMatchObject({ outcome: "timeout", error: { code: 0, message: "Transfer timed out: no progress" }, blocksReceived: 1 });
    expect(aborted).toBe(1);
  });

  it("an upload to the root that stalls mid-way leaves nothing behind", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true, stallTimeoutMs: 300, timeoutSeconds: 5 });
    const c = await UdpClient.open();
    await uploadBlocks(c, s.port, "half.bin", 3);
    const st = await s.sessionOf(c.port, 8000);
    expect(st.outcome).toBe("timeout");
    expect(await until(() => readdirSync(dir).length === 0)).toBe(true);
  });
});

describe("an uploading client that closes its port", () => {
  it("is aborted at the second ICMP port unreachable (ACK resent twice, not every retry), and nothing is left behind", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true, timeoutSeconds: 1, retries: 5 });
    const c = await UdpClient.open();
    await uploadBlocks(c, s.port, "gone.bin", 1);
    c.close();
    const st = await s.sessionOf(c.port, 4000);
    expect(st).toMatchObject({ outcome: "aborted", error: { message: "Client gone (port unreachable)" }, blocksReceived: 1 });
    expect(await until(() => readdirSync(dir).length === 0)).toBe(true);
  });
});

describe("stale upload temp files of a killed server", () => {
  const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));

  it("kill -9 mid-upload leaves a temp file; the next start sweeps it (and only it, never through a link)", async () => {
    const dir = root();
    const outside = root({ "keep.bin": "outside", ".x.bbbbbbbbbbbb.tftpkit-upload": "outside temp-like" });
    mkdirSync(join(dir, "sub"));
    symlinkSync(join(outside, "keep.bin"), join(dir, ".evil.aaaaaaaaaaaa.tftpkit-upload"));
    symlinkSync(outside, join(dir, "linked"));
    writeFileSync(join(dir, "sub", ".notes.cccccccccccc.tftpkit-upload.txt"), "not ours");
    writeFileSync(join(dir, "sub", ".cfg.zzzzzzzzzzzz.tftpkit-upload"), "not hex: not ours");
    const child = spawn(process.execPath, ["--input-type=module", "-e", `
      const { createServer } = await import(${JSON.stringify(dist)});
      const s = createServer({ root: ${JSON.stringify(dir)}, allowWrite: true, timeoutSeconds: 5 });
      const a = await s.listen({ host: "127.0.0.1", port: 0 });
      console.log(a.port);
      setInterval(() => {}, 1000);
    `], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once("exit", () => reject(new Error("the server exited")));
      });
      const c = await UdpClient.open();
      c.send(wrq("sub/image.bin"), port);
      const ack0 = await next(c, "ACK");
      for (let b = 1; b <= 2; b++) {
        c.send(dataPacket(b, bytes(512)), ack0.port);
        await next(c, "ACK");
      }
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    } finally {
      child.kill("SIGKILL");
    }
    const temps = (): string[] => readdirSync(join(dir, "sub")).filter((n) => /^\.image\.bin\.[0-9a-f]{12}\.tftpkit-upload$/.test(n));
    expect(temps()).toHaveLength(1);

    const s = await startServer({ root: dir, allowWrite: true, stallTimeoutMs: 200 });
    expect(await until(() => s.server.stats().staleUploadsSwept >= 1)).toBe(true);
    expect(temps()).toEqual([]);
    expect(s.server.stats().staleUploadsSwept).toBe(1);
    // The link is left as it is, and nothing behind a link was touched.
    expect(lstatSync(join(dir, ".evil.aaaaaaaaaaaa.tftpkit-upload")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(outside, "keep.bin"), "utf8")).toBe("outside");
    expect(existsSync(join(outside, ".x.bbbbbbbbbbbb.tftpkit-upload"))).toBe(true);
    expect(readdirSync(join(dir, "sub")).sort()).toEqual([".cfg.zzzzzzzzzzzz.tftpkit-upload", ".notes.cccccccccccc.tftpkit-upload.txt"]);
  });

  it("a live upload's temp file is not swept by another server on the same root", async () => {
    const dir = root();
    const a = await startServer({ root: dir, allowWrite: true, stallTimeoutMs: 300, timeoutSeconds: 1, rtoFloorMs: 1000 });
    const c = await UdpClient.open();
    c.send(wrq("live.bin"), a.port);
    const ack0 = await next(c, "ACK");
    const b = await startServer({ root: dir, allowWrite: true, stallTimeoutMs: 200 });
    // Keep writing, more often than the sweep's age, across b's second sweep.
    for (let blk = 1; blk <= 12; blk++) {
      c.send(dataPacket(blk, bytes(512)), ack0.port);
      await next(c, "ACK");
      await new Promise((r) => setTimeout(r, 60));
    }
    c.send(dataPacket(13, bytes(10)), ack0.port);
    const last = await c.recv(3000);
    expect(last.pkt, JSON.stringify(last.pkt)).toEqual({ op: "ACK", block: 13 });
    expect((await a.sessionOf(c.port)).outcome).toBe("ok");
    expect(readFileSync(join(dir, "live.bin")).length).toBe(12 * 512 + 10);
    expect(b.server.stats().staleUploadsSwept).toBe(0);
  }, 15_000);
});
