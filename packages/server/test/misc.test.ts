// Smaller behaviours: option validation, long error messages, UTF-8 names,
// a client port reused for several sessions, retries 0.

import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TftpConfigError, TftpError, createServer } from "../src/index.js";
import { UdpClient, closeAllClients, dataBlocks, get, rrq } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const data = bytes(3000);
const { root, cleanup } = makeRoot({ "f.bin": data, "ünïcödé/fïlé ✓.bin": "utf8 name\n", "Case.BIN": "upper\n" });
symlinkSync("loop", join(root, "loop"));

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});
afterAll(() => cleanup());

describe("server options", () => {
  it.each([
    [{}, /root or handler/],
    [{ root, timeoutSeconds: 0 }, /timeout/],
    [{ root, timeoutSeconds: 256 }, /timeout/],
    [{ root, maxBlksize: 7 }, /maxBlksize/],
    [{ root, maxBlksize: 65465 }, /maxBlksize/],
    [{ root, maxWindowsize: 0 }, /maxWindowsize/],
    [{ root, retries: -1 }, /retries/],
    [{ root, retries: 1.5 }, /retries/],
    [{ root, handlerTimeoutMs: 0 }, /handlerTimeoutMs/],
    [{ root, statsIntervalMs: 1 }, /statsIntervalMs/],
    [{ root, refuseOptions: ["foo"] }, /refuseOptions/],
    [{ handler: "nope" }, /handler/],
  ])("createServer(%j) throws a TftpConfigError", (opts, msg) => {
    expect(() => createServer(opts as never)).toThrow(TftpConfigError);
    expect(() => createServer(opts as never)).toThrow(msg);
  });

  it("an option's old name still works for one release, with a DeprecationWarning naming the new one", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on("warning", onWarning);
    try {
      const server = createServer({ root, timeout: 0.5, flowsMax: 3 } as never);
      expect(server.options).toMatchObject({ timeoutSeconds: 0.5, timeoutMs: 500, maxFlows: 3 });
      expect(() => createServer({ root, timeout: 1, timeoutSeconds: 2 } as never)).toThrow("timeout is the old name of timeoutSeconds: give only timeoutSeconds");
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    const lines = warnings.filter((w) => w.name === "DeprecationWarning").map((w) => w.message);
    expect(lines).toContain("createServer(): timeout is deprecated: use timeoutSeconds");
    expect(lines).toContain("createServer(): flowsMax is deprecated: use maxFlows");
  });

  it("refuseOptions drops an option from the OACK", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1, refuseOptions: ["tsize"] });
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "f.bin", { options: [["tsize", "0"], ["blksize", "1024"]] });
    expect(r.oack).toEqual([["blksize", "1024"]]);
    expect(r.data.equals(data)).toBe(true);
  });

  it("retries 0: one lost block ends the session with a timeout", async () => {
    const srv = await startServer({ root, timeoutSeconds: 0.05, retries: 0 });
    const c = await UdpClient.open();
    c.send(rrq("f.bin"), srv.port);
    await c.recv(2000); // DATA 1, never ACKed
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).toBe("timeout");
    expect(s.retransmits).toBe(0);
  });
});

describe("error messages", () => {
  it("a long TftpError message is cut to at most 500 bytes on a UTF-8 boundary", async () => {
    const long = "é".repeat(400); // 800 bytes
    const srv = await startServer({
      timeoutSeconds: 1,
      handler: () => {
        throw new TftpError(2, long);
      },
    });
    const c = await UdpClient.open();
    c.send(rrq("x"), srv.port);
    const r = await c.recv(2000);
    expect(r.pkt.op).toBe("ERROR");
    const end = r.buf.indexOf(0, 4);
    expect(end).toBe(r.buf.length - 1); // NUL-terminated
    const msg = r.buf.subarray(4, end);
    expect(msg.length).toBeLessThanOrEqual(500);
    expect(msg.length).toBeGreaterThan(400);
    expect(Buffer.from(msg.toString("utf8"), "utf8").equals(msg)).toBe(true); // valid UTF-8
    expect(long.startsWith(msg.toString("utf8"))).toBe(true);
  });
});

describe("file names", () => {
  it("UTF-8 names are served", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "ünïcödé/fïlé ✓.bin");
    expect(r.data.toString()).toBe("utf8 name\n");
  });

  it("names are case-sensitive (no remapping yet): a wrong case is not found", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    expect((await get(c, srv.port, "Case.BIN")).data.toString()).toBe("upper\n");
    const c2 = await UdpClient.open();
    expect((await get(c2, srv.port, "case.bin")).error?.code).toBe(1);
  });

  it("a symlink loop is ERROR 1", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "loop");
    expect(r.error?.code).toBe(1);
  });
});

describe("client ports", () => {
  it("one client port used for three sessions in a row", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    for (let i = 0; i < 3; i++) {
      const r = await get(c, srv.port, "f.bin", { options: i === 1 ? [["blksize", "1024"]] : [] });
      expect(r.data.equals(data)).toBe(true);
      await srv.session(() => srv.ended.length === i + 1);
    }
    expect(srv.server.stats().sessionsOk).toBe(3);
    expect(dataBlocks(await get(c, srv.port, "f.bin"))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
