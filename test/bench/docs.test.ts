// bench/docs.mjs renders docs/performance.md from a bench result: a fixture
// result rendered through the real template shows the run's table with every
// column, the goals met / NOT met, the projection, the machine, Node's
// version, the command and the date, and keeps its links to files that exist.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { markdownTable, renderPerformance } from "../../bench/docs.mjs";
import { linkTargets } from "../../scripts/docs/links.mjs";
import { REPO } from "../../scripts/docs/pages.mjs";

const template = readFileSync(join(REPO, "bench/performance.template.md"), "utf8");
const columns = ["server", "value", "vs tftpkit", "vs floor", "CPU us/sess", "sess/CPU-s", "CPU vs floor", "primary", "dup DATA", "p50 ms", "p99 ms", "fail", "RSS MiB"];
const cell = (server: string, value: string, cpu: string, extra: Record<string, string> = {}) => ({
  server, value, "vs tftpkit": "", "vs floor": "", "CPU us/sess": cpu, "sess/CPU-s": "", "CPU vs floor": "", primary: "",
  "dup DATA": "0", "p50 ms": "1.0", "p99 ms": "2.0", fail: "0", "RSS MiB": "80.0", note: "", ...extra,
});
const fixture = {
  started_at: "2026-12-05T06:00:00.000Z",
  quick: false,
  command: "npm run bench -- --write-docs",
  warmup_small: 12000,
  host: { cores: 2, cpu: "Test CPU 9000", kernel: "6.1.0-test", node: "v20.20.0", cpu_how: "/proc tree" },
  servers: [
    { name: "tftpkit", how: "tftpkit serve --admin 127.0.0.1:PORT > log file" },
    { name: "tftpkit-1w", how: "tftpkit serve --workers 1" },
    { name: "node-floor", how: "node bench/node-floor.mjs" },
  ],
  scenarios: [
    { id: "small", title: "small: 2,000 x 1 KiB, 32 at once", unit: "sess/s", rounds: 3 },
    { id: "boot-grub-loss", title: "GRUB boot, 2% loss", unit: "s", rounds: 1 },
    { id: "burst", title: "burst", unit: "%", rounds: 3 },
  ],
  columns,
  tables: {
    small: [
      cell("tftpkit", "4321", "333", { primary: "7.5%", "vs floor": "0.71" }),
      cell("tftpkit-1w", "5000", "150", { note: "runs 4900 / 5000 / 5100" }),
      cell("node-floor", "6100", "140"),
    ],
    "boot-grub-loss": [cell("tftpkit", "3.10", "20"), cell("tftpd-hpa", "~412", "9", { note: "capped: time projected from bytes" })],
  },
  projection: {
    primary_us: 25, workers_us: 308, primary_share: 0.075, primary_limit_cores: 13.3, primary_limit_sessions_per_s: 40000,
    one_worker_sessions_per_core_s: 6667,
    cores: [
      { cores: 4, sessions_per_s: 12012, primary_bound: false, vs_one_worker: 1.8 },
      { cores: 16, sessions_per_s: 40000, primary_bound: true, vs_one_worker: 6.0 },
      { cores: 64, sessions_per_s: 40000, primary_bound: true, vs_one_worker: 6.0 },
    ],
  },
  boot_vs_c: ["boot-grub-loss: tftpkit 3.10 s; tftpd-hpa 412.0 s (projected) = 132.9x slower"],
  goals: [
    { met: true, text: "small: the primary's share of a session's CPU < 10%", figure: "7.5%" },
    { met: false, text: "projection: 16 cores > 10x the one-worker rate per core", figure: "6.0x" },
  ],
};

describe("bench/docs.mjs renders docs/performance.md", () => {
  const page = renderPerformance(template, fixture);

  it("fills every placeholder of the template", () => {
    expect(template).toMatch(/\{\{\w+\}\}/);
    expect(page).not.toMatch(/\{\{\w+\}\}/);
  });

  it("names the machine, Node's version, the command and the date", () => {
    expect(page).toContain("2 cores (Test CPU 9000), Linux 6.1.0-test");
    expect(page).toContain("Node.js v20.20.0");
    expect(page).toContain("`npm run bench -- --write-docs`");
    expect(page).toContain("Date: 2026-12-05.");
  });

  it("says how large the warm-up before each measured run was, or that there was none", () => {
    expect(page).toContain("unmeasured warm-up before a measured run (12,000 small sessions and 4 large files)");
    expect(renderPerformance(template, { ...fixture, warmup_small: 0 })).toContain("No server was warmed up");
  });

  it("shows each scenario's table with every column, the unit as the value's header", () => {
    expect(page).toContain("### small\n\nsmall: 2,000 x 1 KiB, 32 at once. Medians of 3 rounds.");
    expect(page).toContain("| server | sess/s | vs tftpkit | vs floor | CPU us/sess | sess/CPU-s | CPU vs floor | primary | dup DATA | p50 ms | p99 ms | fail | RSS MiB | note |");
    expect(page).toContain("| tftpkit | 4321 |  | 0.71 | 333 |  |  | 7.5% | 0 | 1.0 | 2.0 | 0 | 80.0 |  |");
    expect(page).toContain("| tftpkit-1w | 5000 |");
    expect(page).toContain("runs 4900 / 5000 / 5100 |");
    expect(page).toContain("| tftpd-hpa | ~412 |");
    // A scenario without a table in the run has no section.
    expect(page).not.toContain("### burst");
  });

  it("lists the goals met and NOT met, with a count", () => {
    expect(page).toContain("1 of 2 goals met.");
    expect(page).toContain("- met: small: the primary's share of a session's CPU < 10%: 7.5%");
    expect(page).toContain("- **NOT met**: projection: 16 cores > 10x the one-worker rate per core: 6.0x");
  });

  it("states the projection as a projection, with the core count where the primary becomes the limit", () => {
    expect(page).toContain("A projection, not a measurement");
    expect(page).toContain("The primary becomes the limit from 13.3 cores, at 40000 sessions/s.");
    expect(page).toContain("| 16 | 40000 | the primary | 6.0 |");
    expect(page).toContain("| 4 | 12012 | the workers | 1.8 |");
    expect(page).toContain("boot-grub-loss: tftpkit 3.10 s; tftpd-hpa 412.0 s (projected)");
  });

  it("marks a quick run as not for figures", () => {
    expect(renderPerformance(template, { ...fixture, quick: true })).toContain("a QUICK run");
    expect(page).not.toContain("QUICK");
  });

  it("escapes a | in a cell so that the table keeps its columns", () => {
    expect(markdownTable(["a", "b"], [["x|y", "z"]])).toBe("| a | b |\n|---|---|\n| x\\|y | z |");
  });

  it("links only to files that exist (docs/performance.md's place)", () => {
    const targets = linkTargets(page);
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(existsSync(join(REPO, "docs", t.split("#")[0])), t).toBe(true);
  });
});
