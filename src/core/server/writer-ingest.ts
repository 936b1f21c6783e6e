import type { DataEntry, SackRange, WriterMark } from '../../protocol/packets.js';
import { SACK_RANGES_MAX } from '../../protocol/constants.js';

export interface CompletedLine {
  to?: string;
  file?: string;
  text: Buffer;
}

export type IngestVerdict = 'accepted' | 'duplicate' | 'buffered' | 'out-of-window' | 'violation';

/**
 * One writer session's receive side: puts datagrams in sequence order, reassembles fragmented lines,
 * and knows the last "clean" sequence number (no line open across it), which is what may be committed.
 * Pure: no time, no I/O.
 */
export class WriterIngest {
  /** Every sequence number up to here has been processed. */
  received: number;
  /** Highest processed sequence number at which no line was open. */
  clean: number;
  /** Lines completed by processed datagrams and not yet handed to the store. */
  private completed: CompletedLine[] = [];
  private readonly early = new Map<number, DataEntry[]>();
  private partial: { chunks: Buffer[]; bytes: number; to?: string; file?: string } | undefined;
  /** The writer's marks in the processed datagrams not yet handed to the store, the latest per key. */
  private marks = new Map<string, WriterMark>();
  violations = 0;

  constructor(
    expectedSeq: number,
    private readonly windowMax: number,
    private readonly maxMessageBytes: number,
  ) {
    this.received = expectedSeq - 1;
    this.clean = this.received;
  }

  get bufferedCount(): number {
    return this.early.size;
  }

  /** True for a sequence number neither processed nor buffered yet. */
  isNew(seq: number): boolean {
    return seq > this.received && !this.early.has(seq);
  }

  accept(seq: number, entries: DataEntry[]): IngestVerdict {
    if (seq <= this.received) return 'duplicate';
    if (seq > this.received + this.windowMax) return 'out-of-window';
    if (seq > this.received + 1) {
      if (!isWellFormed(entries)) return 'violation';
      this.early.set(seq, entries);
      return 'buffered';
    }
    if (!isWellFormed(entries)) return 'violation';
    this.process(seq, entries);
    for (let next = this.received + 1; this.early.has(next); next++) {
      const e = this.early.get(next)!;
      this.early.delete(next);
      this.process(next, e);
    }
    return 'accepted';
  }

  /** Takes the lines completed so far and the sequence number they are committed up to. */
  drain(): { lines: CompletedLine[]; lastSeq: number; marks: WriterMark[] } {
    const lines = this.completed;
    const marks = [...this.marks.values()];
    this.completed = [];
    this.marks.clear();
    return { lines, lastSeq: this.clean, marks };
  }

  /** The store failed to take what `drain` gave: it goes first into the next drain (a later mark of a key wins). */
  giveBack(lines: CompletedLine[], marks: readonly WriterMark[]): void {
    this.completed = lines.concat(this.completed);
    const later = this.marks;
    this.marks = new Map(marks.map((m) => [m.key.toString('hex'), m]));
    for (const [k, m] of later) this.marks.set(k, m);
  }

  sacks(): SackRange[] {
    if (this.early.size === 0) return [];
    const seqs = [...this.early.keys()].sort((a, b) => a - b);
    const ranges: SackRange[] = [];
    for (const s of seqs) {
      const last = ranges[ranges.length - 1];
      if (last && last.last + 1 === s) last.last = s;
      else if (ranges.length < SACK_RANGES_MAX) ranges.push({ first: s, last: s });
      else break;
    }
    return ranges;
  }

  private process(seq: number, entries: DataEntry[]): void {
    for (const e of entries) {
      if (e.mark) {
        // A mark stands between lines: one inside a line is the writer's error, and is not kept.
        if (this.partial) this.violations++;
        else this.marks.set(e.mark.toString('hex'), { key: e.mark, value: e.text });
        continue;
      }
      if (!e.continued) {
        if (this.partial) this.dropPartial();
        if (e.more) this.partial = { chunks: [e.text], bytes: e.text.length, ...(e.to !== undefined && { to: e.to }), ...(e.file !== undefined && { file: e.file }) };
        else this.completed.push(line(e.text, e.to, e.file));
        continue;
      }
      const p = this.partial;
      if (!p) {
        this.violations++;
        continue;
      }
      p.chunks.push(e.text);
      p.bytes += e.text.length;
      if (p.bytes > this.maxMessageBytes) {
        this.dropPartial();
        continue;
      }
      if (!e.more) {
        this.completed.push(line(Buffer.concat(p.chunks, p.bytes), p.to, p.file));
        this.partial = undefined;
      }
    }
    this.received = seq;
    if (!this.partial) this.clean = seq;
  }

  private dropPartial(): void {
    this.violations++;
    this.partial = undefined;
  }
}

/**
 * A line's first fragment must stand alone in its datagram: then no commit point ever falls inside a line.
 * A datagram with a mark ends no fragment early (its marks are committed with it).
 */
function isWellFormed(entries: DataEntry[]): boolean {
  let marks = false;
  let more = false;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.mark) marks = true;
    if (e.more) more = true;
    if (marks && more) return false;
    if (e.more && !e.continued && entries.length !== 1) return false;
    if (e.more && i !== entries.length - 1) return false;
  }
  return true;
}

function line(text: Buffer, to: string | undefined, file: string | undefined): CompletedLine {
  const l: CompletedLine = to === undefined ? { text } : { to, text };
  if (file !== undefined) l.file = file;
  return l;
}
