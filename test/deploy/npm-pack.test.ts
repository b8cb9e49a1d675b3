// Every library and app package packs, and the tarballs install into an empty
// project outside the repository, where the installed commands work: the
// `tftpkit` command (version, and `serve` with a handler module that lives in
// yet another folder and imports @tftpkit/handler-kit), and `tftpkit-load`.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, hasCurl, ok, run, serve, curlGet } from "./helpers.js";

const PUBLISHED = [
  "@tftpkit/wasm-core", "@tftpkit/options", "@tftpkit/server", "@tftpkit/client", "@tftpkit/handler-kit", "@tftpkit/http-kit",
  "@tftpkit/app-server", "@tftpkit/loadgen", "@tftpkit/dashboard",
];

let work: string;
let project: string;
let tarballs: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tftpkit-pack-"));
  const packs = join(work, "tarballs");
  mkdirSync(packs);
  const r = await ok("npm", ["pack", "--json", "--pack-destination", packs, ...PUBLISHED.flatMap((p) => ["-w", p])], { cwd: REPO, timeoutMs: 180_000 });
  const json = r.stdout.slice(r.stdout.indexOf("["));
  const listed = JSON.parse(json) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
  expect(listed.map((p) => p.name).sort()).toEqual([...PUBLISHED].sort());
  for (const p of listed) {
    const files = p.files.map((f) => f.path);
    expect(files, p.name).toContain("package.json");
    expect(files, p.name).toContain("LICENSE");
    expect(files.some((f) => f.startsWith("dist/") && f.endsWith(".js")), `${p.name} ships its build output`).toBe(true);
    expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/")), `${p.name} ships no sources or tests`).toBe(false);
  }
  tarballs = readdirSync(packs).filter((f) => f.endsWith(".tgz")).map((f) => join(packs, f));

  project = join(work, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "tftpkit-install-test", private: true, type: "module" }));
  await ok("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", ...tarballs], { cwd: project, timeoutMs: 300_000 });
}, 480_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm packages", () => {
  it("each tarball's package.json is publishable (no private flag, no workspace-only paths)", () => {
    for (const name of PUBLISHED) {
      const pkg = JSON.parse(readFileSync(join(project, "node_modules", name, "package.json"), "utf8"));
      expect(pkg.private, name).toBeUndefined();
      expect(pkg.license, name).toBe("MIT");
      expect(pkg.engines?.node, name).toMatch(/^>=20/);
      expect(pkg.repository?.directory, name).toBeTruthy();
      for (const [dep, range] of Object.entries({ ...pkg.dependencies, ...pkg.peerDependencies } as Record<string, string>)) {
        expect(String(range), `${name} -> ${dep}`).not.toMatch(/^(file:|link:|workspace:|\*$)/);
      }
    }
  });

  it("the installed tftpkit command answers --version with the package version", async () => {
    const version = JSON.parse(readFileSync(join(project, "node_modules", "@tftpkit/app-server", "package.json"), "utf8")).version;
    const r = await ok(join(project, "node_modules", ".bin", "tftpkit"), ["--version"], { cwd: project });
    expect(r.stdout).toContain(version);
  });

  it.skipIf(!hasCurl)("tftpkit serve runs a handler from a folder of its own that imports @tftpkit/handler-kit", async () => {
    const etc = mkdtempSync(join(tmpdir(), "tftpkit-etc-"));
    const root = join(work, "root");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "hello.txt"), "hello from the root\n");
    // A handler outside any npm project, like /etc/tftpkit/handler.js.
    writeFileSync(join(etc, "handler.js"), [
      'import { renderTemplate } from "@tftpkit/handler-kit";',
      "export default (req) => {",
      '  if (req.path === "boot.ipxe") return renderTemplate("#!ipxe\\necho client {{client}}\\n", { client: req.peer.address });',
      "  return undefined;",
      "};",
      "",
    ].join("\n"));
    const s = await serve(join(project, "node_modules", ".bin", "tftpkit"),
      ["serve", "--root", root, "--handler", join(etc, "handler.js"), "--host", "127.0.0.1", "--port", "0", "--admin", "off"],
      { cwd: work });
    try {
      expect((await curlGet("127.0.0.1", s.port, "boot.ipxe")).toString()).toBe("#!ipxe\necho client 127.0.0.1\n");
      expect((await curlGet("127.0.0.1", s.port, "hello.txt")).toString()).toBe("hello from the root\n");
      // The load generator from the same install, against that server.
      const load = await run(join(project, "node_modules", ".bin", "tftpkit-load"),
        ["--target", `127.0.0.1:${s.port}`, "--sessions", "20", "--clients", "4", "--file", "hello.txt", "--json"], { cwd: project, timeoutMs: 120_000 });
      expect(load.code, load.stderr).toBe(0);
      const report = JSON.parse(load.stdout) as { sessions: { ok: number; failed: number } };
      expect(report.sessions).toMatchObject({ ok: 20, failed: 0 });
    } finally {
      expect(await s.stop()).toBe(0);
      rmSync(etc, { recursive: true, force: true });
    }
  });
});
