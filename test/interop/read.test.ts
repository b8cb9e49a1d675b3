// RRQ interop: real clients against tftpkit's server (@tftpkit/server).
// The same matrix runs against Debian's in.tftpd in read.baseline.test.ts.
import { describe, test } from "vitest";
import { defineReadMatrix } from "./read-matrix.js";
import { tftpkitTarget } from "./targets.js";

const target = tftpkitTarget();

describe("read (RRQ) interop against tftpkit", () => {
  defineReadMatrix(target);

  // Runs after the matrix groups above (suites run in order): the server's own
  // account of those sessions must agree with what the clients saw.
  describe("server-side session stats", () => {
    test("every session ended ok or not-found; none timed out or errored", ({ expect }) => {
      const outcomes: Record<string, number> = {};
      for (const s of target.sessions) outcomes[s.outcome] = (outcomes[s.outcome] ?? 0) + 1;
      const sum = (k: "retransmits" | "duplicateAcks") => target.sessions.reduce((n, s) => n + (Number(s[k]) || 0), 0);
      console.log(
        `tftpkit sessions: ${target.sessions.length} ${JSON.stringify(outcomes)}; retransmits ${sum("retransmits")}, ` +
          `duplicate ACKs ${sum("duplicateAcks")}, final ACK missing ${target.sessions.filter((s) => s.finalAckMissing).length}`,
      );
      const bad = target.sessions.filter((s) => s.outcome !== "ok" && s.outcome !== "not-found");
      expect(bad.map((s) => JSON.stringify(s)), `outcomes: ${JSON.stringify(outcomes)}`).toEqual([]);
      // 4 clients x 2 families asked for a missing file. A client that resends
      // its request after the first answer (seen under load) makes one more.
      const missing = target.sessions.filter((s) => s.outcome === "not-found");
      expect(missing.length).toBeGreaterThanOrEqual(8);
      expect(missing.map((s) => s.path).filter((p) => p !== "no-such-file.bin")).toEqual([]);
      // Every test above transferred at least once: 56 octet + 12 options + 12 netascii + 8 after not-found + 8 dual stack.
      expect(outcomes["ok"]).toBeGreaterThanOrEqual(56 + 12 + 12 + 8 + 8);
    });

    test("windowsize 16 and blksize 1468 were granted when asked", ({ expect }) => {
      const windowed = target.sessions.filter((s) => s.optionsAsked?.windowsize === "16");
      expect(windowed.length).toBeGreaterThan(0);
      for (const s of windowed) expect(s.windowsize, JSON.stringify(s)).toBe(16);
      const big = target.sessions.filter((s) => s.optionsAsked?.blksize === "1468");
      expect(big.length).toBeGreaterThan(0);
      for (const s of big) expect(s.blksize, JSON.stringify(s)).toBe(1468);
      const tiny = target.sessions.filter((s) => s.optionsAsked?.blksize === "8");
      expect(tiny.length).toBe(1);
      expect(tiny[0]!.blocksAcked, JSON.stringify(tiny[0])).toBeGreaterThanOrEqual(131072);
    });
  });
});
