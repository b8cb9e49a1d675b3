// infra/container: the image builds with podman (from a local base image made
// by infra/container/make-base-image.sh: no image registry is reachable here),
// holds only the runtime, runs as a non-root user with `tftpkit` as its
// entrypoint, serves a read-only root over host networking byte for byte,
// answers its HEALTHCHECK, binds port 69 without root, and stops cleanly.
//
// Needs root, podman, runc and debootstrap (.ci/run installs them); skipped
// with a message where they are missing. podman runs with a containers.conf
// of the test's own (runc, cgroupfs, no default ulimits), as this VM needs.

import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, hasCurl, ok, run, curlGet } from "./helpers.js";

const PODMAN = "/usr/bin/podman";
const missing = [PODMAN, "/usr/sbin/runc", "/usr/sbin/debootstrap"].filter((p) => !existsSync(p));
const isRoot = process.getuid?.() === 0;
const skip = missing.length > 0 || !isRoot || !hasCurl;
if (skip) {
  console.warn(`container tests skipped: ${missing.length ? `missing ${missing.join(", ")}` : !isRoot ? "not root" : "no curl"} (.ci/run installs podman runc debootstrap curl)`);
}

const BASE = "localhost/tftpkit-node-base:20";
const IMAGE = "localhost/tftpkit:test";
const work = mkdtempSync(join(tmpdir(), "tftpkit-container-"));
const conf = join(work, "containers.conf");
writeFileSync(conf, '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n');
const env = { ...process.env, CONTAINERS_CONF: conf };
const podman = (args: string[], timeoutMs = 120_000) => run(PODMAN, ["--runtime", "/usr/sbin/runc", ...args], { env, timeoutMs });
const started: string[] = [];

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.once("error", () => resolve(false));
    s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts the image detached; waits (bounded) for its "serving" line. */
async function start(name: string, args: string[], extra: string[] = []): Promise<void> {
  await podman(["rm", "-f", name]);
  await ok(PODMAN, ["--runtime", "/usr/sbin/runc", "run", "-d", "--name", name, "--network", "host", "--read-only",
    "-v", `${join(work, "root")}:/srv/tftp:ro`, ...extra, IMAGE, ...args], { env });
  started.push(name);
  const end = Date.now() + 60_000;
  for (;;) {
    const logs = await podman(["logs", name]);
    if (/tftpkit serving/.test(logs.stdout + logs.stderr)) return;
    if (Date.now() > end) throw new Error(`${name} did not start:\n${logs.stdout}${logs.stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const payload = randomBytes(300_000);

beforeAll(async () => {
  if (skip) return;
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(work, "root"));
  writeFileSync(join(work, "root", "payload.bin"), payload);
  if ((await podman(["image", "exists", BASE])).code !== 0) {
    await ok(join(REPO, "infra", "container", "make-base-image.sh"), [BASE], { env, timeoutMs: 600_000 });
  }
  await ok(PODMAN, ["--runtime", "/usr/sbin/runc", "build", "--format", "docker", "--network", "host",
    "--build-arg", `NODE_IMAGE=${BASE}`, "-f", join(REPO, "infra", "container", "Containerfile"), "-t", IMAGE, REPO],
  { env, timeoutMs: 900_000 });
}, 1_200_000);

afterAll(async () => {
  for (const name of started) await podman(["rm", "-f", "-t", "2", name]);
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe.skipIf(skip)("container image", () => {
  it("runs tftpkit as a non-root user, with a HEALTHCHECK, and holds no build tools", async () => {
    const r = await ok(PODMAN, ["image", "inspect", IMAGE], { env });
    const [img] = JSON.parse(r.stdout) as Array<{ Config: { User: string; Entrypoint: string[]; Cmd: string[]; Healthcheck?: { Test: string[] } }; Healthcheck?: { Test: string[] } }>;
    expect(img.Config.User).toBe("10001:10001");
    expect(img.Config.Entrypoint).toEqual(["tftpkit"]);
    expect(img.Config.Cmd).toEqual(["serve", "--root", "/srv/tftp"]);
    expect((img.Healthcheck ?? img.Config.Healthcheck)?.Test.join(" ")).toMatch(/TFTPKIT_HEALTH_URL/);
    const inside = await podman(["run", "--rm", "--entrypoint", "sh", IMAGE, "-c",
      "test ! -e /src && test ! -e /opt/tftpkit/node_modules/typescript && test ! -e /opt/tftpkit/node_modules/vitest " +
      "&& test ! -e /opt/tftpkit/node_modules/assemblyscript && test -f /opt/tftpkit/node_modules/@tftpkit/wasm-core/build/core.wasm && tftpkit --version"]);
    expect(inside.code, inside.stderr).toBe(0);
    expect(inside.stdout).toMatch(/\d+\.\d+\.\d+/);
  });

  it("serves a read-only root over host networking byte for byte, healthy, and stops on SIGTERM with exit 0", async () => {
    const port = await freeUdpPort();
    const admin = await freeUdpPort();
    await start("tftpkit-test-serve", ["serve", "--root", "/srv/tftp", "--host", "127.0.0.1", "--port", String(port), "--admin", `127.0.0.1:${admin}`],
      ["-e", `TFTPKIT_HEALTH_URL=http://127.0.0.1:${admin}/healthz`]);
    expect((await curlGet("127.0.0.1", port, "payload.bin")).equals(payload)).toBe(true);
    const health = await podman(["healthcheck", "run", "tftpkit-test-serve"]);
    expect(health.code, health.stdout + health.stderr).toBe(0);
    const id = await ok(PODMAN, ["exec", "tftpkit-test-serve", "id", "-u"], { env });
    expect(id.stdout.trim()).toBe("10001");
    await ok(PODMAN, ["stop", "-t", "15", "tftpkit-test-serve"], { env, timeoutMs: 60_000 });
    const state = await ok(PODMAN, ["inspect", "tftpkit-test-serve", "--format", "{{.State.ExitCode}}"], { env });
    expect(state.stdout.trim()).toBe("0");
  });

  it("binds UDP port 69 as its non-root user (file capability on node)", async (ctx) => {
    if (!(await udpPortFree(69))) ctx.skip();
    const admin = await freeUdpPort();
    await start("tftpkit-test-69", ["serve", "--root", "/srv/tftp", "--host", "127.0.0.1", "--port", "69", "--admin", `127.0.0.1:${admin}`]);
    expect((await curlGet("127.0.0.1", 69, "payload.bin")).equals(payload)).toBe(true);
  });
});
