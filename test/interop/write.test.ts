// WRQ (upload) interop: real clients (curl, tftp-hpa, atftp, busybox) put files
// to tftpkit servers with allowWrite, over IPv4 and ::1. Every stored file is
// compared byte for byte with its source, and no `*.tftpkit-upload` temporary
// file may be left behind. Refusals (no allowWrite, existing file, size limit)
// must reach each client as the right TFTP error and leave the disk unchanged.
//
// Client quirks that matter here (checked against tftpkit and listed in INTEROP.md):
// - curl sends tsize = real size on put, also 0 for an empty file; the server
//   echoes tsize 0 in the OACK and curl accepts it on upload ("invalid tsize"
//   only hits downloads), so unlike the read matrix no --tftp-no-options is needed.
// - busybox sends tsize on put too; tftp-hpa and atftp (without --option) do not,
//   so the size limit hits them while the data flows.
// - curl's error message for a server ERROR on WRQ is bogus ("getpeername()
//   failed"): only its exit code (68 + TFTP code - 1) is meaningful.

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import { CLIENTS, explain, isTftpError, clientPut, type ClientName, type ClientResult, type TransferOptions } from "./clients.js";
import { boundaryText } from "./read-matrix.js";
import { missingBinaries, startTftpkit, type TftpkitServer } from "./targets.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [0, 1, 512, 513, 100 * KiB, MiB] as const;
const FAMILIES = [
  { name: "IPv4", host: "127.0.0.1" },
  { name: "IPv6", host: "::1" },
] as const;
const CLIENT_TIMEOUT_MS = 30_000;
/** maxUploadBytes of the "limit" server. */
const LIMIT = 64 * KiB;
/** Text with LF line ends only (what the brief asks), and one with CR LF / bare CR pairs straddling blocks. */
const LF_TEXT = Buffer.from(
  Array.from({ length: 400 }, (_, i) => `line ${i}: ${"abcdefghij".repeat(i % 13)}\n`).join("") + "\nlast line\n",
  "latin1",
);
const TEMP_SUFFIX = ".tftpkit-upload";

type Kind = "rw" | "overwrite" | "readonly" | "limit";

let base: string;
let src: string;
const roots = new Map<Kind, string>();
const servers = new Map<string, TftpkitServer>(); // `${kind} ${host}`
const sources = new Map<string, Buffer>(); // file name under src -> content

function server(kind: Kind, host: string): TftpkitServer {
  const s = servers.get(`${kind} ${host}`);
  if (!s) throw new Error(`no ${kind} server on ${host} (beforeAll failed?)`);
  return s;
}

function source(name: string, data: Buffer): string {
  const p = join(src, name);
  writeFileSync(p, data);
  sources.set(name, data);
  return p;
}

function fail(client: ClientName, r: ClientResult, s: TftpkitServer, what: string): string {
  return `${what}\n${explain(client, r)}\n${s.diagnostics()}`;
}

/** Temporary upload files left in a root (all of them, or those for one remote name). */
function temps(root: string, remote?: string): string[] {
  return readdirSync(root).filter((n) => n.endsWith(TEMP_SUFFIX) && (remote === undefined || n.startsWith(`.${remote}.`)));
}

function sameBytes(got: Buffer | undefined, want: Buffer): string | undefined {
  if (got === undefined) return "stored file missing";
  if (got.equals(want)) return undefined;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  const hex = (b: Buffer) => b.subarray(Math.max(0, i - 8), i + 8).toString("hex");
  return `stored ${got.length} bytes, want ${want.length}; first difference at offset ${i}: got …${hex(got)}… want …${hex(want)}…`;
}

/** Put `local` as `remote` and require success, the exact bytes on disk and no temp file. */
async function putAndCompare(
  client: ClientName,
  s: TftpkitServer,
  localName: string,
  remote: string,
  extra: Partial<TransferOptions> = {},
): Promise<ClientResult> {
  const want = sources.get(localName)!;
  const r = await clientPut(client, {
    host: s.host,
    port: s.port,
    remote,
    local: join(src, localName),
    timeoutMs: CLIENT_TIMEOUT_MS,
    ...extra,
  });
  if (!r.ok) throw new Error(fail(client, r, s, "upload failed"));
  // The server moves the file into place before the final ACK: no waiting here.
  const stored = join(s.root, remote);
  const diff = sameBytes(existsSync(stored) ? readFileSync(stored) : undefined, want);
  if (diff) throw new Error(fail(client, r, s, `wrong bytes on disk: ${diff}`));
  const left = temps(s.root, remote);
  if (left.length) throw new Error(fail(client, r, s, `temp files left: ${left.join(", ")}`));
  return r;
}

/** Put and require the client to report TFTP error `code` (atftp: message text). */
async function putRefused(
  client: ClientName,
  s: TftpkitServer,
  localName: string,
  remote: string,
  code: number,
  atftpMessage: RegExp,
): Promise<ClientResult> {
  const r = await clientPut(client, {
    host: s.host,
    port: s.port,
    remote,
    local: join(src, localName),
    timeoutMs: CLIENT_TIMEOUT_MS,
  });
  if (r.ok) throw new Error(fail(client, r, s, `upload should have been refused with ERROR ${code}`));
  if (r.timedOut) throw new Error(fail(client, r, s, "client hit its time limit"));
  if (!isTftpError(client, r, code, atftpMessage)) throw new Error(fail(client, r, s, `expected TFTP ERROR ${code}`));
  return r;
}

beforeAll(async () => {
  const missing = missingBinaries(["curl", "tftp", "atftp", "busybox"]);
  if (missing.length) throw new Error(`TFTP clients missing (apt-get install tftp-hpa atftp busybox curl): ${missing.join(", ")}`);
  base = mkdtempSync(join(tmpdir(), "tftpkit-interop-write-"));
  src = join(base, "src");
  mkdirSync(src);
  for (const size of SIZES) source(`size-${size}.bin`, randomBytes(size));
  source("lf.txt", LF_TEXT);
  source("boundary.txt", boundaryText());
  source("old.bin", randomBytes(100 * KiB));
  source("new.bin", randomBytes(513)); // shorter than old.bin: a replace must not leave old bytes behind
  source("limit-exact.bin", randomBytes(LIMIT));
  source("limit-over.bin", randomBytes(LIMIT + 1));
  source("limit-big.bin", randomBytes(4 * LIMIT));
  const options: Record<Kind, Parameters<typeof startTftpkit>[2]> = {
    rw: { allowWrite: true },
    overwrite: { allowWrite: true, allowOverwrite: true },
    readonly: {},
    limit: { allowWrite: true, maxUploadBytes: LIMIT },
  };
  for (const kind of Object.keys(options) as Kind[]) {
    const root = join(base, kind);
    mkdirSync(root);
    roots.set(kind, root);
    for (const f of FAMILIES) servers.set(`${kind} ${f.host}`, await startTftpkit(root, f.host, options[kind]));
  }
}, 30_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.close()));
  if (base) rmSync(base, { recursive: true, force: true });
}, 30_000);

describe.concurrent("octet put: every client x family x size", () => {
  for (const client of CLIENTS) {
    for (const fam of FAMILIES) {
      for (const size of SIZES) {
        test(`${client} ${fam.name} ${size} bytes`, async () => {
          await putAndCompare(client, server("rw", fam.host), `size-${size}.bin`, `put-${client}-${fam.name}-${size}.bin`);
        });
      }
    }
  }
});

describe.concurrent("put with options", () => {
  for (const fam of FAMILIES) {
    for (const size of [513, 100 * KiB, MiB]) {
      const name = `size-${size}.bin`;
      const tag = `${fam.name}-${size}`;
      test(`curl --tftp-blksize 1468 ${fam.name} ${size} bytes (tsize = real size)`, async () => {
        await putAndCompare("curl", server("rw", fam.host), name, `opt-curl-b1468-${tag}.bin`, { blksize: 1468 });
      });
      test(`atftp blksize 1468 ${fam.name} ${size} bytes`, async () => {
        await putAndCompare("atftp", server("rw", fam.host), name, `opt-atftp-b1468-${tag}.bin`, { blksize: 1468 });
      });
      test(`atftp windowsize 8 ${fam.name} ${size} bytes`, async () => {
        await putAndCompare("atftp", server("rw", fam.host), name, `opt-atftp-w8-${tag}.bin`, { windowsize: 8 });
      });
      test(`busybox -b 1468 ${fam.name} ${size} bytes`, async () => {
        await putAndCompare("busybox", server("rw", fam.host), name, `opt-busybox-b1468-${tag}.bin`, { blksize: 1468 });
      });
    }
  }
  test("atftp blksize 1468 + windowsize 8 + tsize: OACK echoes all three (--trace)", async ({ expect }) => {
    const s = server("rw", "127.0.0.1");
    const r = await putAndCompare("atftp", s, `size-${MiB}.bin`, "opt-atftp-all.bin", {
      blksize: 1468,
      windowsize: 8,
      tsize: true,
      trace: true,
    });
    const oack = /received OACK <([^>]*)>/.exec(r.stderr)?.[1];
    expect(oack, fail("atftp", r, s, "no OACK in trace")).toBeDefined();
    expect(oack).toMatch(new RegExp(`tsize: ${MiB}\\b`));
    expect(oack).toMatch(/blksize: 1468\b/);
    expect(oack).toMatch(/windowsize: 8\b/);
  });
});

describe.concurrent("netascii put (client encodes LF -> CR LF, server decodes)", () => {
  for (const fam of FAMILIES) {
    for (const client of ["tftp-hpa", "atftp"] as const) {
      test(`${client} netascii ${fam.name} LF text`, async () => {
        await putAndCompare(client, server("rw", fam.host), "lf.txt", `ascii-${client}-${fam.name}-lf.txt`, { netascii: true });
      });
      test(`${client} netascii ${fam.name} boundary.txt (CR LF / bare CR, pairs straddling blocks)`, async () => {
        await putAndCompare(client, server("rw", fam.host), "boundary.txt", `ascii-${client}-${fam.name}-boundary.txt`, {
          netascii: true,
        });
      });
    }
  }
});

describe.concurrent("existing files", () => {
  const old = () => sources.get("old.bin")!;
  for (const client of CLIENTS) {
    for (const fam of FAMILIES) {
      test(`${client} ${fam.name}: refused with ERROR 6 without allowOverwrite, file unchanged`, async ({ expect }) => {
        const s = server("rw", fam.host);
        const remote = `exists-${client}-${fam.name}.bin`;
        writeFileSync(join(s.root, remote), old());
        await putRefused(client, s, "new.bin", remote, 6, /already exists/i);
        expect(sameBytes(readFileSync(join(s.root, remote)), old()), s.diagnostics()).toBeUndefined();
        expect(temps(s.root, remote)).toEqual([]);
      });
      test(`${client} ${fam.name}: replaced with allowOverwrite (shorter file, nothing of the old one left)`, async () => {
        const s = server("overwrite", fam.host);
        const remote = `replace-${client}-${fam.name}.bin`;
        writeFileSync(join(s.root, remote), old());
        await putAndCompare(client, s, "new.bin", remote);
      });
    }
  }
  test("allowOverwrite: a new name is still created", async () => {
    await putAndCompare("tftp-hpa", server("overwrite", "127.0.0.1"), "size-513.bin", "overwrite-new.bin");
  });
});

describe.concurrent("server without allowWrite", () => {
  for (const client of CLIENTS) {
    test(`${client}: refused with ERROR 2 over IPv4 and IPv6, nothing written`, async ({ expect }) => {
      for (const fam of FAMILIES) {
        const s = server("readonly", fam.host);
        await putRefused(client, s, "size-513.bin", `ro-${client}-${fam.name}.bin`, 2, /disabled|access|denied|not allowed/i);
      }
      expect(readdirSync(roots.get("readonly")!).filter((n) => n.includes(client))).toEqual([]);
    });
  }
});

describe.concurrent(`maxUploadBytes = ${LIMIT}`, () => {
  for (const fam of FAMILIES) {
    test(`curl ${fam.name}: ${4 * LIMIT} bytes refused with ERROR 3 (from tsize, before any data), nothing left`, async ({ expect }) => {
      const s = server("limit", fam.host);
      const remote = `big-curl-${fam.name}.bin`;
      await putRefused("curl", s, "limit-big.bin", remote, 3, /large|full|space/i);
      expect(existsSync(join(s.root, remote))).toBe(false);
      expect(temps(s.root, remote)).toEqual([]);
    });
    test(`curl ${fam.name}: exactly ${LIMIT} bytes is accepted`, async () => {
      await putAndCompare("curl", server("limit", fam.host), "limit-exact.bin", `exact-curl-${fam.name}.bin`);
    });
  }
  // tftp-hpa and atftp send no tsize: the limit has to hit while the data flows.
  // busybox sends tsize like curl.
  for (const client of ["busybox", "tftp-hpa", "atftp"] as const) {
    test(`${client} IPv4: ${LIMIT + 1} bytes refused with ERROR 3, nothing left; exactly ${LIMIT} accepted`, async ({ expect }) => {
      const s = server("limit", "127.0.0.1");
      const remote = `over-${client}.bin`;
      await putRefused(client, s, "limit-over.bin", remote, 3, /large|full|space/i);
      // A refused upload is aborted (temp file unlinked) as the session ends.
      expect(await s.idle(10_000), s.diagnostics()).toBe(true);
      expect(existsSync(join(s.root, remote))).toBe(false);
      expect(temps(s.root, remote)).toEqual([]);
      await putAndCompare(client, s, "limit-exact.bin", `exact-${client}.bin`);
    });
  }
});

// Runs after the groups above: the servers' own account of the uploads.
describe("server side", () => {
  test("no temp files anywhere; every session ended as expected", async ({ expect }) => {
    const all = [...servers.values()];
    for (const s of all) expect(await s.idle(15_000), `sessions still active: ${s.diagnostics()}`).toBe(true);
    for (const [kind, root] of roots) expect(temps(root), `${kind} root`).toEqual([]);
    const sessions = all.flatMap((s) => s.sessions);
    const outcomes: Record<string, number> = {};
    for (const s of sessions) {
      const k = `${s.kind} ${s.outcome}${s.error ? ` ${s.error.code}` : ""}`;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    console.log(`tftpkit write sessions: ${sessions.length} ${JSON.stringify(outcomes)}`);
    expect(sessions.every((s) => s.kind === "write")).toBe(true);
    // Refusals: ERROR 6 (4 clients x 2 families), ERROR 3 (curl x 2 + 3 clients). ERROR 2 is answered
    // by the listener before a session exists.
    expect(outcomes["write error 6"]).toBe(8);
    expect(outcomes["write error 3"]).toBe(5);
    const unexpected = sessions.filter((s) => s.outcome !== "ok" && !(s.outcome === "error" && (s.error?.code === 6 || s.error?.code === 3)));
    expect(unexpected.map((s) => JSON.stringify(s))).toEqual([]);
    const refused = all.filter((s) => s.root === roots.get("readonly")).reduce((n, s) => n + s.stats().writeRequestsRefused, 0);
    // At least one per refused put (a client may resend its WRQ under load: each copy is answered and counted).
    expect(refused).toBeGreaterThanOrEqual(8);
  });

  test("curl announced the real size (tsize) and the OACK echoed it; options were granted", ({ expect }) => {
    const sessions = [...servers.values()].flatMap((s) => s.sessions);
    const curlOk = sessions.filter((s) => s.outcome === "ok" && s.optionsAsked.timeout === "6"); // curl always sends timeout 6
    expect(curlOk.length).toBeGreaterThanOrEqual(SIZES.length * 2 + 6);
    for (const s of curlOk) {
      expect(s.optionsAsked.tsize, JSON.stringify(s)).toBe(String(s.bytesReceived));
      expect(s.optionsAcked.tsize, JSON.stringify(s)).toBe(String(s.bytesReceived));
    }
    const b1468 = sessions.filter((s) => s.optionsAsked.blksize === "1468");
    expect(b1468.length).toBeGreaterThanOrEqual(3 * 3 * 2 + 1); // curl, atftp, busybox x 3 sizes x 2 families + the --trace test
    for (const s of b1468) expect(s.blksize, JSON.stringify(s)).toBe(1468);
    const w8 = sessions.filter((s) => s.optionsAsked.windowsize === "8");
    expect(w8.length).toBe(3 * 2 + 1);
    for (const s of w8) expect(s.windowsize, JSON.stringify(s)).toBe(8);
    const ascii = sessions.filter((s) => s.mode === "netascii");
    expect(ascii.length).toBe(8);
    for (const s of ascii) expect(s.outcome, JSON.stringify(s)).toBe("ok");
  });
});
