// A real Prometheus server (apt `prometheus`) scrapes the admin server of
// `tftpkit serve` every second after a few curl transfers, and its query API
// returns the counters. Everything on loopback; skipped only when
// /usr/bin/prometheus (or curl) is missing.

import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
// The one file of metric names (not part of the package's public surface).
import * as names from "../../../packages/server/src/observe/attributes.js";
import { curlTftp, freePort, hasCurl, startCli, stopAllClis, tempTree, waitFor } from "./helpers.js";

const PROMETHEUS = "/usr/bin/prometheus";
const PROMTOOL = "/usr/bin/promtool";
const INFRA = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "infra");
const available = existsSync(PROMETHEUS) && hasCurl;

const tree = tempTree({ "boot/initrd.img": Buffer.alloc(10_000, 7), "grub.cfg": "set timeout=1\n" });
let prom: ChildProcess | undefined;
let promLog = "";

afterAll(async () => {
  await stopAllClis();
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once("exit", r));
    prom.kill("SIGTERM");
    const t = setTimeout(() => prom?.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
  tree.cleanup();
});

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, q: string): Promise<Sample[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: Sample[] } };
  if (body.status !== "success") throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** The single value of an instant query, once Prometheus has it equal to `want`. */
function settles(base: string, q: string, want: number): Promise<number> {
  return waitFor(`${q} == ${want} in Prometheus`, async () => {
    const r = await query(base, q);
    const v = r.length === 1 ? Number(r[0].value[1]) : NaN;
    return v === want ? v : undefined;
  }, 30_000, 250);
}

describe.skipIf(!available)("Prometheus scrapes tftpkit's /metrics", () => {
  it("the query API returns the session, byte and histogram counters after curl transfers", async () => {
    const cli = await startCli(["--root", tree.dir, "--admin", "127.0.0.1:0", "--log", "off"]);
    const target = new URL(cli.adminUrl!).host;
    for (let i = 0; i < 3; i++) expect((await curlTftp(cli.udpPort, "boot/initrd.img")).code).toBe(0);
    expect((await curlTftp(cli.udpPort, "grub.cfg")).code).toBe(0);
    expect((await curlTftp(cli.udpPort, "missing.efi")).code).not.toBe(0);

    const promPort = await freePort();
    const config = join(tree.dir, "prometheus.yml");
    writeFileSync(config, [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: tftpkit",
      "    metrics_path: /metrics",
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"));
    prom = spawn(PROMETHEUS, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(tree.dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--log.level=warn",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    prom.stderr!.setEncoding("utf8").on("data", (d: string) => (promLog += d));
    const base = `http://127.0.0.1:${promPort}`;
    await waitFor("Prometheus to be ready", async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined), 30_000, 200)
      .catch((err: Error) => { throw new Error(`${err.message}\n${promLog}`); });

    await waitFor("the tftpkit target to be up", async () => {
      const r = await query(base, `up{job="tftpkit"}`);
      return r.length === 1 && r[0].value[1] === "1" ? true : undefined;
    }, 30_000, 250);

    expect(await settles(base, `tftp_server_sessions_total{job="tftpkit",tftp_outcome="ok"}`, 4)).toBe(4);
    expect(await settles(base, `tftp_server_sessions_total{job="tftpkit",tftp_outcome="not-found"}`, 1)).toBe(1);
    expect(await settles(base, `sum(tftp_server_sessions_total{job="tftpkit"})`, 5)).toBe(5);
    expect(await settles(base, `tftp_server_bytes_sent_total{job="tftpkit"}`, 3 * 10_000 + 14)).toBe(30_014);
    expect(await settles(base, `tftp_server_active_sessions{job="tftpkit"}`, 0)).toBe(0);
    expect(await settles(base, `tftp_server_session_duration_count{job="tftpkit",tftp_outcome="ok"}`, 4)).toBe(4);
    expect(await settles(base, `tftp_server_session_duration_bucket{job="tftpkit",tftp_outcome="ok",le="+Inf"}`, 4)).toBe(4);

    // What the Grafana dashboard asks: a latency percentile from the histogram.
    const p99 = await query(base, `histogram_quantile(0.99, sum by (le) (tftp_server_session_duration_bucket{job="tftpkit"}))`);
    expect(p99).toHaveLength(1);
    expect(Number(p99[0].value[1])).toBeGreaterThan(0);

    // Every query of the Grafana dashboard is valid PromQL on these series,
    // and names only metrics that tftpkit exports (as Prometheus spells them:
    // dots to underscores, _total on counters, _bucket on histograms).
    const exported = new Set<string>();
    for (const [k, v] of Object.entries(names)) {
      if (!k.startsWith("METRIC_")) continue;
      const base = (v as string).replaceAll(".", "_");
      if (k === "METRIC_ACTIVE_SESSIONS") exported.add(base);
      else if (k.endsWith("_DURATION")) for (const sfx of ["_bucket", "_sum", "_count"]) exported.add(base + sfx);
      else exported.add(base + "_total");
    }
    const dashboard = JSON.parse(readFileSync(join(INFRA, "grafana", "tftpkit-dashboard.json"), "utf8")) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    for (const { title, expr } of exprs) {
      const q = expr.replaceAll("$__rate_interval", "1m").replaceAll("$job", ".*").replaceAll("$instance", ".*");
      await expect(query(base, q), `${title}: ${q}`).resolves.toBeInstanceOf(Array);
      // Regex selectors also match the collector's spelling with unit suffixes: (_bytes)?, (_seconds)?
      for (const m of q.matchAll(/tftp_server_[a-z_]+(\((_[a-z]+)\)\?)?[a-z_]*/g)) {
        const name = m[0].replace(/\(_[a-z]+\)\?/, "");
        expect(exported.has(name), `${title} names ${name}, not one of ${[...exported].join(" ")}`).toBe(true);
      }
    }
    // The "Sessions by outcome" panel once two scrapes are in (rate needs two samples).
    const outcomes = await waitFor("a rate per outcome", async () => {
      const r = await query(base, `sum by (tftp_outcome) (rate(tftp_server_sessions_total{job=~".*",instance=~".*"}[1m]))`);
      return r.length === 2 ? r.map((x) => x.metric.tftp_outcome).sort() : undefined;
    }, 30_000, 250);
    expect(outcomes).toEqual(["not-found", "ok"]);

    // More transfers show up at the next scrapes.
    expect((await curlTftp(cli.udpPort, "grub.cfg")).code).toBe(0);
    expect(await settles(base, `tftp_server_sessions_total{job="tftpkit",tftp_outcome="ok"}`, 5)).toBe(5);
    expect(await cli.stop()).toBe(0);
  });
});

describe.skipIf(!existsSync(PROMTOOL))("infra/ for Prometheus", () => {
  it("promtool accepts prometheus.yml and tftpkit.rules.yml", () => {
    const config = execFileSync(PROMTOOL, ["check", "config", join(INFRA, "prometheus.yml")], { encoding: "utf8", timeout: 30_000 });
    expect(config).toMatch(/SUCCESS/);
    const rules = execFileSync(PROMTOOL, ["check", "rules", join(INFRA, "tftpkit.rules.yml")], { encoding: "utf8", timeout: 30_000 });
    expect(rules).toMatch(/SUCCESS: \d+ rules found/);
  });
});
