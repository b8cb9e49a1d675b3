// Single-port mode (`singlePort: true`): every session runs on the listening
// port, so DATA/ACK/OACK come from the port the request went to (NAT,
// Kubernetes). Real clients download and upload concurrently over IPv4 and
// IPv6; raw dgram sockets check the source port of the server's packets,
// against a default-mode server as a control.

import { randomBytes } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import { CLIENTS, explain, clientGet, clientPut, type ClientName, type ClientResult, type TransferOptions } from "./clients.js";
import { missingBinaries, startTftpkit, type TftpkitServer } from "./targets.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const FAMILIES = [
  { name: "IPv4", host: "127.0.0.1" },
  { name: "IPv6", host: "::1" },
] as const;
const CLIENT_TIMEOUT_MS = 40_000;
const RAW_WAIT_MS = 5_000;

let base: string;
let src: string;
let out: string;
const files = new Map<string, Buffer>(); // served (root) and upload sources (src), same names
const single = new Map<string, TftpkitServer>(); // host -> singlePort server
let dual: TftpkitServer; // singlePort on "::"
let classic: TftpkitServer; // default mode on 127.0.0.1 (control)

function sp(host: string): TftpkitServer {
  const s = single.get(host);
  if (!s) throw new Error(`no single-port server on ${host} (beforeAll failed?)`);
  return s;
}

function sameBytes(got: Buffer | undefined, want: Buffer): string | undefined {
  if (got === undefined) return "file missing";
  if (got.equals(want)) return undefined;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  return `got ${got.length} bytes, want ${want.length}; first difference at offset ${i}`;
}

let seq = 0;
interface Job {
  label: string;
  run(): Promise<string | undefined>; // undefined = ok, else a failure report
}

function getJob(client: ClientName, s: TftpkitServer, host: string, name: string, extra: Partial<TransferOptions> = {}): Job {
  const label = `${client} get ${name} ${host} ${JSON.stringify(extra)}`;
  return {
    label,
    async run() {
      const local = join(out, `${++seq}-${client}-get-${name}`);
      const r = await clientGet(client, { host, port: s.port, remote: name, local, timeoutMs: CLIENT_TIMEOUT_MS, ...extra });
      if (!r.ok) return `${label}: transfer failed\n${explain(client, r)}`;
      const diff = sameBytes(existsSync(local) ? readFileSync(local) : undefined, files.get(name)!);
      rmSync(local, { force: true });
      return diff && `${label}: ${diff}\n${explain(client, r)}`;
    },
  };
}

function putJob(client: ClientName, s: TftpkitServer, host: string, name: string, extra: Partial<TransferOptions> = {}): Job {
  const remote = `up-${++seq}-${client}-${name}`;
  const label = `${client} put ${name} as ${remote} ${host} ${JSON.stringify(extra)}`;
  return {
    label,
    async run() {
      const r: ClientResult = await clientPut(client, {
        host,
        port: s.port,
        remote,
        local: join(src, name),
        timeoutMs: CLIENT_TIMEOUT_MS,
        ...extra,
      });
      if (!r.ok) return `${label}: transfer failed\n${explain(client, r)}`;
      const stored = join(s.root, remote);
      const diff = sameBytes(existsSync(stored) ? readFileSync(stored) : undefined, files.get(name)!);
      return diff && `${label}: ${diff}\n${explain(client, r)}`;
    },
  };
}

/** Run every job at once; fail with every report. */
async function runAll(jobs: Job[], s: TftpkitServer): Promise<void> {
  const results = await Promise.all(jobs.map((j) => j.run()));
  const bad = results.filter((r): r is string => r !== undefined);
  if (bad.length) throw new Error(`${bad.length}/${jobs.length} concurrent transfers failed:\n\n${bad.join("\n\n")}\n\n${s.diagnostics(10)}`);
}

/** Clients x (get, put) x sizes, plus the options each client can send. */
function mixedJobs(s: TftpkitServer, host: string, names: string[]): Job[] {
  const jobs: Job[] = [];
  for (const client of CLIENTS) {
    for (const name of names) {
      jobs.push(getJob(client, s, host, name), putJob(client, s, host, name));
    }
  }
  const big = names[names.length - 1]!;
  jobs.push(
    getJob("curl", s, host, big, { blksize: 1468 }),
    putJob("curl", s, host, big, { blksize: 1468 }),
    getJob("busybox", s, host, big, { blksize: 1468 }),
    putJob("busybox", s, host, big, { blksize: 1468 }),
    getJob("atftp", s, host, big, { blksize: 1468, windowsize: 8 }),
    putJob("atftp", s, host, big, { blksize: 1468, windowsize: 8 }),
  );
  return jobs;
}

// ------------------------------------------------------------ raw TFTP packets

function request(op: 1 | 2, name: string, options: Record<string, string> = {}): Buffer {
  const parts = [Buffer.from([0, op]), Buffer.from(`${name}\0octet\0`, "latin1")];
  for (const [k, v] of Object.entries(options)) parts.push(Buffer.from(`${k}\0${v}\0`, "latin1"));
  return Buffer.concat(parts);
}
const ack = (block: number) => Buffer.from([0, 4, (block >> 8) & 0xff, block & 0xff]);
const data = (block: number, payload: Buffer) => Buffer.concat([Buffer.from([0, 3, (block >> 8) & 0xff, block & 0xff]), payload]);
const opcode = (m: Buffer) => m.readUInt16BE(0);
function describePacket(m: Buffer): string {
  const op = opcode(m);
  if (op === 3) return `DATA ${m.readUInt16BE(2)} (${m.length - 4} bytes)`;
  if (op === 4) return `ACK ${m.readUInt16BE(2)}`;
  if (op === 5) return `ERROR ${m.readUInt16BE(2)} ${m.subarray(4).toString("latin1").replace(/\0.*$/, "")}`;
  if (op === 6) return `OACK ${m.subarray(2).toString("latin1").split("\0").join(" ")}`;
  return `opcode ${op} (${m.length} bytes)`;
}

/** A UDP socket with a queue of received packets and bounded waits. */
class Raw {
  private queue: Array<{ msg: Buffer; rinfo: RemoteInfo }> = [];
  private waiter: (() => void) | undefined;
  readonly socket: Socket;
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    this.socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    this.socket.on("message", (msg, rinfo) => {
      this.queue.push({ msg, rinfo });
      this.waiter?.();
    });
  }
  bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once("error", reject);
      this.socket.bind(0, this.host, () => resolve());
    });
  }
  send(msg: Buffer, port = this.port): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(msg, port, this.host, (e) => (e ? reject(e) : resolve())));
  }
  async next(what: string, timeoutMs = RAW_WAIT_MS): Promise<{ msg: Buffer; rinfo: RemoteInfo }> {
    const end = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms while waiting for ${what} from ${this.host}:${this.port}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift()!;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Download `name` with raw packets (ACKing back to wherever DATA came from); report every source port seen. */
async function rawGet(
  raw: Raw,
  name: string,
  options: Record<string, string> = {},
): Promise<{ data: Buffer; ports: Set<number>; addresses: Set<string>; first: string }> {
  const blksize = Number(options.blksize ?? 512);
  await raw.send(request(1, name, options));
  const ports = new Set<number>();
  const addresses = new Set<string>();
  const chunks: Buffer[] = [];
  let expect = 1;
  let first = "";
  for (;;) {
    const { msg, rinfo } = await raw.next(expect === 1 ? "the first reply" : `DATA ${expect}`);
    ports.add(rinfo.port);
    addresses.add(rinfo.address);
    first ||= describePacket(msg);
    const op = opcode(msg);
    if (op === 6) {
      await raw.send(ack(0), rinfo.port);
      continue;
    }
    if (op !== 3) throw new Error(`expected DATA ${expect}, got ${describePacket(msg)} from ${rinfo.address}:${rinfo.port}`);
    const block = msg.readUInt16BE(2);
    if (block === expect) {
      chunks.push(msg.subarray(4));
      expect++;
    }
    await raw.send(ack(block), rinfo.port);
    if (block === expect - 1 && msg.length - 4 < blksize) break;
  }
  return { data: Buffer.concat(chunks), ports, addresses, first };
}

// ------------------------------------------------------------------ fixture

beforeAll(async () => {
  const missing = missingBinaries(["curl", "tftp", "atftp", "busybox"]);
  if (missing.length) throw new Error(`TFTP clients missing (apt-get install tftp-hpa atftp busybox curl): ${missing.join(", ")}`);
  base = mkdtempSync(join(tmpdir(), "tftpkit-interop-singleport-"));
  src = join(base, "src");
  out = join(base, "out");
  for (const d of [src, out]) mkdirSync(d);
  for (const size of [513, 1500, 100 * KiB, MiB]) files.set(`size-${size}.bin`, randomBytes(size));
  const roots: string[] = [];
  const root = (name: string) => {
    const r = join(base, name);
    mkdirSync(r);
    for (const [n, b] of files) writeFileSync(join(r, n), b);
    roots.push(r);
    return r;
  };
  for (const [n, b] of files) writeFileSync(join(src, n), b);
  for (const f of FAMILIES) single.set(f.host, await startTftpkit(root(`single-${f.name}`), f.host, { singlePort: true, allowWrite: true }));
  dual = await startTftpkit(root("single-dual"), "::", { singlePort: true, allowWrite: true });
  classic = await startTftpkit(root("classic"), "127.0.0.1", { allowWrite: true });
}, 30_000);

afterAll(async () => {
  await Promise.all([...single.values(), dual, classic].filter(Boolean).map((s) => s.close()));
  if (base) rmSync(base, { recursive: true, force: true });
}, 30_000);

// ------------------------------------------------------------------ tests

describe.concurrent("single port: all clients at once, get and put, byte for byte", () => {
  for (const fam of FAMILIES) {
    test(`${fam.name}: 4 clients x (get, put) x (513 B, 1 MiB) + blksize/windowsize variants, all concurrent`, async () => {
      const s = sp(fam.host);
      await runAll(mixedJobs(s, fam.host, ["size-513.bin", `size-${MiB}.bin`]), s);
    });
  }
  test(`dual stack ("::"): 4 clients x (get, put) over IPv4 and IPv6 at once`, async () => {
    const jobs = FAMILIES.flatMap((f) => CLIENTS.flatMap((c) => [getJob(c, dual, f.host, `size-${100 * KiB}.bin`), putJob(c, dual, f.host, `size-${100 * KiB}.bin`)]));
    await runAll(jobs, dual);
  });
});

describe.concurrent("single port: raw packets come from the listening port", () => {
  for (const fam of FAMILIES) {
    test(`${fam.name}: RRQ -> every DATA from ${fam.host}:<server port>, ACKs to it`, async ({ expect }) => {
      const s = sp(fam.host);
      const raw = new Raw(fam.host, s.port);
      try {
        await raw.bind();
        const r = await rawGet(raw, "size-1500.bin");
        expect(r.first).toBe("DATA 1 (512 bytes)");
        expect([...r.ports], s.diagnostics()).toEqual([s.port]);
        expect([...r.addresses]).toEqual([fam.host]);
        expect(sameBytes(r.data, files.get("size-1500.bin")!)).toBeUndefined();
      } finally {
        await raw.close();
      }
    });

    test(`${fam.name}: RRQ with blksize 1024 + tsize -> OACK and DATA from the listening port`, async ({ expect }) => {
      const s = sp(fam.host);
      const raw = new Raw(fam.host, s.port);
      try {
        await raw.bind();
        const r = await rawGet(raw, `size-${100 * KiB}.bin`, { blksize: "1024", tsize: "0" });
        expect(r.first).toMatch(/^OACK .*blksize 1024/);
        expect([...r.ports]).toEqual([s.port]);
        expect(sameBytes(r.data, files.get(`size-${100 * KiB}.bin`)!)).toBeUndefined();
      } finally {
        await raw.close();
      }
    });

    test(`${fam.name}: WRQ -> ACK 0 and ACK 1..n from the listening port; file stored`, async ({ expect }) => {
      const s = sp(fam.host);
      const raw = new Raw(fam.host, s.port);
      const payload = files.get("size-1500.bin")!;
      const remote = `raw-wrq-${fam.name}.bin`;
      try {
        await raw.bind();
        await raw.send(request(2, remote));
        let { msg, rinfo } = await raw.next("ACK 0");
        expect(describePacket(msg)).toBe("ACK 0");
        expect(rinfo.port).toBe(s.port);
        const blocks = Math.floor(payload.length / 512) + 1; // last block short (1500 = 2 x 512 + 476)
        for (let b = 1; b <= blocks; b++) {
          await raw.send(data(b, payload.subarray((b - 1) * 512, b * 512)), s.port);
          ({ msg, rinfo } = await raw.next(`ACK ${b}`));
          expect(describePacket(msg)).toBe(`ACK ${b}`);
          expect(rinfo.port).toBe(s.port);
          expect(rinfo.address).toBe(fam.host);
        }
        // Moved into place before the final ACK.
        expect(sameBytes(readFileSync(join(s.root, remote)), payload)).toBeUndefined();
      } finally {
        await raw.close();
      }
    });
  }

  test("IPv4: two raw sessions interleaved on the one port stay apart", async ({ expect }) => {
    const s = sp("127.0.0.1");
    const a = new Raw("127.0.0.1", s.port);
    const b = new Raw("127.0.0.1", s.port);
    try {
      await Promise.all([a.bind(), b.bind()]);
      const [ra, rb] = await Promise.all([rawGet(a, "size-1500.bin"), rawGet(b, "size-513.bin")]);
      expect([...ra.ports, ...rb.ports]).toEqual([s.port, s.port]);
      expect(sameBytes(ra.data, files.get("size-1500.bin")!)).toBeUndefined();
      expect(sameBytes(rb.data, files.get("size-513.bin")!)).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("IPv4: an ACK with no session gets ERROR 5 from the listening port", async ({ expect }) => {
    const s = sp("127.0.0.1");
    const raw = new Raw("127.0.0.1", s.port);
    try {
      await raw.bind();
      await raw.send(ack(7));
      const { msg, rinfo } = await raw.next("ERROR 5");
      expect(describePacket(msg)).toMatch(/^ERROR 5\b/);
      expect(rinfo.port).toBe(s.port);
    } finally {
      await raw.close();
    }
  });

  test("control: a default-mode server answers from another port (so the checks above can fail)", async ({ expect }) => {
    const raw = new Raw("127.0.0.1", classic.port);
    try {
      await raw.bind();
      const r = await rawGet(raw, "size-1500.bin");
      expect(r.ports.size).toBe(1);
      expect(r.ports.has(classic.port)).toBe(false);
      expect(sameBytes(r.data, files.get("size-1500.bin")!)).toBeUndefined();
    } finally {
      await raw.close();
    }
  });
});

describe("single port: server side", () => {
  // (SessionStats.local.port is the port the request arrived on in either mode: the raw tests above are the real check.)
  test("every session ended ok; no temp files", async ({ expect }) => {
    for (const s of [...single.values(), dual]) {
      expect(await s.idle(15_000), `sessions still active: ${s.diagnostics()}`).toBe(true);
      expect(s.sessions.length, s.diagnostics()).toBeGreaterThan(0);
      const bad = s.sessions.filter((x) => x.outcome !== "ok");
      expect(bad.map((x) => JSON.stringify(x))).toEqual([]);
      expect(readdirSync(s.root).filter((n) => n.endsWith(".tftpkit-upload"))).toEqual([]);
    }
    const writes = [...single.values()].flatMap((s) => s.sessions).filter((x) => x.kind === "write");
    // 2 families x (4 clients x 2 sizes + 3 option variants) + 2 raw WRQs.
    expect(writes.length).toBe(2 * (8 + 3) + 2);
    expect(dual.sessions.filter((x) => x.kind === "write").length).toBe(8);
  });
});
