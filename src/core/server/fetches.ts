import type { Fetch } from '../../protocol/packets.js';
import { FetchWork } from './fetch-replies.js';
import type { ReaderSession } from './sessions.js';

/** A lone reader's fetches: from its own position, read from the store, answered or held as a long poll. */
export class Fetches extends FetchWork {
  /** A new fetch: it says what the reader has printed (its position moves), and asks from there. */
  onFetch(s: ReaderSession, f: Fetch, now: number): void {
    const position = Math.min(f.position, Math.max(this.log.next, s.position));
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
    if (s.group || s.observer || position <= s.position || position > this.log.next) return;
    s.position = position;
    this.cursors.mark(s);
  }

  read(s: ReaderSession): void {
    if (s.reading || !s.fetch) return;
    const f = s.fetch;
    s.reading = true;
    const limits = this.replies.limits(s, f, s.name);
    this.out.call({ op: 'read', from: f.position, limits }, (ok, result, doneAt) => {
      s.reading = false;
      if (!ok) return this.replies.readFailed(s, result);
      if (!this.sessions.isLive(s)) return;
      if (s.fetch !== f) return this.read(s); // a newer fetch arrived meanwhile
      this.log.advance(result.next);
      // Wait only when the read reached the end with nothing for this reader; a read that stopped at the
      // scan limit (a long run of messages for others) is answered at once, so the reader moves past them.
      if (result.messages.length === 0 && result.atEnd && doneAt < s.fetchDeadline && result.first <= f.position) {
        // Messages were committed while we read: read again before waiting.
        if (this.log.next > result.next) return this.read(s);
        this.replies.parked.park(s);
        return;
      }
      this.replies.reply(s, f, result);
    });
  }
}
