// The cluster primary's own work: the warm-up of its datagram path (private
// sockets only, bounded, stopped by its signal), when it tells the workers
// that an admin client watches their lists, and that a dead worker's lists
// are listed as lost when nobody watched them. Real sockets on loopback.

import { createSocket, type Socket } from "node:dgram";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { TftpCluster, WATCH_MS } from "../src/cluster/cluster.js";
import { sleep, startServe, stopAllClis, tempTree, waitFor, type Cli } from "./helpers.js";

const tree = tempTree({ "a.bin": Buffer.alloc(300, 1) });
afterEach(() => stopAllClis());
afterAll(() => tree.cleanup());

/** A cluster that never forks a worker (start() is not called): its primary's own parts only. */
const bare = (): TftpCluster => new TftpCluster({ workers: 2, args: { config: undefined, values: {}, verbose: 0 } as never });

function udp(address: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.bind(0, address, () => resolve(s));
  });
}

describe("the primary's warm-up of its datagram path", () => {
  it("runs the path on private sockets: a real client is never answered, the flow table and counters see nothing of it", async () => {
    const c = bare();
    const at = await c.listen({ host: "127.0.0.1", port: 0 });
    const client = await udp("127.0.0.77");
    const got: Buffer[] = [];
    client.on("message", (m) => got.push(m));
    try {
      const warming = c.warmUp(300);
      // A real request while it runs: held for its machine's worker (none is ready), not answered by the warm-up.
      client.send(Buffer.from("\x00\x01a.bin\x00octet\x00", "latin1"), at.port, "127.0.0.1");
      const r = await warming;
      expect(r.datagrams).toBeGreaterThan(100);
      expect(c.warmUpReport).toBe(r);
      await waitFor("the real request to be routed", () => (c.routing().machines === 1 ? true : undefined));
      expect(c.routing()).toEqual({ machines: 1, moved: 0 });
      expect(c.dropped).toBe(0);
      await sleep(50);
      expect(got).toEqual([]);
      // A second warm-up runs as well (its private listener was forgotten and is made again).
      expect((await c.warmUp(50)).datagrams).toBeGreaterThan(0);
    } finally {
      client.close();
      await c.close();
    }
  });

  it("does nothing with a budget of 0, a signal already given, or one given while it starts", async () => {
    const c = bare();
    try {
      expect((await c.warmUp(0)).datagrams).toBe(0);
      const given = new AbortController();
      given.abort();
      expect((await c.warmUp(500, given.signal)).datagrams).toBe(0);
      // A signal that comes while its sockets are being made: it sends nothing, and forgets its listener.
      const stop = new AbortController();
      const warming = c.warmUp(1000, stop.signal);
      setImmediate(() => stop.abort());
      expect((await warming).datagrams).toBe(0);
      expect((c as unknown as { byId: Map<number, unknown> }).byId.size).toBe(0);
    } finally {
      await c.close();
    }
  });
});

describe("watching the lists", () => {
  it("a read of the sessions or flows watches them for WATCH_MS; a live stream while it listens and WATCH_MS after", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    const c = bare();
    try {
      expect(c.watching).toBe(false);
      await c.flows();
      expect(c.watching).toBe(true);
      vi.advanceTimersByTime(WATCH_MS - 1000);
      await c.liveSessions(); // a new read: the watch lasts WATCH_MS from it
      vi.advanceTimersByTime(WATCH_MS - 1000);
      expect(c.watching).toBe(true);
      vi.advanceTimersByTime(2000);
      expect(c.watching).toBe(false);
      const off = c.subscribe(() => {});
      expect(c.watching).toBe(true);
      vi.advanceTimersByTime(10 * WATCH_MS);
      expect(c.watching).toBe(true);
      off();
      vi.advanceTimersByTime(WATCH_MS - 1000);
      expect(c.watching).toBe(true);
      vi.advanceTimersByTime(2000);
      expect(c.watching).toBe(false);
    } finally {
      vi.useRealTimers();
      await c.close();
    }
  });
});

interface Flow {
  client: string;
  worker?: number;
  lost?: boolean;
  steps: Array<{ path: string }>;
}

function workerPids(cli: Cli): number[] {
  const m = /workers: ([^)]*)\)/.exec(cli.stderr());
  return m ? [...m[1].matchAll(/pid (\d+)/g)].map((x) => Number(x[1])) : [];
}

/** One TFTP read of a small file (under 512 bytes: one DATA) from `from`. */
function get(port: number, from: string, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const done = (ok: boolean): void => {
      clearTimeout(t);
      clearInterval(again);
      s.close();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), 10_000);
    let again: NodeJS.Timeout | undefined;
    s.on("message", (m, r) => {
      if (m.readUInt16BE(0) !== 3) return done(false);
      s.send(Buffer.from([0, 4, m[2], m[3]]), r.port, r.address, () => done(true));
    });
    s.bind(0, from, () => {
      const rrq = Buffer.from(`\x00\x01${name}\x00octet\x00`, "latin1");
      const send = (): void => void s.send(rrq, port, "127.0.0.1");
      send();
      again = setInterval(send, 1000);
    });
  });
}

describe("a dead worker's lists when nobody watched them", () => {
  it("are listed as lost, as of a report at most about 10 s old", async () => {
    const cli = await startServe(["--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0", "--workers", "2", "--root", tree.dir, "--log", "off"]);
    const port = Number(/ on [^\s]+:(\d+) \(udp/.exec(cli.stderr())?.[1]);
    const pids = workerPids(cli);
    const machines = Array.from({ length: 12 }, (_, i) => `127.0.31.${10 + i}`);
    for (const m of machines) expect(await get(port, m, "a.bin")).toBe(true);
    // No read of the sessions or flows: the workers send their lists every 10 s (and a report each second).
    await sleep(12_500);
    process.kill(pids[0], "SIGKILL");
    await waitFor("worker 1's exit", () => (/worker 1 \(pid \d+\) exited/.test(cli.stderr()) ? true : undefined));
    const flows = ((await (await fetch(`${cli.adminUrl}/api/v1/flows`)).json()) as { flows: Flow[] }).flows;
    const lost = flows.filter((f) => f.lost);
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.length).toBeLessThan(machines.length);
    for (const f of lost) {
      expect(f.worker).toBe(1);
      expect(machines).toContain(f.client);
      expect(f.steps.map((s) => s.path)).toEqual(["a.bin"]);
    }
    // The live worker's flows are there too: every machine once.
    expect(new Set(flows.map((f) => f.client))).toEqual(new Set(machines));
    await waitFor("the replacement worker", () => (/worker 1 \(pid \d+\) ready/.test(cli.stderr()) ? true : undefined), 15_000);
    expect(await cli.stop()).toBe(0);
  }, 40_000);
});
