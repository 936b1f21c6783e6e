/**
 * Splits a byte stream into lines: '\n' ends a line, one trailing '\r' is dropped, a final unterminated
 * line counts. A line longer than `maxBytes` is not kept: its size is reported instead, so that memory
 * stays bounded whatever the input.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private oversize = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOversize: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      this.take(chunk.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  end(): void {
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

  private endLine(): void {
    let bytes = this.partBytes;
    if (this.oversize) {
      // The '\r' question cannot be settled without the bytes; count it as text.
      this.onOversize(bytes);
    } else {
      let line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, bytes);
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      bytes = line.length;
      if (bytes > this.maxBytes) this.onOversize(bytes);
      else this.onLine(line);
    }
    this.parts = [];
    this.partBytes = 0;
    this.oversize = false;
  }
}
