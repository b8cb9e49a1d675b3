// The bench's own client: bench/tftpbench.c, built with `cc -O2` into
// bench-results/cache/ (rebuilt when the source is newer), run as a child
// process (optionally pinned to one CPU with taskset), one JSON object out.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Builds tftpbench if needed; returns its path or throws with the compiler's message. */
export function buildClient({ repo, cacheDir }) {
  const src = join(repo, "bench/tftpbench.c");
  const bin = join(cacheDir, "tftpbench");
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  mkdirSync(cacheDir, { recursive: true });
  const r = spawnSync("cc", ["-O2", "-Wall", "-o", bin, src], { encoding: "utf8" });
  if (r.error) throw new Error(`cannot run cc (${r.error.message}): install a C compiler (apt-get install gcc)`);
  if (r.status !== 0) throw new Error(`cc failed:\n${r.stderr}`);
  return bin;
}

/** True when taskset can pin here (util-linux). */
export const canPin = () => spawnSync("taskset", ["-c", "0", "true"]).status === 0;

/** `[cmd, args]` run on CPU `cpu` with taskset, or unchanged when cpu is null. */
export function pinned(cpu, cmd, args) {
  return cpu === null || cpu === undefined ? [cmd, args] : ["taskset", ["-c", String(cpu), cmd, ...args]];
}

/**
 * Runs a command that prints one JSON object on stdout; resolves it, or
 * { error } (its stderr) when it printed none. Killed `limitS + 60` s after the start.
 */
export function runJson(cmd, argv, limitS) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const kill = setTimeout(() => child.kill("SIGKILL"), (limitS + 60) * 1000);
    child.on("close", (code) => {
      clearTimeout(kill);
      try {
        resolve(JSON.parse(out));
      } catch {
        resolve({ error: err.trim() || `${cmd} exited with ${code}` });
      }
    });
  });
}

/** Runs tftpbench against 127.0.0.1:port (bounded by --time-limit); its JSON report or { error }. */
export function runClient(bin, { port, root, args, cpu = null, limitS = 300 }) {
  const [cmd, argv] = pinned(cpu, bin, ["--port", String(port), "--root", root, "--time-limit", String(limitS), ...args]);
  return runJson(cmd, argv, limitS);
}

/**
 * Bound is not serving: a server with worker processes (tftpkit --workers)
 * binds first and answers once its workers are up. Resolves once 14 transfers
 * of `file` from 14 other loopback addresses (127.0.2.1-14, so every worker of
 * a server that routes by client address gets some) went through: the
 * milliseconds that took, or null if they never did (bounded, about 20 s).
 */
export async function untilServing(bin, { port, root, file }) {
  const t = Date.now();
  const r = await runClient(bin, { port, root, limitS: 30, args: ["--source", "127.0.2.0/28", "--file", `${file}:14`, "--concurrency", "14", "--rto-ms", "200", "--rto-max-ms", "500", "--retries", "40"] });
  return r.ok === 14 ? Date.now() - t : null;
}

/**
 * The same unmeasured warm-up for every server before a measured run, so
 * that the figures are a running server's (a boot server has been up for
 * hours when a rack powers on), not its first seconds: a server with a JIT
 * (tftpkit on Node.js) is several times slower while its code is still cold;
 * the C servers are not. `small` small transfers (default 3,000) from
 * 127.0.4.0/24 (32 at once; half without options, half at blksize 1468 with
 * tsize) and 4 transfers of
 * `bigFile` (lock-step, then windowsize 16 where granted). Bounded (about
 * 30 s); resolves what it ran, for the JSON.
 */
export async function warmUp(bin, { port, root, smallFile, bigFile, cpu = null, small = 3000 }) {
  const t = Date.now();
  const src = ["--source", "127.0.4.0/24", "--rto-ms", "200", "--rto-max-ms", "500", "--retries", "20"];
  const parts = [
    [...src, "--file", `${smallFile}:${Math.ceil(small / 2)}`, "--concurrency", "32"],
    [...src, "--file", `${smallFile}:${Math.ceil(small / 2)}`, "--concurrency", "32", "--blksize", "1468", "--tsize"],
    [...src, "--file", `${bigFile}:2`, "--concurrency", "2", "--blksize", "1468"],
    [...src, "--file", `${bigFile}:2`, "--concurrency", "2", "--blksize", "1468", "--windowsize", "16"],
  ];
  let ok = 0;
  for (const args of parts) ok += (await runClient(bin, { port, root, args, cpu, limitS: 10 })).ok ?? 0;
  return { ok, ms: Date.now() - t };
}
