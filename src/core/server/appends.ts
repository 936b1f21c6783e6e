import { assert } from '../assert.js';
import { RECORD_OVERHEAD } from '../../protocol/records.js';
import { MARKS_HEADER_BYTES, marksItemBytes } from '../../protocol/marks-codec.js';
import type { Data, Recall, WriterMark } from '../../protocol/packets.js';
import type { NewMessage } from '../../store/store.js';
import type { TopicBatch } from '../../store/store-request.js';
import { storeFailureReason } from '../../store/store-errors.js';
import type { LogEnds } from './log-end.js';
import type { Outbox } from './outbox.js';
import { TokenBucket } from './rate-limits.js';
import type { ServerStats } from './server-config.js';
import type { SessionTable, WriterSession } from './sessions.js';

/** At most one THROTTLE per session per this many ms: it is a signal, not a reply to every datagram. */
const THROTTLE_SIGNAL_MS = 100;
/** After the store failed an append, the next try waits this long (what came meanwhile goes with it). */
export const APPEND_RETRY_MS = 1_000;

export interface AppendHooks {
  /** Messages were stored in these topics: readers waiting for them may read. */
  stored(topics: ReadonlySet<string>): void;
  /** Another server stored lines of this writer meanwhile: its session is stale, and ends. */
  superseded(w: WriterSession, now: number): void;
}

/** Writers' DATA in, group commits to the store (one at a time), ACKs out; their marks back on RECALL. */
export class Appends {
  private readonly queue = new Set<WriterSession>();
  private inFlight = false;
  /** The store failed the last append: the next waits until then. */
  private retryAt: number | undefined;

  constructor(
    private readonly out: Outbox,
    private readonly sessions: SessionTable,
    private readonly logs: LogEnds,
    private readonly stats: ServerStats,
    private readonly messagesPerSecond: number,
    private readonly hooks: AppendHooks,
  ) {}

  get deadline(): number | undefined {
    return this.queue.size > 0 ? this.retryAt : undefined;
  }

  onData(s: WriterSession, d: Data, now: number): void {
    const ingest = s.ingest!;
    if (this.messagesPerSecond > 0 && ingest.isNew(d.seq) && !this.withinRate(s, d, now)) return;
    const verdict = ingest.accept(d.seq, d.entries);
    if (verdict === 'accepted') {
      this.queue.add(s);
      this.start(s.lastSeen);
    } else if (verdict === 'duplicate' || verdict === 'buffered') {
      if (verdict === 'duplicate') this.stats.retransmissions++;
      this.sendAck(s);
    } else {
      this.stats.malformed++;
    }
  }

  /** A writer resuming asks for its marks: one datagram's worth from `from`, read from the store. */
  onRecall(s: WriterSession, r: Recall): void {
    this.out.call({ op: 'producerMarks', topic: s.topic, producerId: s.producerId }, (ok, marks) => {
      if (!ok || !this.sessions.isLive(s)) return;
      const budget = s.datagramBytes - (s.cipher ? RECORD_OVERHEAD : 0) - MARKS_HEADER_BYTES;
      const from = Math.min(r.from, marks.length);
      const page: WriterMark[] = [];
      let used = 0;
      for (let i = from; i < marks.length && page.length < 255; i++) {
        used += marksItemBytes(marks[i]!);
        if (used > budget) break;
        page.push(marks[i]!);
      }
      this.out.sendTo(s, { kind: 'marks', sessionId: s.id, requestId: r.requestId, total: marks.length, from, marks: page });
    });
  }

  /** A writer whose session ended: what it holds is not stored by it (its client sends it again). */
  forget(w: WriterSession): void {
    this.queue.delete(w);
  }

  /** The retry timer fired: the queue goes to the store again. */
  retry(now: number): void {
    this.start(now);
  }

  /** Charges the datagram's messages to the writer's rate; over it, the datagram is dropped and the writer told. */
  private withinRate(s: WriterSession, d: Data, now: number): boolean {
    const rate = this.messagesPerSecond;
    s.bucket ??= new TokenBucket(rate, now);
    let lines = 0;
    for (const e of d.entries) if (!e.more && !e.mark) lines++;
    if (s.bucket.take(lines, now)) return true;
    this.stats.throttled++;
    if (s.throttledAt === undefined || now - s.throttledAt >= THROTTLE_SIGNAL_MS) {
      s.throttledAt = now;
      this.out.sendTo(s, { kind: 'throttle', sessionId: s.id, limit: rate, retryAfterMs: s.bucket.waitMs(now) });
    }
    return false;
  }

  private sendAck(s: WriterSession): void {
    const ingest = s.ingest!;
    // Deferrable: after a commit, the replies to the readers waiting for these lines go first.
    this.out.sendTo(s, { kind: 'ack', sessionId: s.id, received: ingest.received, committed: s.committed, sacks: ingest.sacks() }, true);
  }

  /** Group commit: one append at a time; what arrives meanwhile goes into the next one. */
  private start(now: number): void {
    if (this.inFlight || this.queue.size === 0) return;
    if (this.retryAt !== undefined && now < this.retryAt) return;
    this.retryAt = undefined;
    const writers = [...this.queue];
    this.queue.clear();
    const ts = Math.floor(now);
    const batches: TopicBatch[] = writers.map((w) => {
      const { lines, lastSeq, marks } = w.ingest!.drain();
      const messages: NewMessage[] = lines.map((l) => {
        const m: NewMessage = l.to === undefined ? { ts, from: w.name, text: l.text } : { ts, from: w.name, to: l.to, text: l.text };
        if (l.file !== undefined) m.file = l.file;
        return m;
      });
      return { topic: w.topic, producerId: w.producerId, afterSeq: w.committed, lastSeq, messages, ...(marks.length > 0 && { marks }) };
    });
    this.inFlight = true;
    this.out.call({ op: 'append', batches }, (ok, firstIds, doneAt) => {
      this.inFlight = false;
      if (!ok) return this.failed(writers, batches, firstIds, doneAt);
      let stored = 0;
      const topics = new Set<string>();
      writers.forEach((w, i) => {
        const batch = batches[i]!;
        const firstId = firstIds[i]!;
        if (firstId === null) {
          // Another server stored lines of this writer meanwhile (it moved, or this server was cut off):
          // this session's view is stale. Ended, the writer registers again and learns where it stands.
          if (this.sessions.isLive(w)) this.hooks.superseded(w, doneAt);
          return;
        }
        stored += batch.messages.length;
        this.logs.of(batch.topic).advance(firstId + batch.messages.length);
        if (batch.messages.length > 0) topics.add(batch.topic);
        if (!this.sessions.isLive(w)) return;
        w.committed = Math.max(w.committed, batch.lastSeq);
        w.stored += batch.messages.length;
        // Stryker disable next-line all: an assertion holds in every run: it catches a bug, it makes no behaviour.
        assert(w.committed <= w.ingest!.received, () => `writer ${w.name} stored past what it sent`);
        this.sendAck(w);
      });
      this.stats.messagesStored += stored;
      this.stats.appends++;
      if (stored > 0) this.hooks.stored(topics);
      this.start(doneAt);
    });
  }

  /**
   * The store could not take the lines (disk full, store away): nothing is acknowledged. The lines stay
   * here, first in line, and go again after a pause; their writers are told why and keep theirs (an
   * append that was applied after all is recognised then by its writer's sequence number).
   */
  private failed(writers: WriterSession[], batches: TopicBatch[], error: unknown, now: number): void {
    this.out.storeError('append', error);
    const reason = storeFailureReason(error);
    writers.forEach((w, i) => {
      if (!this.sessions.isLive(w)) return;
      const batch = batches[i]!;
      w.ingest!.giveBack(
        batch.messages.map((m) => ({ text: m.text, ...(m.to !== undefined && { to: m.to }), ...(m.file !== undefined && { file: m.file }) })),
        batch.marks ?? [],
      );
      this.queue.add(w);
      // Once per failed append: appends are tried again only after APPEND_RETRY_MS.
      this.out.sendTo(w, { kind: 'stalled', sessionId: w.id, retryAfterMs: APPEND_RETRY_MS, reason });
    });
    this.retryAt = now + APPEND_RETRY_MS;
  }
}
