// infra/systemd: the unit passes `systemd-analyze verify`, its sandboxing
// scores as exposed as little as systemd's own scale allows for a network
// daemon, it keeps the hardening it promises, and the command line it runs
// (`tftpkit serve --config /etc/tftpkit/tftpkit.yaml`, with the example
// config) serves, reloads on SIGHUP (its ExecReload) and drains on SIGTERM.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { REPO, hasCurl, run, serve, curlGet } from "./helpers.js";

const SYSTEMD = join(REPO, "infra", "systemd");
const UNIT = readFileSync(join(SYSTEMD, "tftpkit.service"), "utf8");
const ANALYZE = "/usr/bin/systemd-analyze";
const BIN = join(REPO, "apps", "server", "bin", "tftpkit.js");
const work = mkdtempSync(join(tmpdir(), "tftpkit-systemd-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `Key=value` lines of the [Service] section (a key may repeat). */
function serviceKeys(unit: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = "";
  for (const raw of unit.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) { section = sec[1]; continue; }
    if (section !== "Service") continue;
    const eq = line.indexOf("=");
    const k = line.slice(0, eq);
    keys.set(k, [...(keys.get(k) ?? []), line.slice(eq + 1)]);
  }
  return keys;
}
const svc = serviceKeys(UNIT);
const one = (k: string): string | undefined => svc.get(k)?.at(-1);

/** The unit with ExecStart's binary pointed at this checkout (verify checks that it exists). */
function localUnit(): string {
  const dir = join(work, "units");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "tftpkit.service");
  writeFileSync(path, UNIT.replace(/^ExecStart=\/usr\/bin\/tftpkit /m, `ExecStart=${BIN} `));
  return path;
}

describe("systemd unit", () => {
  it("runs tftpkit serve with the config file, unprivileged, with only CAP_NET_BIND_SERVICE", () => {
    expect(one("ExecStart")).toBe("/usr/bin/tftpkit serve --config /etc/tftpkit/tftpkit.yaml");
    expect(one("User")).toBe("tftpkit");
    expect(one("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("RestrictAddressFamilies")?.split(/\s+/).sort()).toEqual(["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"]);
    expect(one("ReadOnlyPaths")?.split(/\s+/)).toContain("/srv/tftp");
    expect(one("Restart")).toBe("on-failure");
    expect(one("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(svc.has("MemoryDenyWriteExecute"), "V8 needs W+X pages").toBe(false);
    // The config file's drain time fits inside the stop timeout.
    const cfg = parse(readFileSync(join(SYSTEMD, "tftpkit.yaml"), "utf8")) as { drainSeconds: number };
    expect(Number(one("TimeoutStopSec"))).toBeGreaterThan(cfg.drainSeconds);
    // Writes: only the drop-in makes a folder writable.
    expect(svc.has("ReadWritePaths")).toBe(false);
    expect(readFileSync(join(SYSTEMD, "uploads.conf"), "utf8")).toMatch(/^ReadWritePaths=\/srv\/tftp\/incoming$/m);
  });

  it.skipIf(!existsSync(ANALYZE))("passes systemd-analyze verify", async () => {
    const r = await run(ANALYZE, ["verify", "--man=no", localUnit()]);
    expect(r.stderr.trim(), r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it.skipIf(!existsSync(ANALYZE))("scores OK or better on systemd-analyze security", async () => {
    const r = await run(ANALYZE, ["security", "--offline=yes", "--no-pager", localUnit()]);
    const m = /Overall exposure level for tftpkit\.service: ([\d.]+)/.exec(r.stdout + r.stderr);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    // systemd's scale: 0-10, "OK" below 3.
    expect(Number(m![1])).toBeLessThan(3);
  });

  it.skipIf(!hasCurl)("the unit's command line serves the example config, reloads on SIGHUP and drains on SIGTERM", async () => {
    const root = join(work, "srv-tftp");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "pxelinux.0"), Buffer.alloc(70_000, 7));
    // The example config, with the test's root and loopback ports.
    const cfg = parse(readFileSync(join(SYSTEMD, "tftpkit.yaml"), "utf8")) as Record<string, unknown>;
    Object.assign(cfg, { root, host: "127.0.0.1", port: 0, admin: "127.0.0.1:0" });
    const cfgPath = join(work, "tftpkit.yaml");
    writeFileSync(cfgPath, stringify(cfg));
    const [cmd, ...args] = one("ExecStart")!.split(" ");
    expect(cmd).toBe("/usr/bin/tftpkit");
    const s = await serve(BIN, args.map((a) => (a === "/etc/tftpkit/tftpkit.yaml" ? cfgPath : a)));
    try {
      expect(await curlGet("127.0.0.1", s.port, "pxelinux.0")).toEqual(Buffer.alloc(70_000, 7));
      // ExecReload: SIGHUP re-reads the file; the server keeps serving.
      writeFileSync(join(root, "after-reload.txt"), "still here\n");
      s.child.kill("SIGHUP");
      await new Promise((r) => setTimeout(r, 500));
      expect((await curlGet("127.0.0.1", s.port, "after-reload.txt")).toString()).toBe("still here\n");
      expect(s.child.exitCode).toBeNull();
    } finally {
      expect(await s.stop("SIGTERM")).toBe(0);
    }
  });
});
