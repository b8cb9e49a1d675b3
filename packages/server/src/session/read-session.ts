// One read session (RRQ): the handler's answer as a DataSource, sent by the
// one windowed sender (BlockSender, shared with the client's put) through the
// session's connection. The sender reads file data straight into its ring of
// packet buffers, once the OACK is acknowledged, and only as much as the
// window needs before the client acknowledged any DATA.

import { BlockSender, Opcode, TftpError, WireError } from "@tftpkit/wasm-core";
import { Session, codec } from "./base-session.js";
import { isSized, type ReadRequest } from "../handler.js";
import { toSource, type DataSource } from "./data-source.js";
import type { SessionStats } from "../observe/stats.js";

export class ReadSession extends Session {
  private source: DataSource | undefined;
  private sender: BlockSender | undefined;
  private finalAckMissing = false;
  /** The client sent a packet after its request. */
  private spoke = false;
  /** Ended by clientGone() before the client sent anything (SessionStats.unanswered). */
  private unanswered = false;

  start(): void {
    if (!this.open()) return;
    const request: ReadRequest = this.requestBase();
    this.answerWith(
      () => this.host.read(request),
      (response) => {
        const sized = isSized(response);
        if (sized && (response.stage !== undefined || response.last)) this.obs?.answered?.(response.stage, response.last === true);
        const source = toSource(sized ? response.body : response, sized ? response.size : undefined, request.mode === "netascii", this.host.fileCache, this.opts.syncFileReads, this.host.fileReads);
        return source instanceof Promise ? source.then((s) => this.keep(s)) : this.keep(source);
      },
    );
  }

  /** Keeps the source for the transfer; false (and closed) when the session ended meanwhile. */
  private keep(source: DataSource): boolean {
    if (this.done()) {
      source.close();
      return false;
    }
    this.source = source;
    return true;
  }

  /** Negotiates, then the sender sends the OACK or the first window. */
  protected begin(): void {
    const source = this.source!;
    const o = this.opts;
    const size = source.size ?? -1;
    if (o.maxFileBytes > 0 && size > o.maxFileBytes) {
      return this.fail(new TftpError(WireError.DISK_FULL, "File too large for this server"));
    }
    const neg = codec.negotiate(this.req.asked, {
      maxBlksize: this.blksizeCap(),
      maxWindowsize: o.maxWindowsize,
      tsize: size,
      write: false,
      refuse: o.refuseOptions,
      maxTimeout: o.maxClientTimeoutSeconds,
    });
    this.applyNegotiated(neg);
    // One packet and no answer expected before the last ACK, or a size not known (-1): connected
    // from the first packet on (see CONNECT_AFTER_PACKETS).
    if (!neg.oack && size < this.blksize) this.connectNow();
    this.tsize = size;
    this.obs?.negotiated(this.optionsAcked, this.blksize, this.windowsize, size);
    const obs = this.obs;
    const sender = new BlockSender(this.host.scheduler, this, {
      send: this.send,
      failed: (err) => this.fail(err),
      retransmitted: obs ? (first, count, reason) => obs.retransmit(first, count, reason) : undefined,
    }, source, {
      blksize: this.blksize,
      windowsize: this.windowsize,
      timeoutMs: this.retransmitTimeoutMs(neg.timeout),
      retries: o.retries,
      rtoFloorMs: neg.timeout > 0 ? 0 : o.rtoFloorMs, // the client set none: adapt to the round trip
      rttSeed: this.rttSeed(neg.timeout), // and start from its earlier sessions' estimate
      first: neg.oack,
      size,
      limitBytes: o.maxFileBytes,
      budget: this.host.buffers,
    });
    this.sender = sender;
    this.phase = "transfer";
    if (!sender.start(this.slot)) return this.fail(new TftpError(WireError.UNDEFINED, "Server busy"));
    this.watchProgress();
  }

  protected handlePacket(msg: Buffer): void {
    if (this.phase !== "transfer") return;
    this.spoke = true;
    const sender = this.sender!;
    const block = codec.decodeAck(msg);
    if (block >= 0) {
      const r = sender.onAck(block);
      if (r === "done") this.finish("ok");
      return;
    }
    const p = codec.decode(msg);
    if (p.opcode === Opcode.ERROR) {
      const err = { code: p.code, message: p.message };
      // UEFI size probe: tsize asked, OACK sent, client aborts before ACK 0.
      if (sender.opening && this.req.asked.tsize >= 0) {
        // The probe's answer times the OACK's round trip: the fetch that follows starts from it.
        this.host.scheduler.txFirstAnswered(this.slot);
        return this.finish("probe", undefined, err);
      }
      return this.finish("client-error", undefined, err);
    }
    this.host.countMalformed();
    this.fail(TftpError.illegalOperation("Illegal TFTP operation: expected ACK"));
  }

  /**
   * The client closed its port. With only the final ACK missing the transfer
   * is whole (as at a timeout), if the client had the last block: it spoke
   * after its request (it acknowledged blocks, so it was there when the last
   * went out), or more packets went out than met the closed port (one
   * reached it). A request whose every packet met a closed port (a late copy
   * of a request already served) was never received: aborted.
   */
  protected override clientGone(): void {
    const sender = this.sender!;
    if (this.phase === "transfer" && sender.onlyFinalAckMissing() && (this.spoke || sender.packets > this.refusals)) {
      this.finalAckMissing = true;
      return this.finish("ok");
    }
    if (!this.spoke) this.unanswered = true;
    super.clientGone();
  }

  onDeadline(): void {
    if (this.phase !== "transfer") return;
    this.obs?.timeout(this.timeouts + 1);
    this.timeouts++;
    this.connectNow(); // a resend may follow: a closed port then answers ICMP
    switch (this.sender!.onTimeout()) {
      case "retransmit":
        return;
      case "source-stalled":
        return this.fail(new TftpError(WireError.UNDEFINED, "Data source timed out", "TFTP_ERR_TIMEOUT"), "timeout");
      case "final-ack-missing":
        this.finalAckMissing = true;
        return this.finish("ok");
      case "give-up":
        return this.finish("timeout", new TftpError(WireError.UNDEFINED, "Transfer timed out", "TFTP_ERR_TIMEOUT"));
    }
  }

  protected kindStats(k: Partial<SessionStats> = {}): Partial<SessionStats> {
    const x = this.sender;
    k.bytesSent = x?.wireBytes ?? 0;
    k.blocksAcked = x?.blocksAcked ?? 0;
    k.duplicateAcks = x?.duplicates ?? 0;
    k.packetsSent = x?.packets ?? 0;
    k.retransmits = x?.retransmits ?? 0;
    if (this.finalAckMissing) k.finalAckMissing = true;
    if (this.unanswered) k.unanswered = true;
    return k;
  }

  protected release(): void {
    this.sender?.close();
    this.source?.close();
  }

  /** After the stats are taken (kindStats reads the sender): the sender, its ring and the source go. */
  protected override forget(): void {
    super.forget();
    this.sender = undefined;
    this.source = undefined;
  }
}
