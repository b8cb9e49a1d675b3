// Session log lines, gathered and written together: one write for every
// line of up to FLUSH_MS (or FLUSH_BYTES of text, whichever comes first)
// instead of one (blocking, for a pipe or a file) write per session or per
// turn of the event loop. A line leaves at most FLUSH_MS after its session
// ended; what is gathered is written before the process exits.

/** Longest a gathered line waits, in ms. */
export const FLUSH_MS = 25;
/** Gathered text that is written at once, without waiting (bytes, UTF-8). */
export const FLUSH_BYTES = 64 * 1024;

/**
 * Each line goes into a buffer as UTF-8 when it is written: the line's
 * string (built from many pieces) is let go of at once instead of being held
 * until the write, where V8's young generation would copy it, and the write
 * gets the bytes as they are (no joined string to encode again).
 */
export class LineWriter {
  private readonly buf: Buffer;
  private used = 0;
  private timer: NodeJS.Timeout | undefined;

  /** @param bytes the buffer (FLUSH_BYTES; smaller only to make a writer flush sooner, as the warm-up's does) */
  constructor(private readonly out: NodeJS.WritableStream = process.stdout, bytes = FLUSH_BYTES) {
    this.buf = Buffer.allocUnsafeSlow(bytes);
  }

  write(line: string): void {
    // At most 3 bytes per UTF-16 unit, and the newline.
    const most = line.length * 3 + 1;
    if (this.used + most > this.buf.length) {
      this.flush();
      if (most > this.buf.length) {
        this.out.write(`${line}\n`); // a line longer than the buffer goes alone
        return;
      }
    }
    this.used += this.buf.write(line, this.used);
    this.buf[this.used++] = 0x0a;
    if (this.used + 1024 > this.buf.length) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(this.onTimer, FLUSH_MS);
      // Lines alone do not hold the process; its exit handler flushes them.
      this.timer.unref();
    }
  }

  /** Writes what is gathered now (also called before the process exits). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.used === 0) return;
    // The stream keeps what it is given until it is written: it gets a copy of
    // what is gathered (often one line), the buffer stays for the next lines.
    const bytes = Buffer.from(this.buf.subarray(0, this.used));
    this.used = 0;
    this.out.write(bytes);
  }

  /**
   * The flush timer's callback. flush itself is a method (one function for
   * every writer, so that the JIT's code for a call of it, compiled while
   * the warm-up's writer ran, holds for the server's); this is the writer's own.
   */
  private readonly onTimer = (): void => this.flush();
}
