// File names: UTF-8, case, symlink loops.

import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { UdpClient, closeAllClients, get } from "./helpers/client.js";
import { closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const { root, cleanup } = makeRoot({ "ünïcödé/fïlé ✓.bin": "utf8 name\n", "Case.BIN": "upper\n" });
symlinkSync("loop", join(root, "loop"));

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});
afterAll(() => cleanup());

describe("file names", () => {
  it("UTF-8 names are served", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1 });
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "ünïcödé/fïlé ✓.bin");
    expect(r.data.toString()).toBe("utf8 name\n");
  });

  it("names are case-sensitive without a remap rule: a wrong case is not found", async () => {
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
