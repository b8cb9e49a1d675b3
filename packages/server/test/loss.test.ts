// Loss injected by the test client: lost DATA, lost ACK, lost last ACK, a
// client that never sends the last ACK, duplicate and stale ACKs, delays.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UdpClient, ackPacket, closeAllClients, dataBlocks, get, rrq, sleep, type GetOptions } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";
import type { SessionStats } from "../src/index.js";

const data = bytes(20 * 512 + 100); // 21 blocks at 512
const wdata = bytes(40 * 1024 + 10); // 41 blocks at 1024
const roll = bytes(16 * 65540); // 65541 blocks at blksize 16
const { root, cleanup } = makeRoot({ "f.bin": data, "w.bin": wdata, "roll.bin": roll });
let fast: TestServer; // timeout 0.1 s as the ceiling of the adaptive RTO (floor 20 ms): retransmissions come quickly
let slow: TestServer; // timeout 2 s: a retransmission here means something went wrong
let fixed: TestServer; // timeout 0.1 s, fixed (no adaptive RTO): one resend per timeout

beforeAll(async () => {
  fast = await startServer({ root, timeoutSeconds: 0.1, retries: 5, rtoFloorMs: 20 });
  // A fixed 2 s timeout (rtoFloorMs = timeout): no adaptive resend can blur these counts.
  slow = await startServer({ root, timeoutSeconds: 2, retries: 2, rtoFloorMs: 2000 });
  fixed = await startServer({ root, timeoutSeconds: 0.1, retries: 5, rtoFloorMs: 100 });
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

async function run(s: TestServer, name: string, o: GetOptions) {
  const c = await UdpClient.open();
  const ended = s.sessionOf(c.port, 10_000);
  ended.catch(() => {});
  const r = await get(c, s.port, name, { until: ended, ...o });
  const st = await ended;
  return { c, r, s: st };
}

const count = (xs: number[], v: number): number => xs.filter((x) => x === v).length;

/**
 * A client that ACKs blocks 1-4 of f.bin, then falls silent: its session's
 * stats, and what it received after the session ended ("d5" per DATA 5).
 */
async function silentAfterFour(srv: TestServer): Promise<{ s: SessionStats; rest: string[] }> {
  const c = await UdpClient.open();
  const ended = srv.sessionOf(c.port);
  c.send(rrq("f.bin"), srv.port);
  for (let b = 1; b <= 4; b++) {
    const r = await c.recv(2000);
    expect(r.pkt).toMatchObject({ op: "DATA", block: b });
    c.send(ackPacket(b), r.port);
  }
  const s = await ended;
  const rest: string[] = [];
  for (let r = await c.recvOrNull(50); r; r = await c.recvOrNull(50)) rest.push(r.pkt.op === "DATA" ? `d${r.pkt.block}` : r.pkt.op);
  return { s, rest };
}

describe("lost DATA", () => {
  it("lock-step: a lost block is resent after the timeout", async () => {
    const { r, s } = await run(fast, "f.bin", { dropData: (b, nth) => b === 5 && nth === 1 });
    expect(r.data.equals(data)).toBe(true);
    expect(count(dataBlocks(r), 5)).toBeGreaterThanOrEqual(2);
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBeGreaterThanOrEqual(1);
    expect(s.bytesSent).toBe(data.length); // resends are not counted twice
    expect(s.packetsSent).toBe(21 + s.retransmits);
  });

  it("lock-step: the first block lost twice", async () => {
    const { r, s } = await run(fast, "f.bin", { dropData: (b, nth) => b === 1 && nth <= 2 });
    expect(r.data.equals(data)).toBe(true);
    expect(s.retransmits).toBeGreaterThanOrEqual(2);
  });

  it("lock-step: the last block lost", async () => {
    const { r, s } = await run(fast, "f.bin", { dropData: (b, nth) => b === 21 && nth === 1 });
    expect(r.data.equals(data)).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.finalAckMissing).toBeUndefined();
  });

  it("window 4: the client ACKs the last in-order block and the server resumes from the gap (no timeout needed)", async () => {
    // slow server: a resend by timeout would take 2 s; the gap ACK must trigger it at once.
    const { r, s } = await run(slow, "w.bin", {
      options: [["blksize", "1024"], ["windowsize", "4"]],
      dropData: (b, nth) => b === 6 && nth === 1,
    });
    expect(r.data.equals(wdata)).toBe(true);
    // Blocks 5..8 are the second window: 5 arrives, 6 is lost, 7 shows the gap -> ACK 5.
    const ev = r.events.map((e) => (e.t === "data" ? `d${e.block}${e.dropped ? "x" : ""}` : e.t === "ack" ? `a${e.block}` : "o"));
    const gapAck = ev.indexOf("a5");
    expect(gapAck).toBeGreaterThan(ev.indexOf("d7"));
    // After the gap ACK, the server resends from block 6 (not from 5, not from 1).
    const after = ev.slice(gapAck + 1).filter((x) => x.startsWith("d"));
    const firstResent = after.find((x) => x !== "d8"); // 8 may still be in flight from the first window
    expect(firstResent).toBe("d6");
    expect(after.slice(after.indexOf("d6"), after.indexOf("d6") + 4)).toEqual(["d6", "d7", "d8", "d9"]);
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBe(3); // 6, 7, 8 again
    expect(s.packetsSent).toBe(1 + 41 + 3);
  });

  it("window 4: the first block of a window lost: the gap ACK repeats the last ACK, so recovery waits for the timeout", async () => {
    // The gap ACK (4) equals the ACK already sent for the previous window: a
    // duplicate, which must not cause sends (Sorcerer's Apprentice), so the
    // window is resent when the retransmission timeout fires.
    const { r, s } = await run(fast, "w.bin", {
      options: [["blksize", "1024"], ["windowsize", "4"]],
      dropData: (b, nth) => b === 5 && nth === 1,
    });
    expect(r.data.equals(wdata)).toBe(true);
    const ev = r.events.map((e) => (e.t === "data" ? `d${e.block}${e.dropped ? "x" : ""}` : e.t === "ack" ? `a${e.block}` : "o"));
    expect(ev.filter((x) => x === "a4").length).toBe(2); // window ACK, then the gap ACK
    expect(s.duplicateAcks).toBeGreaterThanOrEqual(1);
    expect(s.retransmits).toBeGreaterThanOrEqual(4); // 5..8 again, after the timeout
    expect(s.outcome).toBe("ok");
  });

  it("window 16: several blocks lost in one window", async () => {
    const { r, s } = await run(fast, "w.bin", {
      options: [["blksize", "1024"], ["windowsize", "16"]],
      dropData: (b, nth) => nth === 1 && (b === 3 || b === 10 || b === 16 || b === 41),
    });
    expect(r.data.equals(wdata)).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBeGreaterThan(0);
  });

  it("window 8: the whole window lost once", async () => {
    const { r, s } = await run(fast, "w.bin", {
      options: [["blksize", "1024"], ["windowsize", "8"]],
      dropData: (b, nth) => b >= 9 && b <= 16 && nth === 1,
    });
    expect(r.data.equals(wdata)).toBe(true);
    expect(s.retransmits).toBeGreaterThanOrEqual(8);
  });
});

describe("loss at the block-number rollover", () => {
  it("window 8, blksize 16: gaps at 65535 and 65537 (a gap ACK carrying wire block 0) resume at the right place", async () => {
    const { r, s } = await run(slow, "roll.bin", {
      options: [["blksize", "16"], ["windowsize", "8"]],
      dropData: (b, nth) => nth === 1 && (b === 65535 || b === 65537),
    });
    expect(r.data.equals(roll)).toBe(true);
    expect(r.lastBlock).toBe(65541);
    const acks = r.events.filter((e) => e.t === "ack").map((e) => (e as { block: number }).block);
    expect(acks).toContain(65534); // gap before 65535
    expect(acks).toContain(65536); // gap before 65537: ACK 0 on the wire
    // Window 65529..65536: 65535 lost -> ACK 65534 -> resend 65535..65541 (the end; 65535, 65536 again);
    // 65537 lost -> ACK 65536 (wire 0) -> resend 65537..65541 (all five again).
    expect(s.retransmits).toBe(7);
    expect(s.packetsSent).toBe(1 + 65541 + 7);
    expect(s.outcome).toBe("ok");
    expect(s.blocksAcked).toBe(65541);
  }, 30_000);
});

describe("lost ACKs", () => {
  it("lock-step: a lost ACK makes the server resend; the client re-ACKs on the duplicate", async () => {
    const { r, s } = await run(fast, "f.bin", {
      ack: (b, send, i) => {
        if (b === 7 && i.nth === 1) return; // lost
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(count(dataBlocks(r), 7)).toBeGreaterThanOrEqual(2);
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBeGreaterThanOrEqual(1);
  });

  it("the ACK of the OACK lost: the OACK is resent", async () => {
    const { r, s } = await run(fast, "f.bin", {
      options: [["blksize", "512"]],
      ack: (b, send, i) => {
        if (b === 0 && i.nth === 1) return;
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(r.oackPackets).toBeGreaterThanOrEqual(2);
    expect(s.retransmits).toBeGreaterThanOrEqual(1);
    expect(s.packetsSent).toBe(1 + 21 + s.retransmits);
  });

  it("window 4: a lost window ACK", async () => {
    const { r, s } = await run(fast, "w.bin", {
      options: [["blksize", "1024"], ["windowsize", "4"]],
      ack: (b, send, i) => {
        if (b === 8 && i.nth === 1) return;
        send(b);
      },
    });
    expect(r.data.equals(wdata)).toBe(true);
    expect(s.retransmits).toBeGreaterThanOrEqual(4); // the window 5..8 again
  });

  it("lost last ACK: the server resends the last block, the client ACKs again, outcome ok", async () => {
    const { r, s } = await run(fast, "f.bin", {
      ack: (b, send, i) => {
        if (i.last && i.nth === 1) return;
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(count(dataBlocks(r), 21)).toBeGreaterThanOrEqual(2);
    expect(s.outcome).toBe("ok");
    expect(s.finalAckMissing).toBeUndefined();
    expect(s.blocksAcked).toBe(21);
    expect(s.retransmits).toBeGreaterThanOrEqual(1);
  });

  it("the last ACK never sent: the session ends ok with finalAckMissing after its retries", async () => {
    const before = fixed.server.stats();
    const { r, s } = await run(fixed, "f.bin", {
      ack: (b, send, i) => {
        if (i.last) return; // never
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.finalAckMissing).toBe(true);
    expect(s.blocksAcked).toBe(20);
    expect(count(dataBlocks(r), 21)).toBe(6); // the last block, then once per retry (retries 5)
    expect(s.retransmits).toBeGreaterThanOrEqual(5);
    const after = fixed.server.stats();
    expect(after.sessionsOk - before.sessionsOk).toBe(1);
    expect(after.sessionsFailed - before.sessionsFailed).toBe(0);
  });

  it("a client that stops ACKing mid-transfer: timeout after the retries, counted as failed", async () => {
    const before = fixed.server.stats();
    const { s, rest } = await silentAfterFour(fixed);
    expect(s.outcome).toBe("timeout");
    expect(s.error?.code).toBe(0);
    expect(s.blocksAcked).toBe(4);
    expect(s.retransmits).toBeGreaterThanOrEqual(5);
    // Block 5 once and then once per retry; no ERROR is sent to a silent client.
    expect(rest).toEqual(Array(6).fill("d5"));
    const after = fixed.server.stats();
    expect(after.sessionsFailed - before.sessionsFailed).toBe(1);
    expect(after.outcomes.timeout - before.outcomes.timeout).toBe(1);
  });

  // The same two with the adaptive RTO (fast: floor 20 ms, ceiling 100 ms, retries 5): the
  // resends start at the measured RTO (>= 20 ms) and double; those below the ceiling are not
  // counted as retries, so the session gives up no sooner than with the fixed timeout: the
  // last block once, at most three quick resends (20 -> 40 -> 80 -> 100), then one per retry.
  it("adaptive RTO: the last ACK never sent still ends ok after all its retries at the ceiling", async () => {
    const { r, s } = await run(fast, "f.bin", {
      ack: (b, send, i) => {
        if (i.last) return; // never
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.finalAckMissing).toBe(true);
    const sends = count(dataBlocks(r), 21);
    expect(sends).toBeGreaterThanOrEqual(1 + 5);
    expect(sends).toBeLessThanOrEqual(1 + 3 + 5);
  });

  it("adaptive RTO: a client that stops ACKing is given up on after its retries, never sooner", async () => {
    const { s, rest } = await silentAfterFour(fast);
    expect(s.outcome).toBe("timeout");
    expect(rest.every((p) => p === "d5")).toBe(true);
    expect(rest.length).toBeGreaterThanOrEqual(1 + 5);
    expect(rest.length).toBeLessThanOrEqual(1 + 3 + 5);
  });
});

describe("duplicate, stale, late ACKs (no Sorcerer's Apprentice)", () => {
  it("lock-step: every ACK sent three times: exactly one DATA per block", async () => {
    const { c, r, s } = await run(slow, "f.bin", {
      ack: (b, send) => {
        send(b);
        send(b);
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(dataBlocks(r)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(await c.recvOrNull(100)).toBeNull();
    expect(s.retransmits).toBe(0);
    expect(s.packetsSent).toBe(21);
    expect(s.duplicateAcks).toBe(2 * 20); // the last ACK ends the session
  });

  it("window 4 with duplicate ACKs and an OACK: exactly one DATA per block", async () => {
    const { c, r, s } = await run(slow, "w.bin", {
      options: [["blksize", "1024"], ["windowsize", "4"]],
      ack: (b, send) => {
        send(b);
        send(b);
      },
    });
    expect(r.data.equals(wdata)).toBe(true);
    expect(dataBlocks(r)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    expect(await c.recvOrNull(100)).toBeNull();
    expect(s.retransmits).toBe(0);
    expect(s.packetsSent).toBe(42);
  });

  it("a stale ACK (an old block, and one never sent) followed by the right one", async () => {
    const { r, s } = await run(slow, "f.bin", {
      ack: (b, send) => {
        if (b >= 3) send(b - 2); // old
        send(b + 7); // never sent yet: stale
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(dataBlocks(r)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBe(0);
    expect(s.packetsSent).toBe(21);
  });

  it("window 4, a client ACKing every 2 blocks: each early ACK reads as a gap (RFC 7440), resends stay bounded", async () => {
    // RFC 7440: an ACK before the end of the window reports that what follows
    // was lost; the sender restarts from the block after it. The whole window
    // is sent before the ACK arrives, so every early ACK resends two blocks.
    const { r, s } = await run(slow, "w.bin", { options: [["blksize", "1024"], ["windowsize", "4"]], ackEvery: 2 });
    expect(r.data.equals(wdata)).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBeGreaterThan(0);
    expect(s.packetsSent).toBeLessThanOrEqual(1 + 2 * 41); // never more than twice each block
    expect(s.packetsSent).toBe(1 + 41 + s.retransmits);
  });

  it("ACKs with trailing bytes (WDS style) are accepted", async () => {
    const { r, s } = await run(slow, "f.bin", { ack: (b, send) => send(b, 1) });
    expect(r.data.equals(data)).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBe(0);
  });

  it("a delayed ACK (later than the timeout) only causes one resend, then the late ACK is a harmless duplicate", async () => {
    const { r, s } = await run(fast, "f.bin", {
      ack: (b, send, i) => {
        if (b === 4 && i.nth === 1) {
          void sleep(250).then(() => send(4));
          return;
        }
        send(b);
      },
    });
    expect(r.data.equals(data)).toBe(true);
    expect(s.outcome).toBe("ok");
    expect(s.retransmits).toBeGreaterThanOrEqual(1);
  });

  it("small delays on every ACK (below the timeout) change nothing", async () => {
    const { r, s } = await run(slow, "f.bin", {
      ack: (b, send) => void sleep(5).then(() => send(b)),
    });
    expect(r.data.equals(data)).toBe(true);
    expect(s.retransmits).toBe(0);
    expect(s.packetsSent).toBe(21);
  });
});
