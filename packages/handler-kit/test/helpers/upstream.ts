// A real HTTP upstream on 127.0.0.1 for the tests: files with ETag and
// Last-Modified (answering conditional GETs with 304), fixed statuses, and
// misbehaviours: a body cut off by a connection reset, a slow body, a body
// held at a gate, no Content-Length, no answer at all. Counts every request.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import { TftpError } from "@tftpkit/server";

export interface Route {
  body?: Buffer;
  status?: number;
  /** Send this many bytes of the body, then reset the connection (TCP RST: the peer may lose unread bytes). */
  resetAfter?: number;
  /** Send this many bytes of the body, then close the connection (FIN: the body ends short of Content-Length). */
  closeAfter?: number;
  /** Send the body in pieces of this size, one per event-loop turn (setImmediate) or per `delayMs`. */
  pieceBytes?: number;
  delayMs?: number;
  /** Send this many bytes, then wait for `gate` before the rest. */
  gateAfter?: number;
  gate?: Promise<void>;
  /** Chunked transfer encoding: no Content-Length. */
  noLength?: boolean;
  /** Never answer. */
  hang?: boolean;
  /** Send this many bytes of the body, then nothing more (connection left open). */
  stallAfter?: number;
  /** Redirect to this path. */
  redirect?: string;
  etag?: string;
}

export interface Upstream {
  url: string;
  routes: Map<string, Route>;
  /** Requests per path (query string removed). */
  hits: Map<string, number>;
  /** Headers of the last request per path. */
  lastHeaders: Map<string, IncomingMessage["headers"]>;
  /** Requests whose connection closed before the response finished. */
  closedEarly: string[];
  count(path: string): number;
  close(): Promise<void>;
}

export async function startUpstream(routes: Record<string, Route> = {}): Promise<Upstream> {
  const map = new Map(Object.entries(routes));
  const hits = new Map<string, number>();
  const lastHeaders = new Map<string, IncomingMessage["headers"]>();
  const closedEarly: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    lastHeaders.set(path, req.headers);
    res.on("close", () => {
      if (!res.writableFinished) closedEarly.push(path);
    });
    void serve(map.get(path), req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    routes: map,
    hits,
    lastHeaders,
    closedEarly,
    count: (p) => hits.get(p) ?? 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const pause = (ms?: number): Promise<void> =>
  new Promise((r) => (ms ? setTimeout(r, ms) : setImmediate(r)));

async function write(res: ServerResponse, b: Buffer): Promise<void> {
  if (res.write(b)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off("drain", done).off("close", done);
      resolve();
    };
    res.on("drain", done).on("close", done);
  });
}

async function serve(route: Route | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!route) {
    res.writeHead(404).end("not found");
    return;
  }
  if (route.hang) return;
  if (route.redirect) {
    res.writeHead(302, { location: route.redirect }).end();
    return;
  }
  if (route.status && route.status !== 200) {
    res.writeHead(route.status).end(`status ${route.status}`);
    return;
  }
  const body = route.body ?? Buffer.alloc(0);
  const etag = route.etag ?? `"${body.length}-${body.length > 0 ? body[0] : 0}"`;
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, { etag }).end();
    return;
  }
  const headers: Record<string, string> = { etag, "last-modified": new Date(0).toUTCString(), "content-type": "application/octet-stream" };
  if (!route.noLength) headers["content-length"] = String(body.length);
  res.writeHead(200, headers);
  if (route.resetAfter !== undefined) {
    await write(res, body.subarray(0, route.resetAfter));
    await pause(20);
    res.socket?.resetAndDestroy();
    return;
  }
  if (route.stallAfter !== undefined) {
    await write(res, body.subarray(0, route.stallAfter));
    return;
  }
  if (route.closeAfter !== undefined) {
    await write(res, body.subarray(0, route.closeAfter));
    res.socket?.end();
    return;
  }
  let sent = 0;
  let gateAt = route.gate ? route.gateAfter : undefined;
  const piece = route.pieceBytes ?? body.length;
  while (sent < body.length) {
    if (gateAt !== undefined && sent >= gateAt) {
      await route.gate;
      gateAt = undefined;
    }
    let n = Math.min(piece, body.length - sent);
    if (gateAt !== undefined) n = Math.min(n, gateAt - sent);
    await write(res, body.subarray(sent, sent + n));
    sent += n;
    if (route.pieceBytes) await pause(route.delayMs);
    if (res.destroyed) return;
  }
  res.end();
}

/** Deterministic bytes that differ at every offset of interest. */
export { bytes as pattern } from "@tftpkit/test-support";

/** The TftpError a promise rejects with (fails the test if it resolves or rejects with something else). */
export async function failure(p: Promise<unknown>): Promise<TftpError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TftpError);
    return e as TftpError;
  }
  throw new Error("expected a failure");
}
