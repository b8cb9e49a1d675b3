// The primary's warm-up: while its workers start (each warms its own
// session path, cluster-worker.ts), the primary runs its own per-datagram
// path many times over private sockets, so that the JIT has compiled it
// before the first machine asks. Without it the primary's first few
// thousand requests cost 2-3x the CPU of a warm primary's.
//
// The path run is the real one, on private ends: a UDP datagram received by
// node:dgram, placed by a FlowTable (its own, of two private slots), framed
// by the cluster's own deliver() into a FrameWriter and written once per
// turn to a stream socket; the far end of that stream (a private unix
// socket connection, standing in for a worker) reads the frames with a
// FrameReader and sends each payload back through the private UDP socket,
// as a worker's single-port answers leave. Everything is private: UDP on
// 127.0.0.1 at ephemeral ports, the stream in Linux's abstract socket
// namespace (elsewhere loopback TCP); nothing reaches the listening sockets, the flow table,
// the workers, the counters or the logs.
//
// Bounded: at most WARM_PATH_MAX_DATAGRAMS datagrams and `budgetMs` (at most
// WARM_PATH_MAX_MS), whichever comes first; stopped at once by the signal
// (the workers are ready). A warm-up that cannot run (no loopback) is
// skipped: it never fails the start.

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import type { Socket } from "node:net";
import { lowerInterruptBudget, type Listener } from "@tftpkit/server/internal";
import { FrameKind, FrameReader, privateStreamPair, type FrameWriter, type StreamPair } from "./channel.js";
import { FlowTable, NOWHERE, type RouteSlot } from "./routing.js";

/** The longest primary warm-up. */
export const WARM_PATH_MAX_MS = 1000;
/**
 * Datagrams a primary warm-up sends at most: enough for V8 to compile the
 * primary's few per-datagram functions at the warm-up's budget, and no more,
 * since it runs while the workers warm their much larger session path on
 * the same cores.
 */
export const WARM_PATH_MAX_DATAGRAMS = 1500;
/** Datagrams in flight at once. */
const LANES = 16;
/** The warm-up listener's id in frames: never one of the UdpListeners' (they count up from 1). */
export const WARM_LISTENER_ID = 0xffffffff;

/** While the warm-up runs, V8 optimizes a function after 1/16 of its usual interrupt budget, as the workers' warm-up does. */
const WARM_INTERRUPT_BUDGET = 4096;

/** A slot of the warm-up: what deliver() uses of a worker's slot. */
export interface WarmSlot extends RouteSlot {
  chan: Socket | undefined;
  frames: FrameWriter;
  flush: () => void;
  known: Set<number>;
}

/** The cluster's side of the path (TftpCluster implements it with its own methods). */
export interface WarmPathHost {
  /** The cluster's deliver(): frames a datagram for a slot. */
  deliver(slot: WarmSlot, msg: Buffer, rinfo: RemoteInfo, l: Listener): void;
  /** The cluster's sendOut(): sends a worker's answer through a listener. */
  sendOut(listener: number, packet: Buffer, port: number, address: string): void;
  /** Makes the private listener known to sendOut (and forgets it with undefined). */
  register(l: Listener | undefined): void;
  /** A ready slot writing to `chan`, made as the cluster makes its real ones. */
  slot(index: number, chan: Socket): WarmSlot;
}

/** What a primary warm-up did. */
export interface WarmPathReport {
  /** Datagrams that made the whole trip (client -> primary path -> stream -> back to the client). */
  datagrams: number;
  ms: number;
}

/** A read request, as the clients' first datagram is. */
const RRQ = Buffer.from("\x00\x01warm-up.cfg\x00octet\x00blksize\x001468\x00tsize\x000\x00", "latin1");

/** A UDP socket of the warm-up's own on 127.0.0.1 at an ephemeral port (the worker's warm-up uses it too). */
export const udp = (): Promise<UdpSocket> =>
  new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind({ port: 0, address: "127.0.0.1", exclusive: true }, () => {
      s.off("error", reject);
      s.on("error", () => {});
      resolve(s);
    });
  });

/** Runs the primary's per-datagram path until the budget, the count or the signal ends it. */
export async function warmPath(host: WarmPathHost, budgetMs: number, signal?: AbortSignal, now: () => number = Date.now): Promise<WarmPathReport> {
  const t0 = now();
  const report: WarmPathReport = { datagrams: 0, ms: 0 };
  const limitMs = Math.max(0, Math.min(WARM_PATH_MAX_MS, budgetMs));
  if (limitMs <= 0 || signal?.aborted) return report;
  let server: UdpSocket | undefined;
  let client: UdpSocket | undefined;
  let pair: StreamPair | undefined;
  const restoreBudget = lowerInterruptBudget(WARM_INTERRUPT_BUDGET);
  try {
    server = await udp();
    client = await udp();
    pair = await privateStreamPair("warm-path");
    const { near, far } = pair;
    const listener: Listener = { id: WARM_LISTENER_ID, socket: server, local: "127.0.0.1", port: server.address().port };
    host.register(listener);
    const slots = [host.slot(0, near), host.slot(1, near)];
    // Machines come and go in the table as in a boot storm: every other datagram is of one of 16
    // machines, the rest of 256 in turn (the datagrams themselves all come from 127.0.0.1), in a
    // table of 64: both a known machine and a new one are looked up many times.
    const table = new FlowTable(slots, { idleMs: 60_000, max: 64, waitMs: 3000, waitMax: 16 });
    const machines = Array.from({ length: 256 }, (_, i) => `127.0.${i >> 4}.${i & 15}`);
    let turn = 0;
    const none = (): number => 0;
    server.on("message", (msg, rinfo) => {
      const k = turn++;
      const c = table.place(k & 1 ? machines[k & 15] : machines[(k >> 1) & 255], Date.now(), none);
      if (c !== NOWHERE && c >= 0) host.deliver(slots[c], msg, rinfo, listener);
    });
    const reader = new FrameReader();
    far.on("data", (chunk: Buffer) =>
      reader.feed(chunk, (f) => {
        if (f.kind === FrameKind.DATAGRAM) host.sendOut(f.listener, f.payload, f.port, f.address);
      }),
    );
    const port = listener.port;
    let sent = 0;
    await new Promise<void>((resolve) => {
      const c = client!;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        resolve();
      };
      const timer = setTimeout(finish, limitMs);
      signal?.addEventListener("abort", finish);
      if (signal?.aborted) return finish(); // while the sockets were made
      const send = (): void => {
        if (done) return;
        if (sent >= WARM_PATH_MAX_DATAGRAMS || now() - t0 >= limitMs) return finish();
        sent++;
        c.send(RRQ, port, "127.0.0.1");
      };
      c.on("message", () => {
        report.datagrams++;
        send();
      });
      for (let i = 0; i < LANES; i++) send();
    });
  } catch {
    // No loopback, no ephemeral port: the primary starts without its warm-up.
  } finally {
    restoreBudget();
    host.register(undefined);
    await Promise.all([
      pair?.close(),
      new Promise<void>((r) => (server ? server.close(() => r()) : r())),
      new Promise<void>((r) => (client ? client.close(() => r()) : r())),
    ]);
    report.ms = now() - t0;
  }
  return report;
}
