// One write session (WRQ): the receiver side of the scheduler (ACK at the end
// of each window, once per gap, the last ACK only after the upload is in
// place), then a dally period that re-ACKs a repeated last block.

import { NetasciiDecoder, Opcode, Rx, Timeout, TftpError, WireError } from "@tftpkit/wasm-core";
import { Session, codec } from "./base-session.js";
import type { SessionStats } from "./stats.js";
import type { WriteRequest, WriteTarget } from "./write.js";

export class WriteSession extends Session {
  private target: WriteTarget | undefined;
  private committed = false;
  private reply: Uint8Array = codec.encodeAck(0); // OACK or the last ACK, resent on timeout
  private writing: Promise<void> = Promise.resolve();
  private writeError: unknown;
  private readonly decoder = this.req.mode === "netascii" ? new NetasciiDecoder() : undefined;
  private bytesReceived = 0;
  private blocksReceived = 0;
  private duplicateBlocks = 0;

  private maxBytes(): number {
    return this.opts.maxUploadBytes;
  }

  start(): void {
    if (!this.open()) return;
    const announced = this.req.asked.tsize >= 0 ? this.req.asked.tsize : undefined;
    if (announced !== undefined && announced > this.maxBytes()) {
      // RFC 2349: refuse before the transfer when the announced size is too large.
      return this.failWhenReady(new TftpError(WireError.DISK_FULL, "File too large for this server"));
    }
    const handler = this.host.writeHandler;
    if (!handler) {
      return this.failWhenReady(TftpError.accessViolation("Writes are disabled on this server"));
    }
    const request: WriteRequest = { ...this.requestBase(), size: announced };
    this.answerWith(
      () => handler(request),
      (target) => {
        if (this.done()) {
          void target.abort();
          return false;
        }
        this.target = target;
        return true;
      },
    );
  }

  protected begin(): void {
    const o = this.opts;
    const neg = codec.negotiate(this.req.asked, {
      maxBlksize: this.blksizeCap(),
      maxWindowsize: o.maxWindowsize,
      tsize: -1,
      write: true,
      refuse: o.refuseOptions,
      maxTimeout: o.maxClientTimeout,
    });
    this.applyNegotiated(neg);
    this.tsize = neg.tsize;
    this.obs?.negotiated(this.optionsAcked, this.blksize, this.windowsize, this.tsize);
    const s = this.host.scheduler;
    if (s.rxStart(this.slot, this.windowsize, this.retransmitTimeoutMs(neg.timeout), o.retries) < 0) {
      return this.fail(new TftpError(WireError.UNDEFINED, "Server busy"));
    }
    if (neg.timeout <= 0) s.adaptRto(this.slot, o.rtoFloorMs); // the client set none: adapt to the round trip
    this.phase = "transfer";
    this.reply = neg.oack ?? codec.encodeAck(0);
    this.sendReply();
  }

  private sendReply(): void {
    this.send(this.reply, 0, this.reply.length);
    this.packetsSent++;
    this.host.scheduler.rxAcked(this.slot);
  }

  private ack(): void {
    this.reply = codec.encodeAck(this.host.scheduler.rxAckBlock(this.slot));
    this.sendReply();
  }

  protected handlePacket(msg: Buffer): void {
    if (this.phase !== "transfer" && this.phase !== "dally") return;
    const p = codec.decode(msg);
    if (p.opcode === Opcode.DATA) return this.onData(p.block, p.data);
    if (p.opcode === Opcode.ERROR) {
      if (this.phase === "dally") return this.finish("ok");
      return this.finish("client-error", undefined, { code: p.code, message: p.message });
    }
    this.host.countMalformed();
    this.fail(TftpError.illegalOperation("Illegal TFTP operation: expected DATA"));
  }

  private onData(block: number, data: Uint8Array): void {
    if (this.phase === "dally") {
      // The client did not get the final ACK and repeats its last block.
      this.duplicateBlocks++;
      this.retransmits++;
      this.send(this.reply, 0, this.reply.length);
      return;
    }
    if (data.length > this.blksize) {
      return this.fail(TftpError.illegalOperation("DATA larger than the negotiated blksize"));
    }
    const s = this.host.scheduler;
    const r = s.rxOnData(this.slot, block, data.length, this.blksize);
    if (r & Rx.DUPLICATE) this.duplicateBlocks++;
    if (r & Rx.DELIVER) {
      this.blocksReceived++;
      this.bytesReceived += data.length;
      if (this.bytesReceived > this.maxBytes()) {
        return this.fail(new TftpError(WireError.DISK_FULL, "File too large for this server"));
      }
      const target = this.target!;
      const chunk = this.decoder ? this.decoder.push(data) : data;
      if (chunk.length > 0) {
        this.writing = this.writing.then(() => target.write(chunk)).catch((err: unknown) => {
          this.writeError ??= err;
        });
      }
    }
    if (r & Rx.DONE) return this.complete();
    if (r & Rx.ACK) {
      if (r & Rx.DELIVER) {
        // ACK a window once its data is written: a slow disk slows the client down.
        const block16 = s.rxAckBlock(this.slot);
        void this.writing.then(() => {
          if (this.phase !== "transfer") return;
          if (this.writeError) return this.fail(this.writeError);
          this.reply = codec.encodeAck(block16);
          this.sendReply();
        });
      } else {
        this.retransmits++;
        this.ack();
      }
    }
  }

  /** The last block arrived: write, move into place, then the final ACK. */
  private complete(): void {
    this.phase = "commit";
    const target = this.target!;
    const tail = this.decoder?.end();
    this.writing
      .then(async () => {
        if (this.writeError) throw this.writeError;
        if (tail && tail.length) await target.write(tail);
        await target.commit();
        this.committed = true;
        if (this.done()) return;
        this.phase = "dally";
        this.reply = codec.encodeAck(this.host.scheduler.rxAckBlock(this.slot));
        this.sendReply();
        // Dally: stay a while to re-ACK a repeated last block (the final ACK may be lost).
        this.host.scheduler.setFixedTimeout(this.slot, this.retransmitTimeoutMs(0) * 2);
        this.host.scheduler.touch(this.slot);
      })
      .catch((err: unknown) => {
        this.phase = "transfer";
        this.fail(err);
      });
  }

  onDeadline(): void {
    if (this.phase === "dally") return this.finish("ok");
    if (this.phase === "commit") return this.host.scheduler.touch(this.slot); // still moving the file into place
    if (this.phase !== "transfer") return;
    const verdict = this.host.scheduler.rxOnTimeout(this.slot);
    this.timeouts++;
    this.obs?.timeout(this.timeouts);
    if (verdict === Timeout.RETRANSMIT) {
      this.retransmits++;
      this.obs?.retransmit(this.blocksReceived, 1, "timeout");
      return this.sendReply();
    }
    this.finish("timeout", new TftpError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT"));
  }

  protected kindStats(): Partial<SessionStats> {
    return {
      bytesReceived: this.bytesReceived,
      blocksReceived: this.blocksReceived,
      duplicateBlocks: this.duplicateBlocks,
    };
  }

  protected release(): void {
    if (this.target && !this.committed) void this.target.abort().catch(() => {});
  }
}
