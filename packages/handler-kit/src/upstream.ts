// One HTTP(S) GET against the upstream, as a stream with backpressure.
//
// The body is an async iterable pulled by its consumer: while the consumer
// does not ask for the next chunk, the socket is not read and TCP holds the
// upstream back. `timeoutMs` bounds how long the upstream may stay silent
// while a chunk (or the headers) is awaited; time the consumer spends
// elsewhere (a TFTP client acknowledging slowly) never counts.
//
// The body checks itself: fewer bytes than Content-Length, or a connection
// that ends without the final chunk, make it throw an UpstreamError instead of
// ending quietly, so a transfer never passes off a partial file as complete.

import { request as httpRequest, type Agent, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { UpstreamError } from "./errors.js";

export interface Validators {
  etag?: string;
  lastModified?: string;
}

export interface FetchOptions {
  headers: Readonly<Record<string, string>>;
  /** ms the upstream may stay silent while headers or a chunk are awaited. */
  timeoutMs: number;
  maxRedirects: number;
  signal?: AbortSignal;
  /** Makes the GET conditional: a 304 then resolves with status 304 and an empty body. */
  validators?: Validators;
  agent?: Agent;
}

export interface UpstreamResponse {
  status: 200 | 304;
  /** The URL that answered (after redirects). */
  url: string;
  /** From Content-Length, when the upstream sent one. */
  size: number | undefined;
  etag: string | undefined;
  lastModified: string | undefined;
  /** Iterate once. Throws an UpstreamError on a failure mid-body. */
  body: AsyncIterable<Buffer>;
  /** Drops the connection (the body then throws, if it is being read). */
  destroy(): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function fetchUpstream(url: URL, o: FetchOptions): Promise<UpstreamResponse> {
  let headers: Record<string, string> = { "accept-encoding": "identity", ...o.headers };
  if (o.validators?.etag) headers["if-none-match"] = o.validators.etag;
  if (o.validators?.lastModified) headers["if-modified-since"] = o.validators.lastModified;
  for (let hop = 0; ; hop++) {
    const { req, res } = await get(url, headers, o);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && location) {
      res.resume();
      req.destroy();
      const next = new URL(location, url);
      if (hop >= o.maxRedirects || (next.protocol !== "http:" && next.protocol !== "https:")) {
        throw new UpstreamError(0, "Upstream redirected too often", "status", url.href, { status });
      }
      if (next.host !== url.host) {
        // Credentials stay with the host they were meant for.
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !/^(authorization|cookie)$/i.test(k)));
      }
      url = next;
      continue;
    }
    if (status === 304 && o.validators) {
      res.resume();
      return response(304, url, res, req, o, undefined);
    }
    if (status !== 200) {
      res.resume();
      req.destroy();
      throw UpstreamError.fromStatus(status, url.href);
    }
    const length = res.headers["content-length"];
    const size = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    return response(200, url, res, req, o, size);
  }
}

function response(
  status: 200 | 304, url: URL, res: IncomingMessage, req: ClientRequest, o: FetchOptions, size: number | undefined,
): UpstreamResponse {
  const etag = res.headers.etag;
  const lastModified = res.headers["last-modified"];
  return {
    status,
    url: url.href,
    size: status === 304 ? 0 : size,
    etag: typeof etag === "string" ? etag : undefined,
    lastModified: typeof lastModified === "string" ? lastModified : undefined,
    body: status === 304 ? empty() : readBody(url.href, req, res, size, o),
    destroy: () => req.destroy(),
  };
}

async function* empty(): AsyncGenerator<Buffer> {}

/** Sends the GET and waits for the response head (bounded by timeoutMs, aborted by the signal). */
function get(url: URL, headers: Record<string, string>, o: FetchOptions): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(UpstreamError.aborted(url.href));
    const send = url.protocol === "https:" ? httpsRequest : url.protocol === "http:" ? httpRequest : undefined;
    if (!send) return reject(new UpstreamError(0, "Upstream URL is not http(s)", "unreachable", url.href));
    let failure: UpstreamError | undefined;
    const req = send(url, { method: "GET", headers, agent: o.agent });
    const timer = setTimeout(() => {
      failure = UpstreamError.timeout(url.href, o.timeoutMs);
      req.destroy(failure);
    }, o.timeoutMs);
    const onAbort = (): void => {
      failure = UpstreamError.aborted(url.href);
      req.destroy(failure);
    };
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
    };
    req.on("response", (res) => {
      done();
      resolve({ req, res });
    });
    req.on("error", (err) => {
      done();
      reject(failure ?? (err instanceof UpstreamError ? err : UpstreamError.unreachable(url.href, err)));
    });
    req.end();
  });
}

/**
 * The body as pulled chunks, each wait bounded by timeoutMs; complete or an
 * UpstreamError. Closing it early (return(), even before the first next(), or
 * the signal) drops the connection.
 */
function readBody(
  url: string, req: ClientRequest, res: IncomingMessage, size: number | undefined, o: FetchOptions,
): AsyncIterableIterator<Buffer> {
  let got = 0;
  let failure: UpstreamError | undefined;
  let settled = false;
  const fail = (e: UpstreamError): void => {
    failure ??= e;
    req.destroy(failure);
  };
  const onAbort = (): void => fail(UpstreamError.aborted(url));
  const settle = (complete: boolean): void => {
    if (settled) return;
    settled = true;
    o.signal?.removeEventListener("abort", onAbort);
    // Stopped early (consumer gone, or an error): the connection cannot be reused.
    if (!complete) req.destroy();
  };
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener("abort", onAbort, { once: true });
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;

  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        if (failure) throw failure;
        const timer = setTimeout(() => fail(UpstreamError.timeout(url, o.timeoutMs)), o.timeoutMs);
        let r: IteratorResult<Buffer>;
        try {
          r = await it.next();
        } catch (err) {
          throw failure ?? UpstreamError.truncated(url, got, size, err);
        } finally {
          clearTimeout(timer);
        }
        if (failure) throw failure;
        if (r.done) break;
        got += r.value.length;
        yield r.value;
      }
      if ((size !== undefined && got !== size) || !res.complete) throw UpstreamError.truncated(url, got, size);
      settle(true);
    } finally {
      settle(false);
    }
  }
  const gen = chunks();
  return {
    next: () => gen.next(),
    return: (value?: unknown) => {
      settle(false);
      return gen.return(value as undefined);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
