// The admin API with real transfers on loopback: `tftpkit serve` (or a
// TftpServer in this process, for the token tests), curl as the TFTP client
// from distinct loopback source addresses (`curl --interface 127.0.0.5`: one
// address per machine), a raw UDP socket for the UEFI size probe. Every JSON
// answer is checked against the schemas of the server's own OpenAPI
// document. No assertion depends on timing; every wait is bounded.

import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer as createTftpServer, type BootFlow, type LiveSession, type ServerStats, type TftpServer } from "@tftpkit/server";
import { redactConfig, startAdmin, type AdminServer } from "../src/admin/admin.js";
import { openApiDocument } from "../src/admin/openapi.js";
import { serverAdminSource } from "../src/admin/source.js";
import { WorkerRecords } from "../src/cluster/records.js";
import { CURL, curlTftp, hasCurl, startCli, stopAllClis, tempTree, waitFor, slowHandler } from "./helpers.js";

const MAC = "52-54-00-12-34-05";
const kernel = randomBytes(200_000);
const initrd = randomBytes(90_000);
// slow.bin: 8 chunks of 16 KiB, one every 400 ms (a transfer of about 3 s).
const SLOW = slowHandler(8, 400);
const tree = tempTree({
  "pxelinux.0": randomBytes(26_000),
  "pxelinux.cfg/default": "DEFAULT linux\nLABEL linux\n  KERNEL boot/vmlinuz\n  INITRD boot/initrd.img\n",
  "boot/vmlinuz": kernel,
  "boot/initrd.img": initrd,
  "slow.mjs": SLOW.source,
});
const root = tree.dir;
const PXE_SEQUENCE = ["pxelinux.0", `pxelinux.cfg/01-${MAC}`, "pxelinux.cfg/default", "boot/vmlinuz", "boot/initrd.img"];

// ------------------------------------------------ the schemas of the OpenAPI document

const DOC_ID = "https://tftpkit.invalid/admin-openapi.json";
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ ...openApiDocument("test"), $id: DOC_ID });

/** Asserts that `body` is valid for the schema at `pointer` in the OpenAPI document. */
function expectAt(pointer: string, body: unknown, what: string): void {
  const validate = ajv.getSchema(`${DOC_ID}#${pointer}`);
  expect(validate, what).toBeDefined();
  expect(validate!(body), `${what}: ${ajv.errorsText(validate!.errors)}`).toBe(true);
}

/** Asserts that `body` is valid for the named component schema. */
function expectSchema(name: string, body: unknown): void {
  expectAt(`/components/schemas/${name}`, body, name);
}

/** Asserts that `body` is valid for the JSON response `status` of `method path`. */
function expectResponse(path: string, body: unknown, status = "200", method = "get"): void {
  const esc = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");
  expectAt(`/paths/${esc(path)}/${method}/responses/${status}/content/application~1json/schema`, body, `${method} ${path} ${status}`);
}

// ------------------------------------------------------------------ clients

/** The body of GET /api/v1/stats (the parts the tests read). */
interface StatsBody {
  stats: ServerStats;
  outcomes: Record<string, number>;
  errorsByCode: Record<string, number>;
  topFiles: Array<{ path: string; sessions: number; bytes: number }>;
  topFailingClients: Array<{ client: string; failures: number }>;
  uptimeSeconds: number;
}

async function getJson<T = Record<string, unknown>>(url: string): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as T, headers: r.headers };
}

/** A UEFI size probe from `from`: RRQ with tsize, the OACK, then ERROR 8 instead of ACK 0. */
function probe(from: string, port: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const timer = setTimeout(() => (s.close(), reject(new Error("no OACK within 10 s"))), 10_000);
    s.on("message", (msg, rinfo) => {
      if (msg.readUInt16BE(0) !== 6) return;
      const err = Buffer.concat([Buffer.from([0, 5, 0, 8]), Buffer.from("User aborted the transfer\0")]);
      s.send(err, rinfo.port, rinfo.address, () => {
        clearTimeout(timer);
        s.close();
        resolve();
      });
    });
    s.bind(0, from, () => {
      const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0tsize\x000\0blksize\x001468\0`, "latin1")]);
      s.send(rrq, port, "127.0.0.1");
    });
  });
}

/** True when a TFTP request from `from` gets no file within 3 s (a drained server answers nothing). */
function curlRefused(port: number, from: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile(CURL, ["-s", "--max-time", "3", "--interface", from, "-o", "/dev/null", `tftp://127.0.0.1:${port}/pxelinux.0`], { timeout: 10_000 }, (error) =>
      resolve(error !== null)),
  );
}

interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads /api/v1/events until `until` says enough (or the bound passes). */
async function readEvents(url: string, until: (events: SseEvent[]) => boolean, ms = 30_000, onFirst?: () => void): Promise<SseEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const events: SseEvent[] = [];
  try {
    const r = await fetch(`${url}/api/v1/events`, { signal: ac.signal });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = r.body!.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) {
          events.push({ event, data: JSON.parse(data) });
          if (events.length === 1) onFirst?.();
        }
      }
      if (until(events)) break;
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

afterEach(async () => {
  await stopAllClis();
});

afterAll(() => tree.cleanup());

describe.skipIf(!hasCurl)("admin API over tftpkit serve (curl from distinct loopback addresses)", () => {
  it("a PXELINUX boot is one flow of five steps in order with its MAC; another machine is another flow; newest first, ?limit, ?client", async () => {
    // --rto-floor-ms 1000 (= --timeout-seconds): a fixed timeout, so that a busy machine cannot make `retransmits: 0` below fail.
    const cli = await startCli(["--root", root, "--admin", "127.0.0.1:0", "--log", "off", "--rto-floor-ms", "1000"]);
    const api = cli.adminUrl!;
    for (const name of PXE_SEQUENCE) {
      const r = await curlTftp(cli.udpPort, name, "127.0.0.5");
      expect(r.code, name).toBe(name.includes(MAC) ? 68 : 0); // 68: TFTP file not found
    }
    expect((await curlTftp(cli.udpPort, "pxelinux.0", "127.0.0.6")).code).toBe(0);

    const mine = await getJson<{ flows: BootFlow[] }>(`${api}/api/v1/flows?client=127.0.0.5`);
    expect(mine.status).toBe(200);
    expect(mine.headers.get("content-type")).toBe("application/json");
    expect(mine.headers.get("cache-control")).toBe("no-store");
    expectResponse("/api/v1/flows", mine.body);
    expect(mine.body.flows).toHaveLength(1);
    // A dead worker's flows stay listed as of its last report, marked lost: the schema says so.
    const records = new WorkerRecords();
    records.report(1, { stats: {}, flowsJson: JSON.stringify(mine.body.flows) });
    records.retire(1);
    const lost = records.lostFlows();
    expect(lost).toMatchObject([{ client: "127.0.0.5", worker: 1, lost: true }]);
    expectResponse("/api/v1/flows", { flows: lost });
    expect(ajv.getSchema(`${DOC_ID}#/components/schemas/BootFlow`)!({ ...lost[0], lost: "yes" })).toBe(false);
    const flow = mine.body.flows[0];
    expect(flow).toMatchObject({ client: "127.0.0.5", identity: { kind: "mac", value: "52:54:00:12:34:05" }, endedAt: null });
    expect(flow.steps.map((s) => s.path)).toEqual(PXE_SEQUENCE);
    // The MAC config missing is PXELINUX's config search: a search miss, not a failure.
    expect(flow.steps.map((s) => s.outcome)).toEqual(["ok", "search-miss", "ok", "ok", "ok"]);
    expect(flow.steps.map((s) => s.stage)).toEqual(["boot-program", "config", "config", "kernel", "initrd"]);
    expect(flow).toMatchObject({ failedSteps: 0, searchMisses: 1, failed: false });
    expect(flow.loaderChain).toEqual(expect.arrayContaining(["PXELINUX", "Linux"]));
    expect(flow.steps[3]).toMatchObject({ kind: "read", bytes: kernel.length, tsize: kernel.length, retransmits: 0 });
    expect(flow.steps[4].bytes).toBe(initrd.length);
    expect(flow.steps[1].error).toBe("1: File not found");

    const all = await getJson<{ flows: BootFlow[] }>(`${api}/api/v1/flows`);
    expect(all.body.flows.map((f) => f.client)).toEqual(["127.0.0.6", "127.0.0.5"]);
    const one = await getJson<{ flows: unknown[] }>(`${api}/api/v1/flows?limit=1`);
    expect(one.body.flows).toHaveLength(1);
    expect((await getJson(`${api}/api/v1/flows?limit=0`)).status).toBe(400);
    expect((await getJson(`${api}/api/v1/flows?limit=abc`)).status).toBe(400);
    expect((await getJson(`${api}/api/v1/flows?client=`)).status).toBe(400);
    expect((await getJson<{ flows: unknown[] }>(`${api}/api/v1/flows?client=127.0.0.99`)).body.flows).toEqual([]);
  });

  it("a UEFI size probe shows as a probe step, not a failure", async () => {
    const cli = await startCli(["--root", root, "--admin", "127.0.0.1:0", "--log", "off"]);
    await probe("127.0.0.7", cli.udpPort, "boot/vmlinuz");
    expect((await curlTftp(cli.udpPort, "boot/vmlinuz", "127.0.0.7")).code).toBe(0);
    const flows = await waitFor("both steps", async () => {
      const b = (await getJson<{ flows: BootFlow[] }>(`${cli.adminUrl}/api/v1/flows?client=127.0.0.7`)).body;
      return b.flows[0]?.steps.length === 2 ? b : undefined;
    });
    expectResponse("/api/v1/flows", flows);
    expect(flows.flows[0].steps.map((s) => [s.path, s.outcome])).toEqual([["boot/vmlinuz", "probe"], ["boot/vmlinuz", "ok"]]);
    const stats = (await getJson<StatsBody>(`${cli.adminUrl}/api/v1/stats`)).body;
    expect(stats.outcomes.probe).toBe(1);
    expect(stats.topFailingClients).toEqual([]);
  });

  it("stats: counters, outcomes, errors by code, top files, top failing clients; info; config", async () => {
    const cli = await startCli(["--workers", "1", "--root", root, "--admin", "127.0.0.1:0", "--log", "off"]);
    const api = cli.adminUrl!;
    for (const [name, from] of [["pxelinux.0", "127.0.0.8"], ["pxelinux.0", "127.0.0.9"], ["nope", "127.0.0.8"], ["nope", "127.0.0.8"], ["nope2", "127.0.0.9"]]) {
      await curlTftp(cli.udpPort, name, from);
    }
    const { status, body } = await getJson<StatsBody>(`${api}/api/v1/stats`);
    expect(status).toBe(200);
    expectResponse("/api/v1/stats", body);
    expect(body.stats).toMatchObject({ sessionsStarted: 5, sessionsOk: 2, sessionsFailed: 3, sessionsActive: 0 });
    expect(body.outcomes).toMatchObject({ ok: 2, "not-found": 3 });
    expect(body.errorsByCode).toEqual({ "1": 3 });
    // By sessions, then bytes.
    expect(body.topFiles).toEqual([
      { path: "pxelinux.0", sessions: 2, bytes: 52_000 },
      { path: "nope", sessions: 2, bytes: 0 },
      { path: "nope2", sessions: 1, bytes: 0 },
    ]);
    expect(body.topFailingClients).toEqual([{ client: "127.0.0.8", failures: 2 }, { client: "127.0.0.9", failures: 1 }]);
    expect(body.uptimeSeconds).toBeGreaterThan(0);

    const info = await getJson(`${api}/api/v1/info`);
    expectResponse("/api/v1/info", info.body);
    expect(info.body).toMatchObject({ name: "tftpkit", workers: null, traceUrlTemplate: null });
    expect(info.body.pid).toBe(cli.proc.pid);

    const config = await getJson<{ config: Record<string, unknown> }>(`${api}/api/v1/config`);
    expectResponse("/api/v1/config", config.body);
    expect(config.body.config).toMatchObject({ root, host: "127.0.0.1", log: "off", drainSeconds: 10 });

    const health = await getJson(`${api}/healthz`);
    expectSchema("Health", health.body);
    expect(health.body).toMatchObject({ status: "ok", sessionsStarted: 5 });
  });

  it("a running transfer is a live session with its progress; SSE delivers session-start, -progress, -end, flow and stats", async () => {
    const cli = await startCli(["--workers", "1", "--root", root, "--handler", join(root, "slow.mjs"), "--admin", "127.0.0.1:0", "--log", "off"]);
    const api = cli.adminUrl!;
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const streamed = readEvents(api, (es) => es.some((e) => e.event === "session-end") && es.filter((e) => e.event === "stats").length >= 2, 30_000, () => opened());
    await open; // the stream is open (its first stats event came) before the transfer starts
    const transfer = curlTftp(cli.udpPort, "slow.bin", "127.0.0.10");
    const live = await waitFor("the slow session with bytes", async () => {
      const b = (await getJson<{ sessions: LiveSession[] }>(`${api}/api/v1/sessions`)).body;
      return b.sessions.length === 1 && b.sessions[0].bytes > 0 ? b : undefined;
    });
    expectResponse("/api/v1/sessions", live);
    const records = new WorkerRecords();
    records.report(2, { stats: {}, sessionsJson: JSON.stringify(live.sessions) });
    records.retire(2);
    expect(records.lostSessions()).toMatchObject([{ path: "slow.bin", worker: 2, lost: true }]);
    expectResponse("/api/v1/sessions", { sessions: records.lostSessions() });
    const s = live.sessions[0];
    expect(s).toMatchObject({ kind: "read", path: "slow.bin", tsize: 8 * 16384, worker: null, peer: { address: "127.0.0.10" } });
    expect(s.bytes).toBeLessThan(8 * 16384);
    expect((await transfer).data.length).toBe(8 * 16384);

    const events = await streamed;
    const names = events.map((e) => e.event);
    expect(names).toContain("session-start");
    expect(names).toContain("session-progress");
    expect(names).toContain("session-end");
    expect(names).toContain("flow");
    expect(names).toContain("stats");
    for (const e of events) expectSchema(e.event === "stats" ? "StatsBody" : "ServerEvent", e.data);
    const start = events.find((e) => e.event === "session-start")!.data;
    expect(start).toMatchObject({ type: "session-start", session: { path: "slow.bin" } });
    const end = events.find((e) => e.event === "session-end")!.data as { session: LiveSession };
    expect(end).toMatchObject({ type: "session-end", outcome: "ok", session: { bytes: 8 * 16384 } });
    // Rate-limited: at most one progress event per second of the session (a spare for timer skew).
    const progress = events.filter((e) => e.event === "session-progress");
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(end.session.ageMs / 1000) + 1);
    const flows = events.filter((e) => e.event === "flow").map((e) => (e.data as { flow: BootFlow }).flow);
    expect(flows.at(-1)?.steps[0]).toMatchObject({ path: "slow.bin", outcome: "ok" });
    expect(flows[0].steps[0].outcome).toBe("running");
  });

  it("no GET changes anything: every GET endpoint twice, then the same flows and counters; GET on drain/reload is 405", async () => {
    const cli = await startCli(["--root", root, "--admin", "127.0.0.1:0", "--log", "off"]);
    const api = cli.adminUrl!;
    await curlTftp(cli.udpPort, "pxelinux.0", "127.0.0.11");
    const before = [(await getJson(`${api}/api/v1/flows`)).body, (await getJson<StatsBody>(`${api}/api/v1/stats`)).body.stats];
    for (let round = 0; round < 2; round++) {
      for (const p of ["/healthz", "/api/v1/info", "/api/v1/stats", "/api/v1/sessions", "/api/v1/flows", "/api/v1/config", "/api/v1/openapi.json"]) {
        expect((await fetch(`${api}${p}`)).status, p).toBe(200);
        expect((await fetch(`${api}${p}`, { method: "HEAD" })).status, `HEAD ${p}`).toBe(200);
      }
      for (const p of ["/api/v1/drain", "/api/v1/reload"]) {
        const r = await fetch(`${api}${p}`);
        expect(r.status, p).toBe(405);
        expect(r.headers.get("allow")).toBe("POST");
      }
    }
    const after = [(await getJson(`${api}/api/v1/flows`)).body, (await getJson<StatsBody>(`${api}/api/v1/stats`)).body.stats];
    expect(after).toEqual(before);
    // Still serving, and not draining.
    expect((await curlTftp(cli.udpPort, "pxelinux.0", "127.0.0.11")).code).toBe(0);
    expect((await getJson(`${api}/healthz`)).body.status).toBe("ok");
    // Without a token file the mutating endpoints are off.
    const r = await fetch(`${api}/api/v1/drain`, { method: "POST", headers: { authorization: "Bearer x".padEnd(30, "x") } });
    expect(r.status).toBe(404);
    expect((await curlTftp(cli.udpPort, "pxelinux.0", "127.0.0.11")).code).toBe(0);
    expect((await fetch(`${api}/api/v1/nothing`)).status).toBe(404);
    expect((await fetch(`${api}/api/v1/stats`, { method: "DELETE" })).status).toBe(405);
  });

  it("/api/v1/openapi.json is a valid OpenAPI 3.1 document naming every endpoint", async () => {
    const cli = await startCli(["--root", root, "--admin", "127.0.0.1:0", "--log", "off"]);
    const { status, body } = await getJson<{ openapi: string; paths: Record<string, unknown> }>(`${cli.adminUrl}/api/v1/openapi.json`);
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    const result = await new Validator().validate(body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(body.paths).sort()).toEqual([
      "/api/v1/config", "/api/v1/drain", "/api/v1/events", "/api/v1/flows", "/api/v1/info", "/api/v1/openapi.json",
      "/api/v1/reload", "/api/v1/sessions", "/api/v1/stats", "/healthz", "/metrics",
    ]);
  });
});

// ------------------------------------------------ the token through tftpkit serve

describe.skipIf(!hasCurl)("tftpkit serve --admin-token-file, --trace-url-template", () => {
  const TOKEN = randomBytes(20).toString("hex");
  const secrets = tempTree({ "token": `${TOKEN}\n`, "short": "abc\n", "two-words": "aaaaaaaaaaaa bbbbbbbbbbbbbb\n" });
  afterAll(() => secrets.cleanup());

  it("drain: 401 without the token, 202 with it (then nothing is served); /api/v1/config shows neither token nor file; info has the trace URL", async () => {
    const cli = await startCli([
      "--root", root, "--admin", "127.0.0.1:0", "--log", "off",
      "--admin-token-file", join(secrets.dir, "token"),
      "--trace-url-template", "http://jaeger.example:16686/trace/{traceId}",
    ]);
    const api = cli.adminUrl!;
    expect(cli.stderr()).toContain("POST drain/reload with the token");
    const config = await (await fetch(`${api}/api/v1/config`)).text();
    expect(config).not.toContain(TOKEN);
    expect(config).not.toContain(secrets.dir);
    expect(JSON.parse(config).config.adminTokenFile).toBe("[redacted]");
    expect((await getJson(`${api}/api/v1/info`)).body.traceUrlTemplate).toBe("http://jaeger.example:16686/trace/{traceId}");

    for (const auth of [undefined, "Bearer not-the-token-at-all", `Bearer ${TOKEN.toUpperCase()}`]) {
      const r = await fetch(`${api}/api/v1/drain`, { method: "POST", headers: auth ? { authorization: auth } : {} });
      expect(r.status, String(auth)).toBe(401);
    }
    expect((await curlTftp(cli.udpPort, "pxelinux.0", "127.0.0.14")).code).toBe(0);
    expect((await getJson(`${api}/healthz`)).status).toBe(200);

    const reload = await fetch(`${api}/api/v1/reload`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(reload.status).toBe(200);
    expect(await reload.json()).toEqual({ ok: true });
    await waitFor("the reload line", () => (/reloaded the configuration/.test(cli.stderr()) ? true : undefined));

    const r = await fetch(`${api}/api/v1/drain`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(202);
    expect(((await r.json()) as { status: string }).status).toBe("draining");
    await waitFor("drained", async () => ((await getJson(`${api}/healthz`)).body.status === "drained" ? true : undefined));
    expect(await curlRefused(cli.udpPort, "127.0.0.14")).toBe(true);
    // The flows stay readable after the drain, ended.
    const flows = (await getJson<{ flows: Array<{ client: string; endedAt: number | null }> }>(`${api}/api/v1/flows?client=127.0.0.14`)).body.flows;
    expect(flows).toHaveLength(1);
    expect(flows[0].endedAt).not.toBeNull();
    expect(await cli.stop()).toBe(0);
  });

  it("DNS rebinding: the page and /api/v1 answer only an IP address, localhost or an --admin-allow-hosts name (421); /metrics and /healthz any Host", async () => {
    const cli = await startCli(["--root", root, "--admin", "127.0.0.1:0", "--log", "off", "--admin-allow-hosts", "tftpkit.example"]);
    const port = Number(new URL(cli.adminUrl!).port);
    const status = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await status("/api/v1/flows", "attacker.example")).toBe(421);
    expect(await status("/api/v1/flows", `attacker.example:${port}`)).toBe(421);
    expect(await status("/", "attacker.example")).toBe(421);
    expect(await status("/api/v1/flows", `127.0.0.1:${port}`)).toBe(200);
    expect(await status("/api/v1/flows", `localhost:${port}`)).toBe(200);
    expect(await status("/api/v1/flows", `[::1]:${port}`)).toBe(200);
    expect(await status("/api/v1/flows", `TFTPKIT.example:${port}`)).toBe(200);
    expect(await status("/healthz", "attacker.example")).toBe(200);
    expect(await status("/metrics", "prometheus-target.internal:9069")).toBe(200);
  });

  it("a token file that is missing, too short or two words, and a trace URL without {traceId}, stop the start with one line", async () => {
    for (const [args, message] of [
      [["--admin-token-file", join(secrets.dir, "nope")], /--admin-token-file .*nope: ENOENT/],
      [["--admin-token-file", join(secrets.dir, "short")], /the token must be one word of at least 16 characters/],
      [["--admin-token-file", join(secrets.dir, "two-words")], /the token must be one word of at least 16 characters/],
      [["--trace-url-template", "http://jaeger/trace/"], /traceUrlTemplate|trace-url-template/],
      [["--trace-url-template", "javascript:alert({traceId})"], /traceUrlTemplate|trace-url-template/],
    ] as Array<[string[], RegExp]>) {
      await expect(startCli(["--root", root, "--admin", "127.0.0.1:0", ...args])).rejects.toThrow(message);
    }
  });
});

// ----------------------------------------------- the token (a TftpServer in this process)

describe.skipIf(!hasCurl)("mutating endpoints need the bearer token", () => {
  const TOKEN = randomBytes(24).toString("hex");
  let tftp: TftpServer;
  let admin: AdminServer;
  let port = 0;
  let reloads = 0;

  beforeAll(async () => {
    const { default: slow } = (await import(pathToFileURL(join(root, "slow.mjs")).href)) as { default: (r: unknown) => unknown };
    tftp = createTftpServer({ root, handler: (req) => (slow(req) as never) ?? { body: Buffer.from("x") } });
    port = (await tftp.listen({ host: "127.0.0.1", port: 0 })).port;
    admin = await startAdmin({
      host: "127.0.0.1",
      port: 0,
      version: "test",
      token: () => TOKEN,
      source: serverAdminSource(tftp, {
        config: () => ({ root, adminTokenFile: "/run/secrets/tftpkit-token", adminToken: TOKEN }),
        reload: async () => (reloads++, { ok: true }),
        drainMs: () => 20_000,
      }),
    });
  });

  afterAll(async () => {
    await admin?.close();
    await tftp?.close();
  });

  const post = (path: string, authorization?: string) =>
    fetch(`${admin.url}${path}`, { method: "POST", headers: authorization ? { authorization } : {} });

  it("/api/v1/config never shows the token", async () => {
    const text = await (await fetch(`${admin.url}/api/v1/config`)).text();
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain("/run/secrets");
    expect(JSON.parse(text).config).toEqual({ root, adminTokenFile: "[redacted]", adminToken: "[redacted]" });
    expect(redactConfig({ a: 1, clientSecret: "s", f: () => 1 })).toEqual({ a: 1, clientSecret: "[redacted]" });
  });

  it("reload: 401 without or with a wrong token (nothing reloaded), 200 with it", async () => {
    for (const auth of [undefined, "Bearer wrong-token-wrong-token", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`]) {
      const r = await post("/api/v1/reload", auth);
      expect(r.status, String(auth)).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expectSchema("Error", await r.json());
    }
    expect(reloads).toBe(0);
    const ok = await post("/api/v1/reload", `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });
    expect(reloads).toBe(1);
  });

  it("drain: 401 without the token (still serving); with it: 202, new requests refused, the running session finishes, /healthz 503", async () => {
    const transfer = curlTftp(port, "slow.bin", "127.0.0.12");
    await waitFor("the slow session", () => (tftp.liveSessions().length === 1 ? true : undefined));
    const refused = await post("/api/v1/drain");
    expect(refused.status).toBe(401);
    expect((await curlTftp(port, "pxelinux.0", "127.0.0.13")).code).toBe(0);
    expect((await getJson(`${admin.url}/healthz`)).body.status).toBe("ok");

    const r = await post("/api/v1/drain", `Bearer ${TOKEN}`);
    expect(r.status).toBe(202);
    const body = await r.json();
    expectResponse("/api/v1/drain", body, "202", "post");
    expect(body).toEqual({ status: "draining", activeSessions: 1 });
    const health = await getJson(`${admin.url}/healthz`);
    expect(health.status).toBe(503);
    expect(health.body.status).toBe("draining");
    expect(await curlRefused(port, "127.0.0.13")).toBe(true);
    // The session that was running when the drain began completes.
    const done = await transfer;
    expect(done.code).toBe(0);
    expect(done.data.length).toBe(8 * 16384);
    const drained = await waitFor("drained", async () => {
      const h = await getJson(`${admin.url}/healthz`);
      return h.body.status === "drained" ? h : undefined;
    });
    expect(drained.status).toBe(503);
    // A second drain changes nothing.
    expect((await (await post("/api/v1/drain", `Bearer ${TOKEN}`)).json()).status).toBe("drained");
  });
});

describe.skipIf(!hasCurl)("event streams share one subscription", () => {
  it("two streams get the same events from one subscription to the source, dropped when the last stream closes", async () => {
    const tftp = createTftpServer({ root });
    const port = (await tftp.listen({ host: "127.0.0.1", port: 0 })).port;
    const inner = serverAdminSource(tftp, { config: () => ({}), reload: async () => ({ ok: true }), drainMs: () => 0 });
    let subscribed = 0;
    const source = {
      ...inner,
      subscribe: (fn: Parameters<typeof inner.subscribe>[0]) => {
        subscribed++;
        const off = inner.subscribe(fn);
        return () => {
          subscribed--;
          off();
        };
      },
    };
    const admin = await startAdmin({ host: "127.0.0.1", port: 0, version: "test", source, statsIntervalMs: 200 });
    try {
      const ended = (es: SseEvent[]) => es.some((e) => e.event === "session-end");
      let opened = 0;
      const a = readEvents(admin.url, ended, 30_000, () => opened++);
      const b = readEvents(admin.url, ended, 30_000, () => opened++);
      await waitFor("both streams open (their first stats event)", () => (opened === 2 ? true : undefined), 10_000, 20);
      expect(subscribed).toBe(1);
      expect((await curlTftp(port, "pxelinux.0", "127.0.0.15")).code).toBe(0);
      const [ea, eb] = await Promise.all([a, b]);
      for (const es of [ea, eb]) {
        expect(es.map((e) => e.event)).toEqual(expect.arrayContaining(["stats", "session-start", "session-end", "flow"]));
        expect(es.find((e) => e.event === "session-end")!.data).toMatchObject({ session: { path: "pxelinux.0", peer: { address: "127.0.0.15" } } });
      }
      await waitFor("no subscription left", () => (subscribed === 0 ? true : undefined), 5000, 20);
    } finally {
      await admin.close();
      await tftp.close();
    }
  });
});
