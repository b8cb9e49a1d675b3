import { existsSync, readdirSync, readFileSync, writeFileSync, symlinkSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TftpError, type WriteTarget } from "../src/index.js";
import { UdpClient, closeAllClients, wrq } from "./helpers/client.js";
import { put } from "./helpers/put.js";
import { bytes, closeAllServers, rootMaker, startServer } from "./helpers/server.js";

const root = rootMaker();

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});

/** No upload temp files left in a folder. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith(".tftpkit-upload"));
}

describe("writes are off by default", () => {
  it("a WRQ gets ERROR 2 and nothing is written", async () => {
    const dir = root();
    const s = await startServer({ root: dir });
    const c = await UdpClient.open();
    const r = await put(c, s.port, "new.bin", bytes(100));
    expect(r.error?.code).toBe(2);
    expect(existsSync(join(dir, "new.bin"))).toBe(false);
    expect(s.server.stats().writeRequestsRefused).toBe(1);
  });
});

describe("uploads with allowWrite", () => {
  for (const size of [0, 1, 511, 512, 513, 4096, 100_000]) {
    it(`${size} bytes land byte for byte, no temp file left`, async () => {
      const dir = root();
      const s = await startServer({ root: dir, allowWrite: true });
      const c = await UdpClient.open();
      const data = bytes(size);
      const r = await put(c, s.port, `up-${size}.bin`, data);
      expect(r.error).toBeUndefined();
      expect(readFileSync(join(dir, `up-${size}.bin`)).equals(data)).toBe(true);
      expect(leftovers(dir)).toEqual([]);
      const st = await s.sessionOf(c.port);
      expect(st).toMatchObject({ kind: "write", outcome: "ok", bytesReceived: size });
    });
  }

  it("blksize 1468 + windowsize 4 + tsize: OACK echoes them, data lands", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true });
    const c = await UdpClient.open();
    const data = bytes(1468 * 10 + 7);
    const r = await put(c, s.port, "win.bin", data, {
      options: [["blksize", "1468"], ["tsize", String(data.length)], ["windowsize", "4"]],
    });
    expect(r.oack).toEqual([["blksize", "1468"], ["tsize", String(data.length)], ["windowsize", "4"]]);
    expect(readFileSync(join(dir, "win.bin")).equals(data)).toBe(true);
    // One ACK per window of 4 (11 blocks: windows end at 4, 8 and the short 11th).
    expect(r.acks).toEqual([4, 8, 11]);
  });

  it("a lost DATA block in a window: the server ACKs the last in-order block and the upload completes", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true, timeoutSeconds: 0.1 });
    const c = await UdpClient.open();
    const data = bytes(512 * 9 + 3);
    const r = await put(c, s.port, "gap.bin", data, {
      options: [["windowsize", "4"]],
      beforeData: (b, attempt) => !(b === 3 && attempt === 1),
    });
    expect(r.error).toBeUndefined();
    expect(r.acks[0]).toBe(2); // gap after block 2
    expect(readFileSync(join(dir, "gap.bin")).equals(data)).toBe(true);
  });

  it("an existing file is refused with ERROR 6 unless allowOverwrite", async () => {
    const dir = root({ "old.txt": "old" });
    const s = await startServer({ root: dir, allowWrite: true });
    const c = await UdpClient.open();
    const r = await put(c, s.port, "old.txt", Buffer.from("new"));
    expect(r.error?.code).toBe(6);
    expect(readFileSync(join(dir, "old.txt"), "utf8")).toBe("old");

    const s2 = await startServer({ root: dir, allowWrite: true, allowOverwrite: true });
    const c2 = await UdpClient.open();
    const r2 = await put(c2, s2.port, "old.txt", Buffer.from("new"));
    expect(r2.error).toBeUndefined();
    expect(readFileSync(join(dir, "old.txt"), "utf8")).toBe("new");
  });

  it("the file appears whole before the final ACK, and not before the last block", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true });
    const c = await UdpClient.open();
    const data = bytes(512 * 6 + 100);
    let seenBeforeLast = true;
    let wholeAtFinalAck = false;
    await put(c, s.port, "atomic.bin", data, {
      beforeData: (b) => {
        if (b === 7) seenBeforeLast = existsSync(join(dir, "atomic.bin"));
        return true;
      },
      onFinalAck: () => {
        wholeAtFinalAck = readFileSync(join(dir, "atomic.bin")).equals(data);
      },
    });
    expect(seenBeforeLast).toBe(false);
    expect(wholeAtFinalAck).toBe(true);
  });

  it("a client that aborts mid-upload leaves nothing behind", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true });
    const c = await UdpClient.open();
    await put(c, s.port, "aborted.bin", bytes(512 * 20), { abortAfter: 5 });
    const st = await s.sessionOf(c.port);
    expect(st.outcome).toBe("client-error");
    expect(existsSync(join(dir, "aborted.bin"))).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(leftovers(dir)).toEqual([]);
  });

  it("a client that goes silent mid-upload: timeout, nothing left", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true, timeoutSeconds: 0.05, retries: 2 });
    const c = await UdpClient.open();
    c.send(wrq("silent.bin"), s.port);
    const st = await s.sessionOf(c.port);
    expect(st.outcome).toBe("timeout");
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("the final ACK lost: a repeated last block is ACKed again (dally)", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true, timeoutSeconds: 0.5 });
    const c = await UdpClient.open();
    const data = bytes(700);
    const r = await put(c, s.port, "dally.bin", data, { repeatLast: true });
    expect(r.repeatAnswer?.pkt).toEqual({ op: "ACK", block: 2 });
    expect(readFileSync(join(dir, "dally.bin")).equals(data)).toBe(true);
  });

  it("netascii uploads are decoded (CR LF -> LF, CR NUL -> CR)", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true });
    const c = await UdpClient.open();
    // 511 bytes of x then CR: the CR LF pair straddles the block boundary.
    const wire = Buffer.concat([Buffer.alloc(511, 0x78), Buffer.from("\r\nb\r\0c\r\n", "latin1")]);
    const r = await put(c, s.port, "text.txt", wire, { mode: "netascii" });
    expect(r.error).toBeUndefined();
    expect(readFileSync(join(dir, "text.txt"), "latin1")).toBe("x".repeat(511) + "\nb\rc\n");
  });

  it("hostile names are refused like reads (ERROR 2), nothing is written outside the root", async () => {
    const outside = root();
    const dir = root();
    mkdirSync(join(dir, "sub"));
    symlinkSync(outside, join(dir, "escape"));
    const s = await startServer({ root: dir, allowWrite: true });
    for (const name of ["../x.bin", "sub/../../x.bin", "..\\x.bin", "escape/x.bin"]) {
      const c = await UdpClient.open();
      const r = await put(c, s.port, name, bytes(10));
      expect(r.error?.code, name).toBe(2);
    }
    expect(readdirSync(outside)).toEqual([]);
    // An absolute name lands inside the root.
    const c = await UdpClient.open();
    const r = await put(c, s.port, "/sub/abs.bin", Buffer.from("abs"));
    expect(r.error).toBeUndefined();
    expect(readFileSync(join(dir, "sub", "abs.bin"), "utf8")).toBe("abs");
  });
});

describe("upload size limit", () => {
  it("a tsize above maxUploadBytes gets ERROR 3 before any data", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true, maxUploadBytes: 1000 });
    const c = await UdpClient.open();
    const r = await put(c, s.port, "big.bin", bytes(2000), { options: [["tsize", "2000"]] });
    expect(r.error?.code).toBe(3);
    expect(r.acks).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a tsize of 16 or more digits is parsed, not ignored: ERROR 3 before any data", async () => {
    const dir = root();
    // The default limit (256 MiB); 25 digits (leading zeros, 2e9), 2^53 + 1, 30 digits.
    const s = await startServer({ root: dir, allowWrite: true });
    for (const tsize of ["0000000000000002000000000", "9007199254740993", "123456789012345678901234567890"]) {
      const c = await UdpClient.open();
      const r = await put(c, s.port, "big.bin", bytes(2000), { options: [["tsize", tsize]] });
      expect(r.error?.code, tsize).toBe(3);
      expect(r.acks).toEqual([]);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("without tsize the limit stops the upload while it runs (ERROR 3, nothing left)", async () => {
    const dir = root();
    const s = await startServer({ root: dir, allowWrite: true, maxUploadBytes: 1000 });
    const c = await UdpClient.open();
    const r = await put(c, s.port, "big.bin", bytes(5000));
    expect(r.error?.code).toBe(3);
    await new Promise((r2) => setTimeout(r2, 50));
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("write handlers", () => {
  it("a custom target receives the data in order and is committed once", async () => {
    const chunks: Buffer[] = [];
    let commits = 0;
    let seenPath = "";
    let seenSize: number | undefined;
    const s = await startServer({
      root: root(),
      writeHandler: (req): WriteTarget => {
        seenPath = req.path;
        seenSize = req.size;
        return {
          write: (c) => void chunks.push(Buffer.from(c)),
          commit: async () => void commits++,
          abort: async () => {},
        };
      },
    });
    const c = await UdpClient.open();
    const data = bytes(3000);
    await put(c, s.port, "switch-17/running-config", data, { options: [["tsize", "3000"]] });
    expect(seenPath).toBe("switch-17/running-config");
    expect(seenSize).toBe(3000);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(commits).toBe(1);
  });

  it("the request's signal is the shared getter, as a read's is (no AbortController until asked), and fires at the end", async () => {
    let desc: PropertyDescriptor | undefined;
    let signal: AbortSignal | undefined;
    let keys: string[] = [];
    const s = await startServer({
      root: root(),
      writeHandler: (req): WriteTarget => {
        desc = Object.getOwnPropertyDescriptor(req, "signal");
        keys = Object.keys(req);
        signal = req.signal;
        return { write: () => {}, commit: async () => {}, abort: async () => {} };
      },
    });
    const c = await UdpClient.open();
    await put(c, s.port, "up.bin", bytes(600), { options: [["tsize", "600"]] });
    expect(typeof desc?.get).toBe("function");
    expect(desc?.enumerable).toBe(true);
    expect(keys).toContain("signal");
    expect(keys.at(-1)).toBe("size");
    expect(signal).toBeInstanceOf(AbortSignal);
    await s.sessionOf(c.port);
    expect(signal!.aborted).toBe(true);
  });

  it("a handler refusing with TftpError answers that code", async () => {
    const s = await startServer({ root: root(), writeHandler: () => { throw new TftpError(6, "Backups are write-once"); } });
    const c = await UdpClient.open();
    const r = await put(c, s.port, "x", bytes(10));
    expect(r.error).toEqual({ code: 6, message: "Backups are write-once" });
  });

  it("a failing commit answers an error instead of the final ACK", async () => {
    const s = await startServer({
      root: root(),
      writeHandler: () => ({ write: () => {}, commit: async () => { throw Object.assign(new Error("disk"), { code: "ENOSPC" }); }, abort: async () => {} }),
    });
    const c = await UdpClient.open();
    const r = await put(c, s.port, "x", bytes(600));
    expect(r.error?.code).toBe(3);
  });
});

it("writes do not disturb a file being read", async () => {
  const dir = root({ "image.bin": bytes(200_000) });
  writeFileSync(join(dir, "cfg.txt"), "v1");
  const s = await startServer({ root: dir, allowWrite: true, allowOverwrite: true });
  const c = await UdpClient.open();
  const r = await put(c, s.port, "cfg.txt", Buffer.from("v2"));
  expect(r.error).toBeUndefined();
  expect(readFileSync(join(dir, "cfg.txt"), "utf8")).toBe("v2");
});
