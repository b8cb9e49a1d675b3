// The per-client round-trip memory: bounded (LRU, TTL), and a client's
// second session starts from its first session's estimate (the learnt RTO)
// instead of the full timeout.

import { scheduler } from "@tftpkit/wasm-core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RttMemory, STRANGER_PEAK_FACTOR, addressPrefix } from "../src/session/rtt-memory.js";
import { UdpClient, ackPacket, closeAllClients, rrq } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";

describe("RttMemory", () => {
  const est = (srtt: number) => ({ srtt, rttvar: srtt / 2, peak: srtt * 2 });

  it("keeps at most maxEntries clients; the least recently used goes first", () => {
    const m = new RttMemory(3, 60_000);
    m.record("a", est(1));
    m.record("b", est(2));
    m.record("c", est(3));
    expect(m.get("a")).toEqual(est(1)); // a is now the most recently used
    m.record("d", est(4)); // evicts b
    expect(m.size).toBe(3);
    expect(m.get("b")).toBeUndefined();
    expect(m.get("a")).toEqual(est(1));
    expect(m.get("c")).toEqual(est(3));
    expect(m.get("d")).toEqual(est(4));
    m.record("a", est(5)); // a newer estimate replaces the old one
    expect(m.size).toBe(3);
    expect(m.get("a")).toEqual(est(5));
    for (let i = 0; i < 1000; i++) m.record(`x${i}`, est(1));
    expect(m.size).toBe(3);
  });

  it("forgets an estimate ttlMs after it was recorded", () => {
    let now = 0;
    const m = new RttMemory(10, 1000, () => now);
    m.record("a", est(1));
    now = 1000;
    expect(m.get("a")).toEqual(est(1));
    now = 1001;
    expect(m.get("a")).toBeUndefined();
    expect(m.size).toBe(0);
  });

  it("ignores estimates that are not finite numbers >= 0, and keeps nothing with maxEntries 0", () => {
    const m = new RttMemory(10, 1000);
    m.record("nan", { srtt: NaN, rttvar: 1, peak: 1 });
    m.record("neg", { srtt: 1, rttvar: -1, peak: 1 });
    m.record("inf", { srtt: 1, rttvar: 1, peak: Infinity });
    expect(m.size).toBe(0);
    const off = new RttMemory(0, 1000);
    off.record("a", est(1));
    expect(off.get("a")).toBeUndefined();
  });
});

describe("a client never seen starts from a neighbour's estimate", () => {
  const est = (srtt: number) => ({ srtt, rttvar: srtt / 2, peak: srtt * 2 });
  const wide = (srtt: number) => ({ srtt, rttvar: srtt / 2, peak: srtt * 2 * STRANGER_PEAK_FACTOR });

  it("addressPrefix: the /24 of IPv4 (mapped too), the /64 of IPv6 in one spelling", () => {
    expect(addressPrefix("192.0.2.17")).toBe("192.0.2");
    expect(addressPrefix("::ffff:192.0.2.17")).toBe("192.0.2");
    expect(addressPrefix("2001:db8:0:1::5")).toBe("2001:db8:0:1");
    expect(addressPrefix("2001:0db8:0000:0001:0:0:0:9")).toBe("2001:db8:0:1");
    expect(addressPrefix("fe80::1%eth0")).toBe("fe80:0:0:0");
    expect(addressPrefix("::1")).toBe("0:0:0:0");
    expect(addressPrefix("not an address")).toBe("");
    expect(addressPrefix("1:2:3")).toBe("");
    expect(addressPrefix("::FFFF:10.1.2.3")).toBe("10.1.2");
    for (const bad of ["1..2.3", "a.b.c.d", "1.2.3", ".1.2.3", "1.2.3.4.5", "1.2.x3.4"]) expect(addressPrefix(bad), bad).toBe("");
  });

  it("a client recorded again keeps one entry, its new estimate, and is the newest (for its /24 and overall)", () => {
    const m = new RttMemory(3, 60_000);
    m.record("10.0.0.1", est(1));
    m.record("10.0.0.2", est(2));
    m.record("10.0.0.1", est(5));
    expect(m.size).toBe(2);
    expect(m.get("10.0.0.1")).toEqual(est(5));
    expect(m.seedFor("10.0.0.9")).toEqual({ ...est(5), peak: est(5).peak * STRANGER_PEAK_FACTOR });
    expect(m.seedFor("172.16.0.1")).toEqual({ ...est(5), peak: est(5).peak * STRANGER_PEAK_FACTOR });
    m.record("10.0.0.3", est(3));
    m.record("10.0.0.4", est(4)); // evicts 10.0.0.2, the least recently used
    expect(m.get("10.0.0.2")).toBeUndefined();
    expect(m.get("10.0.0.1")).toEqual(est(5));
  });

  it("seedFor: own estimate first, else the same /24 (most recent there), else the most recent client, widened", () => {
    const m = new RttMemory(10, 60_000);
    expect(m.seedFor("10.0.0.1")).toBeUndefined(); // nothing known: the timeout
    m.record("10.0.0.1", est(1));
    m.record("10.0.0.2", est(2));
    m.record("10.9.9.9", est(9));
    expect(m.seedFor("10.0.0.1")).toEqual(est(1)); // its own, as measured
    expect(m.seedFor("10.0.0.77")).toEqual(wide(2)); // the /24's most recent
    expect(m.seedFor("172.16.0.1")).toEqual(wide(9)); // no neighbour: the most recent client
    expect(m.size).toBe(3); // a guess records nothing
    expect(m.get("10.0.0.77")).toBeUndefined();
  });

  it("seedFor forgets neighbours with their entries (evicted or expired)", () => {
    let now = 0;
    const m = new RttMemory(2, 1000, () => now);
    m.record("10.0.0.1", est(1));
    m.record("10.0.1.1", est(3));
    m.record("10.0.2.1", est(4)); // evicts 10.0.0.1
    expect(m.seedFor("10.0.0.5")).toEqual(wide(4)); // its /24 is gone: the most recent
    now = 2000; // all expired
    expect(m.seedFor("10.0.2.5")).toBeUndefined();
    expect(m.seedFor("10.0.1.5")).toBeUndefined();
    expect(m.size).toBe(0);
  });
});

describe("a client's next session starts from its earlier sessions' round trip", () => {
  const { root, cleanup } = makeRoot({ "small.bin": bytes(100), "big.bin": bytes(64 * 512) });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await closeAllServers();
    cleanup();
  });

  /** The retransmission timeouts of the open senders of this thread's scheduler (the test's server runs in this thread). */
  function openRtos(): number[] {
    const s = scheduler();
    const out: number[] = [];
    for (let slot = 0; slot < 4096; slot++) {
      const r = s.rto(slot);
      if (r >= 0) out.push(r);
    }
    return out;
  }

  /** A whole read with options (OACK, ACK 0, DATA...), ACKing every block. */
  async function fetchAll(c: UdpClient, port: number, name: string): Promise<void> {
    c.send(rrq(name, "octet", [["blksize", "512"], ["tsize", "0"]]), port, "127.0.0.1");
    let sessionPort = 0;
    for (let i = 0; i < 200; i++) {
      const r = await c.recv(2000);
      sessionPort = r.port;
      const p = r.pkt;
      if (p.op === "OACK") c.send(ackPacket(0), sessionPort, "127.0.0.1");
      else if (p.op === "DATA") {
        c.send(ackPacket(p.block), sessionPort, "127.0.0.1");
        if (p.data.length < 512) return;
      } else throw new Error(`unexpected ${p.op}`);
    }
  }

  it("the first session waits the timeout for its OACK; the same client's second waits the learnt RTO; a neighbour a wider one", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1, retries: 2 });
    const first = await UdpClient.open("127.0.0.1");
    // Before any history, an unanswered OACK waits the full timeout.
    first.send(rrq("small.bin", "octet", [["tsize", "0"]]), srv.port, "127.0.0.1");
    const oack = await first.recv(2000);
    expect(oack.pkt.op).toBe("OACK");
    expect(openRtos()).toEqual([1000]);
    first.send(ackPacket(0), oack.port, "127.0.0.1");
    const d = await first.recv(2000);
    first.send(ackPacket(1), d.port, "127.0.0.1");
    await srv.session((s) => s.peer.port === first.port);
    // A longer transfer from the same address: many round trips measured.
    const again = await UdpClient.open("127.0.0.1");
    await fetchAll(again, srv.port, "big.bin");
    await srv.session((s) => s.peer.port === again.port);
    expect(openRtos()).toEqual([]);

    // The same machine (address) again: its OACK waits the learnt RTO.
    const third = await UdpClient.open("127.0.0.1");
    third.send(rrq("small.bin", "octet", [["tsize", "0"]]), srv.port, "127.0.0.1");
    expect((await third.recv(2000)).pkt.op).toBe("OACK");
    const [seeded] = openRtos();
    expect(seeded).toBeGreaterThanOrEqual(1); // at least the fixed part of the floor (rtoFloorMs 1)
    expect(seeded).toBeLessThan(1000);

    // Another machine of the same /24 has no history of its own: its neighbour's, widened.
    const other = await UdpClient.open("127.0.0.2");
    other.send(rrq("small.bin", "octet", [["tsize", "0"]]), srv.port, "127.0.0.1");
    expect((await other.recv(2000)).pkt.op).toBe("OACK");
    const rtos = openRtos().sort((a, b) => a - b);
    expect(rtos).toHaveLength(2);
    expect(rtos[0]).toBe(seeded);
    expect(rtos[1]).toBeGreaterThanOrEqual(seeded);
    expect(rtos[1]).toBeLessThan(1000);
    await srv.close();
  });

  it("a size probe (OACK answered by an ERROR) is remembered: the fetch that follows starts from it", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1, retries: 2 });
    const probe = await UdpClient.open("127.0.0.3");
    probe.send(rrq("big.bin", "octet", [["tsize", "0"], ["blksize", "1468"]]), srv.port, "127.0.0.1");
    const oack = await probe.recv(2000);
    expect(oack.pkt.op).toBe("OACK");
    probe.send(Buffer.concat([Buffer.from([0, 5, 0, 8]), Buffer.from("probe\0")]), oack.port, "127.0.0.1");
    const st = await srv.session((s) => s.peer.port === probe.port);
    expect(st.outcome).toBe("probe");
    const fetch = await UdpClient.open("127.0.0.3");
    fetch.send(rrq("big.bin", "octet", [["blksize", "1468"], ["windowsize", "4"]]), srv.port, "127.0.0.1");
    expect((await fetch.recv(2000)).pkt.op).toBe("OACK");
    const [rto] = openRtos();
    expect(rto).toBeLessThan(1000);
    await srv.close();
  });

  it("rttMemoryEntries 0: no memory, every session starts at the timeout", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1, retries: 2, rttMemoryEntries: 0 });
    const a = await UdpClient.open("127.0.0.4");
    await fetchAll(a, srv.port, "big.bin");
    await srv.session((s) => s.peer.port === a.port);
    const b = await UdpClient.open("127.0.0.4");
    b.send(rrq("small.bin", "octet", [["tsize", "0"]]), srv.port, "127.0.0.1");
    expect((await b.recv(2000)).pkt.op).toBe("OACK");
    expect(openRtos()).toEqual([1000]);
    await srv.close();
  });
});
