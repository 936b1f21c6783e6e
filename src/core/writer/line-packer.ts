import { varintBytes } from '../../protocol/bytes-writer.js';
import type { DataEntry } from '../../protocol/packets.js';
import { dataEntryBytes } from '../../protocol/sizes.js';

/** Smallest useful fragment of a line too big for a datagram. */
const FRAGMENT_BYTES_MIN = 64;
/** Lines queued at most, whatever their size. */
const QUEUE_LINES_MAX = 65_536;
const EMPTY = Buffer.alloc(0);

export interface PackedEntries {
  entries: DataEntry[];
  /** Lines whose last byte is in these entries. */
  linesEnded: number;
}

/**
 * The writer's queue of lines not yet sent, and how they are cut into datagrams: as many whole lines as
 * fit, or one fragment of a line too big for a datagram. A line's first fragment is alone in its datagram
 * (docs/PROTOCOL.md, DATA), so a commit point never falls inside a line.
 */
export class LinePacker {
  // The queue, one slot per line in each array: line i is bytes[i] from starts[i] to ends[i]. Lines are
  // slices of the input's chunks, kept without an object or a Buffer view per line: tens of thousands of
  // lines wait here under load, and each object would be copied by every young-generation GC.
  private bytesOf: Buffer[] = [];
  private starts: number[] = [];
  private ends: number[] = [];
  private tos: (string | undefined)[] = [];
  private head = 0;
  /** Bytes of the head line already packed (it is being sent in fragments). */
  private headOffset = 0;
  private bytes = 0;

  constructor(private readonly queueBytesHigh: number) {}

  /** Queues the line `bytes[start, end)`; the caller leaves those bytes as they are. */
  push(bytes: Buffer, start: number, end: number, to?: string): void {
    this.bytesOf.push(bytes);
    this.starts.push(start);
    this.ends.push(end);
    this.tos.push(to);
    this.bytes += end - start;
  }

  get hasPending(): boolean {
    return this.head < this.bytesOf.length;
  }

  /** True while more lines may be pushed without the queue growing past its bounds. */
  get acceptingInput(): boolean {
    return this.bytes < this.queueBytesHigh && this.bytesOf.length - this.head < QUEUE_LINES_MAX;
  }

  /** The entries of the next datagram, within `budget` bytes; undefined when nothing is queued. */
  next(budget: number): PackedEntries | undefined {
    if (!this.hasPending) return undefined;
    const entries: DataEntry[] = [];
    let used = 0;
    let linesEnded = 0;
    while (this.hasPending) {
      const h = this.head;
      const bytes = this.bytesOf[h]!;
      const start = this.starts[h]! + this.headOffset;
      const end = this.ends[h]!;
      const to = this.headOffset === 0 ? this.tos[h] : undefined;
      const whole = dataEntryBytes(end - start, to);
      if (used + whole <= budget) {
        entries.push(entry(bytes.subarray(start, end), false, this.headOffset > 0, to));
        used += whole;
        linesEnded++;
        this.advance();
        continue;
      }
      if (entries.length > 0) break; // the line starts (or goes on in) a datagram of its own
      const room = budget - dataEntryBytes(0, to) - varintBytes(budget) + 1;
      const chunk = Math.max(FRAGMENT_BYTES_MIN, room);
      entries.push(entry(bytes.subarray(start, start + chunk), true, this.headOffset > 0, to));
      this.headOffset += chunk;
      break;
    }
    return { entries, linesEnded };
  }

  private advance(): void {
    const h = this.head;
    this.bytes -= this.ends[h]! - this.starts[h]!;
    this.bytesOf[h] = EMPTY; // lets the input's chunk go once its lines are sent
    this.headOffset = 0;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.bytesOf.length) {
      for (const a of [this.bytesOf, this.starts, this.ends, this.tos]) a.splice(0, this.head);
      this.head = 0;
    }
  }
}

function entry(text: Buffer, more: boolean, continued: boolean, to: string | undefined): DataEntry {
  return to === undefined ? { text, more, continued } : { text, more, continued, to };
}
