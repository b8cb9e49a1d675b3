// The start-up lines: one function makes them for both modes (one process,
// or a primary with workers), and supervisors and tests read them.

import { describe, expect, it } from "vitest";
import { startupLines, type Announcement } from "../src/announce.js";

const base: Announcement = {
  notices: [],
  config: { root: "/srv/tftp", handler: undefined, singlePort: false, allowWrite: false },
  address: { address: "127.0.0.1", port: 6969, family: "IPv4" },
  telemetry: "telemetry: metrics on /metrics, traces off",
};

describe("start-up lines", () => {
  it("one process: the serving line first, then the rest in a fixed order", () => {
    expect(
      startupLines({
        ...base,
        notices: ["--log off: no session lines"],
        receiveBuffer: { asked: 4194304, granted: 425984, kernelMax: 212992 },
        http: { address: "::1", port: 8069, family: "IPv6" },
        admin: { url: "http://127.0.0.1:9069/", token: false },
        account: { user: "tftp", uid: 107, group: "nogroup", gid: 65534 },
      }),
    ).toEqual([
      "tftpkit: --log off: no session lines",
      "tftpkit serving root /srv/tftp on 127.0.0.1:6969 (udp)",
      "tftpkit receive buffer: asked 4194304 bytes, granted 425984 (net.core.rmem_max 212992)",
      "tftpkit http on http://[::1]:8069 (GET and HEAD of the same handler and root)",
      "tftpkit admin on http://127.0.0.1:9069/ (dashboard /, /api/v1, /metrics, /healthz)",
      "tftpkit telemetry: metrics on /metrics, traces off",
      "tftpkit running as tftp (uid 107, gid 65534)",
    ]);
  });

  it("with workers: the serving line names their pids; HTTP and telemetry run in each worker", () => {
    expect(
      startupLines({
        ...base,
        config: { root: "/srv/tftp", handler: "/etc/tftpkit/handler.mjs", singlePort: true, allowWrite: true },
        address: { address: "::", port: 69, family: "IPv6" },
        workerPids: [101, 102],
        http: { address: "0.0.0.0", port: 8080, family: "IPv4" },
        admin: { url: "http://127.0.0.1:9069/", token: true },
      }),
    ).toEqual([
      "tftpkit serving handler /etc/tftpkit/handler.mjs + root /srv/tftp on [::]:69 (udp, single-port, writes on, 2 workers: pid 101, pid 102)",
      "tftpkit http on http://0.0.0.0:8080 (GET and HEAD of the same handler and root, in the worker of each client)",
      "tftpkit admin on http://127.0.0.1:9069/ (dashboard /, /api/v1, /metrics, /healthz; POST drain/reload with the token)",
      "tftpkit telemetry: metrics on /metrics, traces off (in each worker)",
    ]);
  });
});
