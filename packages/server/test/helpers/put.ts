// A scripted uploader (WRQ) on the raw test client: sends DATA in windows and
// waits for the server's ACKs, with hooks to drop or repeat packets.

import { dataPacket, errorPacket, wrq, type OptionList, type Received, type UdpClient } from "./client.js";

export interface PutOptions {
  mode?: string;
  options?: OptionList;
  /** Called before each DATA is sent; return false to skip sending it (loss). */
  beforeData?: (block: number, attempt: number) => boolean;
  /** Abort with an ERROR after this many blocks. */
  abortAfter?: number;
  /** Repeat the last DATA after the final ACK (as if the final ACK were lost). */
  repeatLast?: boolean;
  /** Called when the final ACK arrives, before the client does anything else. */
  onFinalAck?: () => void | Promise<void>;
  timeoutMs?: number;
}

export interface PutResult {
  /** ERROR the server answered, if any. */
  error?: { code: number; message: string };
  oack?: OptionList;
  /** Port the server answered from. */
  serverPort: number;
  serverAddress: string;
  acks: number[];
  /** Answer to the repeated last block (repeatLast). */
  repeatAnswer?: Received | null;
}

export async function put(c: UdpClient, port: number, name: string, data: Buffer, o: PutOptions = {}): Promise<PutResult> {
  const timeoutMs = o.timeoutMs ?? 3000;
  c.send(wrq(name, o.mode ?? "octet", o.options ?? []), port);
  const first = await c.recv(timeoutMs);
  const res: PutResult = { serverPort: first.port, serverAddress: first.address, acks: [] };
  let blksize = 512;
  let window = 1;
  if (first.pkt.op === "ERROR") {
    res.error = { code: first.pkt.code, message: first.pkt.message };
    return res;
  }
  if (first.pkt.op === "OACK") {
    res.oack = first.pkt.options;
    for (const [k, v] of first.pkt.options) {
      if (k === "blksize") blksize = Number(v);
      if (k === "windowsize") window = Number(v);
    }
  } else if (!(first.pkt.op === "ACK" && first.pkt.block === 0)) {
    throw new Error(`unexpected first answer ${JSON.stringify(first.pkt)}`);
  }
  const blocks = Math.floor(data.length / blksize) + 1;
  const attempts = new Map<number, number>();
  let acked = 0;
  const sendBlock = (b: number): void => {
    const n = (attempts.get(b) ?? 0) + 1;
    attempts.set(b, n);
    if (o.beforeData && !o.beforeData(b, n)) return;
    c.send(dataPacket(b, data.subarray((b - 1) * blksize, b * blksize)), res.serverPort, res.serverAddress);
  };
  let rounds = 0;
  while (acked < blocks) {
    if (++rounds > blocks * 4 + 50) throw new Error("put: too many rounds");
    if (o.abortAfter !== undefined && acked >= o.abortAfter) {
      c.send(errorPacket(0, "client aborted"), res.serverPort, res.serverAddress);
      return res;
    }
    const end = Math.min(blocks, acked + window);
    for (let b = acked + 1; b <= end; b++) sendBlock(b);
    let r: Received;
    try {
      r = await c.recv(timeoutMs);
    } catch {
      continue; // resend the window
    }
    if (r.pkt.op === "ERROR") {
      res.error = { code: r.pkt.code, message: r.pkt.message };
      return res;
    }
    if (r.pkt.op !== "ACK") continue;
    // 16-bit block number back to the absolute one near `acked`.
    const abs = acked + ((r.pkt.block - (acked & 0xffff) + 0x10000) & 0xffff);
    res.acks.push(r.pkt.block);
    if (abs > acked && abs <= blocks) acked = abs;
  }
  await o.onFinalAck?.();
  if (o.repeatLast) {
    sendBlock(blocks);
    res.repeatAnswer = await c.recvOrNull(1000);
  }
  return res;
}
