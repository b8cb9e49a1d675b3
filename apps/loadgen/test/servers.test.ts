// tftpkit-load against tftpkit (in this process) and tftpd-hpa (Debian's
// in.tftpd, started on a loopback port): thresholds and the exit code, the
// open model's start count, stages and the in-flight cap, merging runs,
// distinct source addresses as the server sees them, boot flows with think
// time and one trace id per machine, compare, and the HTML report.
// Counts only: no timing goes into an assertion.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type SessionInfo } from "@tftpkit/server";
import { buildReport, resolveScenario, runLoad, type Report } from "../src/index.js";
import { hasHpa, startHpa } from "../../../packages/client/test/helpers.js";
import { bytes } from "./helpers.js";

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/tftpkit-load.js", import.meta.url));

/** Runs the command; resolves its exit code and output (a non-zero exit does not throw). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}


// The source pool of the --source tests: 127.0.3.1 .. 127.0.3.6 (a /29 without its network and broadcast).
const POOL = "127.0.3.0/29";
const POOL_HOSTS = [1, 2, 3, 4, 5, 6].map((i) => `127.0.3.${i}`);
const sizeFor = (address: string): number => 100 * Number(address.split(".")[3]);

const files: Record<string, Buffer> = { cfg: bytes(1024, 1), kernel: bytes(30_000, 2), slow: bytes(1024 * 1024, 3) };
// "whoami" is answered with the file named after the client's address (each a different size).
for (const a of POOL_HOSTS) files[a] = bytes(sizeFor(a), 9);

interface Target {
  target: string;
  /** What the server saw of each session: client address and traceparent (tftpkit only for the latter). */
  seen(): Array<{ address: string; traceparent?: string }>;
  stop(): Promise<void>;
  traceparent: boolean;
}

let dir: string;
let out: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tftpkit-load-srv-"));
  out = mkdtempSync(join(tmpdir(), "tftpkit-load-out-"));
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

async function startTftpkit(): Promise<Target> {
  const log: SessionInfo[] = [];
  const server = createServer({
    root: dir,
    timeoutSeconds: 0.25,
    retries: 20,
    rewrite: (path, ctx) => ({ path: path === "whoami" ? ctx.address : path }),
    instrumentation: { session: (info) => (log.push(info), undefined), malformed: () => {} },
  });
  const a = await server.listen({ host: "127.0.0.1", port: 0 });
  return {
    target: `127.0.0.1:${a.port}`,
    seen: () => log.map((s) => ({ address: s.peer.address, traceparent: s.traceparent })),
    stop: () => server.close(),
    traceparent: true,
  };
}

async function startTftpdHpa(): Promise<Target> {
  // tftpd-hpa logs to syslog only; its remap rules stand in for the log: \i is the client's address.
  const map = join(out, "hpa.map");
  writeFileSync(map, "r ^whoami$ \\i\n");
  const hpa = await startHpa(dir, "127.0.0.1", ["-m", map]);
  return { target: `127.0.0.1:${hpa.port}`, seen: () => [], stop: () => hpa.stop(), traceparent: false };
}

const SERVERS: Array<{ name: string; skip: boolean; start: () => Promise<Target> }> = [
  { name: "tftpkit", skip: false, start: startTftpkit },
  { name: "tftpd-hpa", skip: !hasHpa, start: startTftpdHpa },
];

for (const srv of SERVERS) {
  describe.skipIf(srv.skip)(`against ${srv.name}`, () => {
    let t: Target;
    beforeAll(async () => {
      t = await srv.start();
    });
    afterAll(async () => {
      await t?.stop();
    });

    it("an impossible threshold exits 1 and names it; easy ones exit 0", async () => {
      const base = ["--target", t.target, "--clients", "2", "--sessions", "20", "--file", "cfg"];
      const hard = await cli([...base, "--threshold", "p99<1us", "--threshold", "errors<50%"]);
      expect(hard.code).toBe(1);
      expect(hard.stderr).toMatch(/threshold failed: p99<1us \(measured [\d.]+\)/);
      expect(hard.stderr).not.toMatch(/errors<50%/);
      expect(hard.stdout).toMatch(/threshold +FAILED p99<1us/);
      expect(hard.stdout).toMatch(/threshold +ok +errors<50%/);
      const easy = await cli([...base, "--threshold", "p99<60s", "--threshold", "errors<0.1%", "--threshold", "mbps>0.000001", "--json"]);
      expect(easy.code).toBe(0);
      const rep = JSON.parse(easy.stdout) as Report;
      expect(rep.thresholds.map((x) => [x.threshold, x.ok])).toEqual([
        ["p99<60s", true],
        ["errors<0.1%", true],
        ["mbps>0.000001", true],
      ]);
      const ugly = await cli([...base, "--threshold", "p99 soon"]);
      expect(ugly.code).toBe(2);
      expect(ugly.stderr).toMatch(/--threshold "p99 soon": use METRIC<VALUE/);
    }, 60_000);

    it("--rate 200 --duration 5 starts 1000 +- 15% sessions (constant and Poisson arrivals)", async () => {
      for (const arrival of ["constant", "poisson"]) {
        const r = await cli(["--target", t.target, "--rate", "200", "--duration", "5", "--arrival", arrival, "--file", "cfg", "--seed", "3", "--timeout-seconds", "2", "--retries", "10", "--json"]);
        const rep = JSON.parse(r.stdout) as Report;
        expect(rep.scenario).toMatchObject({ model: "open", rate: 200, arrival });
        expect(rep.sessions.started).toBeGreaterThanOrEqual(850);
        expect(rep.sessions.started).toBeLessThanOrEqual(1150);
        if (arrival === "constant") expect(rep.sessions.started + rep.sessions.dropped).toBe(1000);
        expect(rep.sessions.ok + rep.sessions.failed + rep.sessions.cut).toBe(rep.sessions.started);
        expect(rep.sessions.failed, JSON.stringify(rep.error_messages)).toBe(0);
        expect(rep.start_lag_ms!.count).toBe(rep.sessions.started);
        expect(r.code).toBe(0);
      }
    }, 120_000);

    it("--stages ramps the rate: 0 -> 50/s over 1 s, -> 150/s over 1 s starts 25 + 100 sessions", async () => {
      const r = await cli(["--target", t.target, "--stages", "1s:50,1s:150", "--file", "cfg", "--json"]);
      const rep = JSON.parse(r.stdout) as Report;
      expect(rep.scenario.stages).toEqual([
        { duration_s: 1, target: 50 },
        { duration_s: 1, target: 150 },
      ]);
      expect(rep.sessions.started + rep.sessions.dropped).toBe(125);
      expect(rep.sessions.failed).toBe(0);
    }, 60_000);

    it("--max-in-flight caps the running sessions; starts that find the cap are counted as not started", async () => {
      // 1 MiB in lock-step 512-byte blocks (2048 round trips) every 10 ms, one at a time.
      const r = await cli(["--target", t.target, "--rate", "100", "--duration", "1", "--max-in-flight", "1", "--file", "slow", "--json"]);
      const rep = JSON.parse(r.stdout) as Report;
      expect(rep.sessions.started + rep.sessions.dropped).toBe(100);
      expect(rep.sessions.started).toBeGreaterThanOrEqual(1);
      expect(rep.sessions.dropped).toBeGreaterThan(0);
      expect(rep.sessions.failed).toBe(0);
      expect(rep.warnings.join(" ")).toMatch(/dropped: --max-in-flight was reached/);
      expect(rep.timeline.reduce((a, p) => a + p.dropped, 0)).toBe(rep.sessions.dropped);
    }, 60_000);

    it("merge of two runs adds their sessions, bytes and histograms up", async () => {
      const a = join(out, `${srv.name}-a.json`);
      const b = join(out, `${srv.name}-b.json`);
      const ra = await cli(["--target", t.target, "--clients", "3", "--sessions", "30", "--file", "cfg:2", "--file", "kernel", "--seed", "1", "--json"]);
      const rb = await cli(["--target", t.target, "--rate", "50", "--sessions", "40", "--file", "cfg", "--file", "missing", "--seed", "2", "--json"]);
      writeFileSync(a, ra.stdout);
      writeFileSync(b, rb.stdout);
      const A = JSON.parse(ra.stdout) as Report;
      const B = JSON.parse(rb.stdout) as Report;
      expect(B.sessions.failed).toBeGreaterThan(0);
      const html = join(out, `${srv.name}-merged.html`);
      const m = await cli(["merge", a, b, "--json", "--html", html]);
      const M = JSON.parse(m.stdout) as Report;
      expect(M.runs).toBe(2);
      expect(M.sessions.ok).toBe(A.sessions.ok + B.sessions.ok);
      expect(M.sessions.failed).toBe(A.sessions.failed + B.sessions.failed);
      expect(M.sessions.total).toBe(70);
      expect(M.bytes).toBe(A.bytes + B.bytes);
      expect(M.latency_ms.count).toBe(A.latency_ms.count + B.latency_ms.count);
      expect(M.latency_ms.max).toBe(Math.max(A.latency_ms.max, B.latency_ms.max));
      expect(M.files.cfg.ok).toBe(A.files.cfg.ok + B.files.cfg.ok);
      expect(M.errors["1"]).toBe(B.errors["1"]);
      expect(M.timeline.reduce((s, p) => s + p.ok, 0)).toBe(M.sessions.ok);
      expect(m.code).toBe(1); // some sessions failed
      expect(readFileSync(html, "utf8")).toContain("2 runs merged");
      const text = await cli(["merge", a, b]);
      expect(text.stdout).toMatch(new RegExp(`${M.sessions.ok} ok, ${M.sessions.failed} failed`));
      const bad = await cli(["merge", a, join(out, "nothing.json")]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/nothing\.json/);
    }, 60_000);

    it("--source gives each virtual client its own address, and the server sees them", async () => {
      const raw = await runLoad(resolveScenario({ target: t.target, clients: 6, sessions: 24, files: ["whoami"], source: POOL }), { keepSessions: true });
      expect(raw.part.totals).toMatchObject({ ok: 24, failed: 0 });
      const bySource = new Map<string, Set<number>>();
      for (const s of raw.sessions!) {
        // The server answered with the file named after the address it saw.
        expect(s.bytes).toBe(sizeFor(s.source!));
        if (!bySource.has(s.source!)) bySource.set(s.source!, new Set());
        bySource.get(s.source!)!.add(s.client);
      }
      expect([...bySource.keys()].sort()).toEqual(POOL_HOSTS);
      for (const clients of bySource.values()) expect(clients.size).toBe(1); // one address per virtual client
      if (srv.name === "tftpkit") {
        const seen = new Set(t.seen().map((x) => x.address));
        for (const a of POOL_HOSTS) expect(seen.has(a)).toBe(true);
      }
    }, 60_000);

    it("a boot flow per machine: steps in order with think time, per-step and whole-flow latency" + (srv.name === "tftpkit" ? ", one trace id per flow" : ""), async () => {
      const before = t.seen().length;
      const raw = await runLoad(
        resolveScenario({ target: t.target, rate: 20, sessions: 6, flow: ["cfg", "kernel"], thinkSeconds: 0.05, source: POOL, traceparent: t.traceparent }),
        { keepSessions: true },
      );
      const rep = buildReport(raw);
      expect(rep.flows).toMatchObject({ ok: 6, failed: 0, latency_ms: { count: 6 } });
      expect(rep.flows!.steps.map((s) => [s.step, s.file, s.ok, s.latency_ms.count])).toEqual([
        [1, "cfg", 6, 6],
        [2, "kernel", 6, 6],
      ]);
      // A whole flow includes its steps and the think time between them.
      expect(rep.flows!.latency_ms.min).toBeGreaterThanOrEqual(45); // 50 ms of think time (timer rounding aside)
      const sessions = raw.sessions!;
      expect(sessions).toHaveLength(12);
      for (let k = 0; k < 6; k++) {
        const mine = sessions.filter((s) => s.client === k).sort((a, b) => a.step - b.step);
        expect(mine.map((s) => s.file)).toEqual(["cfg", "kernel"]);
        expect(new Set(mine.map((s) => s.source)).size).toBe(1);
      }
      if (t.traceparent) {
        const traceOf = (tp: string | undefined): string => tp!.split("-")[1];
        const perMachine = Array.from({ length: 6 }, (_, k) => sessions.filter((s) => s.client === k).map((s) => traceOf(s.traceparent)));
        for (const ids of perMachine) expect(new Set(ids).size).toBe(1);
        expect(new Set(perMachine.map((ids) => ids[0])).size).toBe(6);
        // The server saw the same traceparents (stripped from the names).
        const seen = t.seen().slice(before).map((x) => x.traceparent);
        expect(seen.sort()).toEqual(sessions.map((s) => s.traceparent).sort());
      }
    }, 60_000);

    it("compare prints what changed between two runs, as text and HTML", async () => {
      const a = join(out, `${srv.name}-cmp-a.json`);
      const b = join(out, `${srv.name}-cmp-b.json`);
      writeFileSync(a, (await cli(["--target", t.target, "--sessions", "10", "--file", "cfg", "--json"])).stdout);
      writeFileSync(b, (await cli(["--target", t.target, "--sessions", "10", "--file", "cfg", "--file", "missing", "--json"])).stdout);
      const r = await cli(["compare", a, b]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/throughput MB\/s/);
      expect(r.stdout).toMatch(/latency p99 ms/);
      expect(r.stdout).toMatch(/sessions failed +0 +[1-9]\d* +new +worse/);
      const html = join(out, `${srv.name}-cmp.html`);
      const j = await cli(["compare", a, b, "--json", "--html", html]);
      const rows = JSON.parse(j.stdout).rows as Array<{ metric: string; verdict: string }>;
      expect(rows.find((x) => x.metric === "errors %")?.verdict).toBe("worse");
      expect(readFileSync(html, "utf8")).toMatch(/<td class="worse">worse<\/td>/);
    }, 60_000);

    it("the HTML report: charts at the page's width with ticks, latency and errors over time, per-step flow latency", async () => {
      const html = join(out, `${srv.name}-flow.html`);
      const r = await cli(["--target", t.target, "--rate", "10", "--duration", "2.5", "--flow", "cfg,kernel,missing", "--html", html]);
      expect(r.code).toBe(1); // the third step fails
      const page = readFileSync(html, "utf8");
      for (const title of ["Throughput over time", "Latency over time (sessions ending in each second)", "Errors over time", "Latency histogram", "Latency per flow step"]) {
        expect(page).toContain(`aria-label="${title}"`);
      }
      expect(page.match(/<svg [^>]*width="100%"/g)!.length).toBe(6);
      expect(page).toMatch(/svg\{display:block;width:100%;height:auto/);
      expect(page).toMatch(/>1 s<\/text>/); // time ticks in seconds
      expect(page).toMatch(/>step 3: missing<\/td><td>0<\/td><td>\d+<\/td>/);
      expect(page).toContain("<polyline");
      expect(page).not.toMatch(/<script|<link|<img|src=|href=/i);
    }, 60_000);
  });
}
