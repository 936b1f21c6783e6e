import { readCost, type ReadLimits, type StoredMessage } from './store.js';

/** Messages scanned at most per read, so that a reader filtering out others' direct messages stays cheap. */
export const SCAN_MAX = 50_000;

/**
 * A read of stored records, message by message: skips direct messages addressed to someone else, stops
 * at the reader's limits (always taking at least one message) or after SCAN_MAX scanned, and knows where
 * the next read goes on. Stores feed it records in order from the one holding the read's start.
 */
export class ReadScan {
  readonly messages: StoredMessage[] = [];
  /** Where the next read continues. */
  next: number;
  /** The next id to look at. */
  cursor: number;
  /** No limit stopped the read. */
  atEnd = true;
  private bytes = 0;
  private scanned = 0;

  constructor(
    start: number,
    private readonly limits: ReadLimits,
  ) {
    this.next = start;
    this.cursor = start;
  }

  /** Takes what it may of a record (messages `first`…). False once a limit has stopped the read. */
  take(first: number, messages: readonly StoredMessage[]): boolean {
    const { limits } = this;
    for (let i = Math.max(0, this.cursor - first); i < messages.length; i++) {
      const id = first + i;
      if (this.messages.length >= limits.maxMessages || this.scanned >= SCAN_MAX) return this.stop();
      this.scanned++;
      const m = messages[i]!;
      if (m.to !== undefined && m.to !== limits.user) {
        this.next = id + 1;
        continue;
      }
      const cost = readCost(m, limits);
      if (this.messages.length > 0 && this.bytes + cost > limits.maxBytes) return this.stop();
      this.messages.push(m);
      this.bytes += cost;
      this.next = id + 1;
    }
    this.cursor = Math.max(this.cursor, first + messages.length);
    return true;
  }

  /** The log starts later than the read did (retention removed the rest): go on from there. */
  skipTo(id: number): void {
    if (id <= this.cursor) return;
    this.cursor = id;
    this.next = id;
  }

  private stop(): false {
    this.atEnd = false;
    return false;
  }
}
