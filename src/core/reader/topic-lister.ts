import type { TopicInfo, TopicList } from '../../protocol/packets.js';

/** A request not answered in this long is sent again (as a new one: the answer to the old may still come, and is then ignored). */
const RESEND_MS = 1_000;

/**
 * `run-reader --topics`: the server's topics, asked for page by page (each page from after the last
 * name of the one before) until the last one is in.
 */
export class TopicLister {
  private topics: TopicInfo[] = [];
  private request: { requestId: number; after: string; sentAt: number } | undefined;
  private nextRequestId = 1;

  constructor(
    private readonly send: (t: { requestId: number; after: string }, now: number) => void,
    /** Told the whole list once its last page is in. */
    private readonly done: (topics: TopicInfo[], now: number) => void,
  ) {}

  start(now: number): void {
    this.topics = [];
    this.ask('', now);
  }

  get deadline(): number | undefined {
    return this.request && this.request.sentAt + RESEND_MS;
  }

  handleTimeout(now: number): void {
    if (this.request) this.ask(this.request.after, now);
  }

  /** Takes a page: asks for the next, or hands the whole list on. */
  onList(p: TopicList, now: number): void {
    if (!this.request || p.requestId !== this.request.requestId) return;
    this.topics.push(...p.topics);
    const last = p.topics[p.topics.length - 1];
    if (p.more && last) return this.ask(last.topic, now);
    this.request = undefined;
    this.done(this.topics, now);
  }

  private ask(after: string, now: number): void {
    this.request = { requestId: this.nextRequestId++, after, sentAt: now };
    this.send({ requestId: this.request.requestId, after }, now);
  }
}
