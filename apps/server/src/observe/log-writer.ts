// Session log lines, gathered and written once per turn of the event loop:
// one write for every line of that turn instead of one (blocking, for a pipe
// or a file) write per session.

export class LineWriter {
  private lines: string[] = [];
  private scheduled = false;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  write(line: string): void {
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes what is gathered now (also called before the process exits). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.join("\n") + "\n";
    this.lines = [];
    this.out.write(text);
  };
}
