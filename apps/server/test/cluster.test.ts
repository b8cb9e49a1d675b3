// tftpkit serve --workers N: a primary and N worker processes. Clients are
// told apart by their loopback source address (curl --interface 127.0.0.x):
// the primary routes each client address to one worker.

import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { curlTftp, hasCurl, startCli, stopAllClis, tempTree, waitFor, type Cli, slowHandler } from "./helpers.js";

const big = randomBytes(300_000);
// slow.bin: 10 chunks of 16 KiB, one every 200 ms (a transfer of about 2 s).
const SLOW = slowHandler(10, 200);
const slowBytes = SLOW.bytes;
const tree = tempTree({ "big.bin": big, "hello.txt": "hello from A\n", "slow.mjs": SLOW.source });
const treeB = tempTree({ "hello.txt": "hello from B\n" });
const root = tree.dir;

afterEach(() => stopAllClis());
afterAll(() => {
  tree.cleanup();
  treeB.cleanup();
});

/** 127.0.0.<10 + i>: one "machine" per i. */
const machine = (i: number): string => `127.0.0.${10 + i}`;

/** The worker pids of the start-up line ("2 workers: pid 1, pid 2"). */
function workerPids(cli: Cli): number[] {
  const m = /workers: ([^)]*)\)/.exec(cli.stderr());
  return m ? [...m[1].matchAll(/pid (\d+)/g)].map((x) => Number(x[1])) : [];
}

interface LogLine {
  outcome: string;
  peer: string;
  path: string;
  worker?: number;
}

function sessionLines(cli: Cli): LogLine[] {
  return cli
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

describe.skipIf(!hasCurl)("tftpkit serve --workers", () => {
  it("workers share the load: sessions from many machines are served by more than one worker process; stats and /metrics add up", async () => {
    const cli = await startCli(["--workers", "2", "--root", root, "--admin", "127.0.0.1:0"]);
    const pids = workerPids(cli);
    expect(pids).toHaveLength(2);
    expect(new Set([...pids, cli.proc.pid]).size).toBe(3);
    expect(pids.every(alive)).toBe(true);
    expect(cli.stderr()).toMatch(/receive buffer: asked \d+ bytes, granted \d+/);

    const n = 24;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => curlTftp(cli.udpPort, "big.bin", machine(i))));
    for (const r of results) {
      expect(r.code).toBe(0);
      expect(r.data.equals(big)).toBe(true);
    }
    const lines = await waitFor("every session's log line", () => {
      const l = sessionLines(cli);
      return l.length >= n ? l : undefined;
    });
    const byWorker = new Map<number, Set<string>>();
    for (const l of lines) {
      expect(l.outcome).toBe("ok");
      expect([1, 2]).toContain(l.worker);
      const address = l.peer.split(":")[0];
      if (!byWorker.has(l.worker!)) byWorker.set(l.worker!, new Set());
      byWorker.get(l.worker!)!.add(address);
    }
    expect(byWorker.size).toBe(2); // both workers served sessions
    // One machine, one worker: no address appears under both.
    const [a, b] = [...byWorker.values()];
    expect([...a].filter((x) => b.has(x))).toEqual([]);

    const api = cli.adminUrl!;
    const info = await getJson<{ workers: number; pid: number }>(`${api}/api/v1/info`);
    expect(info.workers).toBe(2);
    expect(info.pid).toBe(cli.proc.pid); // the primary serves the admin API
    const page = await fetch(`${api}/`);
    expect(page.status).toBe(200); // and the dashboard
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const stats = await waitFor("stats of every session", async () => {
      const s = await getJson<{ stats: { sessionsOk: number; sessionsStarted: number; bytesSent: number } }>(`${api}/api/v1/stats`);
      return s.stats.sessionsOk === n ? s : undefined;
    });
    expect(stats.stats.sessionsStarted).toBe(n);
    expect(stats.stats.bytesSent).toBe(n * big.length);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    const ok = /^tftp_server_sessions_total\{[^}]*tftp_outcome="ok"[^}]*\} (\d+)$/m.exec(metrics);
    expect(Number(ok?.[1])).toBe(n);
    const bytes = /^tftp_server_bytes_sent_total\{[^}]*\} (\d+)$/m.exec(metrics);
    expect(Number(bytes?.[1])).toBe(n * big.length);
    // One family each, not one per worker.
    expect(metrics.match(/^# TYPE tftp_server_sessions_total /gm)).toHaveLength(1);
  });

  it("kill -9 of one worker during 40 transfers: the other worker's transfers finish byte for byte, the dead one is replaced", async () => {
    const cli = await startCli(["--workers", "2", "--root", root, "--handler", join(root, "slow.mjs"), "--admin", "127.0.0.1:0", "--log", "off"]);
    const api = cli.adminUrl!;
    const pids = workerPids(cli);
    const n = 40;
    const transfers = Array.from({ length: n }, (_, i) => curlTftp(cli.udpPort, "slow.bin", machine(i)));
    // Every transfer running, and each machine's worker known.
    const live = await waitFor("40 live sessions", async () => {
      const s = await getJson<{ sessions: Array<{ id: string; worker: number; peer: { address: string } }> }>(`${api}/api/v1/sessions`);
      return s.sessions.length === n ? s.sessions : undefined;
    }, 30_000, 50);
    // Ids stay unique across workers: each worker puts its own prefix before them.
    expect(live.every((s) => s.id.startsWith(`w${s.worker}:`))).toBe(true);
    expect(new Set(live.map((s) => s.id)).size).toBe(n);
    const workerOf = new Map(live.map((s) => [s.peer.address, s.worker]));
    const victim = 1;
    const victims = [...workerOf].filter(([, w]) => w === victim).map(([a]) => a);
    const survivors = [...workerOf].filter(([, w]) => w !== victim).map(([a]) => a);
    expect(victims.length).toBeGreaterThan(0);
    expect(survivors.length).toBeGreaterThan(0);
    process.kill(pids[victim - 1], "SIGKILL");

    const results = await Promise.all(transfers);
    for (let i = 0; i < n; i++) {
      if (!survivors.includes(machine(i))) continue;
      expect(results[i].code, machine(i)).toBe(0);
      expect(results[i].data.equals(slowBytes), machine(i)).toBe(true);
    }
    // The killed worker's transfers did not complete (their sessions died with it).
    for (let i = 0; i < n; i++) {
      if (victims.includes(machine(i))) expect(results[i].data.equals(slowBytes)).toBe(false);
    }
    // A new worker takes the slot; a machine of the dead worker is served again.
    await waitFor("the replacement worker", () => (/worker 1 \(pid \d+\) ready/.test(cli.stderr()) ? true : undefined), 15_000);
    expect(cli.stderr()).toMatch(new RegExp(`worker 1 \\(pid ${pids[0]}\\) exited \\(signal SIGKILL\\)`));
    const again = await curlTftp(cli.udpPort, "big.bin", victims[0]);
    expect(again.code).toBe(0);
    expect(again.data.equals(big)).toBe(true);
    expect(alive(pids[1])).toBe(true);
  });

  it("SIGHUP reloads every worker; SIGTERM drains every worker, then all exit 0", async () => {
    const config = join(tree.dir, "cluster-config.json");
    writeFileSync(config, JSON.stringify({ root: tree.dir, handler: join(root, "slow.mjs") }));
    const cli = await startCli(["--workers", "2", "--config", config, "--admin", "127.0.0.1:0"]);
    const pids = workerPids(cli);
    const before = await Promise.all(Array.from({ length: 8 }, (_, i) => curlTftp(cli.udpPort, "hello.txt", machine(i))));
    for (const r of before) expect(r.data.toString()).toBe("hello from A\n");

    writeFileSync(config, JSON.stringify({ root: treeB.dir }));
    cli.proc.kill("SIGHUP");
    await waitFor("the reload", () => (/reloaded the configuration in 2 workers/.test(cli.stderr()) ? true : undefined));
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => curlTftp(cli.udpPort, "hello.txt", machine(i))));
    for (const r of after) expect(r.data.toString()).toBe("hello from B\n");
    const lines = sessionLines(cli);
    expect(new Set(lines.map((l) => l.worker)).size).toBe(2); // the 8 machines reached both workers

    // Back to the slow handler, then SIGTERM while transfers run in both workers.
    writeFileSync(config, JSON.stringify({ root: tree.dir, handler: join(root, "slow.mjs") }));
    cli.proc.kill("SIGHUP");
    await waitFor("the second reload", () => ((cli.stderr().match(/reloaded the configuration in 2 workers/g) ?? []).length === 2 ? true : undefined));
    const running = Array.from({ length: 8 }, (_, i) => curlTftp(cli.udpPort, "slow.bin", machine(i)));
    const live = await waitFor("8 live sessions", async () => {
      const s = await getJson<{ sessions: Array<{ worker: number }> }>(`${cli.adminUrl}/api/v1/sessions`);
      return s.sessions.length === 8 ? s.sessions : undefined;
    }, 20_000, 50);
    expect(new Set(live.map((s) => s.worker)).size).toBe(2);
    const code = await cli.stop(30_000);
    expect(code).toBe(0);
    expect(cli.stderr()).toMatch(/SIGTERM: draining \d+ session\(s\) in 2 workers/);
    for (const r of await Promise.all(running)) {
      expect(r.code).toBe(0);
      expect(r.data.equals(slowBytes)).toBe(true);
    }
    const slow = sessionLines(cli).filter((l) => l.path === "slow.bin");
    expect(slow).toHaveLength(8);
    expect(new Set(slow.map((l) => l.worker)).size).toBe(2);
    expect(pids.some(alive)).toBe(false);
  });

  it("SIGTERM to the whole process group (as systemd's control-group kill sends it) stops once: no worker is started again", async () => {
    const cli = await startCli(["--workers", "2", "--root", root, "--admin", "127.0.0.1:0"]);
    const pids = workerPids(cli);
    const r = await curlTftp(cli.udpPort, "hello.txt", machine(1));
    expect(r.code).toBe(0);
    const exit = new Promise<number | null>((resolve) => cli.proc.once("exit", (code) => resolve(code)));
    for (const pid of [...pids, cli.proc.pid!]) process.kill(pid, "SIGTERM");
    expect(await exit).toBe(0);
    expect(cli.stderr()).not.toMatch(/starting it again/);
    expect(cli.stderr()).toMatch(/SIGTERM: draining \d+ session\(s\) in 2 workers/);
    await waitFor("the workers to exit", () => (pids.some(alive) ? undefined : true));
  });

  it("single-port mode and a session port range work with workers", async () => {
    const sp = await startCli(["--workers", "2", "--root", root, "--single-port", "--admin", "off"]);
    const r1 = await Promise.all(Array.from({ length: 12 }, (_, i) => curlTftp(sp.udpPort, "big.bin", machine(i))));
    for (const r of r1) {
      expect(r.code).toBe(0);
      expect(r.data.equals(big)).toBe(true);
    }
    const spLines = await waitFor("12 log lines", () => (sessionLines(sp).length >= 12 ? sessionLines(sp) : undefined));
    expect(new Set(spLines.map((l) => l.worker)).size).toBe(2);
    await sp.stop();

    const pr = await startCli(["--workers", "2", "--root", root, "--port-range", "41000-41099", "--admin", "off"]);
    const r2 = await Promise.all(Array.from({ length: 12 }, (_, i) => curlTftp(pr.udpPort, "big.bin", machine(i))));
    for (const r of r2) {
      expect(r.code).toBe(0);
      expect(r.data.equals(big)).toBe(true);
    }
    const prLines = await waitFor("12 log lines", () => (sessionLines(pr).length >= 12 ? sessionLines(pr) : undefined));
    expect(new Set(prLines.map((l) => l.worker)).size).toBe(2);
  });

  it("a worker that cannot start stops the start with its reason", async () => {
    const bad = join(tree.dir, "bad-handler.mjs");
    writeFileSync(bad, "throw new Error('handler module broken on purpose');\n");
    await expect(startCli(["--workers", "2", "--root", root, "--handler", bad, "--admin", "off"])).rejects.toThrow(/broken on purpose/);
  });
});
