// Codec micro-benchmark: the WebAssembly core (wasmCodec) against the
// pure-TypeScript reference (referenceCodec), operations per second.
//
//   npm run bench:codec            (from the repo root: builds, then runs this)
//   BENCH_MS=500 node bench/codec.js   (time per measurement; default 300)
//
// Each case runs ROUNDS rounds per codec, alternating codecs, each round
// BENCH_MS long after a warm-up; the best round counts. Total run time is
// about cases x 2 x ROUNDS x BENCH_MS (about 13 s by default).

import { Buffer } from "node:buffer";
import { wasmCodec } from "../dist/index.js";
import { referenceCodec } from "../dist/testing.js";

const BENCH_MS = Number(process.env.BENCH_MS) || 300;
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 3;
const WARMUP_MS = 100;

function request(opcode, filename, mode, options) {
  const parts = [Buffer.from([0, opcode]), Buffer.from(`${filename}\0${mode}\0`, "latin1")];
  for (const [n, v] of options) parts.push(Buffer.from(`${n}\0${v}\0`, "latin1"));
  return Buffer.concat(parts);
}

const rrq = request(1, "boot/pxelinux.0", "octet", [
  ["blksize", "1468"], ["tsize", "0"], ["timeout", "5"], ["windowsize", "16"],
]);
const ack = Buffer.from([0, 4, 0x12, 0x34]);
const payload = Buffer.alloc(1468, 0x5a);
const limits = { maxBlksize: 1468, maxWindowsize: 16, tsize: 12_345_678, write: false };
const asked = wasmCodec.decode(rrq).asked;

/** name -> (codec) => a function doing one operation and returning something to keep. */
const cases = [
  ["decode RRQ + 4 options", (c) => () => c.decode(rrq)],
  ["decodeAck (ACK)", (c) => () => c.decodeAck(ack)],
  ["decode (ACK)", (c) => () => c.decode(ack)],
  ["encodeData (1468 B)", (c) => { let b = 0; return () => c.encodeData(++b, payload); }],
  ["encodeAck", (c) => { let b = 0; return () => c.encodeAck(++b); }],
  ["encodeError", (c) => () => c.encodeError(1, "File not found")],
  ["negotiate", (c) => () => c.negotiate(asked, limits)],
];

const codecs = [["wasm", wasmCodec], ["reference", referenceCodec]];

// Both codecs must agree on every input measured here.
for (const [name, make] of cases) {
  const a = JSON.stringify(make(wasmCodec)(), (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v));
  const b = JSON.stringify(make(referenceCodec)(), (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v));
  if (a !== b) throw new Error(`codecs disagree on ${name}: ${a} vs ${b}`);
}

let sink = 0;

/** Operations per second of `op` over about `ms` milliseconds. */
function measure(op, ms) {
  let batch = 256;
  let ops = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(ms * 1e6));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < batch; i++) {
      const r = op();
      if (r === null) sink++;
    }
    ops += batch;
    elapsed = process.hrtime.bigint() - start;
    if (elapsed < limit / 20n) batch *= 2;
  }
  return ops / (Number(elapsed) / 1e9);
}

function fmt(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

const t0 = performance.now();
const rows = [];
for (const [name, make] of cases) {
  const best = { wasm: 0, reference: 0 };
  const ops = Object.fromEntries(codecs.map(([k, c]) => [k, make(c)]));
  for (const [k] of codecs) measure(ops[k], WARMUP_MS);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? codecs : [...codecs].reverse();
    for (const [k] of order) best[k] = Math.max(best[k], measure(ops[k], BENCH_MS));
  }
  rows.push([name, best.wasm, best.reference]);
}
const seconds = (performance.now() - t0) / 1000;

const header = ["operation", "wasm ops/s", "reference ops/s", "wasm / reference"];
const table = rows.map(([name, w, r]) => [name, fmt(w), fmt(r), `${(w / r).toFixed(2)}x`]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) =>
  "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ") + " |";
console.log(`tftpkit codec benchmark (Node ${process.version}, ${BENCH_MS} ms x ${ROUNDS} rounds per codec, best round)`);
console.log(line(header));
console.log("|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|");
for (const row of table) console.log(line(row));
console.log(`(${seconds.toFixed(1)} s${sink ? `, ${sink}` : ""})`);
