// The client: a target server and default options; get and put per call.

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Readable, Writable } from "node:stream";
import { GetTransfer } from "./get.js";
import { renameTransferOptions, resolveTransferOptions, TftpConfigError, type TransferOptions } from "./options.js";
import { PutTransfer } from "./put.js";
import { BufferSink, FunctionSink, WritableSink, fileSink, type ChunkSink, type Sink } from "./sink.js";
import { fileBody, makeChunker, type PutBody } from "./put-body.js";
import type { TransferStats } from "./stats.js";
import { randomTraceparent, withTraceparent } from "./traceparent.js";
import { codec, type Target } from "./transfer.js";

export interface ClientOptions extends TransferOptions {
  /** Server host name or address (IPv4 or IPv6). */
  host: string;
  /** Server port (default 69). */
  port?: number;
}

export interface GetResult {
  data: Buffer;
  stats: TransferStats;
}

export interface TransferResult {
  stats: TransferStats;
}

export interface GetToOptions extends TransferOptions {
  /** End the Writable when the transfer completes (default true). */
  end?: boolean;
}

export interface PutOptions extends TransferOptions {
  /** Size of a stream body in bytes, for tsize (bytes and files are sized already). */
  size?: number;
}

export class TftpClient {
  readonly host: string;
  readonly port: number;
  private readonly defaults: TransferOptions;
  private target: Promise<Target> | undefined;

  constructor(options: ClientOptions) {
    const { host, port, ...defaults } = options;
    if (typeof host !== "string" || host.length === 0) throw new TftpConfigError("host is required");
    const p = port ?? 69;
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new TftpConfigError(`port must be an integer from 1 to 65535 (got ${p})`);
    this.host = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
    this.port = p;
    this.defaults = renameTransferOptions(defaults);
    resolveTransferOptions(defaults); // fail early on bad defaults
  }

  /** The server's address, looked up once. */
  resolve(): Promise<Target> {
    this.target ??= (async (): Promise<Target> => {
      const fam = isIP(this.host);
      if (fam === 4 || fam === 6) return { host: this.host, address: this.host, port: this.port, family: fam };
      const a = await lookup(this.host);
      return { host: this.host, address: a.address, port: this.port, family: a.family === 6 ? 6 : 4 };
    })();
    return this.target;
  }

  private name(remote: string, o: ReturnType<typeof resolveTransferOptions>): string {
    if (o.traceparent === undefined) return remote;
    return withTraceparent(remote, o.traceparent || randomTraceparent());
  }

  private async runGet(remote: string, sink: Sink, options: TransferOptions | undefined): Promise<TransferStats> {
    const o = resolveTransferOptions({ ...this.defaults, ...renameTransferOptions(options) });
    const target = await this.resolve();
    const t = new GetTransfer(target, this.name(remote, o), o, sink);
    await t.start();
    return t.done;
  }

  /** Downloads `remote` into memory. */
  async get(remote: string, options?: TransferOptions): Promise<GetResult> {
    const sink = new BufferSink();
    const stats = await this.runGet(remote, sink, options);
    return { data: sink.data, stats };
  }

  /** Downloads `remote` to a local file (removed again if the transfer fails). */
  async getFile(remote: string, path: string, options?: TransferOptions): Promise<TransferResult> {
    return { stats: await this.runGet(remote, fileSink(path), options) };
  }

  /**
   * Downloads `remote` into a Writable (its backpressure holds the server
   * back by delaying ACKs), or calls a function with each in-order chunk.
   */
  async getTo(remote: string, to: Writable | ChunkSink, options?: GetToOptions): Promise<TransferResult> {
    const sink = typeof to === "function" ? new FunctionSink(to) : new WritableSink(to, options?.end ?? true);
    return { stats: await this.runGet(remote, sink, options) };
  }

  /** Uploads bytes or a stream as `remote`. */
  async put(remote: string, body: PutBody, options?: PutOptions): Promise<TransferResult> {
    const o = resolveTransferOptions({ ...this.defaults, ...renameTransferOptions(options) });
    const chunker = makeChunker(body, o.mode === "netascii", codec);
    let size = options?.size ?? -1;
    if (body instanceof Uint8Array) size = chunker.knownWireSize();
    else if (o.mode === "netascii") size = -1; // the wire size of a translated stream is unknown up front
    const target = await this.resolve();
    const t = new PutTransfer(target, this.name(remote, o), o, chunker, size);
    await t.start();
    return { stats: await t.done };
  }

  /** Uploads a local file as `remote`. */
  async putFile(path: string, remote: string, options?: TransferOptions): Promise<TransferResult> {
    const { body, size } = await fileBody(path);
    return this.put(remote, body as Readable, { ...options, size });
  }
}

export function createClient(options: ClientOptions): TftpClient {
  return new TftpClient(options);
}
