import { SUBSCRIBED_TOPICS_MAX, TopicSubscription, type TopicsToRead } from '../core/reader/topic-subscription.js';
import { MessageBudget } from '../core/reader/message-budget.js';
import { FromKind } from '../protocol/constants.js';
import { heedStops, ReaderRun, type ReaderOptions, type ReaderOutcome, type ReaderRender } from './reader-runtime.js';

/** How often a pattern's reader asks the server for its topics: a topic created since is read within this. */
const WATCH_TOPICS_MS = 1_000;

export interface SubscriptionOptions extends Omit<ReaderOptions, 'topic' | 'render' | 'listTopics' | 'watchTopics' | 'presence' | 'count'> {
  /** --count over all the topics (0: none). */
  count: number;
  /** Topics and patterns (`logs.web`, `logs.>`). */
  topics: readonly string[];
  /** How one topic's messages are written. */
  render: (topic: string) => ReaderRender;
  /** Said to the user: a topic past the bound, not read. */
  warn: (message: string) => void;
}

/**
 * A reader of several topics: a session per topic (each with its own position, group membership and
 * direct messages), all writing to one output; a pattern's topics from the server's list, watched for
 * topics created later. Ends when every topic's run has (`--once`), once `--count` messages are taken
 * from all the topics together, at a signal, or at the first run that fails (refused, unreachable),
 * which stops the others.
 */
export async function runSubscription(opts: SubscriptionOptions): Promise<ReaderOutcome> {
  const run = new SubscriptionRun(opts);
  const unheed = heedStops(opts.output, (outputGone) => run.stop(outputGone));
  return run.start().finally(unheed);
}

class SubscriptionRun {
  private readonly subscription: TopicSubscription;
  private readonly runs: ReaderRun[] = [];
  /** Runs opening or going: the subscription ends when none is left. */
  private live = 0;
  private printed = 0;
  private interrupted = false;
  private failure: ReaderOutcome | undefined;
  private stopped: boolean | undefined;
  private resolve!: (outcome: ReaderOutcome) => void;
  private readonly ended = new Promise<ReaderOutcome>((resolve) => (this.resolve = resolve));
  /** --count, shared by the runs: once spent, every run stops (after the reply in hand). */
  private readonly budget: MessageBudget | undefined;

  constructor(private readonly opts: SubscriptionOptions) {
    this.subscription = new TopicSubscription(opts.topics);
    if (opts.count > 0) this.budget = new MessageBudget(opts.count, () => setImmediate(() => this.stop(false)));
  }

  async start(): Promise<ReaderOutcome> {
    this.live++; // until the first runs are under way
    await this.read(this.subscription.named());
    if (this.subscription.watching) await this.watch();
    this.ended1();
    return this.ended;
  }

  /** Stops every run (a signal; `outputGone`: the output closed, and what it did not take is not confirmed). */
  stop(outputGone: boolean): void {
    this.stopped ??= outputGone;
    for (const r of this.runs) r.close(outputGone);
  }

  /** The server's topics, listed (once with --once, else again and again): a pattern's are read as they appear. */
  private async watch(): Promise<void> {
    const { opts } = this;
    await this.begin(
      ReaderRun.open({
        ...this.base(FromKind.Latest, 0),
        render: opts.render(''),
        listTopics: true,
        watchTopics: { everyMs: opts.once ? 0 : WATCH_TOPICS_MS, onTopics: (topics) => this.onTopics(topics.map((t) => t.topic)) },
      }),
    );
  }

  /** A list of the server's topics: those a pattern matches that are not read yet are read from now on. */
  private onTopics(listed: string[]): void {
    if (this.stopped !== undefined || this.failure) return;
    this.read(this.subscription.offer(listed)).catch((e: Error) => this.opts.warn(`cannot read a new topic: ${e.message}`));
  }

  private async read(next: TopicsToRead): Promise<void> {
    for (const topic of next.over) this.opts.warn(`reading at most ${SUBSCRIBED_TOPICS_MAX} topics at once: ${topic} is not read`);
    // A topic created since the reader started is read from its first message: none of it was for anyone before.
    const [fromKind, fromId] = next.fromStart ? [FromKind.Earliest, 0] : [this.opts.fromKind, this.opts.fromId];
    await Promise.all(next.topics.map((topic) => this.begin(ReaderRun.open({ ...this.base(fromKind, fromId), topic, render: this.opts.render(topic) }))));
  }

  /** What every run of it is given. */
  private base(fromKind: FromKind, fromId: number): Omit<ReaderOptions, 'topic' | 'render'> {
    const o = this.opts;
    return {
      servers: o.servers,
      name: o.name,
      fromKind,
      fromId,
      delayMs: o.delayMs,
      count: this.budget ?? 0,
      once: o.once,
      output: o.output,
      tell: o.tell,
      timeoutMs: o.timeoutMs,
      ...(o.secret !== undefined && { secret: o.secret }),
      ...(o.encryption && { encryption: o.encryption }),
      ...(o.group !== undefined && { group: o.group }),
    };
  }

  /** A run opening: counted until it ends; stopped at once if the subscription is ending meanwhile. */
  private async begin(opening: Promise<ReaderRun>): Promise<void> {
    this.live++;
    const run = await opening.catch((e: unknown) => {
      this.ended1();
      throw e;
    });
    this.runs.push(run);
    run.start();
    if (this.stopped !== undefined || this.failure) run.close(this.stopped ?? false);
    void run.done.then((outcome) => this.onEnd(outcome));
  }

  private onEnd(outcome: ReaderOutcome): void {
    if (outcome.kind === 'done') {
      this.printed += outcome.printed;
      this.interrupted ||= outcome.interrupted;
    } else if (!this.failure) {
      this.failure = outcome;
      for (const r of this.runs) r.close(false);
    }
    this.ended1();
  }

  private ended1(): void {
    if (--this.live > 0) return;
    this.resolve(this.failure ?? { kind: 'done', printed: this.printed, interrupted: this.interrupted });
  }
}
