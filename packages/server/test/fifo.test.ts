// Special files inside the root (a FIFO): answered with an ERROR, never
// allowed to tie up the I/O thread pool. Kept in its own file: should this
// regress, blocked opens would slow every other test in the same worker.

import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { UdpClient, closeAllClients, get, rrq, sleep } from "./helpers/client.js";
import { closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const { root, cleanup } = makeRoot({ "ok.bin": "hello\n" });
const fifo = join(root, "pipe");
execFileSync("mkfifo", [fifo]);

/** Wakes every open() blocked on the FIFO (a writer appears, then leaves: readers see EOF). */
async function releaseFifo(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader waiting
    }
    await sleep(20);
  }
}

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
  await releaseFifo();
});
afterAll(() => cleanup());

describe("a FIFO inside the root", () => {
  // Regression (fixed in ae6dd7b): FileSource.open used to open() before
  // fstat(), and open(O_RDONLY) of a FIFO blocks until a writer appears: the
  // request ended only at handlerTimeoutMs (ERROR 0 "Handler timed out") with
  // a libuv thread left blocked.
  it("a request for a FIFO gets ERROR 1 (not a regular file), not a handler timeout", async () => {
    const srv = await startServer({ root, timeoutSeconds: 0.1, handlerTimeoutMs: 1000 });
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "pipe", { idleTimeoutMs: 3000 });
    expect(r.error?.code).toBe(1);
  });

  // Regression (same cause): each such request held one of the 4 threads of
  // the libuv pool; after 4 of them every file open in the process waited and
  // regular files were answered "Handler timed out" too.
  it("four requests for a FIFO do not stop regular files from being served", async () => {
    const srv = await startServer({ root, timeoutSeconds: 0.1, handlerTimeoutMs: 800 });
    for (let i = 0; i < 4; i++) {
      const c = await UdpClient.open();
      c.send(rrq("pipe"), srv.port);
    }
    await sleep(100);
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "ok.bin", { idleTimeoutMs: 3000 });
    expect(r.error).toBeUndefined();
    expect(r.data.toString()).toBe("hello\n");
  });

  it("once released, the server serves regular files again", async () => {
    const srv = await startServer({ root, timeoutSeconds: 0.1 });
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "ok.bin");
    expect(r.data.toString()).toBe("hello\n");
  });
});
