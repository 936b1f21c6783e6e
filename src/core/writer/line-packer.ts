import { varintBytes } from '../../protocol/bytes-writer.js';
import type { DataEntry } from '../../protocol/packets.js';
import { dataEntryBytes } from '../../protocol/sizes.js';

/** Smallest useful fragment of a line too big for a datagram. */
const FRAGMENT_BYTES_MIN = 64;
/** Lines queued at most, whatever their size. */
const QUEUE_LINES_MAX = 65_536;

interface Line {
  text: Buffer;
  to?: string;
}

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
  private queue: Line[] = [];
  private head = 0;
  /** Bytes of the head line already packed (it is being sent in fragments). */
  private headOffset = 0;
  private bytes = 0;

  constructor(private readonly queueBytesHigh: number) {}

  push(text: Buffer, to?: string): void {
    this.queue.push(to === undefined ? { text } : { text, to });
    this.bytes += text.length;
  }

  get hasPending(): boolean {
    return this.head < this.queue.length;
  }

  /** True while more lines may be pushed without the queue growing past its bounds. */
  get acceptingInput(): boolean {
    return this.bytes < this.queueBytesHigh && this.queue.length - this.head < QUEUE_LINES_MAX;
  }

  /** The entries of the next datagram, within `budget` bytes; undefined when nothing is queued. */
  next(budget: number): PackedEntries | undefined {
    if (!this.hasPending) return undefined;
    const entries: DataEntry[] = [];
    let used = 0;
    let linesEnded = 0;
    while (this.hasPending) {
      const line = this.queue[this.head]!;
      const to = this.headOffset === 0 ? line.to : undefined;
      const rest = line.text.length - this.headOffset;
      const whole = dataEntryBytes(rest, to);
      if (used + whole <= budget) {
        entries.push(entry(line.text.subarray(this.headOffset), false, this.headOffset > 0, to));
        used += whole;
        linesEnded++;
        this.advance();
        continue;
      }
      if (entries.length > 0) break; // the line starts (or goes on in) a datagram of its own
      const room = budget - dataEntryBytes(0, to) - varintBytes(budget) + 1;
      const chunk = Math.max(FRAGMENT_BYTES_MIN, room);
      entries.push(entry(line.text.subarray(this.headOffset, this.headOffset + chunk), true, this.headOffset > 0, to));
      this.headOffset += chunk;
      break;
    }
    return { entries, linesEnded };
  }

  private advance(): void {
    this.bytes -= this.queue[this.head]!.text.length;
    this.headOffset = 0;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

function entry(text: Buffer, more: boolean, continued: boolean, to: string | undefined): DataEntry {
  return to === undefined ? { text, more, continued } : { text, more, continued, to };
}
