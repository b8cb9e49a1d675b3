// The load generator against a tftpkit server in this process, on loopback:
// counting, errors by code, percentiles, verification, flows, worker threads,
// reproducible loss, and the command's JSON and HTML output.

import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createServer, type TftpServer } from "@tftpkit/server";
import { buildReport, resolveScenario, runLoad, type ScenarioInput } from "../src/index.js";
import { bytes, closeTo, percentile } from "./helpers.js";

const run = promisify(execFile);


const BIN = fileURLToPath(new URL("../bin/tftpkit-load.js", import.meta.url));


const files: Record<string, Buffer> = { cfg: bytes(1024, 1), kernel: bytes(40_000, 2), initrd: bytes(100_000, 3), small: bytes(700, 4), huge: bytes(4_000_000, 5) };
let dir: string;
let verifyDir: string;
let server: TftpServer;
let target: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tftpkit-load-"));
  verifyDir = mkdtempSync(join(tmpdir(), "tftpkit-load-verify-"));
  for (const [k, v] of Object.entries(files)) {
    writeFileSync(join(dir, k), v);
    writeFileSync(join(verifyDir, k), v);
  }
  writeFileSync(join(verifyDir, "small"), Buffer.concat([files.small.subarray(0, 699), Buffer.from([files.small[699] ^ 1])])); // a wrong copy
  // 0.25 s server retransmission: loss recovers fast, a loaded machine still answers well
  // within it (no spurious resends to shift the loss draws), and the client's 1 s timeout never races it.
  server = createServer({ root: dir, timeoutSeconds: 0.25, retries: 20 });
  const a = await server.listen({ host: "127.0.0.1", port: 0 });
  target = `127.0.0.1:${a.port}`;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(verifyDir, { recursive: true, force: true });
});

const scenario = (over: Partial<ScenarioInput>): ReturnType<typeof resolveScenario> =>
  resolveScenario({ target, clients: 4, sessions: 40, files: ["cfg:2", "kernel:1", "missing:1"], blksize: 1024, ...over });

describe("counting", () => {
  it("counts sessions, errors by TFTP code and bytes; percentiles are those of the sessions", async () => {
    const raw = await runLoad(scenario({}), { keepSessions: true });
    const rep = buildReport(raw);
    const recs = raw.sessions!;
    expect(recs.map((r) => r.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const missing = recs.filter((r) => r.file === "missing").length;
    expect(missing).toBeGreaterThan(0);
    expect(rep.sessions).toEqual({ ok: 40 - missing, failed: missing, total: 40, cut: 0, started: 40, dropped: 0, late: 0 });
    expect(rep.errors).toEqual({ "1": missing });
    expect(Object.values(rep.error_messages["1"]).reduce((a, b) => a + b, 0)).toBe(missing);
    for (const r of recs) expect(r.error).toBe(r.file === "missing" ? "1" : undefined);
    const okBytes = recs.filter((r) => r.ok).reduce((s, r) => s + files[r.file].length, 0);
    expect(rep.bytes).toBe(okBytes);
    const durations = Float64Array.from(recs.filter((r) => r.ok).map((r) => r.durationMs)).sort();
    expect(rep.latency_ms.count).toBe(40 - missing);
    closeTo(rep.latency_ms.p50, percentile(durations, 50));
    closeTo(rep.latency_ms.p90, percentile(durations, 90));
    closeTo(rep.latency_ms.p99, percentile(durations, 99));
    closeTo(rep.latency_ms.max, durations[durations.length - 1]);
    expect(rep.histogram.reduce((s, b) => s + b.count, 0)).toBe(40 - missing);
  });

  it("--warmup runs unmeasured sessions per thread first: the server sees them, no figure counts them", async () => {
    for (const workers of [1, 2]) {
      const before = server.stats().sessionsStarted;
      const raw = await runLoad(scenario({ files: ["cfg"], sessions: 6, warmup: 5, workers }), { keepSessions: true });
      const rep = buildReport(raw);
      expect(rep.sessions).toMatchObject({ ok: 6, total: 6, started: 6 });
      expect(raw.sessions!.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(rep.latency_ms.count).toBe(6);
      expect(rep.bytes).toBe(6 * files.cfg.length);
      expect(rep.scenario.warmup).toBe(5);
      expect(server.stats().sessionsStarted - before).toBe(6 + 5 * workers);
    }
  });

  it("the same seed picks the same files", async () => {
    const a = await runLoad(scenario({ seed: 11 }), { keepSessions: true });
    const b = await runLoad(scenario({ seed: 11 }), { keepSessions: true });
    const c = await runLoad(scenario({ seed: 12 }), { keepSessions: true });
    const picks = (r: typeof a): string[] => r.sessions!.map((s) => s.file);
    expect(picks(b)).toEqual(picks(a));
    expect(picks(c)).not.toEqual(picks(a));
  });

  it("a boot flow fetches its files in order on each client", async () => {
    const raw = await runLoad(scenario({ files: undefined, flow: ["cfg", "kernel", "initrd"], sessions: 30, clients: 3 }), { keepSessions: true });
    expect(raw.part.totals).toMatchObject({ ok: 30, failed: 0, flowsOk: 9, flowsFailed: 0 });
    for (let c = 0; c < 3; c++) {
      const mine = raw.sessions!.filter((s) => s.client === c).map((s) => s.file);
      expect(mine).toEqual(mine.map((_, i) => ["cfg", "kernel", "initrd"][i % 3]));
    }
    expect(raw.part.totals.bytes).toBe(raw.sessions!.reduce((n, s) => n + files[s.file].length, 0));
    const rep = buildReport(raw);
    for (const [i, f] of ["cfg", "kernel", "initrd"].entries()) {
      const mine = raw.sessions!.filter((s) => s.file === f);
      expect(rep.files[f]).toMatchObject({ ok: mine.length, failed: 0 });
      const d = Float64Array.from(mine.map((s) => s.durationMs)).sort();
      closeTo(rep.files[f].latency_ms.p99, percentile(d, 99));
      expect(rep.flows!.steps[i]).toMatchObject({ step: i + 1, file: f, ok: mine.length, failed: 0 });
      closeTo(rep.flows!.steps[i].latency_ms.p99, percentile(d, 99));
    }
    expect(rep.flows).toMatchObject({ ok: 9, failed: 0, latency_ms: { count: 9 } });
  });

  it("verifies every byte against local copies and SHA-256 sums", async () => {
    const byDir = await runLoad(scenario({ files: ["cfg", "small"], sessions: 20, verify: { dir: verifyDir } }), { keepSessions: true });
    const smalls = byDir.sessions!.filter((s) => s.file === "small").length;
    expect(byDir.part.errors).toEqual({ verify: smalls });
    expect(byDir.part.totals.ok).toBe(20 - smalls);
    const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
    const bySum = await runLoad(scenario({ files: ["cfg", "kernel"], sessions: 10, verify: { sha256: { cfg: sha(files.cfg), kernel: sha(files.small) } } }), { keepSessions: true });
    const kernels = bySum.sessions!.filter((s) => s.file === "kernel").length;
    expect(bySum.part.errors).toEqual(kernels ? { verify: kernels } : {});
  });

  it("spreads clients over worker threads sharing one session counter", async () => {
    const raw = await runLoad(scenario({ workers: 2, clients: 6, sessions: 60, files: ["cfg", "kernel"] }), { keepSessions: true });
    expect(raw.part.totals).toMatchObject({ ok: 60, failed: 0 });
    expect(raw.sessions!.map((s) => s.index)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(raw.cpu.threads).toBe(3);
    expect(raw.cpu.elu).toHaveLength(3);
  });

  it("the time limit cuts running sessions short, counted apart from failures", async () => {
    // 500,000 lock-step blocks of 8 bytes: seconds even on a fast machine (100 KB finished within 0.3 s on one).
    const rep = buildReport(await runLoad(resolveScenario({ target, clients: 2, sessions: 10, files: ["huge"], blksize: 8, timeLimitSeconds: 0.3 })));
    expect(rep.sessions).toMatchObject({ ok: 0, failed: 0, total: 0, cut: 2 });
    expect(rep.errors).toEqual({});
    expect(rep.bytes).toBeGreaterThan(0);
    expect(rep.warnings.join()).toMatch(/cut 2 session/);
  });

  it("a cut timer that fires before the wall clock reaches the limit starts no more sessions", async () => {
    // A wall clock that runs at half speed: the cut timer (monotonic) fires while Date.now() is
    // still short of the limit, as it can by a millisecond on a real machine.
    const realNow = Date.now.bind(Date);
    const t0 = realNow();
    const spy = vi.spyOn(Date, "now").mockImplementation(() => t0 + (realNow() - t0) / 2);
    try {
      const rep = buildReport(await runLoad(resolveScenario({ target, clients: 2, sessions: 10, files: ["huge"], blksize: 8, timeLimitSeconds: 0.3, workers: 1 })));
      expect(rep.sessions).toMatchObject({ ok: 0, failed: 0, total: 0, cut: 2, started: 2 });
    } finally {
      spy.mockRestore();
    }
  });

  it("open model: a start held back by a busy load generator still counts its latency from the scheduled time", async () => {
    // Block this thread (the load generator's and the server's) for 300 ms in the middle of a 100/s run.
    const block = setTimeout(() => {
      const until = performance.now() + 300;
      while (performance.now() < until);
    }, 400);
    const raw = await runLoad(resolveScenario({ target, rate: 100, durationSeconds: 1.2, files: ["cfg"], workers: 1 }), { keepSessions: true });
    clearTimeout(block);
    const rep = buildReport(raw);
    expect(rep.sessions).toMatchObject({ started: 120, failed: 0, dropped: 0 });
    expect(rep.sessions.late).toBeGreaterThan(0);
    // The starts scheduled during the block began up to ~300 ms late...
    expect(rep.start_lag_ms!.max).toBeGreaterThanOrEqual(200);
    // ...and their latency includes that wait (no coordinated omission).
    expect(rep.latency_ms.max).toBeGreaterThanOrEqual(rep.start_lag_ms!.max);
    const late = raw.sessions!.filter((s) => s.durationMs >= 200);
    expect(late.length).toBeGreaterThan(0);
  });

  it("a duration run stops by itself", async () => {
    const raw = await runLoad(resolveScenario({ target, clients: 2, durationSeconds: 0.3, files: ["cfg"] }));
    expect(raw.part.totals.ok).toBeGreaterThan(0);
    expect(raw.part.totals.failed).toBe(0);
  });
});

describe("seeded loss", () => {
  const lossy = (seed: number): ReturnType<typeof resolveScenario> =>
    scenario({ files: ["kernel"], sessions: 6, clients: 3, blksize: 512, loss: 0.05, seed });

  it("drops the same packets of each session for the same seed", async () => {
    const a = await runLoad(lossy(7), { keepSessions: true });
    const b = await runLoad(lossy(7), { keepSessions: true });
    const c = await runLoad(lossy(8), { keepSessions: true });
    const drops = (r: typeof a): Array<[number, number]> => r.sessions!.map((s) => [s.dataDropped, s.acksDropped]);
    expect(a.part.totals).toMatchObject({ ok: 6, failed: 0 });
    expect(a.part.totals.dataDropped + a.part.totals.acksDropped).toBeGreaterThan(0);
    expect(drops(b)).toEqual(drops(a));
    expect(drops(c)).not.toEqual(drops(a));
    expect(a.part.totals.bytes).toBe(6 * files.kernel.length);
  }, 30_000);
});

describe("the tftpkit-load command", () => {
  it("--json prints one JSON document with the figures; --html writes a self-contained page", async () => {
    const out = mkdtempSync(join(tmpdir(), "tftpkit-load-out-"));
    try {
      const html = join(out, "report.html");
      const r = await run(process.execPath, [BIN, "--target", target, "--clients", "20", "--workers", "1", "--sessions", "60", "--file", "cfg:3", "--file", "kernel", "--blksize", "1024", "--tsize", "--json", "--html", html]);
      const doc = JSON.parse(r.stdout);
      expect(r.stderr).toBe(""); // not a terminal: quiet
      expect(doc.tool).toBe("tftpkit-load");
      expect(doc.sessions).toEqual({ ok: 60, failed: 0, total: 60, cut: 0, started: 60, dropped: 0, late: 0 });
      expect(doc.mbps).toBeGreaterThan(0);
      expect(doc.latency_ms.p99).toBeGreaterThanOrEqual(doc.latency_ms.p50);
      expect(doc.errors).toEqual({});
      expect(doc.cpu.threads).toBe(1);
      expect(Array.isArray(doc.timeline)).toBe(true);
      const page = readFileSync(html, "utf8");
      expect(page.startsWith("<!DOCTYPE html>")).toBe(true);
      assertWellFormed(page.replace("<!DOCTYPE html>", ""));
      expect(page.match(/<svg /g)).toHaveLength(5); // throughput, sessions/s, latency over time, errors over time, histogram
      expect(page).toContain('aria-label="Latency over time');
      expect(page).toContain('aria-label="Errors over time"');
      expect(page).toMatch(/<polyline|<circle/); // a line, or one point when the run fits in one second
      expect(page).toContain("<rect");
      // Self-contained: no scripts, links, images or remote URLs (the SVG namespace is not fetched).
      expect(page).not.toMatch(/<script|<link|<img|src=|href=|url\(/i);
      expect(page.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, "")).not.toMatch(/https?:/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("prints the text report, and exits 1 when sessions failed, 2 on bad flags", async () => {
    const r = await run(process.execPath, [BIN, "--target", target, "--sessions", "3", "--file", "missing"]).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/0 ok, 3 failed \(TFTP 1: 3\)/);
    expect(r.stdout).toMatch(/latency ms/);
    const bad = await run(process.execPath, [BIN, "--target", target, "--file", "x", "--loss", "7"]).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/loss must be from 0 to 1/);
    // A source range that is not on this machine (TEST-NET-1): one clear line before any traffic.
    const foreign = await run(process.execPath, [BIN, "--target", target, "--file", "cfg", "--source", "192.0.2.0/24"]).catch((e) => e);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/--source 192\.0\.2\.0\/24: cannot bind 192\.0\.2\.1 \(EADDRNOTAVAIL\)/);
  });

  it("--help names every shared transfer flag; its timeout is the fixed wait a virtual client uses", async () => {
    const r = await run(process.execPath, [BIN, "--help"]);
    for (const flag of ["--blksize", "--windowsize", "--tsize", "--timeout-seconds", "--timeout-option-seconds", "--retries", "--mode"]) expect(r.stdout).toContain(`  ${flag}`);
    const line = r.stdout.split("\n").find((l) => l.startsWith("  --timeout-seconds "))!;
    expect(line).toMatch(/fixed wait/);
    expect(line).not.toMatch(/adaptive/);
    expect(resolveScenario({ target: "h:69", files: ["a"] }).timeoutSeconds).toBe(1);
  });

  it("--progress draws a live line on stderr", async () => {
    const r = await run(process.execPath, [BIN, "--target", target, "--clients", "2", "--sessions", "400", "--file", "cfg", "--progress"]);
    // eslint-disable-next-line no-control-regex -- the line starts with the terminal's erase-line sequence (ESC [2K)
    expect(r.stderr).toMatch(/\r\x1b\[2K\[[#-]{24}\] \d+\/400 sessions, 0 errors, [\d.]+ MB\/s, [\d.]+ s/);
    expect(r.stdout).toMatch(/400 ok, 0 failed/);
  });

  it("Ctrl-C (SIGINT) or SIGTERM ends the run early with its report, exit 1", async () => {
    for (const [sig, workers] of [["SIGINT", "2"], ["SIGTERM", "1"]] as const) {
      const child = spawn(process.execPath, [BIN, "--target", target, "--clients", "2", "--workers", workers, "--duration", "120", "--file", "cfg", "--progress", "--json"]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      const code = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      // Once sessions have ended, interrupt.
      await new Promise<void>((resolve) =>
        child.stderr.on("data", (d) => {
          stderr += d;
          if (/[1-9]\d* sessions, 0 errors/.test(stderr)) resolve();
        }),
      );
      child.kill(sig);
      expect(await code).toBe(1);
      expect(stderr).toContain(`tftpkit-load: ${sig}: stopping, the report follows`);
      const doc = JSON.parse(stdout);
      expect(doc.sessions.ok).toBeGreaterThan(0);
      expect(doc.sessions.failed).toBe(0);
      expect(doc.warnings.join(" ")).toMatch(/the run was interrupted/);
    }
  }, 60_000);

  it("reads a scenario file", async () => {
    const out = mkdtempSync(join(tmpdir(), "tftpkit-load-scn-"));
    try {
      const f = join(out, "boot.json");
      writeFileSync(f, JSON.stringify({ target, clients: 1, sessions: 6, flow: ["cfg", "kernel"], blksize: 1468, verify: { dir: dir } }));
      const r = await run(process.execPath, [BIN, "--scenario", f, "--json"]);
      const doc = JSON.parse(r.stdout);
      expect(doc.sessions.ok).toBe(6);
      expect(doc.scenario.flow).toEqual(["cfg", "kernel"]);
      expect(doc.scenario.verify).toBe("dir");
      expect(doc.bytes).toBe(3 * (files.cfg.length + files.kernel.length));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

/** A small XML well-formedness check: every tag closed in order, attributes quoted, entities known. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<(?!\/?[a-zA-Z])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    if (m[2] === undefined) throw new Error(`stray < at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${m.index}`);
    } else stack.push(name);
  }
  expect(stack).toEqual([]);
  const text = xml.replace(/<[^>]*>/g, "");
  expect(text.match(/&(?!amp;|lt;|gt;|quot;)/g)).toBeNull();
}
