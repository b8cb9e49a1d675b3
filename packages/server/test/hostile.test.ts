// Malformed and hostile requests, each answered with the right ERROR (or
// handled as src/files/root.ts documents), counters moving, while a big transfer
// runs at the same time and completes byte for byte.

import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  UdpClient, closeAllClients, errorPacket, get, rrq, within, wrq, type GetResult, type OptionList, type Received,
} from "./helpers/client.js";
import type { SessionStats } from "../src/index.js";
import { bytes, closeAllServers, makeRoot, startServer, type TestServer } from "./helpers/server.js";

const big = bytes(4 * 1024 * 1024 + 333);
const small = bytes(1500);
const { root, cleanup } = makeRoot({
  "big.bin": big,
  "small.bin": small,
  "etc/passwd": "root-inside:x:0:0\n",
  "sub/inner.txt": "inner\n",
});
const outside = makeRoot({ "secret.txt": "outside secret\n", "dir/x": "outside x\n" });
symlinkSync(join(outside.root, "secret.txt"), join(root, "escape"));
symlinkSync(outside.root, join(root, "outdir"));
symlinkSync(join(root, "small.bin"), join(root, "inner-link"));
symlinkSync("sub/inner.txt", join(root, "relative-link"));
symlinkSync("../" + outside.root.split("/").pop() + "/secret.txt", join(root, "relative-escape"));
symlinkSync(join(root, "missing"), join(root, "dangling"));
mkdirSync(join(root, "emptydir"));
writeFileSync(join(outside.root, "x"), "outside x at top\n");

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ root, timeoutSeconds: 1, retries: 5 });
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await closeAllServers();
  cleanup();
  outside.cleanup();
});

const raw = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

/** Requests the codec must refuse: ERROR 4 from the listening port, malformedPackets + 1 each. */
const malformed: Array<[string, Buffer]> = [
  ["one byte", raw([0])],
  ["opcode only", raw([0, 1])],
  ["file name without NUL", raw([0, 1], "small.bin")],
  ["mode without NUL", raw([0, 1], "small.bin", [0], "octet")],
  ["empty file name", raw([0, 1, 0], "octet", [0])],
  ["unknown mode", rrq("small.bin", "binary")],
  ["mail mode", rrq("small.bin", "mail")],
  ["option without a value", raw([0, 1], "small.bin", [0], "octet", [0], "blksize", [0], "512", [0], "tsize", [0])],
  ["option value without NUL", raw([0, 1], "small.bin", [0], "octet", [0], "blksize", [0], "512")],
  ["empty option name then junk", raw([0, 1], "small.bin", [0], "octet", [0, 0], "x", [0])],
  ["33 options", rrq("small.bin", "octet", Array.from({ length: 33 }, (_, i): [string, string] => [`opt${i}`, "1"]))],
  ["unknown opcode 9", raw([0, 9], "small.bin", [0], "octet", [0])],
  ["opcode 0xffff", raw([0xff, 0xff, 1, 2, 3])],
];

/** Requests with odd options that are served anyway: [name, options, expected OACK or undefined]. */
const oddOptions: Array<[string, OptionList, OptionList | undefined]> = [
  ["tsize enable (non-numeric)", [["tsize", "enable"]], undefined],
  ["blksize 0", [["blksize", "0"]], undefined],
  ["blksize 7", [["blksize", "7"]], undefined],
  ["blksize -512", [["blksize", "-512"]], undefined],
  ["blksize 1e3", [["blksize", "1e3"]], undefined],
  ["blksize 99999 (capped at 65464)", [["blksize", "99999"]], [["blksize", "65464"]]],
  ["timeout 0", [["timeout", "0"]], undefined],
  ["timeout 999", [["timeout", "999"]], undefined],
  ["windowsize 0", [["windowsize", "0"]], undefined],
  ["windowsize 70000", [["windowsize", "70000"]], undefined],
  ["empty option value", [["blksize", ""]], undefined],
  ["32 unknown options", Array.from({ length: 32 }, (_, i): [string, string] => [`opt${i}`, "1"]), undefined],
  ["a repeated option keeps the first value", [["blksize", "600"], ["blksize", "700"]], [["blksize", "600"]]],
  ["mixed good and bad", [["tsize", "enable"], ["blksize", "1024"], ["windowsize", "0"]], [["blksize", "1024"]]],
];

/** Paths: [requested, expected ERROR code, or the content served]. */
const paths: Array<[string, number | string | Buffer]> = [
  ["../etc/passwd", 2],
  ["/../../etc/passwd", 2],
  ["a/../../x", 2],
  ["..\\..\\x", 2],
  ["sub/../small.bin", 2], // ".." is refused even when it would stay inside
  ["..", 2],
  ["escape", 2], // symlink to a file outside the root
  ["relative-escape", 2],
  ["outdir/x", 2], // through a symlink to a folder outside
  ["outdir/dir/x", 2],
  ["/etc/passwd", "root-inside:x:0:0\n"], // absolute names are read relative to the root
  ["etc\\passwd", "root-inside:x:0:0\n"], // backslashes are separators
  ["//etc//./passwd", "root-inside:x:0:0\n"],
  ["inner-link", small], // a symlink that stays inside
  ["relative-link", "inner\n"],
  ["nothere", 1],
  ["dangling", 1],
  ["/", 1],
  [".", 1],
  ["sub", 1], // a directory
  ["emptydir", 1],
  ["small.bin/x", 1], // ENOTDIR
  ["a".repeat(1000), 1], // ENAMETOOLONG
];

/** Sends one request from a fresh port and returns the first answer. */
async function ask(packet: Buffer): Promise<Received> {
  const c = await UdpClient.open();
  return c.request(packet, srv.port, 2000);
}

describe("hostile requests during a big transfer", () => {
  let before: ReturnType<TestServer["server"]["stats"]>;
  let openGate!: () => void;
  let bc: UdpClient;
  let bigDone: Promise<GetResult>;
  let bigEnded: Promise<SessionStats>;

  beforeAll(async () => {
    before = srv.server.stats();
    // The big transfer: hold its ACK of block 10 until the battery is done, so the two overlap for sure.
    const gate = new Promise<void>((r) => (openGate = r));
    let reached!: () => void;
    const atBlock10 = new Promise<void>((r) => (reached = r));
    bc = await UdpClient.open("127.0.0.1", true);
    bigEnded = srv.sessionOf(bc.port, 30_000);
    bigEnded.catch(() => {});
    bigDone = get(bc, srv.port, "big.bin", {
      options: [["blksize", "1468"], ["windowsize", "2"]],
      until: bigEnded,
      idleTimeoutMs: 20_000,
      ack: (b, send) => {
        if (b === 10) {
          reached();
          void gate.then(() => send(b));
        } else send(b);
      },
    });
    bigDone.catch(() => {});
    await within(atBlock10, 5000, "the big transfer to reach block 10");
  });
  afterAll(() => {
    openGate();
    bc.close();
  });

  it.each(malformed)("malformed: %s -> ERROR 4 from the listening port", async (_name, packet) => {
    const m0 = srv.server.stats().malformedPackets;
    const r = await ask(packet);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 4 });
    expect(r.port).toBe(srv.port);
    expect(srv.server.stats().malformedPackets - m0).toBe(1);
  });

  it("a malformed ERROR packet is counted but never answered", async () => {
    const m0 = srv.server.stats().malformedPackets;
    const quiet = await UdpClient.open();
    quiet.send(raw([0, 5, 0]), srv.port);
    expect(await quiet.recvOrNull(150)).toBeNull();
    expect(srv.server.stats().malformedPackets - m0).toBe(1);
  });

  it("none of the malformed requests started a session", () => {
    expect(srv.server.stats().sessionsStarted - before.sessionsStarted).toBe(1); // only the big one
  });

  it.each([
    ["plain", wrq("small.bin")],
    ["with tsize", wrq("new.bin", "octet", [["tsize", "5"]])],
    ["netascii, hostile path", wrq("../x", "netascii")],
  ])("WRQ (%s) -> ERROR 2, writes disabled", async (_name, packet) => {
    const w0 = srv.server.stats().writeRequestsRefused;
    const r = await ask(packet);
    expect(r.pkt).toMatchObject({ op: "ERROR", code: 2 });
    expect((r.pkt as { message: string }).message).toMatch(/write/i);
    expect(r.port).toBe(srv.port);
    expect(srv.server.stats().writeRequestsRefused - w0).toBe(1);
  });

  it.each(oddOptions)("odd options: %s -> served, bad options ignored", async (_name, options, oack) => {
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "small.bin", { options });
    expect(r.error).toBeUndefined();
    expect(r.oack).toEqual(oack);
    expect(r.data.equals(small)).toBe(true);
  });

  it.each(paths)("path %j -> %s", async (path, want) => {
    const c = await UdpClient.open();
    const r = await get(c, srv.port, path, {});
    if (typeof want === "number") {
      expect(r.error?.code).toBe(want);
      expect(r.data.length).toBe(0);
      expect(r.sessionPort).not.toBe(srv.port); // the session's port answers
    } else {
      expect(r.error).toBeUndefined();
      expect(r.data.equals(Buffer.from(want))).toBe(true);
    }
  });

  it("mode names are case-insensitive", async () => {
    const c = await UdpClient.open();
    const r = await get(c, srv.port, "small.bin", { mode: "OcTeT" });
    expect(r.data.equals(small)).toBe(true);
  });

  it("the big transfer was running all along and completes byte for byte; the counters add up", async () => {
    expect(srv.ended.some((s) => s.peer.port === bc.port)).toBe(false);
    expect(srv.server.stats().sessionsActive).toBeGreaterThanOrEqual(1);
    openGate();
    const r = await within(bigDone, 30_000, "the big transfer");
    expect(r.error).toBeUndefined();
    expect(r.data.equals(big)).toBe(true);
    const bs = await bigEnded;
    expect(bs.outcome).toBe("ok");
    expect(bs.bytesSent).toBe(big.length);

    const after = srv.server.stats();
    const denied = paths.filter(([, w]) => w === 2).length;
    const missing = paths.filter(([, w]) => w === 1).length;
    expect(after.outcomes["access-denied"] - before.outcomes["access-denied"]).toBe(denied);
    expect(after.outcomes["not-found"] - before.outcomes["not-found"]).toBe(missing);
    expect(after.malformedPackets - before.malformedPackets).toBe(malformed.length + 1);
    expect(after.writeRequestsRefused - before.writeRequestsRefused).toBe(3);
    expect(after.sessionsFailed - before.sessionsFailed).toBe(denied + missing);
    expect(after.sessionsStarted - before.sessionsStarted).toBe(1 + oddOptions.length + paths.length + 1);
    expect(after.sessionsActive).toBe(0);
  }, 30_000);
});

describe("more hostile peers", () => {
  it("an ERROR to the session port of a hostile session is never answered", async () => {
    const c = await UdpClient.open();
    c.send(rrq("small.bin", "octet", [["blksize", "512"]]), srv.port);
    const oack = await c.recv(2000);
    expect(oack.pkt.op).toBe("OACK");
    c.send(errorPacket(4, "bad OACK"), oack.port);
    expect(await c.recvOrNull(200)).toBeNull();
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).toBe("client-error");
  });

  it("garbage from the peer's own port during a transfer: ERROR 4, counted as malformed", async () => {
    const before = srv.server.stats();
    const c = await UdpClient.open();
    c.send(rrq("small.bin"), srv.port);
    const d1 = await c.recv(2000);
    expect(d1.pkt).toMatchObject({ op: "DATA", block: 1 });
    c.send(raw([0, 1], "x", [0], "octet", [0]), d1.port); // an RRQ to the session port
    const e = await c.recv(2000);
    expect(e.pkt).toMatchObject({ op: "ERROR", code: 4 });
    const s = await srv.sessionOf(c.port);
    expect(s.outcome).toBe("error");
    expect(srv.server.stats().malformedPackets - before.malformedPackets).toBe(1);
  });
});
