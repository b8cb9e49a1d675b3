// File sizes around block boundaries, served from a root folder, byte for byte.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UdpClient, closeAllClients, dataBlocks, get } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

const files: Record<string, Buffer> = {
  "empty.bin": Buffer.alloc(0),
  "one.bin": bytes(1),
  "511.bin": bytes(511),
  "512.bin": bytes(512),
  "513.bin": bytes(513),
  "1024.bin": bytes(1024),
  "1468x3.bin": bytes(1468 * 3),
  "1468x3plus.bin": bytes(1468 * 3 + 1),
  "mib.bin": bytes(1024 * 1024),
  "big.bin": bytes(3 * 1024 * 1024 + 17),
};
const { root, cleanup } = makeRoot(files);
let srv: TestServer;

beforeAll(async () => {
  // rtoFloorMs = timeout: a fixed retransmission timeout, as these exact packet counts assume
  srv = await startServer({ root, timeoutSeconds: 1, rtoFloorMs: 1000 });
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

async function fetch(name: string, options: Array<[string, string]> = []) {
  const c = await UdpClient.open();
  const r = await get(c, srv.port, name, { options });
  const s = await srv.sessionOf(c.port);
  c.close();
  return { r, s };
}

describe("sizes around block boundaries (blksize 512, no options)", () => {
  const cases: Array<[string, number]> = [
    ["empty.bin", 1],
    ["one.bin", 1],
    ["511.bin", 1],
    ["512.bin", 2],
    ["513.bin", 2],
    ["1024.bin", 3],
  ];
  for (const [name, blocks] of cases) {
    it(`${name}: ${files[name].length} bytes in ${blocks} block(s)`, async () => {
      const { r, s } = await fetch(name);
      expect(r.error).toBeUndefined();
      expect(r.oack).toBeUndefined();
      expect(r.data.equals(files[name])).toBe(true);
      expect(r.lastBlock).toBe(blocks);
      expect(dataBlocks(r)).toEqual(Array.from({ length: blocks }, (_, i) => i + 1));
      expect(s.outcome).toBe("ok");
      expect(s.bytesSent).toBe(files[name].length);
      expect(s.packetsSent).toBe(blocks);
      expect(s.blocksAcked).toBe(blocks);
      expect(s.retransmits).toBe(0);
      expect(s.optionsAsked).toEqual({});
      expect(s.optionsAcked).toEqual({});
    });
  }

  it("the last block of an exact multiple is an empty DATA", async () => {
    const { r } = await fetch("512.bin");
    const last = r.events.filter((e) => e.t === "data").length;
    expect(last).toBe(2);
    expect(r.data.length).toBe(512);
  });
});

describe("blksize 1468", () => {
  it("exact multiple (3 x 1468) ends with an empty block 4", async () => {
    const { r, s } = await fetch("1468x3.bin", [["blksize", "1468"]]);
    expect(r.oack).toEqual([["blksize", "1468"]]);
    expect(r.data.equals(files["1468x3.bin"])).toBe(true);
    expect(r.lastBlock).toBe(4);
    expect(s.blksize).toBe(1468);
    expect(s.packetsSent).toBe(5); // OACK + 4 DATA
    expect(s.blocksAcked).toBe(4);
  });

  it("one byte more than a multiple ends with a 1-byte block", async () => {
    const { r } = await fetch("1468x3plus.bin", [["blksize", "1468"]]);
    expect(r.data.equals(files["1468x3plus.bin"])).toBe(true);
    expect(r.lastBlock).toBe(4);
  });

  it("tsize 0 is answered with the file size", async () => {
    const { r, s } = await fetch("1468x3.bin", [["tsize", "0"], ["blksize", "1468"]]);
    expect(r.oack).toEqual([["tsize", String(1468 * 3)], ["blksize", "1468"]]);
    expect(s.tsize).toBe(1468 * 3);
  });

  it("tsize 0 of an empty file is 0", async () => {
    const { r } = await fetch("empty.bin", [["tsize", "0"]]);
    expect(r.oack).toEqual([["tsize", "0"]]);
    expect(r.data.length).toBe(0);
  });
});

describe("large transfers", () => {
  it("3 MiB + 17 at blksize 1468, windowsize 16", async () => {
    const { r, s } = await fetch("big.bin", [["blksize", "1468"], ["windowsize", "16"]]);
    expect(r.data.equals(files["big.bin"])).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.bytesSent).toBe(files["big.bin"].length);
  });

  it("3 MiB + 17 at blksize 65464 (the largest)", async () => {
    const { r, s } = await fetch("big.bin", [["blksize", "65464"]]);
    expect(r.data.equals(files["big.bin"])).toBe(true);
    expect(s.blksize).toBe(65464);
  });

  // Windowed rollover (with loss at 65535/65536) is in loss.test.ts.
  it("1 MiB at blksize 8 in lock-step: 131073 blocks, numbers roll over past 65535 to 0", async () => {
    const { r, s } = await fetch("mib.bin", [["blksize", "8"]]);
    expect(r.error).toBeUndefined();
    expect(r.data.equals(files["mib.bin"])).toBe(true);
    expect(r.lastBlock).toBe(131073);
    expect(s.outcome).toBe("ok");
    expect(s.blocksAcked).toBe(131073);
    expect(s.bytesSent).toBe(1024 * 1024);
  }, 60_000);
});
