// Serving the built dashboard (index.html and /assets/*) with a strict
// Content-Security-Policy: scripts, styles and connections from the same
// origin only, no inline code, no framing. The files are read once, on the
// first request, from the folder `vite build` wrote.

import { readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Content-Security-Policy of every dashboard response: the page loads only its own scripts, styles and API. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/** Headers sent with the page and its assets. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

/** The folder holding the built dashboard: index.html and assets/. */
export function dashboardAssetsDir(): string {
  return fileURLToPath(new URL("../build/web", import.meta.url));
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".map": "application/json",
};

interface Asset {
  body: Buffer;
  type: string;
  /** Content-hashed names never change: cached for a year. */
  immutable: boolean;
}

/** A handler for GET/HEAD `/`, `/index.html` and `/assets/NAME`; returns false for any other path. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Serves the files of `dir` (default: the built dashboard). Asset names are
 * looked up in the listing read at the first request, so no request path
 * ever reaches the file system.
 */
export function dashboardHandler(dir: string = dashboardAssetsDir()): DashboardHandler {
  let files: Map<string, Asset> | undefined;
  const load = (): Map<string, Asset> => {
    const m = new Map<string, Asset>();
    const add = (urlPath: string, file: string, immutable: boolean) => {
      if (!statSync(file).isFile()) return;
      m.set(urlPath, { body: readFileSync(file), type: TYPES[extname(file)] ?? "application/octet-stream", immutable });
    };
    add("/", join(dir, "index.html"), false);
    const assets = join(dir, "assets");
    for (const name of readdirSync(assets)) add(`/assets/${name}`, join(assets, name), true);
    return m;
  };
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/" && path !== "/index.html" && !path.startsWith("/assets/")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return true;
    }
    try {
      files ??= load();
    } catch (err) {
      res
        .writeHead(503, { "content-type": "text/plain" })
        .end(`the dashboard is not built (${(err as Error).message}); run: npx turbo run build --filter=@tftpkit/dashboard\n`);
      return true;
    }
    const f = files.get(path === "/index.html" ? "/" : path);
    if (!f) {
      res.writeHead(404, { "content-type": "text/plain", ...DASHBOARD_HEADERS }).end("not found\n");
      return true;
    }
    res.writeHead(200, {
      ...DASHBOARD_HEADERS,
      "content-type": f.type,
      "content-length": String(f.body.length),
      "cache-control": f.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    res.end(req.method === "HEAD" ? undefined : f.body);
    return true;
  };
}
