// infra/kubernetes/loadgen-job.yaml: an indexed batch/v1 Job of N load pods
// and a merge Job. The pods' and the merge step's shell scripts are run here
// as written (the results volume a temporary folder, tftpkit-load on PATH)
// against a tftpkit server on loopback: N reports, then one merged report
// whose sessions add up.

import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { createServer, type TftpServer } from "@tftpkit/server";
import type { Report } from "../src/index.js";

const exec = promisify(execFile);
const MANIFEST = fileURLToPath(new URL("../../../infra/kubernetes/loadgen-job.yaml", import.meta.url));
const BIN = fileURLToPath(new URL("../bin/tftpkit-load.js", import.meta.url));

interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: Array<{ name: string; value: string }>;
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface Job {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { completionMode?: string; completions?: number; parallelism?: number; template: { spec: { restartPolicy: string; containers: Container[] } } };
}

const docs = parseAllDocuments(readFileSync(MANIFEST, "utf8")).map((d) => d.toJS() as Job);
const load = docs.find((d) => d.kind === "Job" && d.metadata.name === "tftpkit-load")!;
const merge = docs.find((d) => d.kind === "Job" && d.metadata.name === "tftpkit-load-merge")!;
const env = (c: Container, name: string): string => c.env.find((e) => e.name === name)!.value;

describe("the distributed-run manifest", () => {
  let dir: string;
  let server: TftpServer;
  let target: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tftpkit-load-k8s-"));
    for (const name of ["root", "results", "bin"]) mkdirSync(join(dir, name));
    writeFileSync(join(dir, "root", "cfg"), Buffer.alloc(700, 1));
    writeFileSync(join(dir, "root", "kernel"), Buffer.alloc(20_000, 2));
    // tftpkit-load on PATH, as in the image.
    writeFileSync(join(dir, "bin", "tftpkit-load"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(dir, "bin", "tftpkit-load"), 0o755);
    server = createServer({ root: join(dir, "root") });
    const a = await server.listen({ host: "127.0.0.1", port: 0 });
    target = `127.0.0.1:${a.port}`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is an indexed batch/v1 Job of N pods and a merge Job, sharing the results volume", () => {
    expect(docs.map((d) => d.kind)).toEqual(["PersistentVolumeClaim", "Job", "Job"]);
    expect(load).toMatchObject({ apiVersion: "batch/v1", spec: { completionMode: "Indexed" } });
    expect(load.spec.parallelism).toBe(load.spec.completions);
    const pods = Number(env(merge.spec.template.spec.containers[0], "PODS"));
    expect(pods).toBe(load.spec.completions);
    for (const j of [load, merge]) {
      expect(j.spec.template.spec.restartPolicy).toBe("Never");
      expect(j.spec.template.spec.containers[0].volumeMounts).toEqual([{ name: "results", mountPath: "/results" }]);
    }
  });

  it("its scripts run: each pod writes a report with its own seed, the merge step adds them up", async () => {
    const pod = load.spec.template.spec.containers[0];
    const results = join(dir, "results");
    const script = (c: Container): string => c.args[0].replaceAll("/results", results);
    const base = { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` };
    const podEnv = { ...base, TARGET: target, RATE: "20", DURATION: "1s", FILES: "--flow cfg,kernel --think 20ms" };
    expect(env(pod, "FILES")).toMatch(/^--flow /);
    const n = 2;
    for (let i = 0; i < n; i++) await exec(pod.command[0], [pod.command[1], script(pod)], { env: { ...podEnv, JOB_COMPLETION_INDEX: String(i) } });
    const runs = readdirSync(results).filter((f) => /^run-\d+\.json$/.test(f)).sort();
    expect(runs).toEqual(["run-0.json", "run-1.json"]);
    const reports = runs.map((f) => JSON.parse(readFileSync(join(results, f), "utf8")) as Report);
    expect(reports.map((r) => r.scenario.seed)).toEqual([1, 2]);
    const m = merge.spec.template.spec.containers[0];
    const r = await exec(m.command[0], [m.command[1], script(m)], { env: { ...base, PODS: String(n), THRESHOLDS: env(m, "THRESHOLDS") } });
    const merged = JSON.parse(readFileSync(join(results, "merged.json"), "utf8")) as Report;
    expect(merged.runs).toBe(2);
    expect(merged.sessions.ok).toBe(reports[0].sessions.ok + reports[1].sessions.ok);
    expect(merged.flows!.ok).toBe(reports[0].flows!.ok + reports[1].flows!.ok);
    expect(merged.thresholds.map((t) => t.threshold)).toEqual(["p99<2s", "errors<0.1%"]);
    expect(readFileSync(join(results, "merged.html"), "utf8")).toContain("2 runs merged");
    expect(r.stdout).toMatch(/2 runs merged/); // the merge step's log: the text report
  }, 60_000);
});
