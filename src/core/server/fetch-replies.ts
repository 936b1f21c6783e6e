import { ENTRIES_PER_PACKET_MAX, FETCH_DATAGRAMS_MAX } from '../../protocol/constants.js';
import { RECORD_OVERHEAD } from '../../protocol/records.js';
import type { Fetch } from '../../protocol/packets.js';
import { BATCH_HEADER_BYTES, BATCH_MESSAGE_FRAMING_BYTES } from '../../protocol/sizes.js';
import type { ReadLimits, ReadResult } from '../../store/store.js';
import type { CursorSaver } from './cursors.js';
import type { LogEnds } from './log-end.js';
import type { Outbox } from './outbox.js';
import { buildReply } from './reply-builder.js';
import type { ReaderSession, SessionTable } from './sessions.js';

/** Readers whose fetch waits for messages (a long poll), each until its parkedUntil. */
export class ParkedPolls {
  readonly readers = new Set<ReaderSession>();

  park(s: ReaderSession): void {
    s.parkedUntil = s.fetchDeadline;
    this.readers.add(s);
  }

  unpark(s: ReaderSession): void {
    s.parkedUntil = undefined;
    this.readers.delete(s);
  }

  has(s: ReaderSession): boolean {
    return this.readers.has(s);
  }

  /** Those whose poll has run out by `now`, taken out. */
  expired(now: number): ReaderSession[] {
    const out = [...this.readers].filter((s) => now >= s.parkedUntil!);
    for (const s of out) this.unpark(s);
    return out;
  }

  get deadline(): number | undefined {
    let d: number | undefined;
    for (const s of this.readers) if (d === undefined || s.parkedUntil! < d) d = s.parkedUntil;
    return d;
  }
}

/** Answers to fetches, for lone readers and group members alike. */
export class FetchReplies {
  constructor(
    private readonly out: Outbox,
    readonly parked: ParkedPolls,
    /** Told the messages of each reply (monitoring). */
    private readonly onReply?: (messages: number) => void,
  ) {}

  /** `missed`: what the reader is told it missed, when not what lies between its position and the log's first. */
  reply(s: ReaderSession, f: Fetch, result: ReadResult, seek = false, missed?: number): void {
    const parts = buildReply(
      {
        sessionId: s.id,
        fetchId: f.fetchId,
        position: f.position,
        offset: f.offset,
        maxDatagrams: Math.min(f.maxDatagrams, FETCH_DATAGRAMS_MAX),
        datagramBytes: s.datagramBytes - (s.cipher ? RECORD_OVERHEAD : 0),
      },
      result,
      missed,
    );
    if (seek && parts[0]) parts[0].seek = true;
    this.onReply?.(result.messages.length);
    for (const p of parts) this.out.sendTo(s, p);
    s.fetch = undefined;
  }

  /** Nothing for the reader (a poll that ran out); a group member hears what its group missed meanwhile. */
  replyEmpty(s: ReaderSession): void {
    const f = s.fetch;
    if (!f) return;
    this.reply(s, f, { messages: [], next: f.position, first: f.position, atEnd: true }, false, s.group?.tellMissed(s, f.fetchId));
  }

  /** Reported whether or not the session is still there: the store failed all the same. */
  readFailed(s: ReaderSession, error: unknown): void {
    this.out.storeError('read', error);
    s.fetch = undefined;
    this.parked.unpark(s);
  }

  /** As much as one reply to `f` carries: reading more is work thrown away, reading less costs round trips. */
  limits(s: ReaderSession, f: Fetch, user: string): ReadLimits {
    const maxDatagrams = Math.min(f.maxDatagrams, FETCH_DATAGRAMS_MAX);
    return {
      maxMessages: maxDatagrams * ENTRIES_PER_PACKET_MAX,
      maxBytes: maxDatagrams * (s.datagramBytes - BATCH_HEADER_BYTES),
      framingBytes: BATCH_MESSAGE_FRAMING_BYTES,
      user,
    };
  }
}

/** What lone readers' and group members' fetches both work with. */
export interface FetchDeps {
  out: Outbox;
  sessions: SessionTable;
  logs: LogEnds;
  cursors: CursorSaver;
  replies: FetchReplies;
}

/** The common ground of the two kinds of fetch handling. */
export abstract class FetchWork {
  protected readonly out: Outbox;
  protected readonly sessions: SessionTable;
  protected readonly logs: LogEnds;
  protected readonly cursors: CursorSaver;
  protected readonly replies: FetchReplies;

  constructor(deps: FetchDeps) {
    ({ out: this.out, sessions: this.sessions, logs: this.logs, cursors: this.cursors, replies: this.replies } = deps);
  }
}
