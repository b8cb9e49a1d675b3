// Handlers: dynamic strings, bytes, streams, async iterables, sized bodies
// (tsize), slow handlers, throwing handlers, typed errors, handler timeouts.

import { Readable } from "node:stream";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TftpError, file, type ReadHandler, type ReadRequest } from "../src/index.js";
import { UdpClient, closeAllClients, get, rrq, sleep, within } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

const blob = bytes(5000);
const streamed = bytes(3 * 1024 + 7);
const { root, cleanup } = makeRoot({ "disk.bin": bytes(2000) });

let gate: { promise: Promise<void>; open: () => void };
const newGate = () => {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  gate = { promise, open };
};
const requests: ReadRequest[] = [];
let lastSignal: AbortSignal | undefined;
let slowFinished = false;

async function* chunks(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    await sleep(0);
    yield data.subarray(i, i + size);
  }
}

const handler: ReadHandler = async (req) => {
  requests.push(req);
  switch (req.path) {
    case "hello":
      return `hello ${req.peer.address}\n`;
    case "bytes":
      return new Uint8Array(blob);
    case "buffer-exact":
      return blob.subarray(0, 1024);
    case "stream":
      return Readable.from([streamed.subarray(0, 1000), streamed.subarray(1000)]);
    case "stream-exact":
      return Readable.from([streamed.subarray(0, 1024)]);
    case "iter":
      return chunks(streamed, 100);
    case "iter-empty":
      return chunks(Buffer.alloc(0), 1);
    case "sized-stream":
      return { body: Readable.from([streamed]), size: streamed.length };
    case "sized-iter":
      return { body: chunks(streamed, 333), size: streamed.length };
    case "sized-bytes":
      return { body: blob };
    case "file":
      return file(join(root, "disk.bin"));
    case "empty-string":
      return "";
    case "utf8":
      return "héllo wörld ✓";
    case "slow":
      // A slow handler: waits until the other session is done (bounded).
      await Promise.race([gate.promise, sleep(5000)]);
      await sleep(300);
      slowFinished = true;
      return "slow answer";
    case "throw":
      throw new Error("secret: /etc/shadow at 0xdeadbeef");
    case "throw-sync-string":
      throw "a string"; // eslint-disable-line no-throw-literal
    case "not-found":
      throw TftpError.notFound();
    case "not-found-msg":
      throw TftpError.notFound("no config for this MAC");
    case "access":
      throw TftpError.accessViolation("go away");
    case "custom-code":
      throw new TftpError(3, "Disk full");
    case "hang":
      lastSignal = req.signal;
      await new Promise<void>((resolve) => {
        req.signal.addEventListener("abort", () => resolve(), { once: true });
        setTimeout(resolve, 5000).unref();
      });
      return "too late";
    case "broken-stream":
      return (async function* () {
        yield new Uint8Array(600);
        throw new Error("backend died with password=hunter2");
      })();
    case "bad-type":
      return 42 as unknown as string;
    default:
      throw TftpError.notFound();
  }
};

let srv: TestServer;
let impatient: TestServer; // handlerTimeoutMs 100
beforeAll(async () => {
  srv = await startServer({ handler, timeoutSeconds: 0.2, retries: 3, handlerTimeoutMs: 3000 });
  impatient = await startServer({ handler, timeoutSeconds: 0.2, retries: 3, handlerTimeoutMs: 100 });
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

async function fetch(path: string, options: Array<[string, string]> = [], mode = "octet", server = srv) {
  const c = await UdpClient.open();
  const r = await get(c, server.port, path, { options, mode });
  const s = await server.sessionOf(c.port);
  return { r, s, c };
}

describe("dynamic content", () => {
  it("a string (per client)", async () => {
    const { r, s } = await fetch("hello");
    expect(r.data.toString()).toBe("hello 127.0.0.1\n");
    expect(s.outcome).toBe("ok");
    const req = requests.find((q) => q.path === "hello")!;
    expect(req.mode).toBe("octet");
    expect(req.peer).toMatchObject({ address: "127.0.0.1", family: "IPv4" });
    expect(req.local.port).toBe(srv.port);
    expect(req.sessionId).toBe(s.id);
    expect(req.signal).toBeInstanceOf(AbortSignal);
  });

  it("a UTF-8 string is sent as its UTF-8 bytes", async () => {
    const { r } = await fetch("utf8");
    expect(r.data.equals(Buffer.from("héllo wörld ✓", "utf8"))).toBe(true);
  });

  it("an empty string is one empty DATA block", async () => {
    const { r, s } = await fetch("empty-string", [["tsize", "0"]]);
    expect(r.oack).toEqual([["tsize", "0"]]);
    expect(r.data.length).toBe(0);
    expect(r.lastBlock).toBe(1);
    expect(s.outcome).toBe("ok");
  });

  it("bytes, with tsize announced (size known)", async () => {
    const { r, s } = await fetch("bytes", [["tsize", "0"], ["blksize", "1024"]]);
    expect(r.oack).toEqual([["tsize", "5000"], ["blksize", "1024"]]);
    expect(r.data.equals(blob)).toBe(true);
    expect(s.tsize).toBe(5000);
  });

  it("a Buffer of exactly 2 blocks ends with an empty block", async () => {
    const { r } = await fetch("buffer-exact");
    expect(r.data.equals(blob.subarray(0, 1024))).toBe(true);
    expect(r.lastBlock).toBe(3);
  });

  it("a Readable: no tsize announced (size unknown), data byte for byte", async () => {
    const { r, s } = await fetch("stream", [["tsize", "0"], ["blksize", "512"]]);
    expect(r.oack).toEqual([["blksize", "512"]]);
    expect(r.data.equals(streamed)).toBe(true);
    expect(s.tsize).toBe(-1);
    expect(s.optionsAcked).toEqual({ blksize: "512" });
  });

  it("a Readable ending exactly on a block boundary", async () => {
    const { r } = await fetch("stream-exact");
    expect(r.data.equals(streamed.subarray(0, 1024))).toBe(true);
    expect(r.lastBlock).toBe(3);
  });

  it("only tsize asked of a stream: no OACK at all, DATA 1 directly", async () => {
    const { r } = await fetch("stream", [["tsize", "0"]]);
    expect(r.oack).toBeUndefined();
    expect(r.data.equals(streamed)).toBe(true);
  });

  it("an async iterable of small chunks, windowsize 4", async () => {
    const { r, s } = await fetch("iter", [["windowsize", "4"]]);
    expect(r.data.equals(streamed)).toBe(true);
    expect(s.outcome).toBe("ok");
  });

  it("an empty async iterable", async () => {
    const { r } = await fetch("iter-empty");
    expect(r.data.length).toBe(0);
    expect(r.lastBlock).toBe(1);
  });

  it("{ body: stream, size }: tsize announced", async () => {
    const { r, s } = await fetch("sized-stream", [["tsize", "0"]]);
    expect(r.oack).toEqual([["tsize", String(streamed.length)]]);
    expect(r.data.equals(streamed)).toBe(true);
    expect(s.tsize).toBe(streamed.length);
  });

  it("{ body: async iterable, size } with blksize", async () => {
    const { r } = await fetch("sized-iter", [["blksize", "1000"], ["tsize", "0"]]);
    expect(r.oack).toEqual([["blksize", "1000"], ["tsize", String(streamed.length)]]);
    expect(r.data.equals(streamed)).toBe(true);
  });

  it("{ body: bytes } without size: the size of the bytes", async () => {
    const { r } = await fetch("sized-bytes", [["tsize", "0"]]);
    expect(r.oack).toEqual([["tsize", "5000"]]);
    expect(r.data.equals(blob)).toBe(true);
  });

  it("file(path) from a handler", async () => {
    const { r } = await fetch("file", [["tsize", "0"]]);
    expect(r.oack).toEqual([["tsize", "2000"]]);
    expect(r.data.length).toBe(2000);
  });

  it("the handler sees the options asked (names lower-cased, unknown ones too)", async () => {
    await fetch("hello", [["BLKSIZE", "1024"], ["X-Arch", "efi64"]]);
    const req = requests.filter((q) => q.path === "hello").pop()!;
    expect(req.options).toEqual({ blksize: "1024", "x-arch": "efi64" });
  });
});

describe("slow handlers", () => {
  it("a slow handler does not delay another session", async () => {
    newGate();
    slowFinished = false;
    const slowClient = await UdpClient.open();
    const slow = get(slowClient, srv.port, "slow", { idleTimeoutMs: 8000 });
    await sleep(20); // the slow handler is now running
    const { r } = await fetch("bytes");
    expect(r.data.equals(blob)).toBe(true);
    expect(slowFinished).toBe(false); // the fast one finished while the slow handler was still waiting
    gate.open();
    const sr = await within(slow, 8000, "the slow session");
    expect(sr.data.toString()).toBe("slow answer");
    const s = await srv.sessionOf(slowClient.port);
    expect(s.outcome).toBe("ok");
    expect(s.handlerMs).toBeGreaterThanOrEqual(250);
  });
});

describe("handler errors", () => {
  it("a throwing handler: ERROR 0 with a safe message, outcome handler-error", async () => {
    const before = srv.server.stats();
    const { r, s } = await fetch("throw");
    expect(r.error?.code).toBe(0);
    expect(r.error?.message).not.toMatch(/secret|shadow|deadbeef/);
    expect(r.error?.message.length).toBeGreaterThan(0);
    expect(s.outcome).toBe("handler-error");
    expect(s.error?.code).toBe(0);
    expect(srv.server.stats().sessionsFailed - before.sessionsFailed).toBe(1);
  });

  it("throwing a non-Error value: ERROR 0, handler-error", async () => {
    const { r, s } = await fetch("throw-sync-string");
    expect(r.error?.code).toBe(0);
    expect(s.outcome).toBe("handler-error");
  });

  it("TftpError.notFound(): ERROR 1, outcome not-found", async () => {
    const { r, s } = await fetch("not-found");
    expect(r.error).toEqual({ code: 1, message: "File not found" });
    expect(s.outcome).toBe("not-found");
  });

  it("a TftpError's own message is sent as is", async () => {
    const { r } = await fetch("not-found-msg");
    expect(r.error).toEqual({ code: 1, message: "no config for this MAC" });
  });

  it("TftpError.accessViolation(): ERROR 2, outcome access-denied", async () => {
    const { r, s } = await fetch("access");
    expect(r.error).toEqual({ code: 2, message: "go away" });
    expect(s.outcome).toBe("access-denied");
  });

  it("a TftpError with another code (3): ERROR 3, outcome error", async () => {
    const { r, s } = await fetch("custom-code");
    expect(r.error).toEqual({ code: 3, message: "Disk full" });
    expect(s.outcome).toBe("error");
  });

  it("an error with options asked is sent instead of an OACK", async () => {
    const { r } = await fetch("not-found", [["blksize", "1468"], ["tsize", "0"]]);
    expect(r.oack).toBeUndefined();
    expect(r.error?.code).toBe(1);
  });

  it("handler timeout: ERROR 0 to the client and the AbortSignal fires", async () => {
    lastSignal = undefined;
    const before = impatient.server.stats();
    const { r, s, c } = await fetch("hang", [], "octet", impatient);
    expect(r.error?.code).toBe(0);
    expect(r.error?.message).toMatch(/time/i);
    expect((lastSignal as AbortSignal | undefined)?.aborted).toBe(true);
    expect(s.outcome).not.toBe("ok");
    expect(s.error?.code).toBe(0);
    expect(impatient.server.stats().sessionsFailed - before.sessionsFailed).toBe(1);
    // Nothing arrives later (the late answer "too late" is dropped).
    expect(await c.recvOrNull(200)).toBeNull();
  });

  it("the handler's signal fires when the session ends normally too", async () => {
    const { r } = await fetch("hello");
    expect(r.error).toBeUndefined();
    const req = requests.filter((q) => q.path === "hello").pop()!;
    expect(req.signal.aborted).toBe(true);
  });

  it("a stream that fails mid-way: ERROR 0 with a safe message, after the data sent so far", async () => {
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "broken-stream", {});
    expect(r.error?.code).toBe(0);
    expect(r.error?.message).not.toMatch(/hunter2/);
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).not.toBe("ok");
  });

  it("a handler answering something that is not a body: ERROR 0", async () => {
    const { r, s } = await fetch("bad-type");
    expect(r.error?.code).toBe(0);
    expect(s.outcome).toBe("handler-error");
  });

  it("a one-block answer never ACKed: counted ok with finalAckMissing (what the code documents)", async () => {
    // src/session.ts onDeadline: when every block but the last was acknowledged
    // and the last was sent, the session ends "ok" with finalAckMissing. For a
    // one-block file that is also a client that vanished after the RRQ.
    newGate();
    gate.open();
    const c = await UdpClient.open();
    c.send(rrq("slow"), srv.port);
    const first = await c.recv(3000);
    expect(first.pkt).toMatchObject({ op: "DATA", block: 1 });
    c.close();
    const s = await srv.sessionOf(c.port, 5000);
    expect(s.outcome).toBe("ok");
    expect(s.finalAckMissing).toBe(true);
    expect(s.blocksAcked).toBe(0);
  });
});

describe("streams that stall", () => {
  // A stream that yields 600 bytes, then nothing until the session is aborted (bounded at 6 s).
  const stalling: ReadHandler = (req) =>
    (async function* () {
      yield new Uint8Array(600).fill(7);
      await new Promise<void>((resolve) => {
        req.signal.addEventListener("abort", () => resolve(), { once: true });
        setTimeout(resolve, 6000).unref();
      });
    })();

  // Regression (fixed in ae6dd7b): StreamSource.read() used to resolve only
  // when every target of the batch was full (up to ~64 KiB of blocks) or the
  // stream ended, so block 1 waited while the stream was slow.
  it("a block already produced by a slow stream is sent without waiting for the rest of the batch", async () => {
    const s = await startServer({ handler: stalling, timeoutSeconds: 0.1, retries: 2 });
    const c = await UdpClient.open();
    c.send(rrq("x"), s.port);
    const first = await c.recv(1500);
    expect(first.pkt).toMatchObject({ op: "DATA", block: 1 });
  });

  // Regression (fixed in ae6dd7b): once every block sent was acknowledged and
  // the source had not produced the next one, nothing was in flight: the
  // retransmission deadline fired once, resent nothing and was not armed
  // again, so the session (and its AbortSignal) hung until the stream moved.
  it("a stream that stalls mid-transfer ends the session (timeout) instead of holding it forever", async () => {
    let signal: AbortSignal | undefined;
    const s = await startServer({
      handler: (req) => {
        signal = req.signal;
        return (async function* () {
          yield new Uint8Array(65536).fill(1); // exactly the first read batch (128 blocks of 512)
          await new Promise<void>((resolve) => {
            req.signal.addEventListener("abort", () => resolve(), { once: true });
            setTimeout(resolve, 6000).unref();
          });
        })();
      },
      timeoutSeconds: 0.1,
      retries: 2,
      handlerTimeoutMs: 200,
    });
    const c = await UdpClient.open();
    let blocks = 0;
    const transfer = get(c, s.port, "x", { idleTimeoutMs: 5000, onPacket: (p) => { if (p.pkt.op === "DATA") blocks++; } });
    transfer.catch(() => {});
    const st = await s.sessionOf(c.port, 2500);
    expect(blocks).toBeGreaterThanOrEqual(128); // the data produced was delivered
    expect(st.outcome).toBe("timeout");
    expect(st.error?.code).toBe(0);
    expect(signal?.aborted).toBe(true);
    const r = await within(transfer, 2000, "the client to hear about it");
    expect(r.error?.code).toBe(0); // the client is told
    expect(r.data.length).toBe(65536);
  });
});
