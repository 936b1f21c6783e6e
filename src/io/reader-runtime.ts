import type { Writable } from 'node:stream';
import type { Address } from '../core/address.js';
import { READER_DEFAULTS, ReaderCore, type Message, type ReaderEvent } from '../core/reader/reader-core.js';
import type { FromKind } from '../protocol/constants.js';
import type { PresenceEntry, TopicInfo } from '../protocol/packets.js';
import { now } from './clock.js';
import type { ClientEncryption } from '../core/client/client-cipher.js';
import { randomNonce } from './random.js';
import type { PacketTransport } from '../core/sans-io.js';
import { openClientTransport } from './client-transport.js';
import { PacketDriver } from './packet-driver.js';
import type { MessageBudget } from '../core/reader/message-budget.js';

export type ReaderOutcome =
  | { kind: 'done'; printed: number; interrupted: boolean }
  /** `byServer` false: refused by us (the server's key is not one we trust, or it does not encrypt). */
  | { kind: 'refused'; reason: string; byServer: boolean }
  | { kind: 'taken-over' }
  | { kind: 'unreachable'; registered: boolean };

/** How what arrives is written to the output (the formats are the command line's business). */
export interface ReaderRender {
  messages(messages: Message[]): Buffer;
  registry(entries: PresenceEntry[]): string;
  presence(changes: PresenceEntry[]): string;
  topics(topics: TopicInfo[]): string;
}

export interface ReaderOptions {
  /** In order of preference: the reader moves on when one stops answering. */
  servers: Address[];
  name: string;
  /** Absent: the default topic. */
  topic?: string;
  fromKind: FromKind;
  fromId: number;
  delayMs: number;
  /** --count (0: none), or a budget the runs of a reader of several topics share. */
  count: number | MessageBudget;
  once: boolean;
  render: ReaderRender;
  output: Writable;
  /** Every event of the session, for the user to hear of (the command line words them). */
  tell: (e: ReaderEvent) => void;
  /** Authenticated mode: the user's secret. */
  secret?: string;
  /** Absent: plain text (`--insecure-plaintext`). */
  encryption?: ClientEncryption;
  group?: string;
  presence?: 'who' | 'watch';
  /** `--topics`: print the server's topics and exit. */
  listTopics?: boolean;
  /** With `listTopics`: list them again this long after each list, and hand each list to `onTopics` (not printed). */
  watchTopics?: { everyMs: number; onTopics: (topics: TopicInfo[]) => void };
  /** Give up (exit 3) when the server answers nothing for this long (0: never). */
  timeoutMs: number;
}

/** Runs a reader until --count is reached, it is interrupted, or its output is closed. */
export async function runReader(opts: ReaderOptions): Promise<ReaderOutcome> {
  const run = await ReaderRun.open(opts);
  const unheed = heedStops(opts.output, (outputGone) => run.close(outputGone));
  run.start();
  return run.done.finally(unheed);
}

/**
 * SIGINT and SIGTERM stop (what was printed is confirmed); so does the output closing (EPIPE: whoever read
 * it has gone, and what it did not read is not confirmed). Returns the function that stops heeding them.
 */
export function heedStops(output: Writable, stop: (outputGone: boolean) => void): () => void {
  const onSignal = (): void => stop(false);
  const onError = (): void => stop(true);
  output.on('error', onError);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    output.off('error', onError);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** One run of a reader (one topic): the core's events acted on, its output written in order. */
export class ReaderRun {
  private readonly core: ReaderCore;
  private readonly driver: PacketDriver;
  private printed = 0;
  private interrupted = false;
  private outcome: ReaderOutcome | undefined;
  /**
   * Only what has left the process is confirmed to the server (stdout may be a pipe that buffers), so
   * pieces are written one at a time: a write's callback then says that piece is out, not a whole batch.
   * The core fetches nothing more until all is printed, so this queue holds one reply at most.
   */
  private readonly pieces: { text: Buffer; upTo: number }[] = [];
  private writing = false;
  private resolve!: (outcome: ReaderOutcome) => void;
  /** How it ended, once its last packets are out. */
  readonly done = new Promise<ReaderOutcome>((resolve) => (this.resolve = resolve));

  static async open(opts: ReaderOptions): Promise<ReaderRun> {
    return new ReaderRun(opts, await openClientTransport(opts.servers));
  }

  private constructor(
    private readonly opts: ReaderOptions,
    private readonly transport: PacketTransport,
  ) {
    this.core = new ReaderCore(
      {
        ...READER_DEFAULTS,
        name: opts.name,
        ...(opts.topic !== undefined && { topic: opts.topic }),
        servers: opts.servers,
        nonce: randomNonce(),
        fromKind: opts.fromKind,
        fromId: opts.fromId,
        delayMs: opts.delayMs,
        count: opts.count,
        once: opts.once,
        ...(opts.secret !== undefined && { secret: Buffer.from(opts.secret, 'utf8') }),
        ...(opts.encryption && { encryption: opts.encryption }),
        ...(opts.group !== undefined && { group: opts.group }),
        ...(opts.presence !== undefined && { presence: opts.presence }),
        ...(opts.listTopics && { listTopics: true }),
        ...(opts.watchTopics && { watchTopicsMs: opts.watchTopics.everyMs }),
        awaitPrinted: true,
        timeoutMs: opts.timeoutMs,
      },
      now(),
    );
    this.driver = new PacketDriver(transport, this.core, () => this.afterInput());
  }

  start(): void {
    this.driver.pump();
  }

  private finish(outcome: ReaderOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.driver.stop();
    // The last packets (a BYE) leave before the outcome is acted on (the process may exit on it).
    void this.transport.close().then(() => this.resolve(outcome));
  }

  private afterInput(): void {
    for (let e = this.core.pollEvent(); e; e = this.core.pollEvent()) {
      this.opts.tell(e);
      const outcome = this.outcomeOf(e);
      if (outcome) return this.finish(outcome);
    }
  }

  /** Acts on one event; the outcome when it ends the run. */
  private outcomeOf(e: ReaderEvent): ReaderOutcome | undefined {
    const { output, render } = this.opts;
    switch (e.type) {
      case 'messages':
        this.printed += e.messages.length;
        this.print(render.messages(e.messages), e.upTo);
        return undefined;
      case 'registry':
        // --who prints it; --presence prints only who comes and goes from then on.
        if (this.opts.presence !== 'who') return undefined;
        this.printed += e.entries.length;
        output.write(render.registry(e.entries));
        return undefined;
      case 'presence':
        output.write(render.presence(e.changes));
        return undefined;
      case 'topics':
        if (this.opts.watchTopics) return void this.opts.watchTopics.onTopics(e.topics);
        this.printed += e.topics.length;
        output.write(render.topics(e.topics));
        return undefined;
      case 'taken-over':
        return { kind: 'taken-over' };
      case 'refused':
        return { kind: 'refused', reason: e.reason, byServer: e.byServer };
      case 'closed':
        return { kind: 'done', printed: this.printed, interrupted: this.interrupted };
      case 'failed':
        return { kind: 'unreachable', registered: e.registered };
      default:
        return undefined;
    }
  }

  private writeNext(): void {
    const piece = this.pieces.shift();
    if (!piece) return;
    this.writing = true;
    this.opts.output.write(piece.text, (err) => {
      this.writing = false;
      if (err) return;
      this.core.printed(piece.upTo, now());
      this.writeNext();
      this.driver.pump();
    });
  }

  private print(text: Buffer, upTo: number): void {
    this.pieces.push({ text, upTo });
    if (!this.writing) this.writeNext();
  }

  /** Stops (interrupted): what was printed is confirmed, unless the output is gone. */
  close(outputGone: boolean): void {
    this.interrupted = true;
    if (this.core.closed) return;
    this.core.close(now(), outputGone);
    this.driver.pump();
  }
}
