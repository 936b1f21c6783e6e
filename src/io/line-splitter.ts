/**
 * Splits a byte stream into lines: '\n' ends a line, one trailing '\r' is dropped, a final unterminated
 * line counts. A line longer than `maxBytes` is not kept: its size is reported instead, so that memory
 * stays bounded whatever the input.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private oversize = false;
  /** Input bytes before the current chunk. */
  private base = 0;
  /**
   * Input bytes up to the end of the line being handed on (its newline included): where the input goes
   * on after it, for a caller that keeps its place (a followed file).
   */
  lineEnd = 0;

  constructor(
    private readonly maxBytes: number,
    /** A line: `bytes[start, end)`, a slice of a pushed chunk (or of a copy, for a line over several). */
    private readonly onLine: (bytes: Buffer, start: number, end: number) => void,
    private readonly onOversize: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      this.lineEnd = this.base + nl + 1;
      if (this.parts.length === 0 && !this.oversize) this.wholeLine(chunk, start, nl);
      else {
        this.take(chunk.subarray(start, nl));
        this.endLine();
      }
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
    this.base += chunk.length;
  }

  end(): void {
    this.lineEnd = this.base;
    if (this.partBytes > 0 || this.parts.length > 0) this.endLine();
  }

  private take(piece: Buffer): void {
    this.partBytes += piece.length;
    if (this.oversize) return;
    // Keep one byte beyond the limit: a line of exactly maxBytes may still have a '\r' to drop.
    if (this.partBytes > this.maxBytes + 1) {
      this.oversize = true;
      this.parts = [];
      return;
    }
    this.parts.push(piece);
  }

  /** A whole line, `bytes[start, end)`: within one chunk (the usual case, handed on uncopied) or joined. */
  private wholeLine(chunk: Buffer, start: number, end: number): void {
    if (end > start && chunk[end - 1] === 0x0d) end--;
    if (end - start > this.maxBytes) this.onOversize(end - start);
    else this.onLine(chunk, start, end);
  }

  private endLine(): void {
    if (this.oversize) {
      // The '\r' question cannot be settled without the bytes; count it as text.
      this.onOversize(this.partBytes);
    } else {
      const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
      this.wholeLine(line, 0, line.length);
    }
    this.parts = [];
    this.partBytes = 0;
    this.oversize = false;
  }
}
