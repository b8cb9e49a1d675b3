// Fuzz suite, HTTP part: hostile requests from fast-check against a real HTTP
// stage on loopback (methods, request targets built from traversal pieces,
// percent-escapes, backslashes and NUL, Range headers, oversized and broken
// heads, raw garbage), while verified downloads run meanwhile. Afterwards the
// stage is alive and serves byte for byte, no response ever carried the
// secret file that lies beside the root, every status was one of those the
// stage documents, nothing crashed, and the refusal counters moved.
//
// Bounded: TFTPKIT_FUZZ_HTTP_COUNT requests (default 1,500) or
// TFTPKIT_FUZZ_TIME_LIMIT_S seconds (default 40), whichever comes first;
// TFTPKIT_FUZZ_SEED replays a run.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpStage } from "../src/index.js";
import { bytes, closeAllServers, startServer, type TestServer } from "./helpers/server.js";

const COUNT = Number(process.env.TFTPKIT_FUZZ_HTTP_COUNT ?? 1_500);
const TIME_LIMIT_MS = Number(process.env.TFTPKIT_FUZZ_TIME_LIMIT_S ?? 40) * 1000;
const SEED = Number(process.env.TFTPKIT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PARALLEL = 16;
const SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT";
const ALLOWED = new Set([200, 206, 400, 403, 404, 405, 408, 416, 431, 503]);

const top = mkdtempSync(join(tmpdir(), "tftpkit-fuzz-http-"));
const root = join(top, "root");
const kernel = bytes(300_000);
mkdirSync(join(root, "boot"), { recursive: true });
writeFileSync(join(root, "boot", "vmlinuz"), kernel);
writeFileSync(join(root, "boot", "grub.cfg"), "set timeout=1\n");
writeFileSync(join(top, "secret.txt"), SECRET);
writeFileSync(join(root, "..secret"), "a file whose name starts with two dots\n");

let srv: TestServer;
let stage: HttpStage;
let port = 0;
const crashes: string[] = [];
const onCrash = (e: unknown): void => void crashes.push(e instanceof Error ? (e.stack ?? e.message) : String(e));

beforeAll(async () => {
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  srv = await startServer({ root, httpIdleTimeoutMs: 1000, httpMaxHeaderBytes: 4096, httpMaxConnectionsPerClient: 0 });
  stage = new HttpStage(srv.server);
  port = (await stage.listen({ host: "127.0.0.1", port: 0 })).port;
});

afterAll(async () => {
  process.off("uncaughtException", onCrash);
  process.off("unhandledRejection", onCrash);
  await stage?.close();
  await closeAllServers();
  rmSync(top, { recursive: true, force: true });
});

/** Sends `bytes` on a fresh connection and resolves everything the stage answered (bounded). */
function exchange(request: Buffer | string): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    const t = setTimeout(done, 5000);
    s.on("data", (d) => chunks.push(d));
    s.on("error", done);
    s.on("close", done);
    s.write(request); // no half-close: like node:http, the stage drops a request whose client half-closes before the answer
  });
}

const urlChar = fc.constantFrom(..."abcxyzABZ019._~-%!$&'()*+,;=:@".split(""));
const tokenChar = fc.constantFrom(..."abcxyzRANGE-_019".split(""));
const piece = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("..", ".", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "%2f", "%2F", "%5c", "%5C", "\\", "..\\", "%00", "%", "%zz", "%c0%ae%c0%ae",
    "boot", "vmlinuz", "grub.cfg", "secret.txt", "..secret", "etc", "passwd", "", "~", "%20", "?", "#", ";", "%3f") },
  { weight: 3, arbitrary: fc.string({ unit: urlChar, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 3 }) },
);
const target = fc.oneof(
  { weight: 6, arbitrary: fc.array(piece, { maxLength: 6 }).map((p) => `/${p.join("/")}`) },
  { weight: 1, arbitrary: fc.array(piece, { maxLength: 6 }).map((p) => p.join("")) },
  { weight: 1, arbitrary: fc.constantFrom("*", "http://x/boot/vmlinuz", "http://x/../secret.txt", "//../secret.txt", "") },
);
const method = fc.oneof({ weight: 6, arbitrary: fc.constantFrom("GET", "HEAD") }, { weight: 1, arbitrary: fc.constantFrom("POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "get", "G E T") }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });
const range = fc.oneof(
  fc.constant(undefined),
  fc.tuple(fc.option(fc.nat()), fc.option(fc.nat())).map(([a, b]) => `bytes=${a ?? ""}-${b ?? ""}`),
  fc.constantFrom("bytes=0-0,1-1", "bytes=-0", "bytes=", "bytes=a-b", "lines=1-2", "bytes=99999999999999999999-", "bytes = 0 - 10"),
  fc.string({ unit: urlChar, maxLength: 20 }),
);
const header = fc.tuple(fc.oneof(fc.constantFrom("Range", "traceparent", "If-Range", "Transfer-Encoding", "Content-Length"), fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 })), fc.oneof(fc.string({ maxLength: 30 }), fc.nat({ max: 6000 }).map((n) => "a".repeat(n))));
const request = fc.oneof(
  { weight: 8, arbitrary: fc.record({ method, target, range, headers: fc.array(header, { maxLength: 3 }) }).map(({ method, target, range, headers }) => {
    const lines = [`${method} ${target} HTTP/1.1`, "Host: x", "Connection: close"];
    if (range !== undefined) lines.push(`Range: ${range}`);
    for (const [k, v] of headers) lines.push(`${k}: ${v}`);
    return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
);

describe("HTTP fuzz", () => {
  it(`${COUNT} hostile requests (seed ${SEED}): clear statuses, nothing outside the root, the stage still serves`, async () => {
    const samples = fc.sample(request, { numRuns: COUNT, seed: SEED });
    const statuses = new Map<number, number>();
    const started = Date.now();
    let next = 0;
    let verified = 0;
    const worker = async (): Promise<void> => {
      while (next < samples.length && Date.now() - started < TIME_LIMIT_MS) {
        const i = next++;
        const answer = await exchange(samples[i]);
        const text = answer.toString("latin1");
        expect(text.includes(SECRET), `request ${i}: ${JSON.stringify(samples[i].toString("latin1"))}`).toBe(false);
        expect(text).not.toContain("root:x:0:0");
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        if (status) {
          expect(ALLOWED.has(status), `status ${status} for ${JSON.stringify(samples[i].toString("latin1"))}`).toBe(true);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
        if (i % 100 === 0) {
          // A verified download meanwhile.
          const ok = await exchange("GET /boot/vmlinuz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
          const body = ok.subarray(ok.indexOf("\r\n\r\n") + 4);
          expect(body.equals(kernel)).toBe(true);
          verified++;
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const s = stage.stats();
    expect(crashes).toEqual([]);
    expect(verified).toBeGreaterThan(0);
    expect(s.refused.traversal + s.refused.method + s.refused["bad-request"]).toBeGreaterThan(0);
    expect(srv.server.stats().httpRefused).toBe(Object.values(s.refused).reduce((a, b) => a + b, 0));
    const after = await exchange("GET /boot/vmlinuz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(after.subarray(after.indexOf("\r\n\r\n") + 4).equals(kernel)).toBe(true);
    // One line for the log of a long run: what the stage answered.
    console.log(`http fuzz seed ${SEED}: ${next} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, refused ${JSON.stringify(s.refused)}`);
  }, TIME_LIMIT_MS + 30_000);
});
