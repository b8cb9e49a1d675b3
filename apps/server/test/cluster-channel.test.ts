// The primary <-> worker datagram channel's framing: what goes in comes out,
// whatever the chunking of the stream.

import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { FrameKind, FrameReader, FrameWriter, type Frame } from "../src/cluster/channel.js";

const sample = [
  { kind: FrameKind.DATAGRAM, listener: 1, port: 69, family: 4, address: "127.0.1.7", payload: Buffer.from("\x00\x01boot.cfg\x00octet\x00", "latin1") },
  { kind: FrameKind.LISTENER, listener: 2, port: 6969, family: 0, address: "", payload: Buffer.alloc(0) },
  { kind: FrameKind.DATAGRAM, listener: 4_000_000_000, port: 65535, family: 6, address: "fe80::1234:5678:9abc:def0%eth0", payload: randomBytes(65_507) },
  { kind: FrameKind.DATAGRAM, listener: 3, port: 1, family: 6, address: "::1", payload: Buffer.alloc(0) },
];

function written(): Buffer {
  const w = new FrameWriter();
  expect(w.empty).toBe(true);
  for (const f of sample) w.push(f.kind, f.listener, f.port, f.family, f.address, f.payload);
  expect(w.empty).toBe(false);
  const bytes = w.take()!;
  expect(w.empty).toBe(true);
  expect(w.take()).toBeUndefined();
  return bytes;
}

function readAll(chunks: Buffer[]): Frame[] {
  const r = new FrameReader();
  const out: Frame[] = [];
  for (const c of chunks) r.feed(c, (f) => out.push({ ...f, payload: Buffer.from(f.payload) }));
  return out;
}

describe("cluster datagram channel frames", () => {
  it("round-trips datagrams and listener notices (IPv4, IPv6 with a scope, empty and 65,507-byte payloads) in one chunk", () => {
    const got = readAll([written()]);
    expect(got).toEqual(sample);
  });

  it("reassembles frames split at every kind of boundary (1-byte chunks through the header, random cuts)", () => {
    const bytes = written();
    const oneByOne: Buffer[] = [];
    for (let i = 0; i < 200; i++) oneByOne.push(bytes.subarray(i, i + 1));
    oneByOne.push(bytes.subarray(200));
    expect(readAll(oneByOne)).toEqual(sample);
    for (let round = 0; round < 20; round++) {
      const cuts: Buffer[] = [];
      let o = 0;
      while (o < bytes.length) {
        const n = 1 + Math.floor(Math.random() * 9000);
        cuts.push(bytes.subarray(o, o + n));
        o += n;
      }
      expect(readAll(cuts)).toEqual(sample);
    }
  });

  it("delivers nothing for an incomplete frame until the rest arrives", () => {
    const bytes = written();
    const r = new FrameReader();
    const seen: number[] = [];
    r.feed(bytes.subarray(0, 10), (f) => seen.push(f.port));
    expect(seen).toEqual([]);
    r.feed(bytes.subarray(10), (f) => seen.push(f.port));
    expect(seen).toEqual(sample.map((f) => f.port));
  });
});

describe("FrameWriter.pushListener", () => {
  it("writes the same LISTENER frame as push() does, between datagrams and across a new slab", () => {
    const a = new FrameWriter();
    const b = new FrameWriter();
    const big = Buffer.alloc(40_000, 7);
    for (const w of [a, b]) w.push(FrameKind.DATAGRAM, 1, 69, 4, "127.0.0.9", big);
    a.pushListener(4_000_000_000, 6969, "fe80::1%eth0");
    b.push(FrameKind.LISTENER, 4_000_000_000, 6969, 0, "fe80::1%eth0", Buffer.alloc(0));
    for (const w of [a, b]) w.push(FrameKind.DATAGRAM, 2, 70, 6, "::1", big); // past 64 KiB: a new slab
    a.pushListener(3, 69, "");
    b.push(FrameKind.LISTENER, 3, 69, 0, "", Buffer.alloc(0));
    const got = readAll([a.take()!]);
    expect(got).toEqual(readAll([b.take()!]));
    expect(got.map((f) => [f.kind, f.listener, f.address])).toEqual([
      [FrameKind.DATAGRAM, 1, "127.0.0.9"],
      [FrameKind.LISTENER, 4_000_000_000, "fe80::1%eth0"],
      [FrameKind.DATAGRAM, 2, "::1"],
      [FrameKind.LISTENER, 3, ""],
    ]);
  });
});

describe("FrameWriter slabs", () => {
  it("bytes taken never change: frames pushed after a take (in the same slab or a new one) go into the next take", () => {
    const w = new FrameWriter();
    const taken: Array<{ bytes: Buffer; copy: Buffer; n: number }> = [];
    let n = 0;
    // Many small turns (one slab shared by many takes), then turns that overflow into new slabs.
    for (let turn = 0; turn < 300; turn++) {
      const frames = 1 + (turn % 5);
      const big = turn % 37 === 0 ? 20_000 : 30;
      for (let i = 0; i < frames; i++) w.push(FrameKind.DATAGRAM, turn, i, 4, `127.0.4.${i}`, Buffer.alloc(big, turn & 0xff));
      const bytes = w.take()!;
      taken.push({ bytes, copy: Buffer.from(bytes), n: frames });
      n += frames;
    }
    let seen = 0;
    for (const [turn, t] of taken.entries()) {
      expect(t.bytes.equals(t.copy)).toBe(true); // later pushes did not write into it
      const frames = readAll([t.bytes]);
      expect(frames).toHaveLength(t.n);
      for (const f of frames) {
        expect(f.listener).toBe(turn);
        expect(f.payload.every((b) => b === (turn & 0xff))).toBe(true);
      }
      seen += frames.length;
    }
    expect(seen).toBe(n);
  });
});
