// The ERROR packet a handler's TftpError becomes: long messages are cut.

import { afterEach, describe, expect, it } from "vitest";
import { TftpError } from "../src/index.js";
import { UdpClient, closeAllClients, rrq } from "./helpers/client.js";
import { closeAllServers, startServer } from "./helpers/server.js";

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
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
