// The HTTP stage: the second half of a network boot (kernel, initrd, a UEFI
// HTTP Boot program) over HTTP, answered by the same read handler, root and
// rewrite rules as TFTP. GET and HEAD only, one byte range at most.
//
// With httpBootedPath set, a GET (or a POST, as cloud-init's phone_home
// sends) of that path ends the caller's boot flow as booted.
//
// Built on Node's own node:http: no dependency to ship or audit, a parser
// that enforces a header size limit and request timeouts itself, streams
// with backpressure (pipeline() waits for the socket to drain), and nothing
// of a router is needed for two methods and one kind of resource.
//
// Every request joins the client's boot flow as a step of kind "http" and
// gets a span under the flow's tftp.boot span (a traceparent header, query
// parameter or file name suffix names another parent) and the HTTP metrics
// of the semantic conventions (TftpServer.httpRequest). Hostile input costs
// one clear status and a count: encoded separators, NUL and ".." 403, a bad
// or unsatisfiable Range 416, a head larger than httpMaxHeaderBytes 431, a
// method other than GET and HEAD 405, too many connections 503 and a close,
// a connection idle for httpIdleTimeoutMs (a client that stops reading, a
// request that never completes) closed.
//
//   client ──TCP──> net.Server (limits) ──"connection"──> http.Server (parser)
//                                                            └─> request()
//
// The connections arrive through accept(): from this stage's own listening
// socket (listen()), or from another process that accepted them (a cluster
// primary hands each one to the worker that owns the client's address).

import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { Readable, pipeline } from "node:stream";
import { TftpError, WireError, toTftpError } from "@tftpkit/wasm-core";
import { FileResponse, isSized, type ReadRequest, type ReadResponse } from "../handler.js";
import { safeSegments } from "../files/segments.js";
import { splitTraceparent, type HttpRefusal } from "../observe/instrument.js";
import type { Outcome } from "../observe/stats.js";
import type { TftpServer } from "../server.js";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** Encoded separators and NUL, and literal backslashes: refused before decoding (no "..%2f.." tricks). */
const HOSTILE_RAW = /%2f|%5c|%00|\\/i;
/** Names served as text (iPXE scripts, GRUB and PXELINUX configs); everything else is octet-stream. */
const TEXT_NAME = /(\.(ipxe|cfg|conf|txt|sh|menu)$)|(^|\/)(default|grub\.cfg[^/]*|01-[0-9a-f-]+|[0-9A-F]{1,8})$/;

export interface HttpStageStats {
  /** Connections open now. */
  connections: number;
  /** Requests answered since start, and refusals by reason. */
  requests: number;
  bytesSent: number;
  refused: Record<HttpRefusal, number>;
}

/** The listening address of the stage. */
export type HttpAddress = AddressInfo;

/**
 * One byte range of a body of `size` bytes, from a Range header: [first,
 * last] (inclusive), "bad" for one that is malformed, asks several ranges or
 * cannot be satisfied, undefined when no range is asked. Only the `bytes`
 * unit: `a-b`, `a-`, `-n`.
 */
export function parseRange(header: string | undefined, size: number): [number, number] | "bad" | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d{0,15})\s*-\s*(\d{0,15})\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return "bad";
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return "bad";
    return [Math.max(0, size - n), size - 1];
  }
  const first = Number(m[1]);
  const last = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (first >= size || last < first) return "bad";
  return [first, last];
}

/** The outcome a flow step shows for a status. */
function outcomeOf(status: number, method: string): Outcome {
  if (status < 300) return method === "HEAD" ? "probe" : "ok";
  if (status === 404) return "not-found";
  if (status === 403) return "access-denied";
  if (status === 500) return "handler-error";
  if (status >= 500) return "error";
  return "client-error";
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  416: "Range Not Satisfiable",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** A whole response written on a raw socket (before or outside the HTTP parser). */
function rawResponse(status: number, message: string): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** What a handler's answer is sent from. */
type Payload =
  | { kind: "file"; fh: FileHandle; size: number; mtime: Date }
  | { kind: "bytes"; buf: Buffer; size: number }
  | { kind: "stream"; stream: Readable; size: number | undefined };

async function payloadOf(response: ReadResponse): Promise<Payload> {
  const sized = isSized(response);
  const body = sized ? response.body : response;
  if (body instanceof FileResponse) {
    let fh: FileHandle;
    try {
      fh = await open(body.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      throw toTftpError(err);
    }
    const st = await fh.stat().catch(async (err: unknown) => {
      await fh.close().catch(() => {});
      throw toTftpError(err);
    });
    if (!st.isFile()) {
      await fh.close().catch(() => {});
      throw TftpError.notFound("Not a regular file");
    }
    return { kind: "file", fh, size: st.size, mtime: st.mtime };
  }
  if (typeof body === "string") {
    const buf = Buffer.from(body);
    return { kind: "bytes", buf, size: buf.length };
  }
  if (body instanceof Uint8Array) {
    const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return { kind: "bytes", buf, size: buf.length };
  }
  if (body === undefined || body === null) throw TftpError.notFound();
  const stream = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array>);
  return { kind: "stream", stream, size: sized && typeof response.size === "number" && response.size >= 0 ? response.size : undefined };
}

function release(p: Payload): void {
  if (p.kind === "file") void p.fh.close().catch(() => {});
  else if (p.kind === "stream") p.stream.destroy();
}

/** Per-connection state: whether a response is being written, and how many were. */
interface ConnState {
  client: string;
  busy: boolean;
  served: number;
}

export class HttpStage {
  private readonly http: HttpServer;
  private net: NetServer | undefined;
  private readonly conns = new Map<Socket, ConnState>();
  private readonly perClient = new Map<string, number>();
  private readonly counters: HttpStageStats = {
    connections: 0,
    requests: 0,
    bytesSent: 0,
    refused: { traversal: 0, method: 0, range: 0, headers: 0, busy: 0, idle: 0, "bad-request": 0 },
  };
  private closing = false;
  /** Connections cut by the idle timeout (a response in progress ends as "timeout"). */
  private readonly timedOut = new WeakSet<Socket>();

  /**
   * An HTTP stage answering from `tftp`'s handler, with its options (the
   * http* limits, rewrite rules, traceparentInFilename, maxFileBytes,
   * handlerTimeoutMs, httpBootedPath) as they are at each request.
   * httpMaxHeaderBytes is taken now (the parser's limit is fixed).
   */
  constructor(private readonly tftp: TftpServer) {
    const o = tftp.options;
    this.http = createHttpServer({
      maxHeaderSize: o.httpMaxHeaderBytes,
      requestTimeout: o.httpIdleTimeoutMs,
      headersTimeout: o.httpIdleTimeoutMs,
      keepAliveTimeout: o.httpIdleTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(o.httpIdleTimeoutMs / 4))),
    }, (req, res) => void this.request(req, res));
    this.http.timeout = o.httpIdleTimeoutMs;
    this.http.on("timeout", (sock: Socket) => this.idle(sock));
    this.http.on("clientError", (err: NodeJS.ErrnoException, sock: Socket) => this.clientError(err, sock));
  }

  /** Connections accepted while held (see hold()). */
  private held: Socket[] | undefined;

  /**
   * Holds connections accepted from now on, unread, until release(): bind
   * first, then drop privileges, then serve (`tftpkit serve --user`).
   */
  hold(): void {
    this.held ??= [];
  }

  /** Serves the connections held, and every one from now on. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const sock of held) if (!sock.destroyed) this.accept(sock);
  }

  /** Binds a TCP listening socket (port 0: any free port) and resolves its address. */
  async listen(at: { host?: string; port?: number }): Promise<HttpAddress> {
    if (this.net) throw new Error("already listening");
    const net = createNetServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => (this.held ? this.held.push(sock) : this.accept(sock)));
    await new Promise<void>((resolve, reject) => {
      net.once("error", reject);
      net.listen({ host: at.host, port: at.port ?? 0 }, () => {
        net.off("error", reject);
        resolve();
      });
    });
    net.on("error", () => {}); // accept() errors (EMFILE) must not take the server down
    this.net = net;
    return net.address() as AddressInfo;
  }

  address(): HttpAddress | undefined {
    return (this.net?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Serves a connection accepted here or elsewhere: over the connection
   * limits it gets 503 and is closed; otherwise the HTTP parser takes it.
   */
  accept(sock: Socket): void {
    const o = this.tftp.options;
    const client = sock.remoteAddress ?? "";
    const fromClient = this.perClient.get(client) ?? 0;
    sock.on("error", () => {}); // a reset connection is not an error of the server
    // A client may send its request and half-close (as node:http's own server allows): the answer still goes out.
    sock.allowHalfOpen = true;
    if (this.closing || this.conns.size >= o.httpMaxConnections || (o.httpMaxConnectionsPerClient > 0 && fromClient >= o.httpMaxConnectionsPerClient)) {
      if (!this.closing) this.refuse("busy");
      sock.end(rawResponse(503, this.closing ? "Server shutting down" : "Too many connections, try again later"));
      sock.setTimeout(1000, () => sock.destroy());
      return;
    }
    const state: ConnState = { client, busy: false, served: 0 };
    this.conns.set(sock, state);
    this.perClient.set(client, fromClient + 1);
    sock.once("close", () => {
      this.conns.delete(sock);
      const n = (this.perClient.get(client) ?? 1) - 1;
      if (n <= 0) this.perClient.delete(client);
      else this.perClient.set(client, n);
    });
    // The idle timeout and the parser's timeouts as configured now.
    this.http.timeout = o.httpIdleTimeoutMs;
    this.http.keepAliveTimeout = o.httpIdleTimeoutMs;
    this.http.headersTimeout = o.httpIdleTimeoutMs;
    this.http.requestTimeout = o.httpIdleTimeoutMs;
    this.http.emit("connection", sock);
    sock.resume(); // accepted paused (pauseOnConnect, or handed over by another process)
  }

  stats(): HttpStageStats {
    return { ...this.counters, connections: this.conns.size, refused: { ...this.counters.refused } };
  }

  /**
   * Stops listening; idle connections close now, responses in progress get
   * `graceMs` to finish (as TFTP sessions do on a drain), then are cut.
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    this.closing = true;
    const net = this.net;
    this.net = undefined;
    const closed = net ? new Promise<void>((r) => net.close(() => r())) : Promise.resolve();
    for (const sock of this.held ?? []) sock.destroy();
    this.held = undefined;
    const deadline = Date.now() + (opts.graceMs ?? 0);
    for (;;) {
      for (const [sock, st] of this.conns) if (!st.busy) sock.destroy();
      if (this.conns.size === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const sock of this.conns.keys()) sock.destroy();
    await closed;
  }

  private refuse(reason: HttpRefusal): void {
    this.counters.refused[reason]++;
    this.tftp.httpRefused(reason);
  }

  /** Nothing received or sent for httpIdleTimeoutMs: closed; counted when a request was pending. */
  private idle(sock: Socket): void {
    const st = this.conns.get(sock);
    if (st && (st.busy || st.served === 0)) this.refuse("idle");
    this.timedOut.add(sock);
    sock.destroy();
  }

  /** What the parser refused (no request reached request()). */
  private clientError(err: NodeJS.ErrnoException, sock: Socket): void {
    if (err.code === "ECONNRESET" || !sock.writable || this.conns.get(sock)?.busy) {
      sock.destroy();
      return;
    }
    let status = 400;
    if (err.code === "HPE_HEADER_OVERFLOW") {
      status = 431;
      this.refuse("headers");
    } else if (err.code === "ERR_HTTP_REQUEST_TIMEOUT" || err.code === "HPE_HEADERS_TIMEOUT") {
      status = 408;
      this.refuse("idle");
    } else {
      this.refuse("bad-request");
    }
    sock.end(rawResponse(status, STATUS_TEXT[status]));
    sock.setTimeout(1000, () => sock.destroy());
  }

  private async request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const sock = req.socket;
    const state = this.conns.get(sock);
    this.counters.requests++;
    const method = req.method ?? "";
    const plain = (status: number, message: string, headers: Record<string, string> = {}): void => {
      const body = `${message}\n`;
      res.writeHead(status, {
        "content-type": "text/plain; charset=utf-8",
        "content-length": String(Buffer.byteLength(body)),
        "cache-control": "no-store",
        ...headers,
      });
      res.end(method === "HEAD" ? undefined : body);
    };
    // POST only to the booted path (cloud-init's phone_home posts): its body is read and dropped.
    const bootedPost = method === "POST" && this.tftp.options.httpBootedPath !== undefined &&
      (req.url ?? "").split("?")[0].replace(/\/+$/, "") === this.tftp.options.httpBootedPath.replace(/\/+$/, "");
    if (bootedPost) req.resume();
    if (method !== "GET" && method !== "HEAD" && !bootedPost) {
      this.refuse("method");
      plain(405, "Only GET and HEAD are served", { allow: "GET, HEAD" });
      return;
    }
    if (state) {
      state.busy = true;
      res.once("close", () => {
        state.busy = false;
        state.served++;
      });
    }

    // The request target: origin form (/path?query), or absolute form.
    const target = req.url ?? "";
    let rawPath: string;
    let query = "";
    if (target.startsWith("/")) {
      const q = target.indexOf("?");
      rawPath = q < 0 ? target : target.slice(0, q);
      query = q < 0 ? "" : target.slice(q + 1);
    } else {
      try {
        const u = new URL(target);
        rawPath = u.pathname;
        query = u.search.slice(1);
      } catch {
        this.refuse("bad-request");
        plain(400, "Bad request target");
        return;
      }
    }

    // The same rules as a TFTP file name, checked before and after decoding.
    let refusal: { status: number; reason?: HttpRefusal; message: string } | undefined;
    let path = rawPath;
    if (HOSTILE_RAW.test(rawPath)) {
      refusal = { status: 403, reason: "traversal", message: "Access violation: encoded separators, backslashes and NUL are refused" };
    } else {
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        refusal = { status: 400, reason: "bad-request", message: "Bad percent-encoding in the path" };
      }
    }
    if (!refusal) {
      try {
        path = safeSegments(path).join("/");
      } catch (err) {
        const code = err instanceof TftpError ? err.wireCode : WireError.ACCESS_VIOLATION;
        refusal = code === WireError.NOT_FOUND
          ? { status: 404, message: "File not found" }
          : { status: 403, reason: "traversal", message: "Access violation: path leaves the root" };
        path = path.replace(/\0/g, "\\0");
      }
    }

    // The trace to join: a traceparent header, else ?traceparent=, else a file name suffix.
    const o = this.tftp.options;
    let traceparent: string | undefined;
    const header = req.headers.traceparent;
    if (typeof header === "string" && TRACEPARENT.test(header.trim())) traceparent = header.trim();
    if (!traceparent && query) {
      const q = new URLSearchParams(query).get("traceparent");
      if (q && TRACEPARENT.test(q)) traceparent = q;
    }
    if (!refusal && o.traceparentInFilename) {
      const split = splitTraceparent(path);
      path = split.path;
      traceparent ??= split.traceparent;
    }
    const booted = !refusal && o.httpBootedPath !== undefined && `/${path}` === o.httpBootedPath.replace(/\/+$/, "");
    if (!refusal && !booted && o.rewrite) {
      const rw = o.rewrite(path, { address: sock.remoteAddress ?? "", op: "read" });
      if ("refused" in rw) refusal = { status: 403, message: `Access violation: refused by rewrite rule${rw.rule ? ` ${rw.rule}` : ""}` };
      else path = rw.path;
    }

    let bytes = 0;
    let size = -1;
    const range = typeof req.headers.range === "string" ? req.headers.range : undefined;
    const peer = { address: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 };
    const local = { address: sock.localAddress ?? "", port: sock.localPort ?? 0 };
    const obs = this.tftp.httpRequest({
      method,
      path,
      peer,
      local,
      traceparent,
      userAgent: typeof req.headers["user-agent"] === "string" ? req.headers["user-agent"] : undefined,
      range,
      progress: () => ({ bytes, blksize: 0, windowsize: 0, tsize: size, retransmits: 0 }),
      callback: booted,
    });
    let handlerMs = 0;
    let ended = false;
    const end = (status: number, outcome?: Outcome, error?: string): void => {
      if (ended) return;
      ended = true;
      this.counters.bytesSent += bytes;
      this.tftp.countHttpBytes(bytes);
      obs.end({
        status, bytes, size, handlerMs, error,
        outcome: outcome ?? outcomeOf(status, method),
        durationMs: performance.now() - t0,
      });
    };
    const answer = (status: number, message: string, headers?: Record<string, string>): void => {
      plain(status, message, headers);
      end(status, undefined, status >= 400 ? `${status}: ${message}` : undefined);
    };

    if (refusal) {
      if (refusal.reason) this.refuse(refusal.reason);
      return answer(refusal.status, refusal.message);
    }
    if (booted) {
      answer(200, "booted");
      this.tftp.markBooted(peer.address);
      return;
    }

    // The handler, as for a TFTP read (its answer, its errors, its deadline).
    const ac = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) ac.abort();
    });
    const request: ReadRequest = {
      path,
      mode: "octet",
      options: {},
      peer: { ...peer, family: sock.remoteFamily === "IPv6" ? "IPv6" : "IPv4" },
      local,
      signal: ac.signal,
      sessionId: obs.id,
      flow: obs.flow,
      http: { method: method as "GET" | "HEAD", headers: req.headers, query },
    };
    let payload: Payload;
    const h0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort(); // the handler's signal, as for a TFTP session whose handler times out
          reject(new TftpError(WireError.UNDEFINED, "Handler timed out"));
        }, o.handlerTimeoutMs);
      });
      const handler = this.tftp.handler;
      const response = await Promise.race([obs.runHandler(() => Promise.resolve().then(() => handler(request))), timeout]);
      if (isSized(response) && (response.stage !== undefined || response.last)) obs.answered?.(response.stage, response.last === true);
      payload = await Promise.race([payloadOf(response), timeout]);
    } catch (err) {
      handlerMs = performance.now() - h0;
      if (res.destroyed) return end(499, "aborted", "client gone");
      const e = err instanceof TftpError ? err : (err as NodeJS.ErrnoException)?.code ? toTftpError(err) : undefined;
      if (e?.wireCode === WireError.NOT_FOUND) return answer(404, e.message);
      if (e?.wireCode === WireError.ACCESS_VIOLATION) return answer(403, e.message);
      if (e?.message === "Handler timed out") return answer(503, e.message);
      if (e && e.wireCode !== WireError.UNDEFINED) return answer(500, e.message);
      return answer(500, "Internal server error");
    } finally {
      clearTimeout(timer);
    }
    handlerMs = performance.now() - h0;
    if (res.destroyed) {
      release(payload);
      return end(499, "aborted", "client gone");
    }
    if (payload.size !== undefined) size = payload.size;
    if (o.maxFileBytes > 0 && size > o.maxFileBytes) {
      release(payload);
      return answer(403, "File too large for this server");
    }

    // Headers: the size when known, one byte range of a file or bytes.
    const headers: Record<string, string> = {
      "content-type": TEXT_NAME.test(path) ? "text/plain; charset=utf-8" : "application/octet-stream",
      "cache-control": "no-store",
    };
    let first = 0;
    let last = size - 1;
    let status = 200;
    if (payload.kind !== "stream") {
      headers["accept-ranges"] = "bytes";
      if (payload.kind === "file") headers["last-modified"] = payload.mtime.toUTCString();
      const r = parseRange(range, size);
      if (r === "bad") {
        release(payload);
        this.refuse("range");
        return answer(416, "Range not satisfiable", { "content-range": `bytes */${size}` });
      }
      if (r) {
        [first, last] = r;
        status = 206;
        headers["content-range"] = `bytes ${first}-${last}/${size}`;
      }
    }
    if (size >= 0) headers["content-length"] = String(last - first + 1);
    res.writeHead(status, headers);
    if (method === "HEAD") {
      release(payload);
      res.end();
      return end(status);
    }
    if (payload.kind === "bytes") {
      const slice = payload.buf.subarray(first, last + 1);
      res.end(slice, () => {
        bytes = slice.length;
        end(status);
      });
      res.once("close", () => end(status, res.writableFinished ? undefined : "aborted", "client gone"));
      return;
    }
    const source = payload.kind === "file"
      ? payload.fh.createReadStream({ start: first, end: last, highWaterMark: 256 * 1024 })
      : payload.stream;
    source.on("data", (chunk: Buffer) => void (bytes += chunk.length));
    // pipeline() writes as fast as the socket drains; the file handle closes with its stream.
    pipeline(source, res, (err) => {
      if (!err) return end(status);
      if (this.timedOut.has(sock)) return end(status, "timeout", "idle timeout: the client stopped reading");
      const cut = sock.destroyed && !res.writableFinished;
      end(status, cut ? "aborted" : "error", cut ? "client gone" : `stream failed: ${err.message}`);
    });
  }
}
