// The built page and how it is served: the CSP header on the page and its
// assets, no inline script or style in the build, request paths never
// reaching the file system, and no markup sink in the page's sources.

import { readdirSync, readFileSync } from "node:fs";
import { createServer, get, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_CSP, dashboardAssetsDir, dashboardHandler } from "../src/static.js";

let server: Server;
let base = "";

beforeAll(async () => {
  const page = dashboardHandler();
  server = createServer((req, res) => {
    if (!page(req, res)) res.writeHead(418).end("not the dashboard's\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const CONTRACT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

describe("the built dashboard", () => {
  it("serves index.html with the contract's CSP, nosniff and no framing", async () => {
    expect(DASHBOARD_CSP).toBe(CONTRACT_CSP);
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toBe(CONTRACT_CSP);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = await res.text();
    expect(html).toContain('<div id="app"></div>');
  });

  it("has no inline script, inline style or style attribute; every asset it names is served with the CSP", async () => {
    const html = readFileSync(join(dashboardAssetsDir(), "index.html"), "utf8");
    expect(html).not.toMatch(/<style/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\ssrc="\.\/assets\/[^"]+\.js"/);
      expect(body.trim()).toBe("");
    }
    const named = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(named.some((n) => n.endsWith(".css"))).toBe(true);
    for (const n of named) {
      const res = await fetch(`${base}/${n}`);
      expect(res.status, n).toBe(200);
      expect(res.headers.get("content-security-policy")).toBe(CONTRACT_CSP);
      expect(res.headers.get("content-type")).toMatch(n.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
      expect(res.headers.get("cache-control")).toContain("immutable");
    }
  });

  it("answers 404 for names outside the asset listing, traversals included", async () => {
    // Sent as written (fetch would normalise the dots away).
    const raw = (path: string) =>
      new Promise<number>((resolve, reject) => {
        get(`${base}/`, { path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on("error", reject);
      });
    for (const p of ["/assets/../package.json", "/assets/../../../../etc/passwd", "/assets/%2e%2e/package.json", "/assets/..%2f..%2fpackage.json", "/assets/nope.js", "/assets/"]) {
      expect(await raw(p), p).toBe(404);
    }
  });

  it("leaves other paths to the caller and refuses methods other than GET and HEAD", async () => {
    expect((await fetch(`${base}/api/v1/stats`)).status).toBe(418);
    const post = await fetch(`${base}/`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    const head = await fetch(`${base}/`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-security-policy")).toBe(CONTRACT_CSP);
  });
});

describe("the page's sources", () => {
  it("never hand markup to the DOM: no innerHTML, outerHTML, insertAdjacentHTML, document.write or dangerouslySetInnerHTML", () => {
    const dir = join(import.meta.dirname, "..", "web", "src");
    const files = readdirSync(dir).filter((f) => /\.(tsx?|css)$/.test(f));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const text = readFileSync(join(dir, f), "utf8");
      expect(text, f).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|dangerouslySetInnerHTML|\beval\(|new Function\(/);
    }
  });
});
