// netascii from the server: LF -> CR LF, CR -> CR NUL on the wire, with the
// pairs split across block boundaries.

import { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TftpError, type ReadHandler } from "../src/index.js";
import { UdpClient, closeAllClients, dataBlocks, get } from "./helpers/client.js";
import { closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

/** The expected wire form, written independently of the code under test. */
function netascii(local: Buffer): Buffer {
  const out: number[] = [];
  for (const b of local) {
    if (b === 10) out.push(13, 10);
    else if (b === 13) out.push(13, 0);
    else out.push(b);
  }
  return Buffer.from(out);
}

// Wire offsets: 511 'a' + LF -> CR at 511, LF at 512 (the CR LF pair split by the block boundary);
// then 510 'b' + CR -> CR at 1023, NUL at 1024 (CR NUL split).
const boundary = Buffer.concat([
  Buffer.from("a".repeat(511) + "\n"),
  Buffer.from("b".repeat(510) + "\r"),
  Buffer.from("tail a\nb\r\nc\rd\n\r\n\n\r\r"),
  Buffer.from("\r"), // the very last byte is a bare CR
]);
// Wire length exactly 1024: 1022 'x' + LF.
const exact = Buffer.from("x".repeat(1022) + "\n");
// A CR at the end of the first 32 KiB read and its LF at the start of the next.
const chunky = Buffer.concat([Buffer.from("y".repeat(32767) + "\r\n"), Buffer.from("z\n".repeat(20000))]);
// Random text with many line ends.
let seed = 7;
const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 97);
const text = Buffer.from(Array.from({ length: 100_000 }, () => { const r = rnd(); return r < 8 ? 10 : r < 14 ? 13 : 32 + r; }));
const interop = Buffer.from("a\nb\r\nc\rd\n");

const { root, cleanup } = makeRoot({
  "boundary.txt": boundary,
  "exact.txt": exact,
  "chunky.txt": chunky,
  "text.txt": text,
  "interop.txt": interop,
  "empty.txt": Buffer.alloc(0),
});

const handler: ReadHandler = (req) => {
  if (req.path === "dyn-string") return "line1\nline2\r\n";
  if (req.path === "dyn-bytes") return boundary;
  if (req.path === "dyn-stream") return Readable.from([boundary.subarray(0, 100), boundary.subarray(100)]);
  throw TftpError.notFound();
};

let files: TestServer;
let dyn: TestServer;
beforeAll(async () => {
  files = await startServer({ root, timeoutSeconds: 1 });
  dyn = await startServer({ handler, timeoutSeconds: 1 });
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

async function fetch(s: TestServer, name: string, options: Array<[string, string]> = []) {
  const c = await UdpClient.open();
  const r = await get(c, s.port, name, { mode: "netascii", options });
  const st = await s.sessionOf(c.port);
  return { r, s: st };
}

describe("netascii from files", () => {
  it("the INTEROP example: a\\nb\\r\\nc\\rd\\n -> a\\r\\nb\\r\\0\\r\\nc\\r\\0d\\r\\n", async () => {
    const { r, s } = await fetch(files, "interop.txt");
    expect(r.data).toEqual(Buffer.from("a\r\nb\r\0\r\nc\r\0d\r\n", "latin1"));
    expect(s.mode).toBe("netascii");
    expect(s.outcome).toBe("ok");
  });

  it("CR LF and CR NUL pairs split across 512-byte block boundaries", async () => {
    const { r, s } = await fetch(files, "boundary.txt");
    const want = netascii(boundary);
    expect(want[511]).toBe(13);
    expect(want[512]).toBe(10);
    expect(want[1023]).toBe(13);
    expect(want[1024]).toBe(0);
    expect(r.data.equals(want)).toBe(true);
    expect(s.bytesSent).toBe(want.length);
  });

  it("a wire length that is an exact multiple of 512 ends with an empty block", async () => {
    const { r } = await fetch(files, "exact.txt");
    expect(r.data.equals(netascii(exact))).toBe(true);
    expect(r.data.length).toBe(1024);
    expect(dataBlocks(r)).toEqual([1, 2, 3]);
  });

  it("a CR/LF pair split across the server's 32 KiB read chunks", async () => {
    const { r } = await fetch(files, "chunky.txt", [["blksize", "1428"]]);
    expect(r.data.equals(netascii(chunky))).toBe(true);
  });

  it("100 KB of text with windowsize 8 and blksize 1000", async () => {
    const { r, s } = await fetch(files, "text.txt", [["blksize", "1000"], ["windowsize", "8"]]);
    expect(r.data.equals(netascii(text))).toBe(true);
    expect(s.outcome).toBe("ok");
  });

  it("an empty file", async () => {
    const { r } = await fetch(files, "empty.txt");
    expect(r.data.length).toBe(0);
    expect(r.lastBlock).toBe(1);
  });

  it("a small (cached) file: tsize is the translated size", async () => {
    const { r, s } = await fetch(files, "boundary.txt", [["tsize", "0"], ["blksize", "512"]]);
    const want = netascii(boundary);
    expect(r.oack).toEqual([["tsize", String(want.length)], ["blksize", "512"]]);
    expect(s.tsize).toBe(want.length);
    expect(r.data.equals(want)).toBe(true);
  });

  it("a streamed file (cache off): tsize is not announced (wire size unknown up front)", async () => {
    const streamed = await startServer({ root, timeoutSeconds: 1, fileCacheBytes: 0 });
    const { r, s } = await fetch(streamed, "boundary.txt", [["tsize", "0"], ["blksize", "512"]]);
    expect(r.oack).toEqual([["blksize", "512"]]);
    expect(s.tsize).toBe(-1);
    expect(r.data.equals(netascii(boundary))).toBe(true);
  });

  it("the same file in octet mode is sent untranslated", async () => {
    const c = await UdpClient.open();
    const r = await get(c, files.port, "boundary.txt", { mode: "octet" });
    expect(r.data.equals(boundary)).toBe(true);
  });
});

describe("netascii from handlers", () => {
  it("a string", async () => {
    const { r } = await fetch(dyn, "dyn-string");
    expect(r.data).toEqual(Buffer.from("line1\r\nline2\r\0\r\n", "latin1"));
  });

  it("bytes, tsize = the translated size", async () => {
    const { r, s } = await fetch(dyn, "dyn-bytes", [["tsize", "0"]]);
    const want = netascii(boundary);
    expect(r.data.equals(want)).toBe(true);
    expect(r.oack).toEqual([["tsize", String(want.length)]]);
    expect(s.tsize).toBe(want.length);
  });

  it("a stream", async () => {
    const { r } = await fetch(dyn, "dyn-stream");
    expect(r.data.equals(netascii(boundary))).toBe(true);
  });
});
