// One write session (WRQ): the one windowed receiver (BlockReceiver, shared
// with the client's get) takes the blocks (ACK at the end of each window,
// once per gap, the last ACK only after the upload is in place), then a dally
// period re-ACKs a repeated last block.

import { BlockReceiver, Opcode, TftpError, WireError } from "@tftpkit/wasm-core";
import { Session, codec } from "./base-session.js";
import type { SessionStats } from "../observe/stats.js";
import type { WriteRequest, WriteTarget } from "../files/write.js";

export class WriteSession extends Session {
  private target: WriteTarget | undefined;
  private committed = false;
  private receiver: BlockReceiver | undefined;

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
    // Not a spread of the base: that would call the shared `signal` getter
    // (an AbortController per upload whether the handler looks at it or not).
    const request = this.requestBase() as WriteRequest;
    request.size = announced;
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
      maxTimeout: o.maxClientTimeoutSeconds,
    });
    this.applyNegotiated(neg);
    this.tsize = neg.tsize;
    this.obs?.negotiated(this.optionsAcked, this.blksize, this.windowsize, this.tsize);
    const target = this.target!;
    const receiver = new BlockReceiver(this.host.scheduler, this, {
      send: this.send,
      failed: (err) => this.fail(err),
      commit: async () => {
        this.phase = "commit";
        await target.commit();
        this.committed = true;
      },
      received: () => {
        if (this.done()) return;
        // Dally: stay a while to re-ACK a repeated last block (the final ACK may be lost).
        this.phase = "dally";
        this.rememberRtt(); // before the dally's fixed timeout ends the estimate
        receiver.dally(this.retransmitTimeoutMs(0) * 2);
      },
    }, target, {
      blksize: this.blksize,
      windowsize: this.windowsize,
      timeoutMs: this.retransmitTimeoutMs(neg.timeout),
      retries: o.retries,
      rtoFloorMs: neg.timeout > 0 ? 0 : o.rtoFloorMs, // the client set none: adapt to the round trip
      rttSeed: this.rttSeed(neg.timeout), // and start from its earlier sessions' estimate
      netascii: this.req.mode === "netascii",
      limitBytes: this.maxBytes(),
      budget: this.host.buffers,
    });
    this.receiver = receiver;
    this.phase = "transfer";
    if (!receiver.start(neg.oack, this.slot)) return this.fail(new TftpError(WireError.UNDEFINED, "Server busy"));
    this.watchProgress();
  }

  protected handlePacket(msg: Buffer): void {
    if (this.phase !== "transfer" && this.phase !== "dally") return;
    const p = codec.decode(msg);
    if (p.opcode === Opcode.DATA) {
      this.receiver!.onData(p.block, p.data);
      return;
    }
    if (p.opcode === Opcode.ERROR) {
      if (this.phase === "dally") return this.finish("ok");
      return this.finish("client-error", undefined, { code: p.code, message: p.message });
    }
    this.host.countMalformed();
    this.fail(TftpError.illegalOperation("Illegal TFTP operation: expected DATA"));
  }

  /** The client closed its port: after the last block it is done (dally); while the file is moved into place the commit finishes. */
  protected override clientGone(): void {
    if (this.phase === "dally") return this.finish("ok");
    if (this.phase === "commit") return;
    super.clientGone();
  }

  onDeadline(): void {
    if (this.phase === "dally") return this.finish("ok");
    if (this.phase !== "transfer" && this.phase !== "commit") return;
    const receiver = this.receiver!;
    const verdict = receiver.onTimeout();
    if (verdict === "waiting") return; // still writing, or moving the file into place
    this.timeouts++;
    this.obs?.timeout(this.timeouts);
    if (verdict === "retransmit") {
      this.obs?.retransmit(receiver.blocks, 1, "timeout");
      return;
    }
    this.finish("timeout", new TftpError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT"));
  }

  protected kindStats(k: Partial<SessionStats> = {}): Partial<SessionStats> {
    const r = this.receiver;
    k.bytesReceived = r?.wireBytes ?? 0;
    k.blocksReceived = r?.blocks ?? 0;
    k.duplicateBlocks = r?.duplicates ?? 0;
    k.packetsSent = r?.packets ?? 0;
    k.retransmits = r?.retransmits ?? 0;
    return k;
  }

  protected release(): void {
    this.receiver?.close();
    if (this.target && !this.committed) void this.target.abort().catch(() => {});
  }

  /** After the stats are taken (kindStats reads the receiver): the receiver and its window go. */
  protected override forget(): void {
    super.forget();
    this.receiver = undefined;
  }
}
