import { varintBytes } from '../../protocol/bytes-writer.js';
import { ENTRIES_PER_PACKET_MAX } from '../../protocol/constants.js';
import { markEntryBytes } from '../../protocol/marks-codec.js';
import type { DataEntry, WriterMark } from '../../protocol/packets.js';
import { dataEntryBytes } from '../../protocol/sizes.js';

/** Smallest useful fragment of a line too big for a datagram. */
const FRAGMENT_BYTES_MIN = 64;
/** Lines queued at most, whatever their size. */
const QUEUE_LINES_MAX = 65_536;
const EMPTY = Buffer.alloc(0);
/** The end of a slot that holds no line, only a mark. */
const MARK_ONLY = -1;

export interface PackedEntries {
  entries: DataEntry[];
  /** Lines whose last byte is in these entries. */
  linesEnded: number;
  /** The marks sent ahead (`markAhead`) that these entries carry, as given. */
  ahead: WriterMark[];
}

/**
 * The writer's queue of lines not yet sent, and how they are cut into datagrams: as many whole lines as
 * fit, or one fragment of a line too big for a datagram. A line's first fragment is alone in its datagram
 * (docs/PROTOCOL.md, DATA), so a commit point never falls inside a line. A mark queued after a line goes
 * at the end of the datagram that ends that line (the latest per key), so it is stored with it.
 */
export class LinePacker {
  // The queue, one slot per line in each array: line i is bytes[i] from starts[i] to ends[i]. Lines are
  // slices of the input's chunks, kept without an object or a Buffer view per line: tens of thousands of
  // lines wait here under load, and each object would be copied by every young-generation GC.
  private bytesOf: Buffer[] = [];
  private starts: number[] = [];
  private ends: number[] = [];
  private tos: (string | undefined)[] = [];
  private files: (string | undefined)[] = [];
  /** The mark that follows each slot's line (most lines have none, or the caller marks only the last of a run). */
  private marks: (WriterMark | undefined)[] = [];
  /** Marks that go in the next datagram, before the queued lines (see `markAhead`). */
  private ahead: WriterMark[] = [];
  private head = 0;
  /** Bytes of the head line already packed (it is being sent in fragments). */
  private headOffset = 0;
  private bytes = 0;

  constructor(private readonly queueBytesHigh: number) {}

  /** Queues the line `bytes[start, end)`; the caller leaves those bytes as they are. */
  push(bytes: Buffer, start: number, end: number, to?: string, file?: string): void {
    this.bytesOf.push(bytes);
    this.starts.push(start);
    this.ends.push(end);
    this.tos.push(to);
    this.files.push(file);
    this.marks.push(undefined);
    this.bytes += end - start;
  }

  /**
   * A mark that follows the last line queued: it replaces that line's mark of the same key, and stands alone
   * after it when the line has a mark of another key (each key's latest must reach the store) or every
   * queued line is packed already.
   */
  mark(m: WriterMark): void {
    const last = this.bytesOf.length - 1;
    const had = this.marks[last];
    if (last >= this.head && (had === undefined || had.key.equals(m.key))) {
      this.marks[last] = m;
      return;
    }
    this.bytesOf.push(EMPTY);
    this.starts.push(0);
    this.ends.push(MARK_ONLY);
    this.tos.push(undefined);
    this.files.push(undefined);
    this.marks.push(m);
  }

  /**
   * A mark that does not depend on the lines queued (the place of an input none of whose lines is queued: a
   * file just opened): it goes in the next datagram that starts a line, ahead of the queue, so that the store
   * learns of that input at once, not after a backlog.
   */
  markAhead(m: WriterMark): void {
    this.ahead.push(m);
  }

  /** The marks sent ahead not yet packed: taken out, for a caller that sends them first itself. */
  takeAhead(): WriterMark[] {
    return this.ahead.splice(0);
  }

  get hasPending(): boolean {
    return this.head < this.bytesOf.length || this.ahead.length > 0;
  }

  /** True while more lines may be pushed without the queue growing past its bounds. */
  get acceptingInput(): boolean {
    return this.bytes < this.queueBytesHigh && this.bytesOf.length - this.head < QUEUE_LINES_MAX;
  }

  /** The entries of the next datagram, within `budget` bytes; undefined when nothing is queued. */
  next(budget: number): PackedEntries | undefined {
    if (!this.hasPending) return undefined;
    const entries: DataEntry[] = [];
    const marks = new DatagramMarks();
    let used = 0;
    let linesEnded = 0;
    const ahead: WriterMark[] = [];
    // Not inside a line: a mark there would be stored before the line's end.
    while (this.headOffset === 0 && this.ahead.length > 0) {
      const m = this.ahead[0]!;
      if (marks.size >= ENTRIES_PER_PACKET_MAX || marks.bytesWith(m) > budget) break;
      marks.put(m);
      ahead.push(m);
      this.ahead.shift();
    }
    while (this.head < this.bytesOf.length && entries.length + marks.size < ENTRIES_PER_PACKET_MAX) {
      const h = this.head;
      const bytes = this.bytesOf[h]!;
      const start = this.starts[h]! + this.headOffset;
      const end = this.ends[h]!;
      const mark = this.marks[h];
      // What the datagram's marks cost with this slot's mark in place of an earlier one of its key.
      const withMark = mark ? marks.bytesWith(mark) : marks.bytes;
      if (end === MARK_ONLY) {
        if (used + withMark > budget) break;
        marks.put(mark!);
        this.advance();
        continue;
      }
      const to = this.headOffset === 0 ? this.tos[h] : undefined;
      const file = this.headOffset === 0 ? this.files[h] : undefined;
      const whole = dataEntryBytes(end - start, to, file);
      if (used + whole + withMark <= budget) {
        entries.push(entry(bytes.subarray(start, end), false, this.headOffset > 0, to, file));
        used += whole;
        linesEnded++;
        if (mark) marks.put(mark);
        this.advance();
        continue;
      }
      if (entries.length > 0 || marks.size > 0) break; // the line starts (or goes on in) a datagram of its own
      const room = budget - dataEntryBytes(0, to, file) - varintBytes(budget) + 1;
      // The rest would fit but for its mark: it leaves a byte for the last fragment, which carries the mark.
      const chunk = Math.min(Math.max(FRAGMENT_BYTES_MIN, room), end - start - 1);
      entries.push(entry(bytes.subarray(start, start + chunk), true, this.headOffset > 0, to, file));
      this.headOffset += chunk;
      break;
    }
    for (const m of marks.list) entries.push({ more: false, continued: false, mark: m.key, text: m.value });
    return { entries, linesEnded, ahead };
  }

  private advance(): void {
    const h = this.head;
    if (this.ends[h]! !== MARK_ONLY) this.bytes -= this.ends[h]! - this.starts[h]!;
    this.bytesOf[h] = EMPTY; // lets the input's chunk go once its lines are sent
    this.marks[h] = undefined;
    this.headOffset = 0;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.bytesOf.length) {
      for (const a of [this.bytesOf, this.starts, this.ends, this.tos, this.files, this.marks]) a.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** The marks of one datagram: the latest per key (a datagram holds few keys: looked up one by one). */
class DatagramMarks {
  readonly list: WriterMark[] = [];
  /** What their entries cost. */
  bytes = 0;

  get size(): number {
    return this.list.length;
  }

  /** What their entries would cost with `m` in place of the one of its key. */
  bytesWith(m: WriterMark): number {
    const before = this.list[this.indexOf(m)];
    return this.bytes + markEntryBytes(m.key.length, m.value.length) - (before ? markEntryBytes(before.key.length, before.value.length) : 0);
  }

  put(m: WriterMark): void {
    this.bytes = this.bytesWith(m);
    const i = this.indexOf(m);
    if (i >= 0) this.list[i] = m;
    else this.list.push(m);
  }

  private indexOf(m: WriterMark): number {
    // Called for every line: a plain loop, no closure.
    for (let i = 0; i < this.list.length; i++) {
      const key = this.list[i]!.key;
      if (key === m.key || key.equals(m.key)) return i;
    }
    return -1;
  }
}

function entry(text: Buffer, more: boolean, continued: boolean, to: string | undefined, file: string | undefined): DataEntry {
  const e: DataEntry = to === undefined ? { text, more, continued } : { text, more, continued, to };
  if (file !== undefined) e.file = file;
  return e;
}
