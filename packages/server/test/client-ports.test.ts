// One client port for several sessions in a row.

import { afterEach, describe, expect, it } from "vitest";
import { UdpClient, closeAllClients, dataBlocks, get } from "./helpers/client.js";
import { bytes, closeAllServers, rootMaker, startServer } from "./helpers/server.js";

const data = bytes(3000);
const root = rootMaker()({ "f.bin": data });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
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
