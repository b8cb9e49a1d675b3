// The session log line: `--log json` is one JSON object per finished session
// with a fixed set of keys in a fixed order (what log shippers index), and
// `--log text` one line of words; the lines are written in batches.

import { describe, expect, it, vi } from "vitest";
import type { SessionStats } from "@tftpkit/server";
import { formatSession, isoTime } from "../src/observe/session-log.js";
import { FLUSH_BYTES, LineWriter } from "../src/observe/log-writer.js";
import { SessionLog, warmUpHooks } from "../src/observe/warm-up-hooks.js";

const base: SessionStats = {
  id: 42, kind: "read", peer: { address: "192.0.2.9", port: 2000 }, local: { address: "192.0.2.1", port: 69 },
  path: "pxelinux.cfg/01-aa-bb", mode: "octet", optionsAsked: { blksize: "1468", tsize: "0" }, optionsAcked: { blksize: "1468", tsize: "1024" },
  blksize: 1468, windowsize: 1, tsize: 1024, bytesSent: 1024, packetsSent: 2, blocksAcked: 1, retransmits: 0, duplicateAcks: 0,
  startedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 600), durationMs: 1.26, handlerMs: 0.2, outcome: "ok",
};

/** The line's meaning, written out key by key. */
function expected(s: SessionStats, worker?: number): Record<string, unknown> {
  const o: Record<string, unknown> = {
    time: new Date(s.startedAt + s.durationMs).toISOString(), event: "session", id: s.id, kind: s.kind, outcome: s.outcome,
    peer: `${s.peer.address}:${s.peer.port}`, local: s.local.address, path: s.path, mode: s.mode, asked: s.optionsAsked, acked: s.optionsAcked,
    bytes: s.kind === "write" ? s.bytesReceived ?? 0 : s.bytesSent, packets: s.packetsSent, retransmits: s.retransmits,
    ms: Math.round(s.durationMs * 10) / 10,
  };
  if (s.error) o.error = s.error;
  if (s.handlerError) o.handlerError = s.handlerError;
  if (s.finalAckMissing) o.finalAckMissing = true;
  if (worker !== undefined) o.worker = worker;
  return o;
}

describe("formatSession json", () => {
  const cases: Array<[string, SessionStats, number | undefined]> = [
    ["a plain read", base, undefined],
    ["a read on worker 3", base, 3],
    ["names that need escaping", { ...base, path: 'a"b\\c\u0001\u00e9\u2028', peer: { address: "2001:db8::1", port: 7 }, mode: "NetASCII" }, undefined],
    ["an error and the handler's exception", {
      ...base, outcome: "handler-error", error: { code: 0, message: "Internal \"server\" error" },
      handlerError: { name: "TypeError", message: "x is not a function", stack: "TypeError: x\n    at h (h.js:1:1)" },
    }, 1],
    ["a missing final ACK", { ...base, finalAckMissing: true }, undefined],
    ["a write", { ...base, kind: "write", bytesReceived: 5000, bytesSent: 0, optionsAsked: {}, optionsAcked: {} } as SessionStats, undefined],
    ["a write that received nothing", { ...base, kind: "write", bytesSent: 0 } as SessionStats, undefined],
  ];
  for (const [name, s, worker] of cases) {
    it(`${name}: one line, the keys in order, the values as given`, () => {
      const line = formatSession(s, "json", worker);
      expect(line).not.toContain("\n");
      expect(line).toBe(JSON.stringify(expected(s, worker)));
    });
  }

  it("a wildcard local address (none known) is left out", () => {
    const s = { ...base, local: { address: undefined as unknown as string, port: 69 } };
    const parsed = JSON.parse(formatSession(s, "json"));
    expect("local" in parsed).toBe(false);
    expect(parsed.path).toBe(base.path);
  });
});

describe("formatSession text", () => {
  it("kind, outcome, peer, path, bytes, duration, options and the error", () => {
    const line = formatSession({ ...base, outcome: "not-found", error: { code: 1, message: "File not found" } }, "text", 2);
    expect(line).toBe('read not-found 192.0.2.9:2000 "pxelinux.cfg/01-aa-bb" 1024B 1.3ms blksize=1468 window=1 retransmits=0 error=1:"File not found" worker=2');
  });
});

describe("LineWriter", () => {
  /** A stream that keeps each write. */
  const sink = () => {
    const writes: string[] = [];
    const out = { write: (t: string | Buffer) => writes.push(t.toString()) } as unknown as NodeJS.WritableStream;
    return { writes, out };
  };

  it("gathers lines into one write, each line whole and in order, within FLUSH_MS", async () => {
    const { writes, out } = sink();
    const w = new LineWriter(out);
    for (let i = 0; i < 5; i++) w.write(`line ${i}`);
    expect(writes).toEqual([]);
    await vi.waitFor(() => expect(writes).toHaveLength(1), { timeout: 5000, interval: 5 });
    expect(writes[0]).toBe("line 0\nline 1\nline 2\nline 3\nline 4\n");
    w.write("later");
    await vi.waitFor(() => expect(writes).toHaveLength(2), { timeout: 5000, interval: 5 });
    expect(writes[1]).toBe("later\n");
  });

  it("writes at once when FLUSH_BYTES are gathered, and flush() writes the rest", () => {
    const { writes, out } = sink();
    const w = new LineWriter(out);
    const line = "x".repeat(999);
    const n = Math.ceil(FLUSH_BYTES / 1000) + 5;
    for (let i = 0; i < n; i++) w.write(`${i} ${line}`);
    expect(writes).toHaveLength(1); // before any timer
    w.flush();
    expect(writes).toHaveLength(2);
    for (const t of writes) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(FLUSH_BYTES);
    expect(writes.join("")).toBe(Array.from({ length: n }, (_, i) => `${i} ${line}\n`).join(""));
    w.flush(); // nothing gathered: no empty write
    expect(writes).toHaveLength(2);
  });

  it("hands the stream bytes that later lines do not overwrite", () => {
    const held: Buffer[] = [];
    const out = { write: (t: Buffer) => held.push(t) } as unknown as NodeJS.WritableStream;
    const w = new LineWriter(out);
    w.write("first");
    w.flush();
    w.write("SECOND");
    w.flush();
    expect(held.map((b) => b.toString())).toEqual(["first\n", "SECOND\n"]);
  });

  it("keeps text that is not ASCII whole, and writes a line longer than the buffer alone, in order", () => {
    const { writes, out } = sink();
    const w = new LineWriter(out);
    const wide = "é€😀\u2028".repeat(5000); // 2, 3, 4 and 3 bytes in UTF-8
    w.write("before");
    w.write(wide);
    w.write("after");
    w.flush();
    expect(writes).toEqual(["before\n", `${wide}\n`, "after\n"]);
  });

  it("the warm-up calls the server's own hook, which writes nothing until the warm-up has ended", () => {
    const { writes, out } = sink();
    const w = new LineWriter(out);
    let format: "json" | "text" | "off" = "json";
    const log = new SessionLog(w, () => format, 2);
    const hooks = warmUpHooks(log, { instrumentation: undefined, tracing: false })();
    expect(hooks.onSessionEnd).toBe(log.onSessionEnd);
    hooks.onSessionEnd!(base);
    w.flush();
    expect(writes).toEqual([]);
    hooks.ended!();
    log.onSessionEnd(base);
    w.flush();
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0])).toEqual(expected(base, 2));
    format = "off";
    log.onSessionEnd(base);
    w.flush();
    expect(writes).toHaveLength(1);
  });
});

describe("isoTime", () => {
  it("is Date's toISOString, across seconds, fractions, the epoch and far years", () => {
    const now = Date.now();
    const times = [0, -1, -0.5, -1000, -1001, 999.9, 1000, 1000.4, 1_767_225_599_999.7, 1_767_225_600_000, 253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_001];
    for (let i = 0; i < 3000; i++) times.push(now + i * 0.7, now - i * 333.3, Math.random() * 4e12);
    for (const t of times) expect(isoTime(t), String(t)).toBe(new Date(t).toISOString());
    expect(() => isoTime(NaN)).toThrow(RangeError);
  });
});
