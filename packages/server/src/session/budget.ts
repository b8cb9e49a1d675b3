// One budget for the buffers of every session of a server: read-ahead rings
// and upload windows reserve their bytes here before they are allocated, so
// memory stays bounded whatever blksize and windowsize clients ask for. A
// session that finds no room is answered ERROR 0 "Server busy" (and counted).

import type { BufferBudget } from "@tftpkit/wasm-core";

export class SessionBuffers implements BufferBudget {
  /** Bytes reserved now. */
  used = 0;
  /** Most bytes reserved at once. */
  peak = 0;
  /** Reservations refused for want of room. */
  refused = 0;

  /** @param limit bytes for all sessions together (0: no limit). */
  constructor(public limit: number) {}

  take(bytes: number): boolean {
    if (this.limit > 0 && this.used + bytes > this.limit) return false;
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  refuse(): void {
    this.refused++;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}
