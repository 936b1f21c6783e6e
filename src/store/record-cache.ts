import type { StoredMessage } from './store.js';

/** One stored record, decoded: the messages with ids `first` to `last`. */
export interface CachedRecord {
  first: number;
  last: number;
  messages: StoredMessage[];
  usedAt: number;
  bytes: number;
}

export interface RecordCacheLimits {
  messages: number;
  /** Bytes of text. */
  bytes: number;
}

/**
 * The records lately appended or read, decoded, found by message id. Readers that follow the log ask for
 * the same few records again and again (a thousand readers, a thousand times a second): from here they
 * cost neither a query nor a copy of the record's bytes. Bounded by messages and bytes (records are as small
 * as one datagram's lines when the load is light), so memory does not grow with the log.
 */
export class RecordCache {
  /** Sorted by `first`; records never overlap. */
  private readonly records: CachedRecord[] = [];
  private clock = 0;
  private messages = 0;
  private bytes = 0;

  constructor(private readonly limits: RecordCacheLimits) {}

  /** The cached record holding message `id`. */
  find(id: number): CachedRecord | undefined {
    const rs = this.records;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rs[mid]!;
      if (id < r.first) hi = mid - 1;
      else if (id > r.last) lo = mid + 1;
      else {
        r.usedAt = ++this.clock;
        return r;
      }
    }
    return undefined;
  }

  put(first: number, messages: StoredMessage[]): CachedRecord {
    const found = this.find(first);
    if (found?.first === first) return found;
    let bytes = 0;
    for (const m of messages) bytes += m.text.length;
    const r: CachedRecord = { first, last: first + messages.length - 1, messages, usedAt: ++this.clock, bytes };
    const rs = this.records;
    let at = rs.length;
    while (at > 0 && rs[at - 1]!.first > first) at--;
    rs.splice(at, 0, r);
    this.messages += messages.length;
    this.bytes += bytes;
    while (rs.length > 1 && (this.messages > this.limits.messages || this.bytes > this.limits.bytes)) {
      let oldest = 0;
      for (let i = 1; i < rs.length; i++) if (rs[i]!.usedAt < rs[oldest]!.usedAt) oldest = i;
      this.forget(oldest, 1);
    }
    return r;
  }

  /** Forgets records from message `id` on (an append that was rolled back). */
  dropFrom(id: number): void {
    const rs = this.records;
    let at = rs.length;
    while (at > 0 && rs[at - 1]!.last >= id) at--;
    this.forget(at, rs.length - at);
  }

  /** Forgets records wholly below message `id` (removed by retention). */
  dropBelow(id: number): void {
    const rs = this.records;
    let n = 0;
    while (n < rs.length && rs[n]!.last < id) n++;
    this.forget(0, n);
  }

  private forget(at: number, count: number): void {
    for (const r of this.records.splice(at, count)) {
      this.messages -= r.messages.length;
      this.bytes -= r.bytes;
    }
  }

  get size(): number {
    return this.records.length;
  }
}
