import type { Fetch } from '../../protocol/packets.js';
import { FetchWork } from './fetch-replies.js';
import type { GroupFetches } from './group-fetches.js';
import type { ReaderSession } from './sessions.js';

/** A lone reader's fetches: from its own position, read from the store, answered or held as a long poll. */
export class Fetches extends FetchWork {
  /** A new fetch: it says what the reader has printed (its position moves), and asks from there. */
  onFetch(s: ReaderSession, f: Fetch, now: number): void {
    const position = Math.min(f.position, Math.max(this.logs.of(s.topic).next, s.position));
    if (position > s.position) {
      s.position = position;
      this.cursors.mark(s);
    }
    s.fetch = { ...f, position, offset: position === f.position ? f.offset : 0 };
    s.fetchDeadline = now + f.waitMs;
    this.replies.parked.unpark(s);
    this.read(s);
  }

  /** A reader printed everything before `position` while its reply was still arriving: keep it. */
  confirmed(s: ReaderSession, position: number): void {
    if (s.group || s.observer || position <= s.position || position > this.logs.of(s.topic).next) return;
    s.position = position;
    this.cursors.mark(s);
  }

  /** After a commit in `topics`: parked polls behind the new end read again (reads in flight notice by themselves). */
  wake(topics: ReadonlySet<string>, groups: GroupFetches): void {
    for (const s of [...this.replies.parked.readers]) {
      if (!topics.has(s.topic)) continue;
      const next = this.logs.of(s.topic).next;
      if (s.fetch && (s.group ? s.group.hasWork(next) : s.fetch.position < next)) {
        this.replies.parked.unpark(s);
        if (s.group) groups.grantLease(s);
        else this.read(s);
      }
    }
  }

  read(s: ReaderSession): void {
    if (s.reading || !s.fetch) return;
    const f = s.fetch;
    s.reading = true;
    const limits = this.replies.limits(s, f, s.name);
    this.out.call({ op: 'read', topic: s.topic, from: f.position, limits }, (ok, result, doneAt) => {
      s.reading = false;
      if (!ok) return this.replies.readFailed(s, result);
      if (!this.sessions.isLive(s)) return;
      if (s.fetch !== f) return this.read(s); // a newer fetch arrived meanwhile
      const log = this.logs.of(s.topic);
      log.advance(result.next);
      // Wait only when the read reached the end with nothing for this reader; a read that stopped at the
      // scan limit (a long run of messages for others) is answered at once, so the reader moves past them.
      if (result.messages.length === 0 && result.atEnd && doneAt < s.fetchDeadline && result.first <= f.position) {
        // Messages were committed while we read: read again before waiting.
        if (log.next > result.next) return this.read(s);
        this.replies.parked.park(s);
        return;
      }
      this.replies.reply(s, f, result);
    });
  }
}
