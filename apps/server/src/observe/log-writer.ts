// Session log lines, gathered and written together: one write for every
// line of up to FLUSH_MS (or FLUSH_CHARS of text, whichever comes first)
// instead of one (blocking, for a pipe or a file) write per session or per
// turn of the event loop. A line leaves at most FLUSH_MS after its session
// ended; what is gathered is written before the process exits.

/** Longest a gathered line waits, in ms. */
export const FLUSH_MS = 25;
/** Gathered text that is written at once, without waiting (characters). */
export const FLUSH_CHARS = 64 * 1024;

export class LineWriter {
  private lines: string[] = [];
  private chars = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  write(line: string): void {
    this.lines.push(line);
    this.chars += line.length + 1;
    if (this.chars >= FLUSH_CHARS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(this.flush, FLUSH_MS);
      // Lines alone do not hold the process; its exit handler flushes them.
      this.timer.unref();
    }
  }

  /** Writes what is gathered now (also called before the process exits). */
  readonly flush = (): void => {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lines.length === 0) return;
    const text = this.lines.join("\n") + "\n";
    this.lines = [];
    this.chars = 0;
    this.out.write(text);
  };
}
