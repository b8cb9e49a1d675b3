// tftpkit-dashboard: the dashboard over several tftpkit servers (fleet view).
//   tftpkit-dashboard --server http://10.0.1.2:9069 --server rack2=http://10.0.2.2:9069 --listen 127.0.0.1:9070

import { parseArgs } from "node:util";
import { parseMember, startFleet, type FleetServer } from "./fleet.js";

export const LISTEN_DEFAULT = "127.0.0.1:9070";

const USAGE = `usage: tftpkit-dashboard --server URL [--server NAME=URL ...] [--listen HOST:PORT]

Serves the tftpkit dashboard for several tftpkit servers at once: their
sessions, boot flows and counters, each row tagged with its server.

  --server URL | NAME=URL   admin address of a tftpkit server (its --admin), repeatable
  --listen HOST:PORT        where to serve the page and the merged API (default ${LISTEN_DEFAULT}, loopback)
  --timeout-ms N            time limit of each request to a server (default 3000)
  --allow-host NAME         a host name the page may be reached by (reverse proxy), repeatable;
                            IP addresses and localhost always are, other names are refused
  -h, --help                this text
`;

/** `HOST:PORT` or `[v6]:PORT`; a missing host is loopback. */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen needs HOST:PORT or [IPv6]:PORT (got "${v}")`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

export async function main(argv: string[]): Promise<number> {
  let fleet: FleetServer;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        server: { type: "string", multiple: true },
        listen: { type: "string", default: LISTEN_DEFAULT },
        "timeout-ms": { type: "string" },
        "allow-host": { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const members = (values.server ?? []).map(parseMember);
    if (members.length === 0) throw new Error("--server: name at least one tftpkit admin address (e.g. --server http://127.0.0.1:9069)");
    const timeout = values["timeout-ms"] === undefined ? 3000 : Number(values["timeout-ms"]);
    if (!Number.isInteger(timeout) || timeout < 100 || timeout > 60_000) throw new Error(`--timeout-ms needs a whole number of ms from 100 to 60000 (got "${values["timeout-ms"]}")`);
    const at = parseListen(values.listen!);
    try {
      fleet = await startFleet({ members, ...at, timeoutMs: timeout, allowHosts: values["allow-host"] });
    } catch (err) {
      throw new Error(`--listen ${values.listen}: ${(err as Error).message}`);
    }
    process.stderr.write(`tftpkit-dashboard on ${fleet.url} (fleet of ${members.length}: ${members.map((m) => m.name).join(", ")})\n`);
  } catch (err) {
    process.stderr.write(`tftpkit-dashboard: ${(err as Error).message}\n`);
    return 2;
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await fleet.close();
  return 0;
}
