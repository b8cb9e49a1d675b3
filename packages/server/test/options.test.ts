// Option negotiation as seen on the wire: windowsize 1/4/16, caps, the OACK
// echoing only what was asked, never more, in the order asked.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UdpClient, closeAllClients, dataBlocks, errorPacket, get, rrq, type OptionList } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

const data = bytes(100_000);
const { root, cleanup } = makeRoot({ "f.bin": data, "small.bin": bytes(700) });
let srv: TestServer; // maxBlksize 1432, maxWindowsize 8
let open: TestServer; // default caps

beforeAll(async () => {
  // rtoFloorMs = timeout: a fixed retransmission timeout, as these exact packet counts assume
  srv = await startServer({ root, maxBlksize: 1432, maxWindowsize: 8, timeoutSeconds: 1, rtoFloorMs: 1000 });
  open = await startServer({ root, timeoutSeconds: 1, rtoFloorMs: 1000 });
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

async function fetch(s: TestServer, name: string, options: OptionList) {
  const c = await UdpClient.open();
  const r = await get(c, s.port, name, { options });
  const st = await s.sessionOf(c.port);
  return { r, s: st };
}

describe("windowsize", () => {
  for (const w of [1, 4, 16]) {
    it(`windowsize ${w}: echoed, every block once, ACKs once per window`, async () => {
      const { r, s } = await fetch(open, "f.bin", [["blksize", "1024"], ["windowsize", String(w)]]);
      expect(r.oack).toEqual([["blksize", "1024"], ["windowsize", String(w)]]);
      expect(r.data.equals(data)).toBe(true);
      const blocks = Math.floor(data.length / 1024) + 1; // 98
      expect(r.lastBlock).toBe(blocks);
      expect(dataBlocks(r)).toEqual(Array.from({ length: blocks }, (_, i) => i + 1));
      const acks = r.events.filter((e) => e.t === "ack").map((e) => (e as { block: number }).block);
      // ACK 0 for the OACK, then one per full window, then the last block.
      const want = [0];
      for (let b = w; b < blocks; b += w) want.push(b);
      if (want[want.length - 1] !== blocks) want.push(blocks);
      expect(acks).toEqual(want);
      expect(s.windowsize).toBe(w);
      expect(s.optionsAcked).toEqual({ blksize: "1024", windowsize: String(w) });
      expect(s.retransmits).toBe(0);
      expect(s.packetsSent).toBe(blocks + 1);
    });
  }

  it("windowsize larger than the server max is capped (16 -> 8), never raised", async () => {
    const { r, s } = await fetch(srv, "f.bin", [["windowsize", "16"]]);
    expect(r.oack).toEqual([["windowsize", "8"]]);
    expect(r.data.equals(data)).toBe(true);
    expect(s.windowsize).toBe(8);
  });

  it("the default windowsize cap (64) applies to a request for 65535", async () => {
    const { r, s } = await fetch(open, "f.bin", [["windowsize", "65535"]]);
    expect(r.oack).toEqual([["windowsize", "64"]]);
    expect(r.data.equals(data)).toBe(true);
    expect(s.windowsize).toBe(64);
  });

  it("windowsize below the max is granted as asked (4 with max 8)", async () => {
    const { r } = await fetch(srv, "f.bin", [["windowsize", "4"]]);
    expect(r.oack).toEqual([["windowsize", "4"]]);
  });
});

describe("blksize caps and the OACK", () => {
  it("blksize larger than the server max is capped (1468 -> 1432)", async () => {
    const { r, s } = await fetch(srv, "f.bin", [["blksize", "1468"]]);
    expect(r.oack).toEqual([["blksize", "1432"]]);
    expect(r.data.equals(data)).toBe(true);
    expect(s.blksize).toBe(1432);
  });

  it("blksize smaller than the max is granted as asked", async () => {
    const { r } = await fetch(srv, "f.bin", [["blksize", "1000"]]);
    expect(r.oack).toEqual([["blksize", "1000"]]);
    expect(r.data.equals(data)).toBe(true);
  });

  it("the OACK lists options in the order asked", async () => {
    const asked: OptionList = [["windowsize", "4"], ["tsize", "0"], ["blksize", "1024"]];
    const { r } = await fetch(open, "f.bin", asked);
    expect(r.oack).toEqual([["windowsize", "4"], ["tsize", String(data.length)], ["blksize", "1024"]]);
    const { r: r2 } = await fetch(open, "f.bin", [["blksize", "1024"], ["tsize", "0"], ["windowsize", "4"]]);
    expect(r2.oack).toEqual([["blksize", "1024"], ["tsize", String(data.length)], ["windowsize", "4"]]);
  });

  it("the timeout option is echoed unchanged when valid", async () => {
    const { r, s } = await fetch(open, "small.bin", [["timeout", "3"], ["blksize", "512"]]);
    expect(r.oack).toEqual([["timeout", "3"], ["blksize", "512"]]);
    expect(s.optionsAcked).toEqual({ timeout: "3", blksize: "512" });
  });

  it("a timeout above maxClientTimeoutSeconds (default 10 s) is declined: left out of the OACK (RFC 2347)", async () => {
    const { r, s } = await fetch(open, "small.bin", [["timeout", "11"], ["blksize", "512"]]);
    expect(r.oack).toEqual([["blksize", "512"]]);
    expect(s.optionsAcked).toEqual({ blksize: "512" });
    const { r: r10 } = await fetch(open, "small.bin", [["timeout", "10"]]);
    expect(r10.oack).toEqual([["timeout", "10"]]);
    // The hostile one: timeout 255 alone gets no OACK at all, plain DATA at the server's pace.
    const { r: r255, s: s255 } = await fetch(open, "small.bin", [["timeout", "255"]]);
    expect(r255.oack).toBeUndefined();
    expect(dataBlocks(r255)).toEqual([1, 2]);
    expect(s255.optionsAcked).toEqual({});
  });

  it("maxClientTimeoutSeconds is a server option", async () => {
    const strict = await startServer({ root, timeoutSeconds: 1, maxClientTimeoutSeconds: 3 });
    const { r } = await fetch(strict, "small.bin", [["timeout", "3"]]);
    expect(r.oack).toEqual([["timeout", "3"]]);
    const { r: r4 } = await fetch(strict, "small.bin", [["timeout", "4"], ["blksize", "600"]]);
    expect(r4.oack).toEqual([["blksize", "600"]]);
  });

  it("unknown options are never echoed; names are case-insensitive", async () => {
    const { r, s } = await fetch(open, "small.bin", [["msftwindow", "31416"], ["BlkSize", "600"], ["x-vendor", "1"]]);
    expect(r.oack).toEqual([["blksize", "600"]]);
    expect(s.optionsAsked).toEqual({ msftwindow: "31416", blksize: "600", "x-vendor": "1" });
  });

  it("only unknown options: no OACK, plain DATA 1 at 512", async () => {
    const { r } = await fetch(open, "small.bin", [["foo", "bar"]]);
    expect(r.oack).toBeUndefined();
    expect(dataBlocks(r)).toEqual([1, 2]);
  });

  it("the OACK never holds an option the client did not ask for", async () => {
    // The EDK2 rule, over many combinations of the four options.
    const all: OptionList = [["blksize", "1400"], ["tsize", "0"], ["timeout", "2"], ["windowsize", "4"]];
    for (let mask = 1; mask < 16; mask++) {
      const asked = all.filter((_, i) => mask & (1 << i));
      const c = await UdpClient.open();
      c.send(rrq("small.bin", "octet", asked), open.port);
      const first = await c.recv(2000);
      expect(first.pkt.op).toBe("OACK");
      const got = (first.pkt as { options: OptionList }).options;
      expect(got.map(([k]) => k)).toEqual(asked.map(([k]) => k));
      for (const [k, v] of got) {
        const a = asked.find(([n]) => n === k)!;
        if (k === "tsize") expect(v).toBe("700");
        else expect(Number(v)).toBeLessThanOrEqual(Number(a[1]));
      }
      c.send(errorPacket(0, "enough"), first.port);
      c.close();
    }
  });
});

describe("what the handler and the stats see of the options", () => {
  it("an option named __proto__ is just data", async () => {
    let seen: Readonly<Record<string, string>> | undefined;
    const h = await startServer({
      timeoutSeconds: 1,
      handler: (req) => {
        seen = req.options;
        return "ok";
      },
    });
    const c = await UdpClient.open();
    const r = await get(c, h.port, "x", { options: [["__proto__", "polluted"], ["constructor", "1"]] });
    expect(r.data.toString()).toBe("ok");
    expect(Object.getPrototypeOf(seen)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(seen, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // Regression (fixed in ae6dd7b): ReadRequest.options and optionsAsked were
  // built with Object.fromEntries, keeping the LAST value ("700") while the
  // codec negotiates the FIRST (600).
  it("a repeated option: the handler and optionsAsked see the value negotiated (the first)", async () => {
    let seen: Readonly<Record<string, string>> | undefined;
    const h = await startServer({
      timeoutSeconds: 1,
      handler: (req) => {
        seen = req.options;
        return data;
      },
    });
    const c = await UdpClient.open();
    const r = await get(c, h.port, "x", { options: [["blksize", "600"], ["blksize", "700"]] });
    expect(r.oack).toEqual([["blksize", "600"]]);
    const s = await h.sessionOf(c.port);
    expect(s.optionsAcked).toEqual({ blksize: "600" });
    expect(seen?.blksize).toBe("600");
    expect(s.optionsAsked.blksize).toBe("600");
  });
});

