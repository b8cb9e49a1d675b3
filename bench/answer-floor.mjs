#!/usr/bin/env node
// The floor of the cluster primary's job on Node.js here: receive one request
// on a listening socket and send one datagram for it (here an ERROR 1 to the
// client, which ends its session). tftpkit's primary receives each request
// and writes it to a worker's channel; this is the least node:dgram needs for
// one datagram in and one out, to judge the primary's CPU per request against
// (bench/cpu-check.mjs, variant `answer`). Not a server: it answers every
// datagram the same way.
//
//   node bench/answer-floor.mjs --port N [--host 127.0.0.1]

import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string" }, host: { type: "string", default: "127.0.0.1" } } });
if (!values.port) {
  process.stderr.write("usage: answer-floor.mjs --port N [--host A]\n");
  process.exit(2);
}
const answer = Buffer.from("\0\x05\0\x01File not found\0", "latin1");
const sock = createSocket(values.host.includes(":") ? "udp6" : "udp4");
sock.on("message", (_msg, peer) => sock.send(answer, peer.port, peer.address));
sock.bind(Number(values.port), values.host);
process.on("SIGTERM", () => sock.close(() => process.exit(0)));
