// One chosen packet lost, in turn: the OACK, the first DATA, ACK 0, an ACK,
// the last ACK. A packet dropped by injected loss leaves no trace: the client
// does not learn the server's transfer ID from it, so its resent request goes
// to the server's request port (not to a session port, where a server answers
// ERROR 4 "expected ACK"). Against a scripted peer, tftpkit and tftpd-hpa.

import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServer, type TftpServer } from "@tftpkit/server";
import { createClient, type TftpClient } from "../src/index.js";
import { Peer, ScriptedLoss, ack, bytes, data, hasHpa, oack, startHpa, tempRoot, written } from "./helpers.js";

const opcode = (m: Buffer): number => m.readUInt16BE(0);

// Each in both socket modes: unconnected, and connected to the server's
// transfer port once it answered (connect: true, the load generator's mode).
for (const connect of [false, true]) describe(`a dropped first answer leaves no trace (scripted peer${connect ? ", connected socket" : ""})`, () => {
  let listener: Peer;
  let tid: Peer;
  let client: TftpClient;
  beforeEach(async () => {
    listener = await Peer.open();
    tid = await Peer.open();
    client = createClient({ host: "127.0.0.1", port: listener.port, timeoutSeconds: 0.2, retries: 3, connect });
  });
  afterEach(() => {
    listener.close();
    tid.close();
  });

  it("get: after a dropped DATA 1 the RRQ is resent to the request port, and the session port hears nothing", async () => {
    const p = client.get("f", { loss: new ScriptedLoss([1], []) });
    const first = await listener.next();
    tid.send(data(1, Buffer.from("x")), first.rinfo); // dropped by the injected loss
    const again = await listener.next(); // the resent RRQ, at the request port
    expect(again.msg).toEqual(first.msg);
    expect(await tid.drain(50)).toEqual([]); // no ERROR, no RRQ at the session port
    tid.send(data(1, Buffer.from("x")), again.rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    const r = await p;
    expect(r.data.toString()).toBe("x");
    expect(r.stats).toMatchObject({ dataDropped: 1, peerPort: tid.port });
  });

  it("get: after a dropped OACK the RRQ is resent to the request port", async () => {
    const p = client.get("f", { blksize: 1024, loss: new ScriptedLoss([1], []) });
    const first = await listener.next();
    tid.send(oack({ blksize: "1024" }), first.rinfo); // dropped
    const again = await listener.next();
    expect(again.msg).toEqual(first.msg);
    expect(await tid.drain(50)).toEqual([]);
    tid.send(oack({ blksize: "1024" }), again.rinfo);
    expect((await tid.next()).msg).toEqual(ack(0));
    tid.send(data(1, Buffer.from("y")), again.rinfo);
    expect((await tid.next()).msg).toEqual(ack(1));
    expect((await p).data.toString()).toBe("y");
  });

  it("put: after a dropped ACK 0 the WRQ is resent to the request port", async () => {
    const p = client.put("up", Buffer.from("z"), { loss: new ScriptedLoss([], [1]) });
    const first = await listener.next();
    expect(opcode(first.msg)).toBe(2);
    tid.send(ack(0), first.rinfo); // dropped
    const again = await listener.next();
    expect(again.msg).toEqual(first.msg);
    expect(await tid.drain(50)).toEqual([]);
    tid.send(ack(0), again.rinfo);
    const d = (await tid.next()).msg;
    expect(d).toEqual(data(1, Buffer.from("z")));
    tid.send(ack(1), again.rinfo);
    expect((await p).stats).toMatchObject({ outcome: "ok", acksDropped: 1, peerPort: tid.port });
  });
});

// The same chosen losses against real servers; each must end with the right
// bytes. The servers retransmit after 1 s, the client after 0.2 s: the client's
// resent request reaches the server before the server resends its answer,
// which is how a client that learned a TID from a dropped packet fails.
// tftpd-hpa starts a child per request, and a resent WRQ's child that opens
// the file after the first child closed it truncates it. A client resending
// every 0.2 s sends its fifth WRQ at 1 s, as tftpd-hpa resends its answer and
// the transfer ends, so against tftpd-hpa the puts resend at 0.6 s: once
// before the server's retransmission, never as the transfer ends.
const file = bytes(1536 + 100, 11); // blocks 1..4 at 512 bytes
interface Case {
  name: string;
  kind: "get" | "put";
  blksize?: number;
  dataAt?: number[];
  ackAt?: number[];
}
const CASES: Case[] = [
  { name: "get, no options: the first DATA", kind: "get", dataAt: [1] },
  { name: "get, blksize: the OACK", kind: "get", blksize: 512, dataAt: [1] },
  { name: "get, blksize: the first DATA after the OACK", kind: "get", blksize: 512, dataAt: [2] },
  { name: "get, blksize: ACK 0 (the answer to the OACK)", kind: "get", blksize: 512, ackAt: [1] },
  { name: "get, no options: ACK 1 and ACK 3", kind: "get", ackAt: [1, 3] },
  { name: "get, no options: the last ACK (dallying re-ACKs)", kind: "get", ackAt: [4] },
  { name: "put, no options: ACK 0", kind: "put", ackAt: [1] },
  { name: "put, blksize: the OACK", kind: "put", blksize: 512, ackAt: [1] },
  { name: "put, no options: the first DATA", kind: "put", dataAt: [1] },
  { name: "put, no options: ACK 1 and ACK 2", kind: "put", ackAt: [2, 3] },
];

function lossCases(server: () => { client: TftpClient; dir: string; putTimeoutSeconds: number }): void {
  for (const c of CASES) for (const connect of [false, true]) {
    it(`${c.name}${connect ? " (connected socket)" : ""}`, async () => {
      const { client, dir, putTimeoutSeconds } = server();
      const loss = new ScriptedLoss(c.dataAt ?? [], c.ackAt ?? []);
      const dropped = (c.dataAt?.length ?? 0) + (c.ackAt?.length ?? 0);
      if (c.kind === "get") {
        const r = await client.get("file", { blksize: c.blksize, loss, dallyMs: 1500, connect });
        expect(r.data.equals(file)).toBe(true);
        expect(r.stats.outcome).toBe("ok");
        expect(r.stats.dataDropped + r.stats.acksDropped).toBe(dropped);
      } else {
        const name = `up-${c.name.replace(/[^a-z0-9]+/gi, "-")}${connect ? "-c" : ""}`;
        const r = await client.put(name, file, { blksize: c.blksize, loss, connect, timeoutSeconds: putTimeoutSeconds });
        expect(r.stats.outcome).toBe("ok");
        expect(r.stats.dataDropped + r.stats.acksDropped).toBe(dropped);
        expect((await written(join(dir, name), file.length)).equals(file)).toBe(true);
      }
    }, 20_000);
  }
}

describe("one chosen packet lost, against tftpkit", () => {
  let root: ReturnType<typeof tempRoot>;
  let server: TftpServer;
  let client: TftpClient;
  beforeAll(async () => {
    root = tempRoot({ file });
    server = createServer({ root: root.dir, allowWrite: true, timeoutSeconds: 1, retries: 5 });
    const a = await server.listen({ host: "127.0.0.1", port: 0 });
    client = createClient({ host: "127.0.0.1", port: a.port, timeoutSeconds: 0.2, retries: 10 });
  });
  afterAll(async () => {
    await server.close();
    root.cleanup();
  });
  lossCases(() => ({ client, dir: root.dir, putTimeoutSeconds: 0.2 }));
});

describe.skipIf(!hasHpa)("one chosen packet lost, against tftpd-hpa", () => {
  let root: ReturnType<typeof tempRoot>;
  let hpa: Awaited<ReturnType<typeof startHpa>>;
  let client: TftpClient;
  beforeAll(async () => {
    root = tempRoot({ file });
    hpa = await startHpa(root.dir, "127.0.0.1", ["-T", "1000000"]);
    client = createClient({ host: "127.0.0.1", port: hpa.port, timeoutSeconds: 0.2, retries: 10 });
  });
  afterAll(async () => {
    await hpa?.stop();
    root?.cleanup();
  });
  lossCases(() => ({ client, dir: root.dir, putTimeoutSeconds: 0.6 }));
});
