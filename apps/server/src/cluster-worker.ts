// A cluster worker: a TftpServer of its own (its own WebAssembly scheduler,
// file cache, handler module and telemetry SDK) that serves the requests the
// primary routes to it (serveRelayed/receive). Its session sockets are its
// own; in single-port mode its answers go out through the primary.
//
// Started by the primary (cluster.ts) with the parsed flags in
// TFTPKIT_CLUSTER_VALUES; reads the configuration itself, like the
// single-process command, and again on each reload.

import cluster from "node:cluster";
import type { RemoteInfo } from "node:dgram";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import {
  createServer,
  type FlowQuery, type RelayListener, type ServerEvent, type SessionStats, type TftpServer,
} from "@tftpkit/server";
import { parseAdminAddress } from "./admin.js";
import { resolveConfig } from "./settings.js";
import { formatSession } from "./session-log.js";
import type { Config } from "./config.js";
import {
  ENV_ARGS, ENV_SLOT, IN_STRIDE,
  type ReloadAnswer, type ToPrimary, type ToWorker, type WorkerArgs,
} from "./cluster-protocol.js";
import { LineWriter } from "./log-writer.js";
import { buildServerOptions } from "./serve-options.js";
import { startTelemetry, type Telemetry } from "./telemetry.js";

/** Keys a reload cannot change in a running server. */
export const FIXED_KEYS = ["host", "port", "singlePort", "admin", "user", "group", "traceConsole", "workers", "recvBufferBytes"] as const;

export function changedFixedKeys(before: Config, after: Config): string[] {
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  return FIXED_KEYS.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

function post(m: ToPrimary): void {
  try {
    process.send?.(m);
  } catch {
    // The channel is gone: the primary died; 'disconnect' drains us.
  }
}

/** Datagrams for the primary's listening sockets, sent in one IPC message per event-loop turn. */
class Outbox {
  private batch: unknown[] = [];
  private scheduled = false;

  push(listener: number, packet: Uint8Array, port: number, address: string): void {
    // A copy: the session reuses its packet buffers.
    this.batch.push(listener, Buffer.from(packet), port, address);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const d = this.batch;
    this.batch = [];
    post({ t: "out", d });
  };
}

/** The server's events to the primary, while it has subscribers, in one IPC message per event-loop turn. */
class EventRelay {
  private unsubscribe: (() => void) | undefined;
  private batch: ServerEvent[] = [];

  constructor(private readonly server: TftpServer) {}

  subscribe(on: boolean): void {
    if (on && !this.unsubscribe) {
      this.unsubscribe = this.server.subscribe((e) => {
        if (this.batch.length === 0) setImmediate(this.flush);
        this.batch.push(e);
      });
    } else if (!on && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  private readonly flush = (): void => {
    const d = this.batch;
    this.batch = [];
    if (d.length) post({ t: "events", d });
  };
}

/** Datagrams held in a worker at most; beyond, new ones are dropped (the kernel would have dropped them too). */
const INTAKE_MAX = 65_536;
/** Datagrams handed to the server per turn of the event loop. */
const INTAKE_SLICE = 64;

/**
 * The datagrams the primary sent, handed to the server a slice per turn of
 * the event loop: one IPC read can carry thousands of requests, and starting
 * all their sessions at once would hold back every running session's
 * packets (binds, handler answers, DATA) until the last one had started.
 */
class Intake {
  private queue: unknown[][] = [];
  private head = 0; // index into queue[0]
  private held = 0;
  private scheduled = false;
  dropped = 0;

  constructor(private readonly deliver: (msg: Buffer, address: string, port: number, family: number, listener: number) => void) {}

  push(d: unknown[]): void {
    const n = d.length / IN_STRIDE;
    if (this.held + n > INTAKE_MAX) {
      this.dropped += n;
      return;
    }
    this.queue.push(d);
    this.held += n;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.pump);
    }
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    let budget = INTAKE_SLICE;
    while (budget > 0 && this.queue.length > 0) {
      const d = this.queue[0];
      while (budget > 0 && this.head < d.length) {
        const i = this.head;
        this.head += IN_STRIDE;
        this.held--;
        budget--;
        this.deliver(d[i] as Buffer, d[i + 1] as string, d[i + 2] as number, d[i + 3] as number, d[i + 4] as number);
      }
      if (this.head >= d.length) {
        this.queue.shift();
        this.head = 0;
      }
    }
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(this.pump);
    }
  };
}

export async function runWorker(): Promise<void> {
  const args = JSON.parse(process.env[ENV_ARGS] ?? "{}") as WorkerArgs;
  const logOf = (c: Config): Config["log"] => (c.log === "off" && args.verbose > 0 ? "text" : c.log);
  const slot = Number(process.env[ENV_SLOT] ?? "0");
  let config: Config;
  let telemetry: Telemetry;
  let server: TftpServer;
  let log: Config["log"];
  try {
    config = await resolveConfig(args);
    log = logOf(config);
    const adminAt = parseAdminAddress(config.admin);
    telemetry = startTelemetry(process.env, { traceConsole: config.traceConsole, prometheus: adminAt !== undefined });
    const logLines = new LineWriter();
    process.once("exit", logLines.flush);
    const onSessionEnd = (s: SessionStats): void => {
      if (log !== "off") logLines.write(formatSession(s, log, slot));
    };
    const extras = { onSessionEnd, instrumentation: telemetry.instrumentation };
    // Ids of live sessions, flow steps and flows are unique across workers: "w2:17".
    const idPrefix = `w${slot}:`;
    server = createServer({ ...(await buildServerOptions(config, extras)), idPrefix });
    server.serveRelayed();

    const outbox = new Outbox();
    const relays = new Map<number, RelayListener>();
    const relayOf = (id: number, local: string | null, port: number): RelayListener => {
      const r: RelayListener = { local: local ?? undefined, port, send: (packet, p, address) => outbox.push(id, packet, p, address) };
      relays.set(id, r);
      return r;
    };
    // A worker with no telemetry and no session has nothing but the IPC
    // channel, which does not hold the process: this does, until the drain.
    const alive = setInterval(() => {}, 3_600_000);
    let draining: Promise<void> | undefined;
    const drain = (graceMs: number): Promise<void> => {
      draining ??= (async () => {
        clearInterval(alive);
        await server.close({ graceMs });
        outbox.flush();
        await telemetry.shutdown().catch(() => {});
        process.exit(0);
      })();
      return draining;
    };
    const reload = async (): Promise<ReloadAnswer> => {
      try {
        const next = await resolveConfig(args);
        server.reconfigure({ ...(await buildServerOptions({ ...next, singlePort: config.singlePort }, extras)), idPrefix });
        const fixed = changedFixedKeys(config, next);
        config = next;
        log = logOf(next);
        return { ok: true, fixed };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    };
    const answer = async (q: string, arg: unknown): Promise<unknown> => {
      switch (q) {
        case "stats":
          return server.stats();
        case "summary":
          return server.summary();
        case "sessions":
          return server.liveSessions();
        case "flows":
          return server.flows((arg ?? {}) as FlowQuery);
        case "metrics": {
          const p = telemetry.prometheus;
          if (!p) return undefined;
          const { resourceMetrics } = await p.collect();
          return new PrometheusSerializer().serialize(resourceMetrics);
        }
        case "reload":
          return reload();
        case "drain":
          await server.close({ graceMs: Number(arg) || 0 });
          return true;
        default:
          return undefined;
      }
    };

    const events = new EventRelay(server);
    const intake = new Intake((msg, address, port, family, listener) => {
      const relay = relays.get(listener);
      if (!relay) return;
      const rinfo: RemoteInfo = { address, port, family: family === 6 ? "IPv6" : "IPv4", size: msg.length };
      server.receive(msg, rinfo, relay);
    });
    process.on("message", (m: ToWorker) => {
      switch (m.t) {
        case "in":
          if (m.ln) for (const l of m.ln) relayOf(l.id, l.local, l.port);
          intake.push(m.d);
          break;
        case "ask":
          void answer(m.q, m.arg).then(
            (v) => post({ t: "answer", id: m.id, v }),
            (err: unknown) => post({ t: "answer", id: m.id, v: { error: String(err) } }),
          );
          break;
        case "drain":
          void drain(m.graceMs);
          break;
        case "subscribe":
          events.subscribe(m.on);
          break;
        default:
          break;
      }
    });
    // The primary went away (killed): finish what runs, then exit.
    process.on("disconnect", () => void drain(config.drainSeconds * 1000));
    // A signal to the whole process group (Ctrl-C, systemd): drain like the primary does.
    const onStop = (): void => void drain(config.drainSeconds * 1000);
    process.on("SIGTERM", onStop);
    process.on("SIGINT", onStop);
    // The primary reloads every worker on SIGHUP; one sent to the group must not kill us.
    process.on("SIGHUP", () => {});
  } catch (err) {
    post({ t: "failed", error: (err as Error).message });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
    return;
  }
  post({ t: "ready", pid: process.pid, telemetry: telemetry.describe() });
}

if (cluster.isWorker) {
  // A send to a primary that has gone is reported here: the 'disconnect' handler drains.
  cluster.worker?.on("error", () => {});
  void runWorker();
}
