// Helpers of the deployment tests: the repository's paths, a command runner
// with a bounded time, `tftpkit serve` started as an operator would start it
// (waiting for its "serving ... on HOST:PORT" line), and curl as the client.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { curlTftp } from "@tftpkit/test-support";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export { CURL, hasCurl } from "@tftpkit/test-support";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`); never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, {
      cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024, encoding: "utf8",
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Throws with the command's output when it did not exit 0. */
export async function ok(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
  }
  return r;
}

export interface Serving {
  child: ChildProcess;
  host: string;
  port: number;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

const SERVING = /tftpkit serving .* on (\[[^\]]+\]|[^\s:]+):(\d+) \(udp/;

/** Starts a tftpkit command line and waits (bounded) for its "serving" line. */
export function serve(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; waitMs?: number } = {}): Promise<Serving> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let settled = false;
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(new Error(`no "serving" line within ${opts.waitMs ?? 30_000} ms from ${cmd} ${args.join(" ")}\n${out}`));
    }, opts.waitMs ?? 30_000);
    const onData = (b: Buffer): void => {
      out += b.toString("utf8");
      const m = SERVING.exec(out);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]), output: () => out, stop });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${cmd} exited ${code} before serving:\n${out}`));
    });
  });
}

/** Fetches a file with curl over TFTP; returns its bytes. */
export async function curlGet(host: string, port: number, path: string): Promise<Buffer> {
  const r = await curlTftp(`tftp://${host}:${port}/${path}`, [], 30);
  if (r.code !== 0) throw new Error(`curl tftp://${host}:${port}/${path}: ${r.stderr}`);
  return r.data;
}
