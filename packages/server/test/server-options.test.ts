// createServer() options: validation (a TftpConfigError naming the option),
// refuseOptions, retries 0.

import { afterEach, describe, expect, it } from "vitest";
import { TftpConfigError, createServer } from "../src/index.js";
import { resolveOptions } from "../src/options.js";
import { UdpClient, closeAllClients, get, rrq } from "./helpers/client.js";
import { bytes, closeAllServers, rootMaker, startServer } from "./helpers/server.js";

const data = bytes(3000);
const root = rootMaker()({ "f.bin": data });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});

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

  it("every server's resolved options have the same keys in the same order, whatever was given and in whatever order", () => {
    const a = resolveOptions({ root, timeoutSeconds: 2, onSessionEnd: () => {} });
    const b = resolveOptions({ warmUpMs: 0, handler: () => Buffer.alloc(1), maxFlows: 5, root });
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(a.timeoutSeconds).toBe(2);
    expect(b.maxFlows).toBe(5);
    expect(a.handler).toBeUndefined();
  });

  it("two servers' sessions reach their server through the same getter and method code (one class, no closures per server)", async () => {
    const one = createServer({ root, warmUpMs: 0 });
    const two = createServer({ root, warmUpMs: 0, timeoutSeconds: 3 });
    const hostOf = (s: object): object => (s as unknown as { host: object }).host;
    const proto = Object.getPrototypeOf(hostOf(one)) as object;
    expect(Object.getPrototypeOf(hostOf(two))).toBe(proto);
    for (const own of [hostOf(one), hostOf(two)]) {
      for (const k of Object.getOwnPropertyNames(own)) expect(typeof (own as Record<string, unknown>)[k]).not.toBe("function");
    }
    // Each still sees its own server's options.
    expect((hostOf(one) as { options: { timeoutSeconds: number } }).options.timeoutSeconds).not.toBe(3);
    expect((hostOf(two) as { options: { timeoutSeconds: number } }).options.timeoutSeconds).toBe(3);
    await one.close();
    await two.close();
  });
});
