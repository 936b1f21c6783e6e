import type { TopicInfo, TopicList } from '../../protocol/packets.js';

/** A request not answered in this long is sent again (as a new one: the answer to the old may still come, and is then ignored). */
const RESEND_MS = 1_000;

/**
 * `run-reader --topics`: the server's topics, asked for page by page (each page from after the last
 * name of the one before) until the last one is in. Watching (`everyMs`), the list is asked for again
 * that long after each one is in: a reader of a pattern learns of topics created after it started.
 */
export class TopicLister {
  private topics: TopicInfo[] = [];
  private request: { requestId: number; after: string; sentAt: number } | undefined;
  private nextRequestId = 1;
  /** Watching: when the list is asked for again. */
  private againAt: number | undefined;

  constructor(
    private readonly send: (t: { requestId: number; after: string }, now: number) => void,
    /** Told the whole list once its last page is in. */
    private readonly done: (topics: TopicInfo[], now: number) => void,
    private readonly everyMs = 0,
  ) {}

  start(now: number): void {
    this.topics = [];
    this.againAt = undefined;
    this.ask('', now);
  }

  get deadline(): number | undefined {
    return this.request ? this.request.sentAt + RESEND_MS : this.againAt;
  }

  handleTimeout(now: number): void {
    if (this.request) this.ask(this.request.after, now);
    else if (this.againAt !== undefined && now >= this.againAt) this.start(now);
  }

  /** Takes a page: asks for the next, or hands the whole list on. */
  onList(p: TopicList, now: number): void {
    if (!this.request || p.requestId !== this.request.requestId) return;
    this.topics.push(...p.topics);
    const last = p.topics[p.topics.length - 1];
    if (p.more && last) return this.ask(last.topic, now);
    this.request = undefined;
    if (this.everyMs > 0) this.againAt = now + this.everyMs;
    this.done(this.topics, now);
  }

  private ask(after: string, now: number): void {
    this.request = { requestId: this.nextRequestId++, after, sentAt: now };
    this.send({ requestId: this.request.requestId, after }, now);
  }
}
