// The documentation: generated pages are current (`npm run docs` writes them)
// and every relative link of README.md and docs/*.md reaches a file.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "@tftpkit/app-server/dist/config/config.js";
import { openApiDocument } from "@tftpkit/app-server/dist/admin/openapi.js";
import { anchors, brokenLinks, linkTargets, slug } from "../../scripts/docs/links.mjs";
import { countDeclarations, readAttributes } from "../../scripts/docs/metrics.mjs";
import { readErrorCatalogs } from "../../scripts/docs/errors.mjs";
import { REPO, generatedPages } from "../../scripts/docs/pages.mjs";

const read = (path: string): string => readFileSync(join(REPO, path), "utf8");
const pages = await generatedPages(REPO);

describe("generated pages are current (npm run docs)", () => {
  for (const path of pages.keys()) {
    it(`${path} is what npm run docs writes`, () => {
      expect(read(path) === pages.get(path), `${path} is stale: run npm run docs`).toBe(true);
    });
  }

  it("docs/cli.md has a row for every config key", () => {
    const cli = read("docs/cli.md");
    for (const key of CONFIG_KEYS) expect(cli, key).toContain(`| \`${key}\` |`);
  });

  it("docs/admin-api.md names every path and method of the OpenAPI document", () => {
    const page = read("docs/admin-api.md");
    const doc = openApiDocument("0.0.0") as { paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    for (const [path, ops] of Object.entries(doc.paths)) for (const method of Object.keys(ops)) expect(page).toContain(`### ${method.toUpperCase()} ${path}`);
    for (const name of Object.keys(doc.components.schemas)) expect(page).toContain(`### ${name}\n`);
  });

  it("docs/metrics.md names every constant of the attributes file with its value", () => {
    const page = read("docs/metrics.md");
    const entries = readAttributes(REPO);
    expect(entries.length).toBe(countDeclarations(REPO));
    expect(entries.length).toBeGreaterThan(40);
    for (const e of entries) {
      expect(page, e.name).toContain(`\`${e.name}\``);
      if (typeof e.value === "string") expect(page, e.name).toContain(`\`${e.value}\``);
    }
  });

  it("docs/errors.md names every TFTP_ERR_* code found in the sources", () => {
    const page = read("docs/errors.md");
    const { codes, wire } = readErrorCatalogs(REPO);
    expect(codes.size).toBeGreaterThan(20);
    expect(wire.size).toBe(9);
    for (const code of codes.keys()) expect(page).toContain(`\`${code}\``);
    // Every TftpErrorCode and config reason has its meaning.
    for (const [code, e] of codes) if (e.kind === "union" || e.kind === "object") expect(e.doc, code).not.toBe("");
  });
});

// Pages a link may name before they exist (none: every page is here).
const ARRIVING_WITH_THEIR_FEATURES: string[] = [];

describe("links", () => {
  const docs = readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`);
  const files = ["README.md", "CHANGELOG.md", "CONTRIBUTING.md", ...docs];

  it("the link finder sees links and images, not code", () => {
    expect(linkTargets("a [b](c.md) ![d](e.png) `[x](y.md)`\n```\n[z](w.md)\n```\n[f](g.md#h)")).toEqual(["c.md", "e.png", "g.md#h"]);
  });

  it("anchors are GitHub's heading slugs, and a link to a missing file or heading is reported", () => {
    expect(slug("The `tftpkit` command")).toBe("the-tftpkit-command");
    expect(slug("GET /api/v1/flows")).toBe("get-apiv1flows");
    expect([...anchors("# A\n## A\n```\n# not a heading\n```\n")]).toEqual(["a", "a-1"]);
    const dir = mkdtempSync(join(tmpdir(), "tftpkit-links-"));
    try {
      writeFileSync(join(dir, "a.md"), "# Top\n[ok](b.md#there) [bad](b.md#nowhere) [gone](c.md) [self](#top) [bad self](#bottom) [web](https://x.example/y.md)\n");
      writeFileSync(join(dir, "b.md"), "## There\n");
      expect(brokenLinks(dir, ["a.md"])).toEqual(["a.md: b.md#nowhere (no such heading)", "a.md: c.md", "a.md: #bottom (no such heading)"]);
      expect(brokenLinks(dir, ["a.md"], ["c.md"])).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every relative link of README.md and docs/*.md reaches a file (and its heading)", () => {
    expect(brokenLinks(REPO, files, ARRIVING_WITH_THEIR_FEATURES)).toEqual([]);
  });

  it("the README links every page of docs/", () => {
    const linked = new Set(linkTargets(read("README.md")).map((t) => t.split("#")[0]));
    for (const page of [...docs, ...ARRIVING_WITH_THEIR_FEATURES]) expect(linked, page).toContain(page);
  });

  it("the README is at most 15 KB", () => {
    expect(Buffer.byteLength(read("README.md"))).toBeLessThanOrEqual(15 * 1024);
  });
});
