// A cluster worker's warm-up: its requests reach the private server the way
// a worker's real ones do (a private UDP socket standing in for the
// primary's, frames over a private stream socket, the worker's own intake),
// in multi-port and in single-port mode, counted nowhere on the real server.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createServer } from "@tftpkit/server";
import { warmUpFront } from "../src/cluster/cluster-worker.js";
import { privateStreamPair } from "../src/cluster/channel.js";

const dir = mkdtempSync(join(tmpdir(), "tftpkit-worker-warm-"));
writeFileSync(join(dir, "boot.cfg"), "x");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a worker's warm-up through its own intake", () => {
  for (const singlePort of [false, true]) {
    it(`runs real sessions through frames and the worker's intake (${singlePort ? "single-port: answers leave through the front's socket" : "multi-port"}); the real server counts none`, async () => {
      const server = createServer({ root: dir, warmUpMs: 300, singlePort });
      try {
        const report = await server.warmUp(warmUpFront);
        expect(report!.sessions).toBeGreaterThan(20);
        expect(report!.sessions).toBeLessThanOrEqual(report!.started);
        expect(server.stats().sessionsStarted).toBe(0);
        expect(server.flows()).toEqual([]);
      } finally {
        await server.close();
      }
    });
  }
});

describe("privateStreamPair", () => {
  it("connects two ends that carry bytes both ways; close() ends both", async () => {
    const pair = await privateStreamPair("test");
    const got = new Promise<string>((r) => pair.far.once("data", (d: Buffer) => r(d.toString())));
    pair.near.write("to the far end");
    expect(await got).toBe("to the far end");
    const back = new Promise<string>((r) => pair.near.once("data", (d: Buffer) => r(d.toString())));
    pair.far.write("and back");
    expect(await back).toBe("and back");
    await pair.close();
    expect(pair.near.destroyed).toBe(true);
    expect(pair.far.destroyed).toBe(true);
  });
});
