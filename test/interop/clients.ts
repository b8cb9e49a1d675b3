// Run real TFTP clients (curl, tftp-hpa, atftp, busybox tftp) as child processes.
//
// Every invocation is bounded in time (execFile `timeout` + SIGKILL) and talks
// only to the host it is given (tests pass 127.0.0.1 / ::1). Command lines follow
// /work/shared/INTEROP.md. Each call returns { ok, code, stdout, stderr } plus the
// exact argv, so a failing test can print a command a human can paste.

import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { isIPv6 } from "node:net";

export type ClientName = "curl" | "tftp-hpa" | "atftp" | "busybox";
export const CLIENTS: readonly ClientName[] = ["curl", "tftp-hpa", "atftp", "busybox"];

export interface ClientResult {
  /** Transfer succeeded according to the client's own (quirky) conventions. */
  ok: boolean;
  /** Exit code; null when the process was killed (time limit) or did not start. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The client was killed because it ran past its time limit. */
  timedOut: boolean;
  /** Shell-quoted command line, with any stdin script, for failure messages. */
  command: string;
}

export interface TransferOptions {
  host: string;
  port: number;
  /** File name on the server. */
  remote: string;
  /** Local path: the download target (get) or the upload source (put). */
  local: string;
  /** Request an RFC 2348 blksize (curl, atftp, busybox). */
  blksize?: number;
  /** Request an RFC 7440 windowsize (atftp only). */
  windowsize?: number;
  /** Request tsize explicitly (atftp only; curl and busybox always send it). */
  tsize?: boolean;
  /** Send no options at all (curl --tftp-no-options). */
  noOptions?: boolean;
  /** netascii mode: tftp-hpa -m netascii, atftp stdin script, curl ;mode=netascii. */
  netascii?: boolean;
  /** atftp --trace (packet log on stderr: shows the OACK the server sent). */
  trace?: boolean;
  /** Time limit for the client process, ms (default 30 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_BUFFER = 16 * 1024 * 1024;

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

interface Invocation {
  file: string;
  args: string[];
  stdin?: string;
  /** Decide success from exit code and output, per client. */
  judge: (code: number | null, stdout: string, stderr: string) => boolean;
}

function run(inv: Invocation, timeoutMs: number): Promise<ClientResult> {
  const command =
    [inv.file, ...inv.args].map(quote).join(" ") +
    (inv.stdin !== undefined ? `  <<< ${JSON.stringify(inv.stdin)}` : "");
  return new Promise((resolve) => {
    const child = execFile(
      inv.file,
      inv.args,
      {
        timeout: timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: MAX_BUFFER,
        encoding: "utf8",
        env: { ...process.env, LC_ALL: "C" },
      },
      (err, stdout, stderr) => {
        let code: number | null = 0;
        let timedOut = false;
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean; signal?: string };
          timedOut = Boolean(e.killed) || e.signal === "SIGKILL";
          code = typeof e.code === "number" ? e.code : null;
          if (typeof e.code === "string") stderr = `${stderr}\n[spawn error ${e.code}: ${e.message}]`;
        }
        const ok = !timedOut && inv.judge(code, stdout, stderr);
        resolve({ ok, code, stdout, stderr, timedOut, command });
      },
    );
    child.stdin?.on("error", () => {}); // client may exit before reading stdin
    child.stdin?.end(inv.stdin ?? "");
  });
}

const judgeExitZero = (code: number | null) => code === 0;
// tftp-hpa exits 0 on a server ERROR (69 on "Transfer timed out."): look at what it printed.
const judgeTftpHpa = (code: number | null, out: string, err: string) =>
  code === 0 && !/Error code|Transfer timed out|tftp:/i.test(out + err);
// atftp exits 255 on error in command-line mode; in interactive (stdin) mode it
// exits 0 and only prints the error ("tftp: aborting", "error received from
// server <...>"). "timeout: retrying ..." alone is a retransmission, not a failure.
const judgeAtftp = (code: number | null, out: string, err: string) =>
  code === 0 && !/\baborting\b|error received|not connected|unknown host/i.test(out + err);

function curlUrl(o: TransferOptions): string {
  const host = isIPv6(o.host) ? `[${o.host}]` : o.host;
  const path = o.remote.split("/").map(encodeURIComponent).join("/");
  return `tftp://${host}:${o.port}/${path}${o.netascii ? ";mode=netascii" : ""}`;
}

function curlCommon(o: TransferOptions): string[] {
  const args = ["-sS", "-g"];
  if (o.noOptions || o.netascii) args.push("--tftp-no-options");
  else if (o.blksize !== undefined) args.push("--tftp-blksize", String(o.blksize));
  return args;
}

function atftpOptions(o: TransferOptions): string[] {
  const args: string[] = [];
  if (o.trace) args.push("--trace");
  if (o.blksize !== undefined) args.push("--option", `blksize ${o.blksize}`);
  if (o.windowsize !== undefined) args.push("--option", `windowsize ${o.windowsize}`);
  if (o.tsize) args.push("--option", "tsize");
  return args;
}

function unsupported(client: ClientName, o: TransferOptions, dir: "get" | "put"): void {
  const bad: string[] = [];
  if (o.windowsize !== undefined && client !== "atftp") bad.push("windowsize");
  if (o.blksize !== undefined && client === "tftp-hpa") bad.push("blksize");
  if (o.tsize && client !== "atftp") bad.push("tsize (explicit)");
  if (o.netascii && client === "busybox") bad.push("netascii");
  if (o.netascii && client === "atftp" && (o.blksize || o.windowsize || o.tsize)) bad.push("netascii+options");
  if (o.netascii && dir === "put" && client === "curl") bad.push("netascii put");
  if (o.trace && client !== "atftp") bad.push("trace");
  if (bad.length) throw new Error(`${client} ${dir}: unsupported here: ${bad.join(", ")}`);
}

/** The command line for one transfer: `get` fetches remote into local, `put` sends local as remote. */
function invocation(client: ClientName, o: TransferOptions, dir: "get" | "put"): Invocation {
  unsupported(client, o, dir);
  const port = String(o.port);
  const get = dir === "get";
  // tftp-hpa and atftp's interactive commands name the source first.
  const [from, to] = get ? [o.remote, o.local] : [o.local, o.remote];
  switch (client) {
    case "curl":
      return { file: "curl", args: [...curlCommon(o), get ? "-o" : "-T", o.local, curlUrl(o)], judge: judgeExitZero };
    case "tftp-hpa":
      return {
        file: "tftp",
        args: [isIPv6(o.host) ? "-6" : "-4", "-m", o.netascii ? "netascii" : "octet", o.host, port, "-c", dir, from, to],
        judge: judgeTftpHpa,
      };
    case "atftp":
      if (o.netascii) {
        return {
          file: "atftp",
          args: [...atftpOptions(o), o.host, port],
          stdin: `mode netascii\n${dir} ${from} ${to}\nquit\n`,
          judge: judgeAtftp,
        };
      }
      return { file: "atftp", args: [...atftpOptions(o), get ? "-g" : "-p", "-r", o.remote, "-l", o.local, o.host, port], judge: judgeAtftp };
    case "busybox":
      return {
        file: "busybox",
        args: ["tftp", ...(o.blksize !== undefined ? ["-b", String(o.blksize)] : []), get ? "-g" : "-p", "-r", o.remote, "-l", o.local, o.host, port],
        judge: judgeExitZero,
      };
  }
}

/** Download `remote` into `local` (removed first: atftp asks before overwriting). */
export function clientGet(client: ClientName, o: TransferOptions): Promise<ClientResult> {
  rmSync(o.local, { force: true });
  return run(invocation(client, o, "get"), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/** Upload `local` as `remote`. */
export function clientPut(client: ClientName, o: TransferOptions): Promise<ClientResult> {
  return run(invocation(client, o, "put"), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/** The exact argv a get would run (for reports). */
export function describeGet(client: ClientName, o: TransferOptions): string {
  const inv = invocation(client, o, "get");
  return [inv.file, ...inv.args].map(quote).join(" ") + (inv.stdin !== undefined ? `  <<< ${JSON.stringify(inv.stdin)}` : "");
}

/**
 * Did the client report "file not found" (TFTP error code 1)?
 * curl: exit 68 (CURLE_TFTP_NOTFOUND). tftp-hpa: "Error code 1: ..." on stdout.
 * atftp: exit 255 + "error received from server" (it does not print the code;
 * with --trace it logs the ERROR packet). busybox: exit 1 + "server error: (1) ...".
 */
export function isNotFound(client: ClientName, r: ClientResult): boolean {
  const all = r.stdout + r.stderr;
  switch (client) {
    case "curl":
      return r.code === 68;
    case "tftp-hpa":
      return /Error code 1:/.test(all);
    case "atftp":
      return r.code === 255 && /error received from server/.test(all);
    case "busybox":
      return r.code === 1 && /server error: \(1\)/.test(all);
  }
}

/** Human-readable summary of a result for assertion messages. */
export function explain(client: ClientName, r: ClientResult): string {
  const cut = (s: string) => (s.length > 2000 ? s.slice(0, 1000) + "\n…\n" + s.slice(-1000) : s);
  return [
    `client: ${client}`,
    `command: ${r.command}`,
    `exit: ${r.code}${r.timedOut ? " (killed: time limit)" : ""}`,
    `stdout: ${cut(r.stdout.trim())}`,
    `stderr: ${cut(r.stderr.trim())}`,
  ].join("\n");
}

/** Reference netascii encoder (RFC 764 / 1350): LF -> CR LF, CR -> CR NUL. */
export function netasciiEncode(data: Buffer): Buffer {
  const out: number[] = [];
  for (const b of data) {
    if (b === 0x0a) out.push(0x0d, 0x0a);
    else if (b === 0x0d) out.push(0x0d, 0x00);
    else out.push(b);
  }
  return Buffer.from(out);
}

/** The exact argv a put would run (for reports). */
export function describePut(client: ClientName, o: TransferOptions): string {
  const inv = invocation(client, o, "put");
  return [inv.file, ...inv.args].map(quote).join(" ") + (inv.stdin !== undefined ? `  <<< ${JSON.stringify(inv.stdin)}` : "");
}

/** curl's exit code for each TFTP error code (CURLE_TFTP_NOTFOUND = 68 ... CURLE_TFTP_NOSUCHUSER = 74). */
const CURL_TFTP_EXIT: Record<number, number> = { 1: 68, 2: 69, 3: 70, 4: 71, 5: 72, 6: 73, 7: 74 };

/**
 * Did the client report TFTP error `code` from the server?
 * curl: exit 68 + (code - 1) (its message text is unreliable, e.g. "getpeername() failed").
 * tftp-hpa: "Error code N: ..." on stdout. busybox: exit 1 + "server error: (N) ...".
 * atftp never prints the code (not even with --trace): exit 255 (command-line mode)
 * and "error received from server <MESSAGE>"; pass `atftpMessage` to check the text.
 */
export function isTftpError(client: ClientName, r: ClientResult, code: number, atftpMessage?: RegExp): boolean {
  const all = r.stdout + r.stderr;
  switch (client) {
    case "curl":
      return r.code === CURL_TFTP_EXIT[code];
    case "tftp-hpa":
      return new RegExp(`Error code ${code}:`).test(all);
    case "atftp": {
      const m = /error received from server <([^>]*)>/.exec(all);
      return r.code === 255 && m !== null && (atftpMessage === undefined || atftpMessage.test(m[1]!));
    }
    case "busybox":
      return r.code === 1 && new RegExp(`server error: \\(${code}\\)`).test(all);
  }
}
