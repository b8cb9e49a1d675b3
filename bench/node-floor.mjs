#!/usr/bin/env node
// The floor of a TFTP server on Node.js here: the least a read server can do
// per packet on node:dgram, for the bench to compare tftpkit with (what is
// tftpkit's own cost, what is the event loop's). Not a product and not a
// server to deploy: files are read whole into memory (once, never again),
// octet only, no path checks beyond the root, no upload, no options beyond
// blksize, windowsize and tsize, a fixed 1 s retransmission with 5 retries.
// Per session: one socket, connected to the client; per ACK: one decode, the
// window's DATA copied into packet buffers and sent.
//
// `npm run bench` runs it as the server `node-floor` in every scenario, e.g.
//   npm run bench -- --servers tftpkit,node-floor --scenarios lockstep,window16

import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { resolve, sep } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { root: { type: "string" }, port: { type: "string" }, host: { type: "string", default: "127.0.0.1" } } });
if (!values.root || !values.port) {
  process.stderr.write("usage: node-floor.mjs --root DIR --port N [--host A]\n");
  process.exit(2);
}
const root = resolve(values.root);
const files = new Map();

function fileOf(name) {
  let data = files.get(name);
  if (data) return data;
  const path = resolve(root, name.replace(/^\/+/, ""));
  if (!path.startsWith(root + sep)) return null;
  try {
    data = readFileSync(path);
  } catch {
    return null;
  }
  files.set(name, data);
  return data;
}

const error = (code, text) => Buffer.concat([Buffer.from([0, 5, 0, code]), Buffer.from(text + "\0", "latin1")]);

function session(req, peer, listener) {
  const fields = req.subarray(2).toString("latin1").split("\0");
  const data = fileOf(fields[0]);
  if (!data) return listener.send(error(1, "File not found"), peer.port, peer.address);
  let blksize = 512;
  let window = 1;
  const oack = [];
  for (let i = 2; i + 1 < fields.length; i += 2) {
    const key = fields[i].toLowerCase();
    const v = Number(fields[i + 1]);
    if (key === "blksize" && v >= 8) oack.push("blksize", String((blksize = Math.min(v, 65464))));
    else if (key === "windowsize" && v >= 1) oack.push("windowsize", String((window = Math.min(v, 64))));
    else if (key === "tsize") oack.push("tsize", String(data.length));
  }
  const blocks = Math.floor(data.length / blksize) + 1;
  // One packet buffer per block of a window: block n + window reuses n's only
  // after n was acknowledged, so a send the kernel queued is never overwritten.
  const packets = Array.from({ length: window }, () => Buffer.allocUnsafe(4 + blksize));
  const first = oack.length ? Buffer.from(`\0\x06${oack.join("\0")}\0`, "latin1") : null;
  const sock = createSocket(peer.family === "IPv6" ? "udp6" : "udp4");
  let acked = 0; // blocks acknowledged (0: none; the OACK is acknowledged by ACK 0)
  let started = !first; // the OACK was acknowledged
  let tries = 0;
  const timer = setTimeout(() => {
    if (++tries > 5) return end();
    if (!started) {
      sock.send(first);
      timer.refresh();
    } else sendWindow();
  }, 1000);

  const sendBlock = (n) => {
    const off = (n - 1) * blksize;
    const len = Math.max(0, Math.min(blksize, data.length - off));
    const packet = packets[n % window];
    packet[0] = 0;
    packet[1] = 3;
    packet.writeUInt16BE(n & 0xffff, 2);
    data.copy(packet, 4, off, off + len);
    sock.send(packet, 0, 4 + len);
  };
  const sendWindow = () => {
    const last = Math.min(blocks, acked + window);
    for (let n = acked + 1; n <= last; n++) sendBlock(n);
    timer.refresh();
  };
  let ended = false;
  const end = () => {
    if (ended) return; // an 'error' after the last ACK or the last retry: closed once
    ended = true;
    clearTimeout(timer);
    sock.close();
  };

  sock.on("message", (m, from) => {
    if (from.port !== peer.port || from.address !== peer.address) return;
    if (m.length < 4 || m[1] !== 4) return end(); // an ERROR (or nonsense): the client gave up
    const b = m.readUInt16BE(2);
    let full = (acked & ~0xffff) | b; // block numbers roll over at 65536
    if (full < acked) full += 0x10000;
    if (!started) {
      if (b !== 0) return;
      started = true;
    } else if (full <= acked || full > acked + window) return; // duplicate or stale: no resend
    acked = full;
    tries = 0;
    if (acked >= blocks) return end();
    sendWindow();
  });
  sock.on("error", end);
  sock.bind(0, () =>
    sock.connect(peer.port, peer.address, () => {
      if (first) sock.send(first);
      else sendWindow();
    }),
  );
}

const listener = createSocket(values.host.includes(":") ? "udp6" : "udp4");
listener.on("message", (m, peer) => {
  if (m.length > 4 && m[0] === 0 && m[1] === 1) session(m, peer, listener);
  else if (m.length >= 2 && m[1] === 2) listener.send(error(2, "Read only"), peer.port, peer.address);
});
listener.bind(Number(values.port), values.host);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
