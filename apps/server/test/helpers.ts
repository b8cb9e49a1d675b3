// Test helpers: the `tftpkit serve` command as a child process on loopback
// (port 0, bounded waits), curl as the TFTP client, an OTLP/HTTP receiver
// that decodes what it gets (protobuf or JSON), and free ports.

import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CURL, curlTftp as curlUrl, tempTree as sharedTempTree, waitFor, type CurlResult, type TempTree } from "@tftpkit/test-support";

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, "..", "bin", "tftpkit.js");
export { CURL, hasCurl, sleep, waitFor, freeTcpPort as freePort, freeUdpPort, type CurlResult } from "@tftpkit/test-support";

/** A temporary folder with files (name -> content). */
export function tempTree(files: Record<string, string | Buffer> = {}): TempTree {
  return sharedTempTree(files, { prefix: "tftpkit-app-test-" });
}

const made: Array<() => void> = [];

/** A temporary folder with files, removed by `removeTrees()` (afterAll). */
export function tree(files: Record<string, string | Buffer> = {}): string {
  const t = tempTree(files);
  made.push(t.cleanup);
  return t.dir;
}

export function removeTrees(): void {
  for (const c of made.splice(0)) c();
}

// ---------------------------------------------------------------- the CLI

export interface Cli {
  proc: ChildProcess;
  udpPort: number;
  /** http://host:port of the admin server, when on. */
  adminUrl: string | undefined;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code (SIGKILL after `ms`). */
  stop(ms?: number): Promise<number | null>;
}

const running = new Set<Cli>();

/** Environment without the caller's OTEL_* settings, plus `env`. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OTEL_")) out[k] = v;
  return { ...out, ...env };
}

/** Starts `tftpkit serve --host 127.0.0.1 --port 0 ...args` and waits for its start-up lines. */
export function startCli(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  return startServe(["--host", "127.0.0.1", "--port", "0", ...args], env);
}

/**
 * Starts `tftpkit serve ...args` exactly as given (the test chooses a loopback
 * address) and waits for its start-up lines. As `node bin/tftpkit.js`, or with
 * `executable` as the program itself (its first line starts node).
 */
export async function startServe(args: string[], env: Record<string, string> = {}, how: { executable?: boolean } = {}): Promise<Cli> {
  const proc = spawn(how.executable ? BIN : process.execPath, how.executable ? ["serve", ...args] : [BIN, "serve", ...args], {
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve((exited = code))));
  const cli: Cli = {
    proc,
    udpPort: 0,
    adminUrl: undefined,
    stdout: () => out,
    stderr: () => err,
    async stop(ms = 10_000) {
      running.delete(cli);
      if (exited !== undefined) return exited;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), ms);
      const code = await exit;
      clearTimeout(t);
      return code;
    },
  };
  running.add(cli);
  try {
    // The telemetry line comes last, or "running as" after it when privileges are dropped.
    const ready = args.includes("--user") || args.includes("-u") ? /running as / : /telemetry: /;
    await Promise.race([
      waitFor("tftpkit to start", () => (ready.test(err) ? true : undefined), 20_000, 25),
      exit.then((code) => {
        if (!ready.test(err)) throw new Error(`tftpkit exited (${code}): ${err}`);
      }),
    ]);
  } catch (e) {
    await cli.stop();
    throw e;
  }
  cli.udpPort = Number(/ on [^\s]+:(\d+) \(udp/.exec(err)?.[1]);
  cli.adminUrl = /admin on (http:\/\/\S+)/.exec(err)?.[1];
  return cli;
}

/** Stops every CLI a test left running (afterEach). */
export async function stopAllClis(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

/** Runs `tftpkit ...args` to its end: exit code and output (bounded by a timeout). */
export function runTftpkit(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv({}), timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** curl uploads `file` as `name`; curl's exit code. */
export function curlPut(port: number, file: string, name: string, extra: string[] = []): Promise<number> {
  return new Promise((resolve) => {
    execFile(CURL, ["-s", "--max-time", "20", ...extra, "-T", file, `tftp://127.0.0.1:${port}/${name}`], { timeout: 30_000 }, (error) =>
      resolve(error ? (typeof error.code === "number" ? error.code : -1) : 0),
    );
  });
}

// ------------------------------------------------------------------- curl

/**
 * A curl TFTP download from 127.0.0.1:port; `from`: the loopback source address (curl --interface),
 * e.g. 127.0.0.5 for another machine, or more curl arguments (e.g. ["--tftp-blksize", "8192"]).
 */
export function curlTftp(port: number, name: string, from?: string | string[]): Promise<CurlResult> {
  const extra = typeof from === "string" ? ["--interface", from] : from ?? [];
  return curlUrl(`tftp://127.0.0.1:${port}/${name}`, extra);
}

// ------------------------------------------------------- OTLP receiver

export interface OtlpAttr {
  [key: string]: unknown;
}

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: number;
  attributes: OtlpAttr;
  events: string[];
  statusCode: number;
}

export interface ReceivedMetric {
  name: string;
  /** Data points of sums and gauges: attributes and value. */
  points: Array<{ attributes: OtlpAttr; value: number }>;
}

export interface OtlpReceiver {
  url: string;
  requests: Array<{ path: string; contentType: string; bytes: number }>;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  close(): Promise<void>;
}

// A minimal protobuf reader: enough of the wire format for OTLP requests.
type Field = { no: number; wire: number; varint?: bigint; bytes?: Buffer };

function readVarint(b: Buffer, pos: { i: number }): bigint {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos.i >= b.length) throw new Error("truncated varint");
    const byte = b[pos.i++];
    v |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return v;
    shift += 7n;
  }
}

function fields(b: Buffer): Field[] {
  const out: Field[] = [];
  const pos = { i: 0 };
  while (pos.i < b.length) {
    const tag = Number(readVarint(b, pos));
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, varint: readVarint(b, pos) });
    else if (wire === 1) { out.push({ no, wire, bytes: b.subarray(pos.i, pos.i + 8) }); pos.i += 8; }
    else if (wire === 2) {
      const len = Number(readVarint(b, pos));
      out.push({ no, wire, bytes: b.subarray(pos.i, pos.i + len) });
      pos.i += len;
    } else if (wire === 5) { out.push({ no, wire, bytes: b.subarray(pos.i, pos.i + 4) }); pos.i += 4; }
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const sub = (fs: Field[], no: number): Buffer[] => fs.filter((f) => f.no === no && f.bytes).map((f) => f.bytes!);
const str = (fs: Field[], no: number): string => sub(fs, no)[0]?.toString("utf8") ?? "";
const hex = (fs: Field[], no: number): string => sub(fs, no)[0]?.toString("hex") ?? "";
const num = (fs: Field[], no: number): number => Number(fs.find((f) => f.no === no)?.varint ?? 0n);

function pbAnyValue(b: Buffer): unknown {
  const f = fields(b)[0];
  if (!f) return undefined;
  switch (f.no) {
    case 1: return f.bytes!.toString("utf8");
    case 2: return f.varint !== 0n;
    case 3: return Number(BigInt.asIntN(64, f.varint!));
    case 4: return f.bytes!.readDoubleLE(0);
    case 5: return sub(fields(f.bytes!), 1).map(pbAnyValue);
    default: return f.bytes;
  }
}

function pbAttributes(fs: Field[], no: number): OtlpAttr {
  const out: OtlpAttr = {};
  for (const kv of sub(fs, no)) {
    const k = fields(kv);
    out[str(k, 1)] = pbAnyValue(sub(k, 2)[0] ?? Buffer.alloc(0));
  }
  return out;
}

function pbSpans(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of sub(fields(body), 1)) {
    for (const ss of sub(fields(rs), 2)) {
      for (const sp of sub(fields(ss), 2)) {
        const f = fields(sp);
        out.push({
          traceId: hex(f, 1),
          spanId: hex(f, 2),
          parentSpanId: hex(f, 4),
          name: str(f, 5),
          kind: num(f, 6),
          attributes: pbAttributes(f, 9),
          events: sub(f, 11).map((e) => str(fields(e), 2)),
          statusCode: num(fields(sub(f, 15)[0] ?? Buffer.alloc(0)), 3),
        });
      }
    }
  }
  return out;
}

function pbMetrics(body: Buffer): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of sub(fields(body), 1)) {
    for (const sm of sub(fields(rm), 2)) {
      for (const m of sub(fields(sm), 2)) {
        const f = fields(m);
        const points: ReceivedMetric["points"] = [];
        // gauge = 5, sum = 7: NumberDataPoint (attributes 7, as_double 4, as_int 6)
        for (const data of [...sub(f, 5), ...sub(f, 7)]) {
          for (const p of sub(fields(data), 1)) {
            const pf = fields(p);
            const d = pf.find((x) => x.no === 4)?.bytes;
            const i = pf.find((x) => x.no === 6)?.bytes;
            points.push({ attributes: pbAttributes(pf, 7), value: d ? d.readDoubleLE(0) : i ? Number(i.readBigInt64LE(0)) : 0 });
          }
        }
        out.push({ name: str(f, 1), points });
      }
    }
  }
  return out;
}

type JsonAny = { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number; arrayValue?: { values?: JsonAny[] } };
type JsonKv = { key: string; value: JsonAny };

function jsonAnyValue(v: JsonAny): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(jsonAnyValue);
  return undefined;
}

function jsonAttributes(kvs: JsonKv[] | undefined): OtlpAttr {
  const out: OtlpAttr = {};
  for (const kv of kvs ?? []) out[kv.key] = jsonAnyValue(kv.value);
  return out;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function jsonSpans(body: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const sp of ss.spans ?? []) {
        out.push({
          traceId: sp.traceId,
          spanId: sp.spanId,
          parentSpanId: sp.parentSpanId ?? "",
          name: sp.name,
          kind: sp.kind,
          attributes: jsonAttributes(sp.attributes),
          events: (sp.events ?? []).map((e: { name: string }) => e.name),
          statusCode: sp.status?.code ?? 0,
        });
      }
    }
  }
  return out;
}

function jsonMetrics(body: any): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of body.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const points = [...(m.sum?.dataPoints ?? []), ...(m.gauge?.dataPoints ?? [])].map((p: any) => ({
          attributes: jsonAttributes(p.attributes),
          value: Number(p.asDouble ?? p.asInt ?? 0),
        }));
        out.push({ name: m.name, points });
      }
    }
  }
  return out;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** An OTLP/HTTP endpoint on 127.0.0.1 that decodes /v1/traces and /v1/metrics (protobuf or JSON; not gzip). */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const r: OtlpReceiver = { url: "", requests: [], spans: [], metrics: [], close: async () => {} };
  const server: Server = createHttpServer(async (req, res) => {
    const body = await readBody(req);
    const path = (req.url ?? "").split("?")[0];
    const contentType = String(req.headers["content-type"] ?? "");
    r.requests.push({ path, contentType, bytes: body.length });
    const json = contentType.includes("json");
    try {
      if (path === "/v1/traces") r.spans.push(...(json ? jsonSpans(JSON.parse(body.toString("utf8"))) : pbSpans(body)));
      else if (path === "/v1/metrics") r.metrics.push(...(json ? jsonMetrics(JSON.parse(body.toString("utf8"))) : pbMetrics(body)));
    } catch (err) {
      res.writeHead(400).end(String(err));
      return;
    }
    // An empty Export*ServiceResponse: zero bytes in protobuf, {} in JSON.
    res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" }).end(json ? "{}" : "");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  r.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}

/**
 * A handler module whose `slow.bin` streams `chunks` chunks of 16 KiB, one
 * every `everyMs` ms (chunk i filled with the byte i), and those bytes.
 */
export function slowHandler(chunks: number, everyMs: number): { source: string; bytes: Buffer } {
  const source = `
import { Readable } from "node:stream";
export default function handler(request) {
  if (request.path !== "slow.bin") return undefined;
  let n = 0;
  const body = new Readable({
    read() {
      if (n === ${chunks}) return void this.push(null);
      n++;
      setTimeout(() => this.push(Buffer.alloc(16384, n)), ${everyMs});
    },
  });
  return { body, size: ${chunks} * 16384 };
}
`;
  return { source, bytes: Buffer.concat(Array.from({ length: chunks }, (_, i) => Buffer.alloc(16384, i + 1))) };
}
