import type {
  ClientRecord,
  LogBounds,
  LogSize,
  NewMessage,
  ProducerBatch,
  ProducerMark,
  ReadLimits,
  ReadResult,
  RetentionLimits,
  Store,
  StoredMessage,
} from './store.js';
import { NO_RETENTION } from './store.js';
import { mergeMarks, sortedMarks, type MarkTable } from './producer-marks.js';
import { ReadScan } from './read-scan.js';
import { latestTs, RetentionCut, trimByClock } from './retention.js';

/** A store in memory, for throw-away runs and tests. Everything is lost when the process ends. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  private log: StoredMessage[] = [];
  private head = 0;
  private firstId = 1;
  private nextId = 1;
  private textBytes = 0;
  private readonly producers = new Map<bigint, number>();
  private readonly marks = new Map<bigint, MarkTable>();
  private readonly cursors = new Map<string, number>();
  private readonly clientRecords = new Map<string, ClientRecord>();

  private readonly ageTimer: NodeJS.Timeout | undefined;

  constructor(private readonly retention: RetentionLimits = NO_RETENTION) {
    this.ageTimer = trimByClock(retention, (now) => this.trim(now));
  }

  producerSeq(producerId: bigint): Promise<number | undefined> {
    return Promise.resolve(this.producers.get(producerId));
  }

  producerMarks(producerId: bigint): Promise<ProducerMark[]> {
    return Promise.resolve(sortedMarks(this.marks.get(producerId)?.values() ?? []));
  }

  append(batches: ProducerBatch[]): Promise<(number | null)[]> {
    const firstIds = batches.map((b) => {
      const prev = this.producers.get(b.producerId) ?? 0;
      if (b.afterSeq !== undefined && prev > b.afterSeq) return null;
      const first = this.nextId;
      for (const m of b.messages) this.push(m);
      this.producers.set(b.producerId, Math.max(prev, b.lastSeq));
      if (b.marks) {
        const table = this.marks.get(b.producerId) ?? new Map<string, ProducerMark>();
        mergeMarks(table, b.marks);
        this.marks.set(b.producerId, table);
      }
      return first;
    });
    this.trim(latestTs(batches));
    return Promise.resolve(firstIds);
  }

  read(from: number, limits: ReadLimits): Promise<ReadResult> {
    const first = this.firstId;
    const scan = new ReadScan(Math.max(from, first), limits);
    // The array holds the log from id firstId - head (its first `head` entries are trimmed, not yet cut).
    scan.take(first - this.head, this.log);
    return Promise.resolve({ messages: scan.messages, next: scan.atEnd ? this.nextId : scan.next, first, atEnd: scan.atEnd });
  }

  bounds(): Promise<LogBounds> {
    return Promise.resolve({ first: this.firstId, next: this.nextId });
  }

  size(): Promise<LogSize> {
    return Promise.resolve({ first: this.firstId, next: this.nextId, bytes: this.textBytes });
  }

  cursor(name: string): Promise<number | undefined> {
    return Promise.resolve(this.cursors.get(name));
  }

  saveCursors(cursors: ReadonlyMap<string, number>): Promise<void> {
    for (const [name, pos] of cursors) this.cursors.set(name, pos);
    return Promise.resolve();
  }

  saveClient(client: ClientRecord): Promise<void> {
    this.clientRecords.set(`${client.role}:${client.name}`, { ...client });
    return Promise.resolve();
  }

  clients(): Promise<ClientRecord[]> {
    return Promise.resolve([...this.clientRecords.values()].map((c) => ({ ...c })));
  }

  forgetClients(seenBefore: number): Promise<number> {
    let forgotten = 0;
    for (const [key, c] of this.clientRecords) {
      if (c.online || c.lastSeen >= seenBefore) continue;
      this.clientRecords.delete(key);
      if (c.role === 'reader') this.cursors.delete(c.name);
      forgotten++;
    }
    return Promise.resolve(forgotten);
  }

  close(): Promise<void> {
    clearInterval(this.ageTimer);
    return Promise.resolve();
  }

  private push(m: NewMessage): void {
    const stored: StoredMessage =
      m.to === undefined
        ? { id: this.nextId, ts: m.ts, from: m.from, text: m.text }
        : { id: this.nextId, ts: m.ts, from: m.from, to: m.to, text: m.text };
    if (m.file !== undefined) stored.file = m.file;
    this.log.push(stored);
    this.nextId++;
    this.textBytes += m.text.length;
  }

  private trim(now: number): void {
    const cut = new RetentionCut(this.retention, { first: this.firstId, next: this.nextId, bytes: this.textBytes }, now);
    while (cut.first < this.nextId) {
      const oldest = this.log[this.head]!;
      if (!cut.drops(oldest.ts)) break;
      cut.droppedTo(cut.first + 1, oldest.text.length);
      this.head++;
    }
    this.firstId = cut.first;
    this.textBytes = cut.bytes;
    if (this.head > 4096 && this.head * 2 > this.log.length) {
      this.log = this.log.slice(this.head);
      this.head = 0;
    }
  }
}
