import type { Batch } from '../../protocol/packets.js';
import type { Delivery } from './delivery.js';
import type { FetchSchedule } from './fetch-schedule.js';
import { Reassembly } from './reassembly.js';
import type { Message, ReaderEvent } from './reader-types.js';

/**
 * Where a reader stands in the log, and the replies taken in order from there: parts that come early wait
 * for the gap before them, fragments are joined, messages go to delivery, and the schedule hears how the
 * open fetch fares.
 */
export class ReplyIntake {
  position = 0;
  offset = 0;
  /** The fetch whose reply the position was last reached in (0: none): a group member's BYE names it. */
  tookFetchId = 0;
  private readonly parts = new Reassembly();

  constructor(
    private readonly fetches: FetchSchedule,
    private readonly delivery: Delivery,
    private readonly emit: (e: ReaderEvent) => void,
  ) {}

  /** Signed on at `position`: nothing is held, nothing taken in this session yet. */
  startAt(position: number): void {
    this.position = position;
    this.offset = 0;
    this.parts.reset();
    this.tookFetchId = 0;
  }

  /** One part of a reply. 'stop': --count is reached. */
  take(b: Batch, now: number): 'stop' | 'more' {
    const f = this.fetches.current;
    if (b.seek && f && b.fetchId === f.id && !f.sought) {
      // A queue group's lease starts where the server says: go there (once per fetch: a repeat of this
      // part must not take the reader back over what it has taken since).
      f.sought = true;
      this.tookFetchId = b.fetchId;
      this.position = b.position;
      this.offset = b.offset;
      this.parts.reset();
    }
    if (b.position < this.position || (b.position === this.position && b.offset < this.offset)) return 'more'; // taken already
    this.fetches.partCame(b, now);
    if (!this.parts.hold(b, this.position, this.offset)) return 'more';
    let last: Batch | undefined;
    let replyTaken = false;
    for (let part = this.parts.take(this.position, this.offset); part; part = this.parts.take(this.position, this.offset)) {
      if (!this.consume(part)) return 'stop';
      last = part;
      if (f && part.fetchId === f.id && part.lastPart) replyTaken = true;
      if (part.nextPosition === part.position && part.nextOffset === part.offset) break; // an empty part moves nothing
    }
    if (!last) return 'more';
    // With --delay 0 messages are printed as they arrive: part by part, not once the whole reply is in
    // (a reply may be 30,000 lines; held, they would all outlive a young-generation GC).
    // With --delay, the same once a poll is under way (only what comes early waits for the next poll).
    if (this.fetches.printsAtOnce) this.delivery.flush();
    this.parts.dropBefore(this.position, this.offset);
    if (this.parts.held === 0) {
      if (last.lastPart) this.fetches.replied(last.caughtUp, now);
    } else if (replyTaken) {
      // This fetch's reply is all taken, yet parts wait beyond a gap: ask for the gap at once.
      this.fetches.next(now, 0);
    }
    return 'more';
  }

  /** Takes one part's messages in order. Returns false once the count is reached. */
  private consume(part: Batch): boolean {
    this.tookFetchId = part.fetchId;
    if (part.missed > 0) this.emit({ type: 'missed', count: part.missed });
    for (const m of part.messages) {
      if (m.id < this.position) continue;
      const whole = m.fragment ? this.parts.fragment(m) : m; // a whole message is a Message already
      if (whole && this.deliver(whole) === 'stop') return false;
    }
    this.position = part.nextPosition;
    this.offset = part.nextOffset;
    // Mid-message only while holding that message's start; otherwise ask for it whole.
    if (this.offset > 0 && !this.parts.continues(this.position, this.offset)) this.offset = 0;
    return true;
  }

  private deliver(m: Message): 'stop' | 'more' {
    if (this.delivery.full) return 'stop'; // not taken: it stays for the next run
    this.position = m.id + 1;
    this.offset = 0;
    return this.delivery.add(m);
  }
}
