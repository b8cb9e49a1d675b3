// The RRQ (download) interop matrix, defined once and run against a Target:
// read.test.ts runs it against tftpkit, read.baseline.test.ts against in.tftpd.
//
// Every transfer is a real client process with a time limit; files are compared
// byte for byte. Tests inside a group run concurrently (vitest maxConcurrency).

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import {
  CLIENTS,
  explain,
  isNotFound,
  netasciiEncode,
  clientGet,
  type ClientName,
  type ClientResult,
  type TransferOptions,
} from "./clients.js";
import { missingBinaries, type RunningServer, type Target } from "./targets.js";

export const SIZES = [0, 1, 511, 512, 513, 1468 * 3, 1024 * 1024] as const;
const MiB = 1024 * 1024;

const FAMILIES = [
  { name: "IPv4", host: "127.0.0.1" },
  { name: "IPv6", host: "::1" },
] as const;

/** The example from INTEROP.md: LF, CR LF and a bare CR. */
export const TEXT = Buffer.from("a\nb\r\nc\rd\n", "latin1");
export const TEXT_WIRE = Buffer.from("a\r\nb\r\0\r\nc\r\0d\r\n", "latin1");

/**
 * A longer text whose netascii encoding puts CR at the last byte of many
 * 512-byte blocks (the CR LF / CR NUL pair straddles two DATA packets), plus
 * lines of every length class and all three line endings.
 */
export function boundaryText(): Buffer {
  const parts: string[] = [];
  // Encoded: 511 x then CR | LF -> CR is byte 511 of block 1.
  parts.push("x".repeat(511) + "\n");
  // Block 2 starts at encoded offset 512 with the LF; 1 + 509 y + CR NUL -> CR at 1023.
  parts.push("y".repeat(510) + "\r");
  const endings = ["\n", "\r\n", "\r"];
  for (let i = 0; i < 400; i++) {
    const len = (i * 37) % 301;
    parts.push(String.fromCharCode(97 + (i % 26)).repeat(len) + endings[i % 3]);
  }
  parts.push("tail without newline, then a trailing bare CR\r");
  return Buffer.from(parts.join(""), "latin1");
}

interface Fixture {
  root: string;
  out: string;
  files: Map<string, Buffer>;
}

function makeFixture(): Fixture {
  const base = mkdtempSync(join(tmpdir(), "tftpkit-interop-"));
  const root = join(base, "root");
  const out = join(base, "out");
  // in.tftpd drops to "nobody": the served tree must be world-readable.
  for (const d of [root, out]) mkdirSync(d);
  for (const d of [base, root, out]) chmodSync(d, 0o755);
  const files = new Map<string, Buffer>();
  for (const size of SIZES) files.set(`size-${size}.bin`, randomBytes(size));
  files.set("text.txt", TEXT);
  files.set("boundary.txt", boundaryText());
  for (const [name, data] of files) {
    const p = join(root, name);
    writeFileSync(p, data);
    chmodSync(p, 0o644);
  }
  return { root, out, files };
}

let seq = 0;
function outPath(fx: Fixture, label: string): string {
  seq += 1;
  return join(fx.out, `${String(seq).padStart(4, "0")}-${label.replace(/[^\w.-]+/g, "_")}`);
}

function readOut(path: string): Buffer | undefined {
  return existsSync(path) ? readFileSync(path) : undefined;
}

/** Compare without dumping megabytes into the assertion message. */
function sameBytes(got: Buffer | undefined, want: Buffer): string | undefined {
  if (got === undefined) return "output file missing";
  if (got.equals(want)) return undefined;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  const hex = (b: Buffer) => b.subarray(Math.max(0, i - 8), i + 8).toString("hex");
  return `got ${got.length} bytes, want ${want.length}; first difference at offset ${i} (block ${Math.floor(i / 512) + 1} at 512): got …${hex(got)}… want …${hex(want)}…`;
}

export interface MatrixOptions {
  /** Per-client time limit, ms. */
  clientTimeoutMs?: number;
}

export function defineReadMatrix(target: Target, opts: MatrixOptions = {}): void {
  const clientTimeoutMs = opts.clientTimeoutMs ?? 45_000;
  let fx: Fixture;
  const servers = new Map<string, RunningServer>();
  const started: RunningServer[] = [];

  beforeAll(async () => {
    const missing = missingBinaries(["curl", "tftp", "atftp", "busybox"]);
    if (missing.length) throw new Error(`TFTP clients missing (apt-get install tftp-hpa atftp busybox curl): ${missing.join(", ")}`);
    fx = makeFixture();
    for (const f of FAMILIES) {
      const s = await target.start(fx.root, f.host);
      servers.set(f.host, s);
      started.push(s);
    }
  }, 30_000);

  afterAll(async () => {
    for (const s of started.splice(0)) await s.close();
    if (fx) rmSync(join(fx.root, ".."), { recursive: true, force: true });
  }, 30_000);

  function port(host: string): number {
    const s = servers.get(host);
    if (!s) throw new Error(`no ${target.name} server on ${host} (beforeAll failed?)`);
    return s.port;
  }

  function fail(client: ClientName, r: ClientResult, what: string): string {
    return `${target.name}: ${what}\n${explain(client, r)}${target.diagnostics ? "\n" + target.diagnostics() : ""}`;
  }

  /** Run one get and check the local file equals `want`. */
  async function getAndCompare(
    client: ClientName,
    host: string,
    remote: string,
    want: Buffer,
    extra: Partial<TransferOptions> = {},
    p = port(host),
  ): Promise<ClientResult> {
    const local = outPath(fx, `${client}-${host}-${remote}`);
    const r = await clientGet(client, { host, port: p, remote, local, timeoutMs: clientTimeoutMs, ...extra });
    if (!r.ok) throw new Error(fail(client, r, "transfer failed"));
    const diff = sameBytes(readOut(local), want);
    if (diff) throw new Error(fail(client, r, `wrong bytes: ${diff}`));
    rmSync(local, { force: true });
    return r;
  }

  describe.concurrent(`${target.name}: octet get, every client x family x size`, () => {
    for (const client of CLIENTS) {
      for (const fam of FAMILIES) {
        for (const size of SIZES) {
          // curl rejects an OACK with tsize 0 ("invalid tsize"): no options for the empty file.
          const extra: Partial<TransferOptions> = client === "curl" && size === 0 ? { noOptions: true } : {};
          test(`${client} ${fam.name} ${size} bytes`, async () => {
            await getAndCompare(client, fam.host, `size-${size}.bin`, fx.files.get(`size-${size}.bin`)!, extra);
          });
        }
      }
    }
  });

  describe.concurrent(`${target.name}: negotiated options`, () => {
    const big = `size-${MiB}.bin`;
    const three = `size-${1468 * 3}.bin`;
    for (const fam of FAMILIES) {
      for (const name of [three, big]) {
        test(`curl --tftp-blksize 1468 ${fam.name} ${name}`, async () => {
          await getAndCompare("curl", fam.host, name, fx.files.get(name)!, { blksize: 1468 });
        });
        test(`busybox -b 1468 ${fam.name} ${name}`, async () => {
          await getAndCompare("busybox", fam.host, name, fx.files.get(name)!, { blksize: 1468 });
        });
        test(`atftp blksize 1468 ${fam.name} ${name}`, async () => {
          await getAndCompare("atftp", fam.host, name, fx.files.get(name)!, { blksize: 1468 });
        });
        test(`atftp windowsize 16 ${fam.name} ${name}`, async () => {
          await getAndCompare("atftp", fam.host, name, fx.files.get(name)!, { windowsize: 16 });
        });
      }
    }
    test(`curl --tftp-blksize 8 IPv4 1 MiB (131072 blocks: block number rollover)`, { timeout: 150_000 }, async () => {
      await getAndCompare("curl", "127.0.0.1", big, fx.files.get(big)!, { blksize: 8, timeoutMs: 140_000 });
    });
    test(`atftp blksize 1468 + windowsize 16 + tsize, OACK checked (--trace)`, async ({ expect }) => {
      const r = await getAndCompare("atftp", "127.0.0.1", big, fx.files.get(big)!, {
        blksize: 1468,
        windowsize: 16,
        tsize: true,
        trace: true,
      });
      const oack = /received OACK <([^>]*)>/.exec(r.stderr)?.[1];
      expect(oack, fail("atftp", r, "no OACK in trace")).toBeDefined();
      expect(oack).toMatch(new RegExp(`tsize: ${MiB}\\b`));
      expect(oack).toMatch(new RegExp(`blksize: ${Math.min(1468, target.maxBlksize)}\\b`));
      if (target.windowsize) expect(oack, fail("atftp", r, "windowsize not granted")).toMatch(/windowsize: 16\b/);
    });
    // busybox refuses small -b: 16 -> "bad blocksize"; 32 -> "remote filename is too long"
    // (it builds the RRQ in a blksize-sized buffer). 100 is fine.
    test(`busybox -b 100 IPv4 ${three} (45 blocks, short last block)`, async () => {
      await getAndCompare("busybox", "127.0.0.1", three, fx.files.get(three)!, { blksize: 100 });
    });
  });

  describe.concurrent(`${target.name}: netascii`, () => {
    const boundary = boundaryText();
    for (const fam of FAMILIES) {
      for (const client of ["tftp-hpa", "atftp"] as const) {
        test(`${client} netascii ${fam.name} text.txt decodes to the original`, async () => {
          await getAndCompare(client, fam.host, "text.txt", TEXT, { netascii: true });
        });
        test(`${client} netascii ${fam.name} boundary.txt (CR pairs straddling blocks)`, async () => {
          await getAndCompare(client, fam.host, "boundary.txt", boundary, { netascii: true });
        });
      }
      test(`curl ;mode=netascii ${fam.name} text.txt: exact wire bytes`, async ({ expect }) => {
        // The reference encoder must agree with the literal from INTEROP.md.
        expect(netasciiEncode(TEXT).equals(TEXT_WIRE)).toBe(true);
        await getAndCompare("curl", fam.host, "text.txt", TEXT_WIRE, { netascii: true });
      });
      test(`curl ;mode=netascii ${fam.name} boundary.txt: exact wire bytes`, async () => {
        await getAndCompare("curl", fam.host, "boundary.txt", netasciiEncode(boundary), { netascii: true });
      });
    }
  });

  describe.concurrent(`${target.name}: missing file`, () => {
    for (const client of CLIENTS) {
      test(`${client}: not found over IPv4 and IPv6, then the server still serves`, async ({ expect }) => {
        for (const fam of FAMILIES) {
          const local = outPath(fx, `${client}-missing`);
          const r = await clientGet(client, {
            host: fam.host,
            port: port(fam.host),
            remote: "no-such-file.bin",
            local,
            timeoutMs: clientTimeoutMs,
          });
          expect(r.ok, fail(client, r, "a missing file must fail")).toBe(false);
          expect(r.timedOut, fail(client, r, "client hit its time limit")).toBe(false);
          expect(isNotFound(client, r), fail(client, r, "expected a not-found error (TFTP error 1)")).toBe(true);
        }
        for (const fam of FAMILIES) await getAndCompare(client, fam.host, "size-513.bin", fx.files.get("size-513.bin")!);
      });
    }
  });

  describe(`${target.name}: dual stack (bound to "::")`, () => {
    let dual: RunningServer | undefined;
    beforeAll(async () => {
      dual = await target.start(fx.root, "::");
      started.push(dual);
    }, 30_000);

    describe.concurrent("clients over both families", () => {
      for (const client of CLIENTS) {
        for (const fam of FAMILIES) {
          test(`${client} ${fam.name} -> [::]`, async () => {
            const name = `size-${1468 * 3}.bin`;
            await getAndCompare(client, fam.host, name, fx.files.get(name)!, {}, dual!.port);
          });
        }
      }
    });
  });
}
