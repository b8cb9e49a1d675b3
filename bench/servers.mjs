// The servers of the comparison, each started on a loopback port, and a
// sampler of a server's process tree (RSS and CPU time from /proc).

import { execFileSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const CLK_TCK = 100; // Linux USER_HZ: /proc times are in 1/100 s

/** A free UDP port on 127.0.0.1 (bound and released). */
export async function freePort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

/** A free TCP port on 127.0.0.1 (for tftpkit's admin HTTP server). */
export async function freeTcpPort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const p = srv.address().port;
  await new Promise((r) => srv.close(r));
  return p;
}

/**
 * True once a UDP socket is bound to local port `port` (the kernel's socket
 * tables in /proc). Looking, not binding: a probe that binds the port to see
 * whether it is taken can take it from the server that is about to bind it
 * (which then exits, its error in syslog rather than on stderr).
 */
function isBound(port) {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) if (line.trim().split(/\s+/)[1]?.endsWith(hexPort)) return true;
  }
  return false;
}

async function waitBound(port, child, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (isBound(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const isRoot = process.getuid?.() === 0;
const userName = () => (isRoot ? "root" : execFileSync("id", ["-un"]).toString().trim());
const groupName = () => (isRoot ? "root" : execFileSync("id", ["-gn"]).toString().trim());

/**
 * atftpd conflicts with tftpd-hpa as a Debian package: fetch its .deb with
 * apt-get download and unpack it (dpkg -x) into a git-ignored cache folder.
 */
export function ensureAtftpd(cacheDir) {
  const bin = join(cacheDir, "atftpd", "usr", "sbin", "atftpd");
  if (existsSync(bin)) return bin;
  if (existsSync("/usr/sbin/atftpd")) return "/usr/sbin/atftpd";
  mkdirSync(cacheDir, { recursive: true });
  try {
    execFileSync("apt-get", ["download", "atftpd"], { cwd: cacheDir, stdio: ["ignore", "ignore", "pipe"], timeout: 120_000 });
    const deb = readdirSync(cacheDir).find((f) => /^atftpd_.*\.deb$/.test(f));
    if (!deb) return null;
    execFileSync("dpkg", ["-x", join(cacheDir, deb), join(cacheDir, "atftpd")], { timeout: 60_000 });
  } catch (err) {
    process.stderr.write(`bench: cannot fetch atftpd (${err.message.split("\n")[0]}); run 'apt-get update' first?\n`);
    return null;
  }
  return existsSync(bin) ? bin : null;
}

/**
 * node's arguments for `tftpkit` as the installed program starts it: the V8
 * flags of bin/tftpkit.js's first line (`#!/usr/bin/env -S node FLAGS`, read
 * as the system reads it), then `nodeArgs`, then the launcher. Run as
 * `node bin/tftpkit.js` alone, the first process would miss them (V8 sets
 * its memory reducer up with the heap).
 */
export function tftpkitNodeArgs(repo, nodeArgs = []) {
  const bin = join(repo, "apps/server/bin/tftpkit.js");
  const flags = readFileSync(bin, "utf8").split("\n")[0].split(/\s+/).filter((a) => a.startsWith("--"));
  return [...flags, ...nodeArgs, bin];
}

/**
 * Server definitions: `available()` says whether it can run here,
 * `start(root, { cpu })` resolves { pid, port, how, stop() }; with `cpu` the
 * server runs pinned to that CPU (taskset; children inherit it). Each binds
 * 127.0.0.1 only.
 *
 * tftpkit runs as an operator would start it: `tftpkit serve` (with
 * `tftpkitArgs` appended, e.g. `--workers 2`). An extra server (such as
 * fbtftp, which is not packaged here) joins when BENCH_EXTRA_SERVER is set to
 * `NAME=COMMAND`, COMMAND containing {root} and {port}, e.g.
 * `fbtftp=python3 /opt/fbtftp/examples/server.py --root {root} --port {port}`.
 */
export function serverDefs({ repo, cacheDir, tftpkitArgs = [], keepLogs }) {
  const logDir = join(cacheDir, "logs");
  let kept = 0;
  /**
   * tftpkit as an operator runs it: logging on (its default JSON lines on
   * stdout, redirected to a file), admin HTTP on at a loopback port, flows and
   * metrics on (defaults); `extra` e.g. --workers 1. Ready once it prints its
   * "serving" line (after its workers are up).
   */
  const tftpkitDef = (name, extra) => ({
    name,
    available: () => existsSync(join(repo, "apps/server/dist/cli.js")),
    async start(root, { cpu = null } = {}) {
      const port = await freePort();
      const admin = await freeTcpPort();
      mkdirSync(logDir, { recursive: true });
      const logFile = join(logDir, `${name}-${port}.log`);
      const args = [...tftpkitNodeArgs(repo), "serve", "--root", root, "--host", "127.0.0.1", "--port", String(port), "--admin", `127.0.0.1:${admin}`, ...extra, ...tftpkitArgs];
      const s = await launch(process.execPath, args, port, cpu, { stdoutFile: logFile, readyLine: /^tftpkit serving /m });
      if (!s.ok) throw new Error(`${name} did not start: ${s.stderr}`);
      const stop = async () => {
        await s.stop();
        if (keepLogs && existsSync(logFile)) {
          // --keep-logs: every session's line of this run (outcome, retransmits, ms), numbered in stop order.
          mkdirSync(keepLogs, { recursive: true });
          copyFileSync(logFile, join(keepLogs, `${String(++kept).padStart(3, "0")}-${name}-${port}.log`));
        }
        rmSync(logFile, { force: true });
      };
      return { ...s, stop, primaryPid: s.pid, logFile, how: `tftpkit serve --admin 127.0.0.1:PORT${[...extra, ...tftpkitArgs].length ? ` ${[...extra, ...tftpkitArgs].join(" ")}` : ""} > log file (log, flows, metrics on)` };
    },
  });
  const defs = [
    tftpkitDef("tftpkit", []),
    tftpkitDef("tftpkit-1w", ["--workers", "1"]),
    {
      name: "node-floor",
      available: () => existsSync(join(repo, "bench/node-floor.mjs")),
      async start(root, { cpu = null } = {}) {
        const port = await freePort();
        const s = await launch(process.execPath, [join(repo, "bench/node-floor.mjs"), "--root", root, "--port", String(port)], port, cpu);
        if (!s.ok) throw new Error(`node-floor did not start: ${s.stderr}`);
        return { ...s, how: "node bench/node-floor.mjs (node:dgram, files in memory, nothing else)" };
      },
    },
    {
      name: "tftpd-hpa",
      available: () => existsSync("/usr/sbin/in.tftpd"),
      async start(root, { cpu = null } = {}) {
        const port = await freePort();
        const s = await launch("/usr/sbin/in.tftpd", ["-L", "-a", `127.0.0.1:${port}`, "-s", root, "-u", userName()], port, cpu);
        if (!s.ok) throw new Error(`in.tftpd did not start: ${s.stderr}`);
        return { ...s, how: "in.tftpd -L" };
      },
    },
    {
      name: "atftpd",
      available: () => ensureAtftpd(cacheDir) !== null,
      async start(root, { cpu = null } = {}) {
        const bin = ensureAtftpd(cacheDir);
        const port = await freePort();
        // --maxthread: the default 100 would refuse the storm's 100 clients plus stragglers.
        const s = await launch(bin, ["--daemon", "--no-fork", "--port", String(port), "--bind-address", "127.0.0.1", "--user", userName(), "--group", groupName(),
          "--logfile", "/dev/null", "--maxthread", "1000", root], port, cpu);
        if (!s.ok) throw new Error(`atftpd did not start: ${s.stderr}`);
        return { ...s, how: "atftpd --daemon --no-fork --maxthread 1000 (unpacked .deb)" };
      },
    },
    {
      name: "dnsmasq",
      available: () => existsSync("/usr/sbin/dnsmasq"),
      async start(root, { cpu = null } = {}) {
        // Its TFTP server listens on port 69 only.
        const port = 69;
        if (isBound(port)) throw new Error("port 69 on 127.0.0.1 is taken");
        // --tftp-max: the default 50 concurrent transfers would refuse the storm.
        const s = await launch("/usr/sbin/dnsmasq", ["--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--enable-tftp", `--tftp-root=${root}`,
          "--listen-address=127.0.0.1", "--bind-interfaces", `--user=${userName()}`, `--group=${groupName()}`, "--pid-file=", "--tftp-max=1000",
          "--quiet-tftp", "--log-facility=/dev/null"], port, cpu);
        if (!s.ok) throw new Error(`dnsmasq did not start: ${s.stderr}`);
        return { ...s, how: "dnsmasq --enable-tftp --tftp-max=1000 (port 69)" };
      },
    },
  ];
  const extra = /^([\w.-]+)=(.+)$/.exec(process.env.BENCH_EXTRA_SERVER ?? "");
  if (extra && !defs.some((d) => d.name === extra[1])) {
    const [, name, template] = extra;
    defs.push({
      name,
      available: () => true,
      async start(root, { cpu = null } = {}) {
        const port = await freePort();
        const argv = template.split(/\s+/).filter(Boolean).map((a) => a.replaceAll("{root}", root).replaceAll("{port}", String(port)));
        const s = await launch(argv[0], argv.slice(1), port, cpu);
        if (!s.ok) throw new Error(`${name} did not start: ${s.stderr}`);
        return { ...s, how: `BENCH_EXTRA_SERVER: ${template}` };
      },
    });
  }
  return defs;
}

/**
 * Starts a server and resolves once its port is bound (and, with
 * `readyLine`, once its stderr printed that line: bounded, 20 s).
 * `stdoutFile`: its stdout goes to that file (else nowhere).
 */
export async function launch(cmd, args, port, cpu = null, { stdoutFile = null, readyLine = null } = {}) {
  const [c, a] = cpu === null ? [cmd, args] : ["taskset", ["-c", String(cpu), cmd, ...args]];
  const out = stdoutFile ? openSync(stdoutFile, "w") : "ignore";
  const child = spawn(c, a, { stdio: ["ignore", out, "pipe"] });
  if (typeof out === "number") closeSync(out);
  let stderr = "";
  let sawReady = () => {};
  const ready = new Promise((r) => (sawReady = r));
  child.stderr.on("data", (d) => {
    if (stderr.length < 4000) stderr += d;
    if (readyLine && readyLine.test(stderr)) sawReady(true);
  });
  child.on("error", (e) => (stderr += e.message));
  const exited = new Promise((r) => child.once("exit", r));
  let ok = await waitBound(port, child, 20_000);
  if (ok && readyLine) {
    let t;
    ok = await Promise.race([ready, exited.then(() => false), new Promise((r) => (t = setTimeout(() => r(false), 20_000)))]);
    clearTimeout(t);
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    }
  };
  if (!ok) await stop();
  return { ok, pid: child.pid, port, stop, get stderr() { return stderr; } };
}

// ------------------------------------------------------------ CPU accounting

const CPUACCT = "/sys/fs/cgroup/cpuacct";
let cgroupSeq = 0;

/**
 * CPU time of a server and everything it forks. With a cgroup (v1 cpuacct,
 * as root), every process in it counts, reaped or not (tftpd-hpa forks a
 * child per transfer and ignores SIGCHLD, so its children never show in its
 * cutime). Without one, the process tree from /proc (children that exited
 * unwaited are then missed).
 */
export function cpuMeter(pid) {
  let dir = null;
  try {
    if (existsSync(join(CPUACCT, "cgroup.procs"))) {
      const d = join(CPUACCT, `tftpkit-bench-${process.pid}-${++cgroupSeq}`);
      mkdirSync(d);
      // The process and every descendant alive now (tftpkit's workers were
      // forked before the meter starts; later forks inherit the group).
      writeFileSync(join(d, "cgroup.procs"), String(pid));
      for (const c of descendants(pid)) {
        try {
          writeFileSync(join(d, "cgroup.procs"), String(c));
        } catch {
          // exited meanwhile
        }
      }
      dir = d;
    }
  } catch {
    dir = null;
  }
  const read = () => (dir ? Number(readFileSync(join(dir, "cpuacct.usage"), "utf8")) / 1e9 : treeCpuSeconds(pid));
  const start = read();
  return {
    how: dir ? "cgroup cpuacct" : "/proc tree",
    /** CPU seconds since the meter started. */
    read: () => read() - start,
    /** Removes the cgroup once its processes have exited. */
    dispose() {
      if (!dir) return;
      try {
        rmdirSync(dir);
      } catch {
        // still busy: left for the kernel (empty groups are harmless)
      }
    },
  };
}

// ------------------------------------------------------------ /proc sampling

function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // f[0] = state (field 3); utime 14, stime 15, cutime 16, cstime 17; ppid 4
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return null;
  }
}

function readStatus(pid, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Pids of every live descendant of `root` (from /proc). */
export function descendants(root) {
  const children = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(Number(d));
    if (!st) continue;
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(Number(d));
  }
  const out = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * CPU seconds of one process alone, no children (a primary's own share): the
 * sum of its threads' run time from /proc/PID/task/TID/schedstat, in
 * nanoseconds (threads that exited are missed; Node's stay), else utime +
 * stime in ticks of 10 ms.
 */
export function procCpuSeconds(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread exited meanwhile
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {
    // no schedstat: ticks
  }
  const st = readStat(pid);
  return st ? (st.utime + st.stime) / CLK_TCK : NaN;
}

/** CPU seconds of a process tree: the process, its reaped children, its live descendants. */
export function treeCpuSeconds(pid) {
  const st = readStat(pid);
  if (!st) return NaN;
  let ticks = st.utime + st.stime + st.cutime + st.cstime;
  for (const c of descendants(pid)) {
    const cs = readStat(c);
    if (cs) ticks += cs.utime + cs.stime;
  }
  return ticks / CLK_TCK;
}

/** RSS of a process and all its descendants, in bytes. */
export function treeRss(pid) {
  let rss = readStatus(pid, "VmRSS");
  for (const c of descendants(pid)) rss += readStatus(c, "VmRSS");
  return rss;
}

/** Samples a process tree's RSS every `ms`; stop() resolves the peak in bytes. */
export function rssSampler(pid, ms = 100) {
  let peak = 0;
  const sample = () => {
    const rss = treeRss(pid);
    if (rss > peak) peak = rss;
  };
  sample();
  const t = setInterval(sample, ms);
  return {
    stop() {
      clearInterval(t);
      sample();
      // The main process's own high-water mark catches peaks between samples.
      return Math.max(peak, readStatus(pid, "VmHWM"));
    },
  };
}
