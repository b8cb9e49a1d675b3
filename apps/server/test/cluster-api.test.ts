// TftpCluster as an API (what `tftpkit serve --workers` runs in its primary).

import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
// The built module: its workers are forked from dist/cluster/cluster-worker.js.
import { TftpCluster } from "../dist/cluster/cluster.js";
import { curlTftp, hasCurl, tempTree } from "./helpers.js";

const body = randomBytes(5000);
const tree = tempTree({ "a.bin": body });
afterAll(() => tree.cleanup());

describe.skipIf(!hasCurl)("TftpCluster", () => {
  it("a request that arrives before any worker is ready is held and served once one is", async () => {
    const c = new TftpCluster({ workers: 2, args: { config: undefined, values: { root: tree.dir, admin: "off", log: "off" }, verbose: 0 }, bindInterfaces: false, log: () => {} });
    const a = await c.listen({ host: "127.0.0.1", port: 0 });
    try {
      const early = curlTftp(a.port, "a.bin", "127.0.0.21"); // sent now, while no worker exists
      await new Promise((r) => setTimeout(r, 200));
      expect(c.workers().every((w) => !w.ready)).toBe(true);
      await c.start();
      const r = await early;
      expect(r.code).toBe(0);
      expect(r.data.equals(body)).toBe(true);
      expect(c.dropped).toBe(0);
      const s = await c.stats();
      expect(s.sessionsOk).toBe(1);
      expect(c.workers().map((w) => w.ready)).toEqual([true, true]);
    } finally {
      await c.close();
    }
    expect(c.workers().every((w) => w.pid === undefined)).toBe(true);
  });
});
