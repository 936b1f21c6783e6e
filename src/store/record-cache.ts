import type { StoredMessage } from './store.js';

/** One stored record, decoded: the messages with ids `first` to `last`. */
export interface CachedRecord {
  first: number;
  last: number;
  messages: StoredMessage[];
  bytes: number;
}

/** A cached record in the list by use. */
interface Entry extends CachedRecord {
  older: Entry | undefined;
  newer: Entry | undefined;
  owner: RecordCache;
}

export interface RecordCacheLimits {
  messages: number;
  /** Bytes of memory: each message's text plus MESSAGE_OVERHEAD_BYTES. */
  bytes: number;
}

/** What a decoded message costs beyond its text: the object and its Buffer view (measured on Node 20). */
export const MESSAGE_OVERHEAD_BYTES = 160;

/**
 * What the stores of a process keep decoded: about 8 MB, whatever the log's size and however many
 * topics (each topic's store has a cache of its own, all drawing on `SHARED_CACHE_BUDGET`). That is the
 * last 50,000 short messages or so: the readers that follow the head (any number of them) and a reader
 * some 0.15 s behind it during a burst read from memory; one further behind reads from the store. It
 * was 32 MB: the cache was then most of the server's live heap (42 MB after 1,000,000 lines, 16 MB now),
 * turned over at the append rate, and V8 let garbage pile up far beyond it (peak RSS 331-341 MB over that
 * run, 225-262 MB now; throughput 0.94x within the noise, three runs each alternating).
 */
export const RECORD_CACHE_LIMITS: RecordCacheLimits = { messages: 65_536, bytes: 8 * 1024 * 1024 };

/**
 * Limits shared by several caches: one list by use over all their records, so that the least recently
 * used record of any of them goes first when the whole is over its limits.
 */
export class CacheBudget {
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  count = 0;
  messages = 0;
  bytes = 0;

  constructor(readonly limits: RecordCacheLimits) {}

  add(r: Entry): void {
    this.link(r);
    this.count++;
    this.messages += r.messages.length;
    this.bytes += r.bytes;
    while (this.count > 1 && (this.messages > this.limits.messages || this.bytes > this.limits.bytes)) this.oldest!.owner.evict(this.oldest!);
  }

  remove(r: Entry): void {
    this.unlink(r);
    this.count--;
    this.messages -= r.messages.length;
    this.bytes -= r.bytes;
  }

  /** Puts a record at the most recently used end of the list. */
  touch(r: Entry): void {
    if (r === this.newest) return;
    this.unlink(r);
    this.link(r);
  }

  private link(r: Entry): void {
    r.older = this.newest;
    r.newer = undefined;
    if (this.newest) this.newest.newer = r;
    else this.oldest = r;
    this.newest = r;
  }

  private unlink(r: Entry): void {
    if (r.older) r.older.newer = r.newer;
    else this.oldest = r.newer;
    if (r.newer) r.newer.older = r.older;
    else this.newest = r.older;
    r.older = r.newer = undefined;
  }
}

/** The budget every store's cache draws on. */
export const SHARED_CACHE_BUDGET = new CacheBudget(RECORD_CACHE_LIMITS);

/**
 * The records lately appended or read, decoded, found by message id. Readers that follow the log ask for
 * the same few records again and again (a thousand readers, a thousand times a second): from here they
 * cost neither a query nor a copy of the record's bytes. Bounded by messages and bytes (records are as small
 * as one datagram's lines when the load is light), so memory does not grow with the log; the least recently
 * used record goes first. Every operation is O(log n) or amortized O(1): a full cache is the steady state of
 * a long-running server, and a put happens on every append.
 */
export class RecordCache {
  /** Sorted by `first` from `head` on; records never overlap. Slots before `head` are emptied. */
  private records: (Entry | undefined)[] = [];
  private head = 0;
  private count = 0;
  /** Its records are also in the budget's list by use. */
  private readonly budget: CacheBudget;

  /** Limits of its own, or a budget shared with other caches. */
  constructor(limits: RecordCacheLimits | CacheBudget) {
    this.budget = limits instanceof CacheBudget ? limits : new CacheBudget(limits);
  }

  /** The cached record holding message `id`. */
  find(id: number): CachedRecord | undefined {
    const at = this.indexOf(id);
    if (at < 0) return undefined;
    const r = this.records[at]!;
    this.budget.touch(r);
    return r;
  }

  put(first: number, messages: StoredMessage[]): CachedRecord {
    const found = this.find(first);
    if (found?.first === first) return found;
    let bytes = 0;
    for (const m of messages) bytes += m.text.length + MESSAGE_OVERHEAD_BYTES;
    const r: Entry = { first, last: first + messages.length - 1, messages, bytes, older: undefined, newer: undefined, owner: this };
    const rs = this.records;
    let at = rs.length;
    while (at > this.head && rs[at - 1]!.first > first) at--;
    if (at === rs.length) rs.push(r); // appends come in log order
    else rs.splice(at, 0, r);
    this.count++;
    this.budget.add(r);
    return r;
  }

  /** Forgets records from message `id` on (an append that was rolled back). */
  dropFrom(id: number): void {
    const rs = this.records;
    let at = rs.length;
    while (at > this.head && rs[at - 1]!.last >= id) at--;
    this.remove(at, rs.length - at);
  }

  /** Forgets records wholly below message `id` (removed by retention). */
  dropBelow(id: number): void {
    const rs = this.records;
    let end = this.head;
    while (end < rs.length && rs[end]!.last < id) end++;
    this.remove(this.head, end - this.head);
  }

  /** Forgets every record (the store closes): their room goes back to the budget. */
  clear(): void {
    this.remove(this.head, this.records.length - this.head);
  }

  /** The budget takes back the room of one of its least recently used records. */
  evict(r: Entry): void {
    this.remove(this.indexOf(r.first), 1);
  }

  get size(): number {
    return this.count;
  }

  /** Where the record holding `id` is in `records`, or -1. */
  private indexOf(id: number): number {
    const rs = this.records;
    let lo = this.head;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rs[mid]!;
      if (id < r.first) hi = mid - 1;
      else if (id > r.last) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** Removes `count` records from `at`: from the front by moving `head` (the usual case), else by splicing. */
  private remove(at: number, count: number): void {
    if (count <= 0) return;
    const rs = this.records;
    for (let i = at; i < at + count; i++) {
      this.budget.remove(rs[i]!);
      this.count--;
    }
    if (at === this.head) {
      rs.fill(undefined, at, at + count);
      this.head += count;
      // Emptied slots are reclaimed once they outnumber the records.
      if (this.head > 64 && this.head * 2 > rs.length) {
        this.records = rs.slice(this.head);
        this.head = 0;
      }
    } else {
      rs.splice(at, count);
    }
  }
}
