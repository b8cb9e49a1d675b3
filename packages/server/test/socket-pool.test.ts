// The session socket pool: a socket bound once serves one session after
// another; the previous user's packets never reach the next session as its
// own (TID check), and no socket goes back to the client address that used
// it last (a client's next session never gets its last transfer ID).

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { UdpClient, ackPacket, closeAllClients, get, rrq, sleep } from "./helpers/client.js";
import { bytes, closeAllServers, makeRoot, startServer } from "./helpers/server.js";

const data = bytes(20_000);
/** Another client address (the server listens on 127.0.0.1; Linux answers all of 127.0.0.0/8). */
const OTHER = "127.0.0.2";
const { root, cleanup } = makeRoot({ "f.bin": data, "small.txt": "hello\n" });
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
});

/**
 * A second client fetches f.bin; when it is about to ACK block `at`, `stale`
 * sends the previous user's late packets (given the port b is served from).
 * Its transfer must still be whole; returns its client.
 */
async function getWhileStale(port: number, stale: (sessionPort: number) => void, at = 2): Promise<UdpClient> {
  const b = await UdpClient.open(OTHER);
  let sentStale = false;
  const rb = await get(b, port, "f.bin", {
    host: "127.0.0.1",
    ack: (block, send, info) => {
      if (block === at && !sentStale) {
        sentStale = true;
        stale(info.sessionPort);
      }
      send(block);
    },
  });
  expect(sentStale).toBe(true);
  expect(rb.error).toBeUndefined();
  expect(rb.data.equals(data)).toBe(true);
  return b;
}

describe("session socket pool", () => {
  // Unconnected session sockets (RFC 1350's ERROR 5 for strangers) keep their port in the pool.
  const unconnected = { root, connectSessionSockets: false };

  it("the next session (another client) gets the socket of the one that ended", async () => {
    const srv = await startServer(unconnected);
    const a = await UdpClient.open();
    const ra = await get(a, srv.port, "f.bin");
    expect(ra.data.equals(data)).toBe(true);
    await srv.sessionOf(a.port);
    const b = await UdpClient.open(OTHER);
    const rb = await get(b, srv.port, "f.bin", { host: "127.0.0.1" });
    expect(rb.data.equals(data)).toBe(true);
    expect(rb.sessionPort).toBe(ra.sessionPort);
    const st = srv.server.socketPool.stats();
    expect(st.created).toBe(1);
    expect(st.reused).toBe(1);
  });

  it("a stale packet of the previous user is rejected by the TID check (ERROR 5 to it); the new session completes byte for byte", async () => {
    const srv = await startServer(unconnected);
    const a = await UdpClient.open();
    const ra = await get(a, srv.port, "f.bin");
    await srv.sessionOf(a.port);
    const stalePort = ra.sessionPort;
    const before = srv.server.stats().unknownTidPackets;
    const b = await getWhileStale(srv.port, (sessionPort) => {
      expect(sessionPort).toBe(stalePort); // b holds a's old socket
      // a's late duplicates: an ACK of the block b is at, and one past it.
      a.send(ackPacket(2), stalePort);
      a.send(ackPacket(30), stalePort);
    });
    const answers = [await a.recv(2000), await a.recv(2000)];
    for (const r of answers) {
      expect(r.pkt).toMatchObject({ op: "ERROR", code: 5 });
      expect(r.port).toBe(stalePort);
    }
    const sb = await srv.sessionOf(b.port);
    expect(sb.outcome).toBe("ok");
    expect(sb.bytesSent).toBe(data.length);
    expect(srv.server.stats().unknownTidPackets - before).toBe(2);
  });

  it("never hands a socket back to the client address that used it last: a client's next session gets another transfer ID", async () => {
    const srv = await startServer(unconnected); // ports kept in the pool: only the rule keeps them apart
    const a = await UdpClient.open();
    const r1 = await get(a, srv.port, "small.txt");
    await srv.sessionOf(a.port);
    // The same client port asks again: the idle socket is its own last one, so it gets a new one.
    const r2 = await get(a, srv.port, "small.txt");
    expect(r2.data.toString()).toBe("hello\n");
    expect(r2.sessionPort).not.toBe(r1.sessionPort);
    await srv.sessionOf(a.port);
    // Another port of the same address (a client that opens a socket per transfer): both idle sockets were its own last ones.
    const a2 = await UdpClient.open();
    const r3 = await get(a2, srv.port, "small.txt");
    expect(r3.data.toString()).toBe("hello\n");
    expect([r1.sessionPort, r2.sessionPort]).not.toContain(r3.sessionPort);
    expect(srv.server.socketPool.stats()).toMatchObject({ created: 3, reused: 0 });
    await srv.sessionOf(a2.port);
    // Another address gets one of them; then the first address gets one another client used since.
    const b = await UdpClient.open(OTHER);
    const rb = await get(b, srv.port, "small.txt", { host: "127.0.0.1" });
    expect([r1.sessionPort, r2.sessionPort, r3.sessionPort]).toContain(rb.sessionPort);
    await srv.sessionOf(b.port);
    const a3 = await UdpClient.open();
    const r4 = await get(a3, srv.port, "small.txt");
    expect(r4.data.toString()).toBe("hello\n");
    expect(r4.sessionPort).toBe(rb.sessionPort);
    expect(srv.server.socketPool.stats()).toMatchObject({ created: 3, reused: 2 });
  });

  it("a packet to an idle pooled socket reaches nobody (counted, unanswered); the socket then serves the next session normally", async () => {
    const srv = await startServer(unconnected);
    const a = await UdpClient.open();
    const ra = await get(a, srv.port, "small.txt");
    await srv.sessionOf(a.port);
    const x = await UdpClient.open();
    x.send(ackPacket(1), ra.sessionPort);
    expect(await x.recvOrNull(300)).toBeNull();
    await sleep(50);
    expect(srv.server.socketPool.stats().strayWhileIdle).toBe(1);
    const b = await UdpClient.open(OTHER);
    const rb = await get(b, srv.port, "f.bin", { host: "127.0.0.1" });
    expect(rb.sessionPort).toBe(ra.sessionPort);
    expect(rb.data.equals(data)).toBe(true);
  });

  it("connected (the default), a long read: connected at its 16th packet, the socket is used again with a fresh port; the previous user's late packets reach nobody; byte for byte", async () => {
    const srv = await startServer({ root });
    const a = await UdpClient.open();
    const ra = await get(a, srv.port, "f.bin");
    expect(ra.data.equals(data)).toBe(true);
    await srv.sessionOf(a.port);
    const before = srv.server.stats().unknownTidPackets;
    const b = await getWhileStale(srv.port, (sessionPort) => {
      // a's late duplicates, to the port a knew and to the port b is served from.
      a.send(ackPacket(2), ra.sessionPort);
      a.send(ackPacket(30), sessionPort);
    }, 20);
    // The kernel drops a's packets (the socket is connected to b): no ERROR 5, nothing counted, nothing resent.
    expect(await a.recvOrNull(300)).toBeNull();
    const sb = await srv.sessionOf(b.port);
    expect(sb.outcome).toBe("ok");
    expect(sb.retransmits).toBe(0);
    expect(srv.server.stats().unknownTidPackets - before).toBe(0);
    expect(srv.server.socketPool.stats()).toMatchObject({ created: 1, reused: 1 });
  });

  it("connected (the default), a short read: never connected, it keeps its port for the next peer; a stranger's packet gets ERROR 5", async () => {
    const srv = await startServer({ root });
    const a = await UdpClient.open();
    const ra = await get(a, srv.port, "f.bin", { options: [["blksize", "1468"]] }); // the OACK and 14 DATA: 15 packets
    expect(ra.data.equals(data)).toBe(true);
    await srv.sessionOf(a.port);
    const b = await UdpClient.open(OTHER);
    const stray = await UdpClient.open();
    const rb = await get(b, srv.port, "small.txt", {
      host: "127.0.0.1",
      options: [["blksize", "512"], ["tsize", "0"]],
      ack: (block, send, info) => {
        if (block === 0) stray.send(ackPacket(1), info.sessionPort); // a stranger at the session's port
        send(block);
      },
    });
    expect(rb.data.toString()).toBe("hello\n");
    expect(rb.sessionPort).toBe(ra.sessionPort); // the same socket, its port kept
    const strayAnswer = await stray.recv(2000);
    expect(strayAnswer.pkt).toMatchObject({ op: "ERROR", code: 5 });
    expect((await srv.sessionOf(b.port)).outcome).toBe("ok");
    expect(srv.server.socketPool.stats()).toMatchObject({ created: 1, reused: 1 });
  });

  it("connected: a client that closes its port before the last ACK (ICMP port unreachable) still ends as a missing final ACK, and the socket goes back to the pool", async () => {
    const srv = await startServer({ root, timeoutSeconds: 0.2, retries: 2, rtoFloorMs: 200 });
    const a = await UdpClient.open();
    const ended = srv.sessionOf(a.port);
    const first = await a.request(rrq("small.txt"), srv.port);
    expect(first.pkt).toMatchObject({ op: "DATA", block: 1 });
    a.close(); // the one block arrived; no ACK, and the port is gone: the resends meet ICMP port unreachable
    const s = await ended;
    expect(s.outcome).toBe("ok");
    expect(s.bytesSent).toBe(6);
    const b = await UdpClient.open(OTHER);
    expect((await get(b, srv.port, "small.txt", { host: "127.0.0.1" })).data.toString()).toBe("hello\n");
    expect(srv.server.socketPool.stats()).toMatchObject({ created: 1, reused: 1 });
  });

  it("connected at once (one DATA packet, the last): a late copy of a request already served, its port now closed, ends at the second ICMP port unreachable (aborted), not after every retry", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1, retries: 5 });
    const a = await UdpClient.open();
    expect((await get(a, srv.port, "small.txt")).data.toString()).toBe("hello\n");
    expect((await srv.sessionOf(a.port)).outcome).toBe("ok");
    a.send(rrq("small.txt"), srv.port); // the copy that arrives after the client was served
    a.close();
    const ghost = await srv.sessionOf(a.port, 4000);
    expect(ghost).toMatchObject({ outcome: "aborted", error: { code: 0, message: "Client gone (port unreachable)" }, blocksAcked: 0 });
    expect(ghost.retransmits).toBe(1); // DATA 1 twice: once may be late news of another packet; twice is a closed port
  });

  it("connected at its first resend: a client that closes its port mid-transfer (short of 16 packets) is aborted at the second port unreachable, with the blocks it acknowledged", async () => {
    const srv = await startServer({ root, timeoutSeconds: 1, retries: 5 });
    const a = await UdpClient.open();
    const d1 = await a.request(rrq("f.bin"), srv.port);
    expect(d1.pkt).toMatchObject({ op: "DATA", block: 1 });
    a.send(ackPacket(1), d1.port);
    expect((await a.recv()).pkt).toMatchObject({ op: "DATA", block: 2 });
    a.close();
    const s = await srv.sessionOf(a.port, 4000);
    expect(s).toMatchObject({ outcome: "aborted", error: { message: "Client gone (port unreachable)" }, blocksAcked: 1 });
    const b = await UdpClient.open(OTHER);
    expect((await get(b, srv.port, "f.bin", { host: "127.0.0.1" })).data.equals(data)).toBe(true);
  });

  it("unconnected (connectSessionSockets false): no ICMP reaches the session; a closed port ends by the retries as before", async () => {
    const srv = await startServer({ ...unconnected, timeoutSeconds: 0.1, retries: 2, rtoFloorMs: 100 });
    const a = await UdpClient.open();
    const d1 = await a.request(rrq("f.bin"), srv.port);
    expect(d1.pkt).toMatchObject({ op: "DATA", block: 1 });
    a.close();
    const s = await srv.sessionOf(a.port, 4000);
    expect(s.outcome).toBe("timeout");
    expect(s.retransmits).toBe(2);
  });

  it("sessionSocketPool 0: every session binds and closes a socket of its own", async () => {
    const srv = await startServer({ root, sessionSocketPool: 0 });
    for (let i = 0; i < 3; i++) {
      const c = await UdpClient.open();
      const r = await get(c, srv.port, "small.txt");
      expect(r.data.toString()).toBe("hello\n");
      await srv.sessionOf(c.port);
    }
    expect(srv.server.socketPool.stats()).toMatchObject({ created: 3, reused: 0, idle: 0 });
  });
});
