// Starts a server on loopback for a test and records every finished session.

import { tempTree } from "@tftpkit/test-support";
import { afterAll } from "vitest";
import { createServer, type ServerOptions, type SessionStats, type TftpServer } from "../../src/index.js";
import { TimeoutError } from "./client.js";

export interface TestServer {
  server: TftpServer;
  port: number;
  host: string;
  /** Every session that ended, in order. */
  ended: SessionStats[];
  /** The first finished session matching `pred` (waits for it, bounded). */
  session(pred: (s: SessionStats) => boolean, timeoutMs?: number): Promise<SessionStats>;
  /** The session of the client on `port` (waits for it, bounded). */
  sessionOf(port: number, timeoutMs?: number): Promise<SessionStats>;
  close(): Promise<void>;
}

const running = new Set<TestServer>();

export async function startServer(opts: ServerOptions, host = "127.0.0.1"): Promise<TestServer> {
  const ended: SessionStats[] = [];
  const waiters = new Set<() => void>();
  const server = createServer({
    timeoutSeconds: 0.1,
    retries: 5,
    ...opts,
    onSessionEnd: (s) => {
      ended.push(s);
      for (const w of [...waiters]) w();
      opts.onSessionEnd?.(s); // may throw: the server must survive that
    },
  });
  const addr = await server.listen({ host, port: 0 });
  const session = (pred: (s: SessionStats) => boolean, timeoutMs = 5000): Promise<SessionStats> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const s = ended.find(pred);
        if (!s) return false;
        waiters.delete(onEnd);
        clearTimeout(t);
        resolve(s);
        return true;
      };
      const onEnd = (): void => void check();
      const t = setTimeout(() => {
        waiters.delete(onEnd);
        reject(new TimeoutError("a session to end", timeoutMs));
      }, timeoutMs);
      waiters.add(onEnd);
      check();
    });
  let closed = false;
  const claimed = new WeakSet<SessionStats>();
  const ts: TestServer = {
    server,
    port: addr.port,
    host,
    ended,
    session,
    // A client port can be reused by a later test's client: a session handed out once is not
    // handed out again, so a stale one from the same port is never taken for the new one.
    sessionOf: async (port, timeoutMs) => {
      const s = await session((x) => x.peer.port === port && !claimed.has(x), timeoutMs);
      claimed.add(s);
      return s;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      running.delete(ts);
      await server.close();
    },
  };
  running.add(ts);
  return ts;
}

/** Closes every server a test left running (call from afterEach). */
export async function closeAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.close()));
}

/** A maker of temporary roots for one test file; every root is removed after all its tests. */
export function rootMaker(): (files?: Record<string, Buffer | string>) => string {
  const made: Array<() => void> = [];
  afterAll(() => made.forEach((c) => c()));
  return (files = {}) => {
    const r = makeRoot(files);
    made.push(r.cleanup);
    return r.root;
  };
}

export function makeRoot(files: Record<string, Buffer | string> = {}): { root: string; cleanup: () => void } {
  const { dir, cleanup } = tempTree(files);
  return { root: dir, cleanup };
}

export { bytes } from "@tftpkit/test-support";
