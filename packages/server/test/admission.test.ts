// The admission option: a gate each session start passes (a cluster primary
// holds server-wide limits with it). Only session starts ask.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Admission } from "../src/index.js";
import { UdpClient, closeAllClients, get, rrq } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const small = bytes(3000);
const { root, cleanup } = makeRoot({ "small.bin": small });

afterEach(async () => {
  closeAllClients();
  await closeAllServers();
});
afterAll(() => cleanup());

/** A gate that answers later, when the test says so, and records what it was asked. */
function laterGate(): Admission & { asked: string[]; released: string[]; answer: (ok: boolean) => void } {
  const waiting: Array<(ok: boolean) => void> = [];
  const g = {
    asked: [] as string[],
    released: [] as string[],
    acquire(client: string): Promise<boolean> {
      g.asked.push(client);
      return new Promise<boolean>((resolve) => waiting.push(resolve));
    },
    release(client: string): void {
      g.released.push(client);
    },
    answer(ok: boolean): void {
      waiting.shift()?.(ok);
    },
  };
  return g;
}

describe("admission", () => {
  it("a session starts once the gate says yes; its retransmitted requests meanwhile are duplicates; its end is released once", async () => {
    const gate = laterGate();
    const s = await startServer({ root, admission: gate });
    const c = await UdpClient.open();
    c.send(rrq("small.bin"), s.port);
    c.send(rrq("small.bin"), s.port);
    expect(await c.recvOrNull(200)).toBeNull(); // waiting for the gate
    expect(gate.asked).toEqual(["127.0.0.1"]);
    expect(s.server.stats().duplicateRequests).toBe(1);
    gate.answer(true);
    const first = await c.recv();
    expect(first.pkt).toMatchObject({ op: "DATA", block: 1 });
    await s.sessionOf(c.port, 5000); // never acknowledged: it ends by timeout
    expect(s.server.stats().sessionsStarted).toBe(1);
    expect(gate.released).toEqual(["127.0.0.1"]);
  });

  it("a no is answered ERROR 0 'Server busy', counted, and never released", async () => {
    const s = await startServer({ root, admission: { acquire: () => false, release: () => expect.fail("released") } });
    const c = await UdpClient.open();
    const r = await c.request(rrq("small.bin"), s.port);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 0 });
    expect((r.pkt as { message: string }).message).toMatch(/busy/i);
    expect(s.server.stats()).toMatchObject({ refusedBusy: 1, sessionsStarted: 0 });
  });

  it("a synchronous yes starts the session at once; every admitted session is released when it ends", async () => {
    const released: string[] = [];
    const s = await startServer({ root, admission: { acquire: () => true, release: (a) => void released.push(a) } });
    for (let i = 0; i < 3; i++) {
      const c = await UdpClient.open();
      const r = await get(c, s.port, "small.bin");
      expect(r.data.equals(small)).toBe(true);
      await s.sessionOf(c.port, 5000);
    }
    expect(released).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.1"]);
  });

  it("a session that ends inside its start (a handler answering at once, the file too large) is released", async () => {
    const released: string[] = [];
    const s = await startServer({
      handler: () => small, maxFileBytes: 100,
      admission: { acquire: () => true, release: (a) => void released.push(a) },
    });
    const c = await UdpClient.open();
    const r = await c.request(rrq("small.bin"), s.port);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 3 });
    expect((await s.sessionOf(c.port, 5000)).outcome).toBe("error");
    expect(released).toEqual(["127.0.0.1"]);
    expect(s.server.stats().sessionsActive).toBe(0);
  });

  it("a handler that throws at once is answered with an ERROR and released", async () => {
    const released: string[] = [];
    const s = await startServer({
      handler: () => {
        throw new Error("boom");
      },
      admission: { acquire: () => true, release: (a) => void released.push(a) },
    });
    const c = await UdpClient.open();
    const r = await c.request(rrq("small.bin"), s.port);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 0 });
    expect((await s.sessionOf(c.port, 5000)).outcome).toBe("handler-error");
    expect(released).toEqual(["127.0.0.1"]);
  });
});
