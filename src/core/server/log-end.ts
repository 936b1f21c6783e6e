import { DEFAULT_TOPIC } from '../../protocol/topics.js';

/** The end of one topic's log as this server knows it: from its own appends, reads, and other servers' notices. */
export class LogEnd {
  /** The id the next message appended will have (0: not known yet). */
  next = 0;

  /** Learns that the log reaches at least `next`; true when that is news. */
  advance(next: number): boolean {
    if (next <= this.next) return false;
    this.next = next;
    return true;
  }
}

/** Each topic is a log of its own, with its own ids: their ends, by topic. */
export class LogEnds {
  private readonly ends = new Map<string, LogEnd>([[DEFAULT_TOPIC, new LogEnd()]]);

  of(topic: string): LogEnd {
    let end = this.ends.get(topic);
    if (!end) this.ends.set(topic, (end = new LogEnd()));
    return end;
  }

  /** Serves `topic` from now on, unless it would be one more than `max`: then false. */
  admit(topic: string, max: number): boolean {
    if (!this.ends.has(topic) && this.ends.size >= max) return false;
    this.of(topic);
    return true;
  }

  /** The default topic's: the log of clients that name none. */
  get main(): LogEnd {
    return this.of(DEFAULT_TOPIC);
  }
}
