// A raw TFTP read client for the tests (lock-step RRQ/DATA/ACK, RFC 2347
// options), written with plain Buffers and dgram. Every wait is bounded.

import { createSocket } from "node:dgram";

export interface GetOptions {
  blksize?: number;
  /** Ask tsize (0): the OACK then carries the size the server announces. */
  tsize?: boolean;
  /** ms to wait for one packet before re-sending the last one. */
  packetTimeoutMs?: number;
  /** Re-sends before giving up. */
  retries?: number;
  /** Stop after this many DATA blocks and send an ERROR (client gives up). */
  abortAfterBlocks?: number;
  /** Called after each DATA block with the bytes received so far. */
  onData?: (bytes: number) => void;
}

export interface GetResult {
  data: Buffer;
  /** Options of the OACK, when the server sent one. */
  oack: Record<string, string> | undefined;
  /** The ERROR packet that ended the transfer, if any. */
  error: { code: number; message: string } | undefined;
  /** DATA blocks received before the end (or the error). */
  blocks: number;
}

function rrq(file: string, options: Record<string, string>): Buffer {
  const parts = [Buffer.from([0, 1]), Buffer.from(file), Buffer.from([0]), Buffer.from("octet"), Buffer.from([0])];
  for (const [k, v] of Object.entries(options)) parts.push(Buffer.from(k), Buffer.from([0]), Buffer.from(v), Buffer.from([0]));
  return Buffer.concat(parts);
}

function ack(block: number): Buffer {
  return Buffer.from([0, 4, (block >> 8) & 0xff, block & 0xff]);
}

export function tftpGet(port: number, file: string, o: GetOptions = {}, host = "127.0.0.1"): Promise<GetResult> {
  const opts: Record<string, string> = {};
  if (o.blksize) opts.blksize = String(o.blksize);
  if (o.tsize) opts.tsize = "0";
  const blksize0 = 512;
  const packetTimeoutMs = o.packetTimeoutMs ?? 3000;
  const retries = o.retries ?? 5;
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let blksize = blksize0;
    let expected = 1; // next DATA block (16-bit wrap handled by counting)
    let blocks = 0;
    let received = 0;
    let oack: Record<string, string> | undefined;
    let peer: { port: number; address: string } | undefined;
    let last: { buf: Buffer; port: number } = { buf: rrq(file, opts), port };
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error?: { code: number; message: string }, failure?: Error): void => {
      clearTimeout(timer);
      socket.close();
      if (failure) reject(failure);
      else resolve({ data: Buffer.concat(chunks), oack, error, blocks });
    };
    const send = (buf: Buffer, to: number): void => {
      last = { buf, port: to };
      socket.send(buf, to, host);
      arm();
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > retries) return finish(undefined, new Error(`tftpGet ${file}: no answer after ${retries} re-sends (got ${blocks} blocks)`));
        socket.send(last.buf, last.port, host);
        arm();
      }, packetTimeoutMs);
    };
    socket.on("message", (msg, rinfo) => {
      if (peer && (rinfo.port !== peer.port || rinfo.address !== peer.address)) return;
      peer ??= { port: rinfo.port, address: rinfo.address };
      const op = msg.readUInt16BE(0);
      if (op === 5) {
        const end = msg.indexOf(0, 4);
        return finish({ code: msg.readUInt16BE(2), message: msg.toString("utf8", 4, end < 0 ? msg.length : end) });
      }
      if (op === 6 && expected === 1 && blocks === 0) {
        const parts = msg.toString("latin1", 2).split("\0");
        oack = {};
        for (let i = 0; i + 1 < parts.length; i += 2) oack[parts[i].toLowerCase()] = parts[i + 1];
        if (oack.blksize) blksize = Number(oack.blksize);
        tries = 0;
        return send(ack(0), peer.port);
      }
      if (op === 3) {
        const block = msg.readUInt16BE(2);
        if (block !== (expected & 0xffff)) {
          // A duplicate of the previous block: ACK it again.
          return socket.send(ack(block), peer.port, host);
        }
        const data = msg.subarray(4);
        chunks.push(Buffer.from(data));
        blocks++;
        received += data.length;
        o.onData?.(received);
        expected++;
        tries = 0;
        if (o.abortAfterBlocks !== undefined && blocks >= o.abortAfterBlocks) {
          socket.send(Buffer.from([0, 5, 0, 0, ...Buffer.from("client gives up"), 0]), peer.port, host, () => finish());
          clearTimeout(timer);
          return;
        }
        if (data.length < blksize) {
          socket.send(ack(block), peer.port, host, () => finish());
          clearTimeout(timer);
          return;
        }
        return send(ack(block), peer.port);
      }
    });
    socket.on("error", (err) => finish(undefined, err));
    socket.bind(0, host, () => send(last.buf, port));
  });
}
