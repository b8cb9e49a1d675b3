// The `tftpkit` command.

import { parseArgs } from "node:util";
import { createServer, type ServerOptions, type SessionStats } from "@tftpkit/server";
import { loadHandler } from "./handler-module.js";

const USAGE = `Usage: tftpkit serve [options]

Serve files from a root folder, or what a handler module answers.

Options:
  --root DIR             folder to serve (read-only; nothing outside it is reachable)
  --handler FILE         ES module whose default export decides each read (falls back to --root)
  --host ADDR            address to bind (default ::, dual stack)
  --port N               UDP port (default 69)
  --max-blksize N        largest blksize granted, 8..65464 (default 65464)
  --max-windowsize N     largest windowsize granted, 1..65535 (default 64)
  --timeout S            retransmission timeout in seconds when the client sets none (default 1)
  --retries N            retransmissions before a session gives up (default 5)
  --log FORMAT           json (default), text or off: one line per finished session
  -h, --help             show this help
`;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`--${name} needs a whole number (got "${v}")`);
  return Number(v);
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} needs a number (got "${v}")`);
  return n;
}

export function formatSession(s: SessionStats, format: "json" | "text"): string {
  if (format === "json") {
    return JSON.stringify({
      time: new Date(s.startedAt + s.durationMs).toISOString(),
      event: "session",
      id: s.id,
      kind: s.kind,
      outcome: s.outcome,
      peer: `${s.peer.address}:${s.peer.port}`,
      local: s.local.address,
      path: s.path,
      mode: s.mode,
      asked: s.optionsAsked,
      acked: s.optionsAcked,
      bytes: s.bytesSent,
      packets: s.packetsSent,
      retransmits: s.retransmits,
      ms: Math.round(s.durationMs * 10) / 10,
      ...(s.error ? { error: s.error } : {}),
      ...(s.finalAckMissing ? { finalAckMissing: true } : {}),
    });
  }
  const err = s.error ? ` error=${s.error.code}:${JSON.stringify(s.error.message)}` : "";
  return `${s.outcome} ${s.peer.address}:${s.peer.port} ${JSON.stringify(s.path)} ${s.bytesSent}B ${s.durationMs.toFixed(1)}ms blksize=${s.blksize} window=${s.windowsize} retransmits=${s.retransmits}${err}`;
}

export async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      root: { type: "string" },
      handler: { type: "string" },
      host: { type: "string", default: "::" },
      port: { type: "string", default: "69" },
      "max-blksize": { type: "string" },
      "max-windowsize": { type: "string" },
      timeout: { type: "string" },
      retries: { type: "string" },
      log: { type: "string", default: "json" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.root && !values.handler) throw new Error("serve needs --root DIR or --handler FILE (see --help)");
  const log = values.log;
  if (log !== "json" && log !== "text" && log !== "off") throw new Error(`--log must be json, text or off`);
  const options: ServerOptions = {
    root: values.root,
    maxBlksize: int("max-blksize", values["max-blksize"]),
    maxWindowsize: int("max-windowsize", values["max-windowsize"]),
    timeout: num("timeout", values.timeout),
    retries: int("retries", values.retries),
    onSessionEnd: log === "off" ? undefined : (s) => process.stdout.write(formatSession(s, log) + "\n"),
  };
  if (values.handler) options.handler = await loadHandler(values.handler, values.root);
  const server = createServer(options);
  const port = int("port", values.port)!;
  const addr = await server.listen({ host: values.host, port });
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  process.stderr.write(
    `tftpkit serving ${values.handler ? `handler ${values.handler}` : ""}${values.handler && values.root ? " + " : ""}${values.root ? `root ${values.root}` : ""} on ${shown}:${addr.port} (udp)\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      server.close({ graceMs: 5000 }).then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new Error(`unknown command "${command}" (try: tftpkit serve --help)`);
  }
}
