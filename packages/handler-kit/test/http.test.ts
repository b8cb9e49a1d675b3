// httpSource without a cache, against a real HTTP server on 127.0.0.1:
// streaming, sizes, status mapping, timeouts, resets, aborts, redirects,
// trace context.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TftpConfigError, TftpError } from "@tftpkit/server";
import { TemplateError, UpstreamError, httpSource } from "../src/index.js";
import { waitFor } from "@tftpkit/test-support";
import { failure, pattern, startUpstream, type Upstream } from "./helpers/upstream.js";

let up: Upstream;
const big = pattern(300_000, 2);

beforeAll(async () => {
  up = await startUpstream({
    "/boot/vmlinuz": { body: big },
    "/empty": { body: Buffer.alloc(0) },
    "/chunked": { body: pattern(70_000, 3), noLength: true, pieceBytes: 10_000 },
    "/forbidden": { status: 403 },
    "/unauthorized": { status: 401 },
    "/gone": { status: 410 },
    "/broken": { status: 500 },
    "/reset": { body: pattern(200_000, 4), resetAfter: 50_000 },
    "/short": { body: pattern(200_000, 4), closeAfter: 70_000 },
    "/hang": { hang: true },
    "/moved": { redirect: "/boot/vmlinuz" },
    "/loop": { redirect: "/loop" },
    "/with space/a+b": { body: Buffer.from("encoded") },
  });
});
afterAll(() => up.close());

async function drain(body: unknown): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe("httpSource without cache", () => {
  it("streams the body byte for byte with its size from Content-Length", async () => {
    const src = httpSource({ baseUrl: up.url });
    const r = await src("/boot/vmlinuz");
    expect(r.size).toBe(big.length);
    expect((await drain(r.body)).equals(big)).toBe(true);
    expect(up.lastHeaders.get("/boot/vmlinuz")?.["accept-encoding"]).toBe("identity");
  });

  it("an empty file has size 0", async () => {
    const r = await httpSource({ baseUrl: up.url })("empty");
    expect(r.size).toBe(0);
    expect((await drain(r.body)).length).toBe(0);
  });

  it("without Content-Length the size is unknown and the body still complete", async () => {
    const r = await httpSource({ baseUrl: up.url })("chunked");
    expect(r.size).toBeUndefined();
    expect((await drain(r.body)).equals(pattern(70_000, 3))).toBe(true);
  });

  it("maps paths under the base URL, percent-encoded, never above it", () => {
    const src = httpSource({ baseUrl: `${up.url}repo/v1` });
    expect(src.urlFor("boot\\vmlinuz").href).toBe(`${up.url}repo/v1/boot/vmlinuz`);
    expect(src.urlFor("/with space/a+b?x#y").pathname).toBe("/repo/v1/with%20space/a%2Bb%3Fx%23y");
    expect(() => src.urlFor("../../etc/passwd")).toThrow(TftpError);
    expect(() => src.urlFor("a/%2e%2e/..")).toThrow(/leaves the root/);
  });

  it("fetches an encoded name", async () => {
    const r = await httpSource({ baseUrl: up.url })("with space/a+b");
    expect((await drain(r.body)).toString()).toBe("encoded");
  });

  it("maps statuses: 404 and 410 -> 1, 401 and 403 -> 2, others -> 0 with the status", async () => {
    const src = httpSource({ baseUrl: up.url });
    expect((await failure(src("nope"))).wireCode).toBe(1);
    expect((await failure(src("gone"))).wireCode).toBe(1);
    expect((await failure(src("forbidden"))).wireCode).toBe(2);
    expect((await failure(src("unauthorized"))).wireCode).toBe(2);
    const e = await failure(src("broken"));
    expect(e.wireCode).toBe(0);
    expect(e.message).toBe("Upstream answered HTTP 500");
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).status).toBe(500);
  });

  it("an unreachable upstream is ERROR 0 with the reason", async () => {
    const closed = await startUpstream();
    const url = closed.url;
    await closed.close();
    const e = await failure(httpSource({ baseUrl: url })("x"));
    expect(e.wireCode).toBe(0);
    expect(e.message).toMatch(/^Upstream unreachable \(ECONNREFUSED\)$/);
  });

  it("an upstream silent for timeoutMs is ERROR 0 (timeout)", async () => {
    const e = await failure(httpSource({ baseUrl: up.url, timeoutMs: 200 })("hang"));
    expect(e.wireCode).toBe(0);
    expect((e as UpstreamError).reason).toBe("timeout");
    expect(e.code).toBe("TFTP_ERR_TIMEOUT");
  });

  it("a connection reset mid-body makes the body throw, after the bytes that came", async () => {
    const r = await httpSource({ baseUrl: up.url })("reset");
    expect(r.size).toBe(200_000);
    let got = 0;
    const e = await failure((async () => {
      for await (const c of r.body as AsyncIterable<Uint8Array>) got += c.length;
    })());
    // A TCP reset may discard bytes the client had not read yet: at most 50000 came.
    expect(got).toBeLessThanOrEqual(50_000);
    expect(e.wireCode).toBe(0);
    expect(e.message).toBe(`Upstream transfer failed after ${got} of 200000 bytes`);
  });

  it("a body that ends short of Content-Length makes the body throw, after the bytes that came", async () => {
    const r = await httpSource({ baseUrl: up.url })("short");
    let got = 0;
    const e = await failure((async () => {
      for await (const c of r.body as AsyncIterable<Uint8Array>) got += c.length;
    })());
    expect(got).toBeLessThanOrEqual(70_000);
    expect(e.message).toBe(`Upstream transfer failed after ${got} of 200000 bytes`);
    expect((e as UpstreamError).reason).toBe("truncated");
  });

  it("time spent by the consumer does not count against timeoutMs", async () => {
    const r = await httpSource({ baseUrl: up.url, timeoutMs: 100 })("boot/vmlinuz");
    const parts: Buffer[] = [];
    for await (const c of r.body as AsyncIterable<Uint8Array>) {
      parts.push(Buffer.from(c));
      if (parts.length === 1) await new Promise((res) => setTimeout(res, 300));
    }
    expect(Buffer.concat(parts).equals(big)).toBe(true);
  });

  it("aborting the request's signal closes the upstream connection", async () => {
    const ac = new AbortController();
    const slow = await startUpstream({ "/slow": { body: pattern(1_000_000), pieceBytes: 1000, delayMs: 5 } });
    try {
      const r = await httpSource({ baseUrl: slow.url })("slow", { signal: ac.signal });
      const it = (r.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      await it.next();
      ac.abort();
      const e = await failure((async () => {
        for (;;) if ((await it.next()).done) break;
      })());
      expect((e as UpstreamError).reason).toBe("aborted");
      await until(() => slow.closedEarly.includes("/slow"));
    } finally {
      await slow.close();
    }
  });

  it("an abort before the head arrives rejects and closes the request", async () => {
    const ac = new AbortController();
    const p = httpSource({ baseUrl: up.url })("hang", { signal: ac.signal });
    await until(() => up.count("/hang") >= 2);
    ac.abort();
    expect(((await failure(p)) as UpstreamError).reason).toBe("aborted");
  });

  it("closing the body before reading it drops the connection", async () => {
    const slow = await startUpstream({ "/slow": { body: pattern(1_000_000), pieceBytes: 1000, delayMs: 5 } });
    try {
      const r = await httpSource({ baseUrl: slow.url })("slow");
      await (r.body as AsyncIterableIterator<Uint8Array>).return!();
      await until(() => slow.closedEarly.includes("/slow"));
    } finally {
      await slow.close();
    }
  });

  it("follows redirects, up to maxRedirects", async () => {
    const r = await httpSource({ baseUrl: up.url })("moved");
    expect((await drain(r.body)).equals(big)).toBe(true);
    const e = await failure(httpSource({ baseUrl: up.url, maxRedirects: 3 })("loop"));
    expect(e.message).toBe("Upstream redirected too often");
    expect(up.count("/loop")).toBe(4);
  });

  it("sends configured headers and a trace context from a given injector", async () => {
    const src = httpSource({
      baseUrl: up.url,
      headers: { authorization: "Bearer t" },
      traceContext: (h) => {
        h.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      },
    });
    await drain((await src("empty")).body);
    const h = up.lastHeaders.get("/empty")!;
    expect(h.authorization).toBe("Bearer t");
    expect(h.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  });

  it("validates its options once", () => {
    expect(() => httpSource({ baseUrl: "ftp://x/" })).toThrow(TftpConfigError);
    expect(() => httpSource({ baseUrl: "not a url" })).toThrow(TftpConfigError);
    expect(() => httpSource({ baseUrl: up.url, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => httpSource({ baseUrl: up.url, maxRedirects: -1 })).toThrow(/maxRedirects/);
  });
});

/** Waits for `cond`, bounded (no timing assertion: fails only if it never happens). */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  await waitFor("a condition", () => (cond() ? true : undefined), ms, 10);
}

describe("error classes", () => {
  it("an UpstreamError is a TftpError; each class checks its own brand (instanceof holds across installed copies)", () => {
    const e = UpstreamError.aborted("http://x/");
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).toBeInstanceOf(TftpError);
    expect(e.code).toBe("TFTP_ERR_ABORTED");
    expect(TftpError.notFound()).not.toBeInstanceOf(UpstreamError);
    expect(new TemplateError("x")).toBeInstanceOf(TemplateError);
    expect(new TemplateError("x").code).toBe("TFTP_ERR_TEMPLATE");
    expect(e).not.toBeInstanceOf(TemplateError);
  });
});
