// An HTTP(S) upstream as a handler source: the requested path under a base
// URL, streamed with backpressure, through a cache when one is given.

import type { Agent } from "node:http";
import { TftpConfigError, type ReadRequest, type SizedBody } from "@tftpkit/server";
import { safeSegments } from "@tftpkit/server/internal";
import type { UpstreamCache } from "./cache/cache.js";
import { otelInjector, type HeaderInjector } from "./trace.js";
import { fetchUpstream, type FetchOptions, type UpstreamResponse, type Validators } from "./upstream.js";

export interface HttpSourceOptions {
  /** Base URL; a requested path `boot/vmlinuz` is fetched from `<baseUrl>/boot/vmlinuz`. */
  baseUrl: string | URL;
  /** Shared cache (memory and/or disk); without one every request is its own upstream GET. */
  cache?: UpstreamCache;
  /** ms the upstream may stay silent while the head or the next chunk is awaited. */
  timeoutMs?: number;
  /** Extra request headers (e.g. authorization). They are not part of the cache key. */
  headers?: Readonly<Record<string, string>>;
  /** An http(s).Agent, e.g. for keep-alive limits or a custom CA. */
  agent?: Agent;
  /** Redirects followed (301, 302, 303, 307, 308). */
  maxRedirects?: number;
  /**
   * W3C trace context on upstream requests. true (default): through
   * @opentelemetry/api's propagator when that package is installed; a function
   * to set headers yourself; false: none.
   */
  traceContext?: boolean | HeaderInjector;
}

export const HTTP_DEFAULTS = Object.freeze({
  timeoutMs: 10_000, // ms of upstream silence before ERROR 0
  maxRedirects: 5, // hops
  traceContext: true,
});

/** What a handler calls: the upstream file at `path`, as a body with its size (tsize). */
export interface HttpSource {
  (path: string, request?: Pick<ReadRequest, "signal">): Promise<SizedBody>;
  /** The URL `path` maps to (throws ERROR 2 for a path that leaves the base, ERROR 1 for an empty one). */
  urlFor(path: string): URL;
}

export function httpSource(options: HttpSourceOptions): HttpSource {
  let base: URL;
  try {
    base = new URL(String(options.baseUrl));
  } catch {
    throw new TftpConfigError(`httpSource: baseUrl is not a URL (got ${String(options.baseUrl)})`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TftpConfigError(`httpSource: baseUrl must be http: or https: (got ${base.protocol})`);
  }
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  base.search = "";
  base.hash = "";
  const timeoutMs = options.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TftpConfigError(`httpSource: timeoutMs must be a positive number of ms (got ${timeoutMs})`);
  }
  const maxRedirects = options.maxRedirects ?? HTTP_DEFAULTS.maxRedirects;
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new TftpConfigError(`httpSource: maxRedirects must be an integer, 0 or more (got ${maxRedirects})`);
  }
  const trace = options.traceContext ?? HTTP_DEFAULTS.traceContext;
  const fixed = Object.freeze({ "user-agent": "tftpkit-sources/0.1", ...options.headers });
  const cache = options.cache;

  const urlFor = (path: string): URL =>
    new URL(safeSegments(path).map(encodeURIComponent).join("/"), base);

  const get = async (url: URL, signal: AbortSignal | undefined, validators?: Validators): Promise<UpstreamResponse> => {
    const headers: Record<string, string> = { ...fixed };
    const inject = typeof trace === "function" ? trace : trace ? await otelInjector() : undefined;
    inject?.(headers);
    const o: FetchOptions = { headers, timeoutMs, maxRedirects, signal, validators, agent: options.agent };
    return fetchUpstream(url, o);
  };

  const source = async (path: string, request?: Pick<ReadRequest, "signal">): Promise<SizedBody> => {
    const url = urlFor(path);
    const signal = request?.signal;
    if (!cache) {
      const r = await get(url, signal);
      return { body: r.body, size: r.size };
    }
    // A shared download is not tied to one reader's signal: it fills the cache for all.
    return cache.open(url.href, (validators) => get(url, undefined, validators), signal);
  };
  return Object.assign(source, { urlFor });
}
