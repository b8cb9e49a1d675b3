// The dashboard in a real Chromium (Debian's /usr/bin/chromium through
// playwright-core) against real `tftpkit serve` processes on loopback, fed
// by real TFTP transfers: curl from distinct 127.0.0.x addresses (one per
// machine) and a hand-made UEFI size probe. One browser for the file.
// Screenshots go to test-artifacts/ (gitignored).

import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The `tftpkit serve` child-process helpers of the server app's tests.
import { CURL, curlTftp, startCli, startOtlpReceiver, stopAllClis, tempTree, waitFor, type Cli, type OtlpReceiver } from "../../server/test/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const here = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(here, "..", "test-artifacts");
const FLEET_BIN = join(here, "..", "bin", "tftpkit-dashboard.js");
const available = existsSync(CHROMIUM) && existsSync(CURL);

const XSS_NAME = "<img src=x onerror=alert(1)>.txt";
const TRACE_TEMPLATE = "http://tracing.invalid/trace/{traceId}";
const MAC_CONFIG = "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff";
const BOOT_SEQUENCE = ["pxelinux.0", "pxelinux.0", MAC_CONFIG, "pxelinux.cfg/default", "vmlinuz"];

const tree = tempTree({
  "pxelinux.0": Buffer.alloc(30_000, 1),
  "pxelinux.cfg/default": "default linux\nlabel linux\n  kernel vmlinuz\n",
  vmlinuz: Buffer.alloc(200_000, 2),
  // 1 Mi blocks of 8 bytes: a transfer that runs long enough to watch (it is stopped once seen).
  "big.img": Buffer.alloc(8 << 20, 3),
  [XSS_NAME]: "not markup\n",
  // A handler that marks the kernel as the boot's last file (everything else falls through to the root).
  "last.mjs": 'import { readFileSync } from "node:fs";\nexport default (req) => (req.path === "vmlinuz" ? { body: readFileSync(new URL("./vmlinuz", import.meta.url)), last: true } : undefined);\n',
});

let context: BrowserContext;
let userDataDir = "";
let otlp: OtlpReceiver;
let a: Cli;
let b: Cli;
let fleet: { proc: ChildProcess; url: string } | undefined;
const children = new Set<ChildProcess>();

/** What a page did that it must not: dialogs, CSP violations, uncaught errors. */
interface Watch {
  dialogs: string[];
  errors: string[];
  requests: string[];
}

async function openPage(url: string): Promise<{ page: Page; watch: Watch }> {
  const page = await context.newPage();
  const watch: Watch = { dialogs: [], errors: [], requests: [] };
  page.on("dialog", (d) => {
    watch.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("pageerror", (e) => watch.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") watch.errors.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => watch.requests.push(new URL(r.url()).pathname));
  const res = await page.goto(url);
  expect(res?.status()).toBe(200);
  expect(res?.headers()["content-security-policy"]).toMatch(/script-src 'self'; style-src 'self'/);
  await page.waitForSelector("#stream-state.live", { timeout: 20_000 });
  return { page, watch };
}

/** CSP violations the page reported (recorded by an init script, which the CSP does not apply to). */
const violations = (page: Page) => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** curl fetching `name` from `from` (a 127.0.0.x address); resolves with its exit code. */
function curlFrom(cli: Cli, from: string, name: string, extra: string[] = []): { done: Promise<number>; proc: ChildProcess } {
  const url = `tftp://127.0.0.1:${cli.udpPort}/${name.split("/").map(encodeURIComponent).join("/")}`;
  const proc = spawn(CURL, ["-s", "--max-time", "90", "--interface", from, ...extra, "-o", "/dev/null", url], { stdio: "ignore" });
  children.add(proc);
  const done = new Promise<number>((resolve) => proc.once("exit", (code) => (children.delete(proc), resolve(code ?? -1))));
  return { done, proc };
}

/** A UEFI-style size probe from `from`: RRQ with tsize, then ERROR 8 to the OACK instead of ACK 0. */
function sizeProbe(cli: Cli, from: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const t = setTimeout(() => (s.close(), reject(new Error("no OACK to the size probe"))), 10_000);
    s.on("message", (msg, rinfo) => {
      if (msg.readUInt16BE(0) !== 6) return;
      const fields = msg.subarray(2).toString("latin1").split("\0");
      const tsize = Number(fields[fields.indexOf("tsize") + 1]);
      const err = Buffer.concat([Buffer.from([0, 5, 0, 8]), Buffer.from("size probe\0", "latin1")]);
      s.send(err, rinfo.port, rinfo.address, () => {
        clearTimeout(t);
        s.close();
        resolve(tsize);
      });
    });
    s.bind(0, from, () => {
      const rrq = Buffer.from(`\0\x01${name}\0octet\0tsize\x000\0`, "latin1");
      s.send(rrq, cli.udpPort, "127.0.0.1");
    });
  });
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return (await res.json()) as T;
}

beforeAll(async () => {
  if (!available) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  otlp = await startOtlpReceiver();
  const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "200" };
  const common = ["--root", tree.dir, "--admin", "127.0.0.1:0", "--log", "off", "--trace-url-template", TRACE_TEMPLATE];
  [a, b] = await Promise.all([startCli(common, env), startCli(common, env)]);
  userDataDir = mkdtempSync(join(tmpdir(), "tftpkit-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
});

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  if (fleet) {
    fleet.proc.kill("SIGTERM");
    await new Promise((r) => fleet!.proc.once("exit", r));
  }
  await context?.close();
  await stopAllClis();
  await otlp?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  tree.cleanup();
});

describe.skipIf(!available)("the dashboard in Chromium", () => {
  it("overview: counters and charts follow real transfers, with no CSP violation", async () => {
    const { page, watch } = await openPage(`${a.adminUrl}/`);
    expect((await curlTftp(a.udpPort, "pxelinux.cfg/default")).code).toBe(0);
    expect((await curlTftp(a.udpPort, "missing.efi")).code).not.toBe(0);
    // Live: the tiles move without a reload.
    await page.waitForFunction(() => Number(document.querySelector("#tile-ok .value")?.textContent) >= 1, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => Number(document.querySelector("#tile-failed .value")?.textContent) >= 1, undefined, { timeout: 20_000 });
    for (const id of ["chart-outcomes", "chart-throughput", "chart-active", "chart-retransmits"]) expect(await page.locator(`#${id} canvas`).count(), id).toBe(1);
    // The charts hold data: the cursor on the newest point shows a value in the legend.
    await waitFor("a throughput point under the cursor", async () => {
      const box = (await page.locator("#chart-throughput .u-over").boundingBox())!;
      await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
      const v = await page.locator("#chart-throughput .u-legend .u-series").nth(1).locator(".u-value").textContent();
      return v && /B\/s$/.test(v) ? v : undefined;
    }, 20_000, 250);
    await page.waitForFunction(() => document.querySelectorAll("#chart-outcomes .u-legend .u-series").length >= 3, undefined, { timeout: 20_000 });
    expect(await page.locator("#chart-outcomes .u-legend .u-series .u-label").allTextContents()).toEqual(expect.arrayContaining(["ok", "not-found"]));
    await page.waitForSelector("#errors-by-code", { timeout: 20_000 });
    expect(await page.locator("#errors-by-code").textContent()).toContain("file not found");
    await shot(page, "overview");
    expect(await violations(page)).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
  });

  it("live sessions: a slow transfer shows with its progress advancing, pushed by the event stream", async () => {
    const { page, watch } = await openPage(`${a.adminUrl}/#/sessions`);
    const big = curlFrom(a, "127.0.0.5", "big.img", ["--tftp-blksize", "8"]);
    const row = page.locator("#sessions-table tbody tr", { hasText: "big.img" });
    await row.waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toContain("127.0.0.5");
    const progress = async () => Number(await row.locator("progress").getAttribute("value"));
    const first = await waitFor("some progress", async () => ((await progress()) > 0 ? progress() : undefined), 30_000, 100);
    await waitFor("the progress to advance", async () => ((await progress()) > first ? true : undefined), 30_000, 100);
    expect(await progress()).toBeLessThan(1);
    // Filters: by client and by path.
    await page.fill("#filter-client", "127.0.0.250");
    await row.waitFor({ state: "detached", timeout: 10_000 });
    await page.fill("#filter-client", "127.0.0.5");
    await page.fill("#filter-path", "big");
    await row.waitFor({ timeout: 10_000 });
    // Sorting: a click on a header sorts by it.
    await page.click("button[data-sort=path]");
    expect(await page.locator("th[aria-sort=ascending] button[data-sort=path]").count()).toBe(1);
    await shot(page, "sessions");
    // The rows came from one snapshot and then the stream: no polling of /api/v1/sessions.
    expect(watch.requests.filter((p) => p === "/api/v1/sessions").length).toBeLessThanOrEqual(2);
    expect(watch.requests.filter((p) => p === "/api/v1/events").length).toBeGreaterThanOrEqual(1);
    big.proc.kill("SIGKILL");
    expect(await violations(page)).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
  });

  it("a machine's boot flow: a Gantt of its steps in order, the config search miss apart from failures, the probe marked, stages, the loader chain, a link to its trace", async () => {
    const from = "127.0.0.7";
    expect(await sizeProbe(a, from, "pxelinux.0")).toBe(30_000);
    for (const name of BOOT_SEQUENCE.slice(1)) await curlFrom(a, from, name).done;
    const { flows } = await getJson<{ flows: Array<{ id: string; traceId?: string; loaderChain: string[]; steps: Array<{ path: string; outcome: string }> }> }>(
      `${a.adminUrl}/api/v1/flows?client=${from}`,
    );
    expect(flows[0].steps.map((s) => s.path)).toEqual(BOOT_SEQUENCE);

    const { page, watch } = await openPage(`${a.adminUrl}/#/flows`);
    await page.locator(`#flows-table tr[data-client="${from}"] a`).first().click();
    const rows = page.locator("article.flow").first().locator(".gantt-row");
    await waitFor("five steps in the timeline", async () => ((await rows.count()) === 5 ? true : undefined), 20_000);
    expect(await rows.locator(".gantt-label .path").allTextContents()).toEqual(BOOT_SEQUENCE);
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-outcome")))).toEqual(["probe", "ok", "search-miss", "ok", "ok"]);
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-stage")))).toEqual(["boot-program", "boot-program", "config", "config", "kernel"]);
    // The MAC config missing is PXELINUX's search, not a failure: labelled and drawn apart from
    // failures (red) and successes; the probe is labelled a probe and drawn apart from successes.
    const colour = (i: number) => rows.nth(i).locator(".bar").evaluate((e) => getComputedStyle(e).borderTopColor);
    const fill = (i: number) => rows.nth(i).locator(".bar").evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(await fill(1)).toBe("rgb(63, 185, 80)");
    expect(await colour(2)).toBe("rgb(210, 153, 34)");
    expect(await rows.nth(2).locator(".badge").textContent()).toBe("search miss");
    expect(await rows.nth(0).locator(".badge").textContent()).toBe("probe");
    const header = page.locator("article.flow").first().locator("h3");
    expect(await header.textContent()).toContain("0 failed · 1 search misses");
    expect(await header.locator(".chain").textContent()).toBe(flows[0].loaderChain.join(" → "));
    expect(flows[0].loaderChain).toEqual(expect.arrayContaining(["PXELINUX", "Linux"]));
    // The machine is named by the MAC its config request carried.
    expect(await page.locator("article.flow").first().locator(".identity").textContent()).toBe("mac aa:bb:cc:dd:ee:ff");
    expect(await fill(0)).not.toBe(await fill(1));
    // The trace link: the configured template with this flow's trace id, a trace the exporter received.
    expect(flows[0].traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(await page.locator("article.flow").first().locator("a.trace").getAttribute("href")).toBe(TRACE_TEMPLATE.replace("{traceId}", flows[0].traceId!));
    await waitFor("a span of the flow's trace at the exporter", () => (otlp.spans.some((s) => s.traceId === flows[0].traceId) ? true : undefined), 20_000);
    await shot(page, "machine");
    expect(await violations(page)).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
  });

  it("a boot whose handler marks the kernel last: booted in the flow list, its time to boot in the overview by loader chain", async () => {
    const c = await startCli(["--root", tree.dir, "--admin", "127.0.0.1:0", "--log", "off", "--handler", join(tree.dir, "last.mjs")]);
    const from = "127.0.0.21";
    for (const name of ["pxelinux.0", "pxelinux.cfg/01-aa-bb-cc-dd-ee-21", "pxelinux.cfg/default", "vmlinuz"]) await curlFrom(c, from, name).done;
    const { flows } = await getJson<{ flows: Array<{ bootedBy?: string; timeToBootMs?: number; loaderChain: string[] }> }>(`${c.adminUrl}/api/v1/flows?client=${from}`);
    expect(flows[0]).toMatchObject({ bootedBy: "last-step" });
    const chain = flows[0].loaderChain.join(" → ");

    const { page, watch } = await openPage(`${c.adminUrl}/#/flows`);
    const row = page.locator(`#flows-table tr[data-client="${from}"]`);
    await row.waitFor({ timeout: 20_000 });
    expect(await row.getAttribute("data-state")).toBe("booted");
    expect(await row.locator("td.chain").textContent()).toBe(chain);
    expect(await row.locator("td.time-to-boot").textContent()).not.toBe("–");
    await page.goto(`${c.adminUrl}/#/`);
    const boot = page.locator(`#time-to-boot tr[data-chain="${chain}"]`);
    await boot.waitFor({ timeout: 20_000 });
    expect(await boot.locator("td").nth(1).textContent()).toBe("1");
    expect(await page.locator("#tile-time-to-boot .value").textContent()).not.toBe("–");
    await shot(page, "overview-time-to-boot");
    expect(await violations(page)).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
    await c.stop();
  });

  it(`a file named ${XSS_NAME} is shown as that text: no img element, no dialog`, async () => {
    const from = "127.0.0.8";
    expect(await curlFrom(a, from, XSS_NAME).done).toBe(0);
    const { page, watch } = await openPage(`${a.adminUrl}/#/machine/${from}`);
    await page.locator(".gantt-label .path", { hasText: XSS_NAME }).first().waitFor({ timeout: 20_000 });
    expect(await page.locator(".gantt-label .path").first().textContent()).toBe(XSS_NAME);
    await page.goto(`${a.adminUrl}/#/top`);
    await page.locator("#top-files td.path", { hasText: XSS_NAME }).waitFor({ timeout: 20_000 });
    await shot(page, "top");
    await page.goto(`${a.adminUrl}/#/flows`);
    await page.locator(`#flows-table tr[data-client="${from}"]`).waitFor({ timeout: 20_000 });
    await shot(page, "flows");
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => document.querySelectorAll("img, [onerror]").length)).toBe(0);
    expect(watch.dialogs).toEqual([]);
    expect(await violations(page)).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
  });

  it("fleet view: tftpkit-dashboard over two servers tags every row with its server and merges their streams", async () => {
    const proc = spawn(process.execPath, [FLEET_BIN, "--server", `rack-a=${a.adminUrl}`, "--server", `rack-b=${b.adminUrl}`, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    const url = await waitFor("tftpkit-dashboard to listen", () => /on (http:\/\/\S+)/.exec(err)?.[1], 20_000, 50);
    fleet = { proc, url };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:/);

    expect(await curlFrom(b, "127.0.0.9", "pxelinux.0").done).toBe(0);
    const merged = await getJson<{ flows: Array<{ server: string; client: string }> }>(`${url}/api/v1/flows`);
    expect(new Set(merged.flows.map((f) => f.server))).toEqual(new Set(["rack-a", "rack-b"]));
    expect(merged.flows.find((f) => f.client === "127.0.0.9")?.server).toBe("rack-b");

    const { page, watch } = await openPage(`${url}/#/sessions`);
    await page.locator(".members li.ok", { hasText: "rack-b" }).waitFor({ timeout: 20_000 });
    const big = curlFrom(b, "127.0.0.10", "big.img", ["--tftp-blksize", "8"]);
    const row = page.locator("#sessions-table tbody tr", { hasText: "127.0.0.10" });
    await row.waitFor({ timeout: 20_000 });
    expect(await row.locator("td.server").textContent()).toBe("rack-b");
    const progress = async () => Number(await row.locator("progress").getAttribute("value"));
    const first = await waitFor("progress through the fleet", async () => ((await progress()) > 0 ? progress() : undefined), 30_000, 100);
    await waitFor("the fleet's progress to advance", async () => ((await progress()) > first ? true : undefined), 30_000, 100);
    await shot(page, "fleet-sessions");
    big.proc.kill("SIGKILL");

    await page.goto(`${url}/#/flows`);
    await page.locator("#flows-table td.server", { hasText: "rack-a" }).first().waitFor({ timeout: 20_000 });
    await page.locator("#flows-table td.server", { hasText: "rack-b" }).first().waitFor({ timeout: 20_000 });
    await page.goto(`${url}/#/`);
    await page.locator("#fleet-servers tbody tr").nth(1).waitFor({ timeout: 20_000 });
    expect(await page.locator("#fleet-servers tbody td:first-child").allTextContents()).toEqual(["rack-a", "rack-b"]);
    await shot(page, "fleet-overview");
    expect(await violations(page)).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
  });
});
