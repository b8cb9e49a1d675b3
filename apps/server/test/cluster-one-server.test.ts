// tftpkit serve --workers N answers as one server: one flow and one trace per
// machine from the moment the port is bound and across a kill -9 of a worker,
// counters that survive a killed worker, and --max-sessions held across
// workers. Real processes on loopback; machines are told apart by their
// 127.0.x.y source address; a raw UDP client sends requests again every few
// ms so that the first ones leave before the server has bound its port.

import { createSocket } from "node:dgram";
import { errorPacket } from "@tftpkit/test-support";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, freeUdpPort, sleep, startOtlpReceiver, startServe, stopAllClis, tempTree, waitFor, type Cli, type OtlpReceiver } from "./helpers.js";

const files = { "a.bin": Buffer.alloc(300, 1), "b.bin": Buffer.alloc(700, 2), "c.bin": Buffer.alloc(1500, 3), "large.bin": Buffer.alloc(64 * 1024, 4) };
const tree = tempTree(files);
let receiver: OtlpReceiver | undefined;

afterEach(() => stopAllClis());
afterAll(async () => {
  await receiver?.close();
  tree.cleanup();
});

/** Machine i's address: 127.0.<20 + i / 200>.<10 + i % 200>. */
const machine = (i: number): string => `127.0.${20 + Math.floor(i / 200)}.${10 + (i % 200)}`;

interface Got {
  outcome: "ok" | "error" | "held" | "timeout";
  bytes: number;
  message?: string;
  close?: () => void;
}

/**
 * A TFTP read from `from`, the RRQ sent again every `retryMs` until the
 * first answer. As an RFC 1350 client, it keeps to the port of the first
 * answer and answers a packet from another port (a session a late copy of
 * its request started) with ERROR 5. hold: stop at DATA 1 without
 * acknowledging it (the session stays open on the server; close() ends the
 * client).
 */
function tftpGet(port: number, from: string, name: string, o: { retryMs?: number; timeoutMs?: number; hold?: boolean } = {}): Promise<Got> {
  const { retryMs = 1000, timeoutMs = 20_000, hold = false } = o;
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0`)]);
    let bytes = 0;
    let next = 1;
    let answered = false;
    let retry: NodeJS.Timeout | undefined;
    const done = (r: Got): void => {
      clearInterval(retry);
      clearTimeout(deadline);
      if (r.outcome === "held") r.close = () => s.close();
      else s.close();
      resolve(r);
    };
    const deadline = setTimeout(() => done({ outcome: "timeout", bytes }), timeoutMs);
    s.on("error", () => {});
    let tid = 0;
    s.on("message", (m, rinfo) => {
      if (tid === 0) tid = rinfo.port;
      else if (rinfo.port !== tid) {
        s.send(errorPacket(5, "Unknown transfer ID"), rinfo.port, rinfo.address);
        return;
      }
      answered = true;
      const op = m.readUInt16BE(0);
      if (op === 5) return done({ outcome: "error", bytes, message: m.toString("latin1", 4, m.length - 1) });
      if (op !== 3) return;
      if (hold) return done({ outcome: "held", bytes: m.length - 4 });
      const block = m.readUInt16BE(2);
      if (block === next) {
        bytes += m.length - 4;
        next = (next + 1) & 0xffff;
      }
      const last = m.length - 4 < 512;
      s.send(Buffer.from([0, 4, block >> 8, block & 255]), rinfo.port, rinfo.address, () => {
        if (last) done({ outcome: "ok", bytes });
      });
    });
    s.bind(0, from, () => {
      const send = (): void => {
        if (!answered) s.send(rrq, port, "127.0.0.1");
      };
      send();
      retry = setInterval(send, retryMs);
    });
  });
}

/** n tasks, at most `width` at once. */
async function pool<T>(n: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

function workerPids(cli: Cli): number[] {
  const m = /workers: ([^)]*)\)/.exec(cli.stderr());
  return m ? [...m[1].matchAll(/pid (\d+)/g)].map((x) => Number(x[1])) : [];
}

async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

interface Flow {
  id: string;
  client: string;
  traceId?: string;
  lost?: boolean;
  steps: Array<{ path: string; outcome: string }>;
}

async function flowsOf(cli: Cli, client: string): Promise<Flow[]> {
  return (await getJson<{ flows: Flow[] }>(`${cli.adminUrl}/api/v1/flows?client=${client}`)).flows;
}

/** Sessions finished, as /metrics counts them (every kind and outcome). */
async function metricSessions(cli: Cli): Promise<number> {
  const text = await (await fetch(`${cli.adminUrl}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^tftp_server_sessions_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

const telemetryEnv = (r: OtlpReceiver): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${r.url}/v1/traces`,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  OTEL_BSP_SCHEDULE_DELAY: "100",
});

describe("workers act as one server", () => {
  it("requests sent the moment the port is bound: each machine's sessions make one flow and one trace (2 workers, via OTLP)", async () => {
    receiver ??= await startOtlpReceiver();
    const before = receiver.spans.length;
    const port = await freeUdpPort();
    const admin = await freePort();
    const machines = 16;
    // Every machine asks from before the server exists, then fetches two more files as a boot loader does.
    const boots = Array.from({ length: machines }, async (_, i) => {
      const got: Got[] = [];
      for (const f of ["a.bin", "b.bin", "c.bin"]) {
        got.push(await tftpGet(port, machine(i), f, { retryMs: f === "a.bin" ? 10 : 1000 }));
        await sleep(100);
      }
      return got;
    });
    const cli = await startServe(
      ["--host", "127.0.0.1", "--port", String(port), "--admin", `127.0.0.1:${admin}`, "--workers", "2", "--root", tree.dir, "--log", "off", "--flow-idle-seconds", "1"],
      telemetryEnv(receiver),
    );
    for (const got of await Promise.all(boots)) expect(got.map((g) => g.outcome)).toEqual(["ok", "ok", "ok"]);
    const traceOf = new Map<string, string>();
    for (let i = 0; i < machines; i++) {
      const flows = await flowsOf(cli, machine(i));
      expect(flows, machine(i)).toHaveLength(1);
      expect(flows[0].steps.filter((s) => s.outcome === "ok").map((s) => s.path)).toEqual(["a.bin", "b.bin", "c.bin"]);
      traceOf.set(machine(i), flows[0].traceId!);
    }
    expect(await cli.stop()).toBe(0);
    const r = receiver;
    await waitFor("every machine's tftp.boot span", () => {
      const boot = r.spans.slice(before).filter((s) => s.name === "tftp.boot");
      return boot.length >= machines ? true : undefined;
    });
    const spans = r.spans.slice(before);
    for (const [address, traceId] of traceOf) {
      const reads = spans.filter((s) => s.name === "tftp.read" && s.attributes["network.peer.address"] === address);
      expect(reads.length, address).toBeGreaterThanOrEqual(3);
      expect(new Set(reads.map((s) => s.traceId)), address).toEqual(new Set([traceId]));
      expect(spans.filter((s) => s.name === "tftp.boot" && s.traceId === traceId), address).toHaveLength(1);
    }
  });

  it("kill -9 of a worker mid-boot: its machines move to a live worker and stay there (one flow, one trace after the move); the others are untouched", async () => {
    receiver ??= await startOtlpReceiver();
    const before = receiver.spans.length;
    const cli = await startServe(
      ["--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0", "--workers", "2", "--root", tree.dir, "--log", "off", "--flow-idle-seconds", "30"],
      telemetryEnv(receiver),
    );
    const port = Number(/ on [^\s]+:(\d+) \(udp/.exec(cli.stderr())?.[1]);
    const pids = workerPids(cli);
    const machines = 16;
    for (let i = 0; i < machines; i++) expect((await tftpGet(port, machine(i), "a.bin")).outcome).toBe("ok");
    const first = new Map<string, Flow>();
    for (let i = 0; i < machines; i++) first.set(machine(i), (await flowsOf(cli, machine(i)))[0]);
    const victims = [...first].filter(([, f]) => f.id.startsWith("w1:")).map(([a]) => a);
    expect(victims.length).toBeGreaterThan(0);
    expect(victims.length).toBeLessThan(machines);
    await sleep(1300); // a report of worker 1 carries the a.bin flows
    process.kill(pids[0], "SIGKILL");
    // b.bin while worker 1 is being replaced, c.bin once it is back.
    for (let i = 0; i < machines; i++) expect((await tftpGet(port, machine(i), "b.bin")).outcome).toBe("ok");
    await waitFor("the replacement worker", () => (/worker 1 \(pid \d+\) ready/.test(cli.stderr()) ? true : undefined), 15_000);
    for (let i = 0; i < machines; i++) expect((await tftpGet(port, machine(i), "c.bin")).outcome).toBe("ok");

    for (let i = 0; i < machines; i++) {
      const a = machine(i);
      const flows = await flowsOf(cli, a);
      const open = flows.filter((f) => !f.lost);
      expect(open, a).toHaveLength(1);
      const paths = open[0].steps.map((s) => s.path);
      if (victims.includes(a)) {
        expect(paths, a).toEqual(["b.bin", "c.bin"]);
        expect(open[0].id.startsWith("w1:"), a).toBe(false);
        // The dead worker's flow is kept as of its last report, marked lost.
        expect(flows.filter((f) => f.lost).map((f) => f.steps.map((s) => s.path)), a).toEqual([["a.bin"]]);
      } else {
        expect(paths, a).toEqual(["a.bin", "b.bin", "c.bin"]);
        expect(open[0].traceId).toBe(first.get(a)!.traceId);
      }
    }
    const traces = new Map<string, string>();
    for (let i = 0; i < machines; i++) traces.set(machine(i), (await flowsOf(cli, machine(i))).find((f) => !f.lost)!.traceId!);
    expect(await cli.stop()).toBe(0);
    const r = receiver;
    await waitFor("the tftp.read spans", () => (r.spans.slice(before).filter((s) => s.name === "tftp.read").length >= 2 * machines ? true : undefined));
    const spans = r.spans.slice(before);
    for (const [address, traceId] of traces) {
      const late = spans.filter((s) => s.name === "tftp.read" && s.attributes["network.peer.address"] === address && s.attributes["tftp.path"] !== "a.bin");
      expect(late.map((s) => s.traceId), address).toEqual([traceId, traceId]);
    }
  });

  it("/metrics and /api/v1/stats after kill -9 of a worker count every session but at most those of its last second, and never go backwards", async () => {
    const cli = await startServe(["--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0", "--workers", "2", "--root", tree.dir, "--log", "off"]);
    const port = Number(/ on [^\s]+:(\d+) \(udp/.exec(cli.stderr())?.[1]);
    const pids = workerPids(cli);
    const get = (i: number, name: string): Promise<Got> => tftpGet(port, machine(i % 32), name);
    // 200 small and 20 large sessions from 32 machines, then more than a second: every one reported.
    const settled = await pool(220, 16, (i) => get(i, i % 11 === 10 ? "large.bin" : "a.bin"));
    expect(settled.every((g) => g.outcome === "ok")).toBe(true);
    await sleep(1500);
    // 40 more right before the kill: those of worker 1 may be lost (its last second).
    const late = await pool(40, 16, (i) => get(i, "a.bin"));
    expect(late.every((g) => g.outcome === "ok")).toBe(true);
    const seen = await metricSessions(cli);
    process.kill(pids[0], "SIGKILL");
    await waitFor("worker 1's exit", () => (/worker 1 \(pid \d+\) exited/.test(cli.stderr()) ? true : undefined));
    const after = await pool(100, 16, (i) => get(i, "a.bin"));
    expect(after.every((g) => g.outcome === "ok")).toBe(true);
    const counted = await metricSessions(cli);
    const stats = await getJson<{ stats: { sessionsStarted: number; sessionsOk: number } }>(`${cli.adminUrl}/api/v1/stats`);
    expect(counted).toBeGreaterThanOrEqual(220 + 100);
    expect(counted).toBeLessThanOrEqual(220 + 40 + 100);
    expect(counted).toBeGreaterThanOrEqual(seen); // never backwards
    expect(stats.stats.sessionsOk).toBeGreaterThanOrEqual(220 + 100);
    expect(stats.stats.sessionsOk).toBeLessThanOrEqual(220 + 40 + 100);
    // Once more than a second has passed, the replacement's sessions are all there too and nothing went back.
    await sleep(1200);
    expect(await metricSessions(cli)).toBeGreaterThanOrEqual(counted);
  });

  for (const workers of [2, 4]) {
    it(`--max-sessions 50 with ${workers} workers: 60 clients from 60 addresses asking at once, exactly 50 are served`, async () => {
      const cli = await startServe([
        "--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0", "--workers", String(workers), "--root", tree.dir, "--log", "off",
        "--max-sessions", "50", "--timeout", "10", "--retries", "1", "--drain-seconds", "0",
      ]);
      const port = Number(/ on [^\s]+:(\d+) \(udp/.exec(cli.stderr())?.[1]);
      const got = await Promise.all(Array.from({ length: 60 }, (_, i) => tftpGet(port, machine(100 + i), "large.bin", { hold: true, retryMs: 5000 })));
      try {
        expect(got.filter((g) => g.outcome === "held")).toHaveLength(50);
        const refused = got.filter((g) => g.outcome === "error");
        expect(refused).toHaveLength(10);
        for (const r of refused) expect(r.message).toMatch(/Server busy/);
        const stats = await getJson<{ stats: { sessionsActive: number; refusedBusy: number } }>(`${cli.adminUrl}/api/v1/stats`);
        expect(stats.stats.sessionsActive).toBe(50);
        expect(stats.stats.refusedBusy).toBe(10);
      } finally {
        for (const g of got) g.close?.();
      }
    });
  }

  it("SIGHUP reloads during a storm of sessions lose no session", async () => {
    const cli = await startServe(["--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0", "--workers", "2", "--root", tree.dir, "--log", "off"]);
    const port = Number(/ on [^\s]+:(\d+) \(udp/.exec(cli.stderr())?.[1]);
    let stop = false;
    // Five reloads, 150 ms apart, while 24 clients at a time start sessions; the storm ends with the reloads.
    const hups = (async () => {
      for (let n = 0; n < 5; n++) {
        await sleep(150);
        cli.proc.kill("SIGHUP");
      }
      await sleep(150);
      stop = true;
    })();
    const got = (await pool(5000, 24, async (i) => (stop ? undefined : tftpGet(port, machine(i % 48), i % 5 === 0 ? "c.bin" : "a.bin")))).filter(
      (g): g is Got => g !== undefined,
    );
    await hups;
    expect(got.length).toBeGreaterThan(100);
    await waitFor("the reloads", () => ((cli.stderr().match(/reloaded the configuration in 2 workers/g) ?? []).length >= 2 ? true : undefined));
    expect(got.filter((g) => g.outcome !== "ok")).toEqual([]);
    const n = got.length;
    const stats = await waitFor("every session counted", async () => {
      const s = await getJson<{ stats: { sessionsOk: number; sessionsFailed: number } }>(`${cli.adminUrl}/api/v1/stats`);
      return s.stats.sessionsOk >= n ? s : undefined;
    });
    expect(stats.stats.sessionsFailed).toBe(0);
  });
});
