import { WAIT_MS_MAX } from '../../protocol/constants.js';
import type { Batch } from '../../protocol/packets.js';
import type { RttEstimator } from '../rtt-estimator.js';
import type { Timer } from '../timers.js';
import type { Delivery } from './delivery.js';
import { askAgainAt, openFetch, resent, type OpenFetch } from './open-fetch.js';
import type { ReaderConfig } from './reader-types.js';

/** What the schedule needs of the reader it serves. */
export interface FetchHost {
  /** The session is open: fetches may go. */
  isOpen(): boolean;
  /** Where the reader stands: the next fetch asks from there. */
  standsAt(): { position: number; offset: number };
  readonly delivery: Delivery;
  /** Hands on the messages gathered so far. */
  flush(): void;
  /** Sends the fetch (first or again) on the session. */
  send(f: OpenFetch, now: number): void;
  /** --once, and the log's end is reached. */
  caughtUpOnce(now: number): void;
  /** A reply reached the end of the log (every time one does). */
  caughtUp(): void;
}

/**
 * When a reader's next FETCH goes, and how long the server may hold it: one fetch out at a time, asked
 * again when its reply is late or has a gap; with --delay, one poll per period; held back while the output
 * is full or still printing (a fetch confirms everything before its position).
 */
export class FetchSchedule {
  /** The fetch out and not yet answered in full. */
  current: OpenFetch | undefined;
  private seq = 0;
  private paused = false;
  /** A fetch held back until printing has caught up (or the output has room): its wait. */
  private held: number | undefined;
  /** --delay: when the next poll prints. */
  private nextPollAt: number | undefined;
  /** --delay: whether the reply held for the next poll reached the end of the log. */
  private heldCaughtUp = true;

  constructor(
    private readonly config: ReaderConfig,
    private readonly rtt: RttEstimator,
    private readonly host: FetchHost,
  ) {}

  /** Its deadlines, for the reader's timer table. */
  readonly timers: Timer[] = [
    { name: 'fetch', at: () => (this.host.isOpen() && this.current ? askAgainAt(this.current, this.rtt) : undefined), fire: (now) => this.late(now) },
    {
      name: 'poll',
      at: () => (this.host.isOpen() && !this.current && this.held === undefined ? this.nextPollAt : undefined),
      fire: (now) => this.poll(this.heldCaughtUp, now),
    },
  ];

  /** What comes now is printed at once: no --delay poll is waiting to print it. */
  get printsAtOnce(): boolean {
    return !this.config.once && (this.config.delayMs === 0 || this.nextPollAt === undefined);
  }

  /** Holds back the next fetch while the consumer cannot keep up (stdout is full). */
  setPaused(paused: boolean, now: number): void {
    this.paused = paused;
    this.release(now);
  }

  /** The next fetch, unless the output is full or still has messages to print: then once it has not. */
  next(now: number, waitMs: number): void {
    this.current = undefined;
    this.held = waitMs;
    this.release(now);
  }

  /** Sends the fetch held back, if nothing holds it any more. */
  release(now: number): void {
    if (this.held === undefined || this.paused || !this.host.isOpen()) return;
    this.host.flush(); // which releases the fetch itself when printing is not awaited
    if (this.held === undefined || !this.host.delivery.allPrinted) return;
    const waitMs = this.held;
    this.held = undefined;
    this.send(now, waitMs);
  }

  /** The session ended or moved: nothing is out, nothing waits. */
  stop(): void {
    this.current = undefined;
    this.held = undefined;
    this.nextPollAt = undefined;
  }

  /** A part of a reply came: an RTT sample, and what tells a late part from a lost one. */
  partCame(b: Batch, now: number): void {
    const f = this.current;
    if (!f || b.fetchId !== f.id) return;
    // Each fetch has a fresh id, so even a refetch's reply is an unambiguous RTT sample (as in QUIC).
    if (f.lastPartAt === 0 && f.sends === 1 && f.waitMs === 0) this.rtt.sample(now - f.lastSentAt);
    f.lastPartAt = now;
    if (b.lastPart) f.lastPartSeen = true;
  }

  /** The reply is all taken; `caughtUp`: it reached the end of the log. */
  replied(caughtUp: boolean, now: number): void {
    this.current = undefined;
    if (caughtUp) this.host.caughtUp();
    if (this.config.once) {
      if (!caughtUp) return this.next(now, 0);
      return this.host.caughtUpOnce(now);
    }
    if (this.config.delayMs === 0) {
      this.host.flush();
      this.next(now, caughtUp ? this.config.holdMs : 0);
      return;
    }
    // --delay: the next fetch went out at the last poll and is held by the server until this one; what
    // it brought early waits here for the poll. Its position confirmed what was printed, at once.
    if (this.nextPollAt !== undefined && now < this.nextPollAt) {
      this.heldCaughtUp = caughtUp;
      return;
    }
    this.poll(caughtUp, now);
  }

  /** A poll of --delay: print the package; fetch the rest, or, caught up, wait for the next poll. */
  private poll(caughtUp: boolean, now: number): void {
    this.nextPollAt = undefined;
    if (!caughtUp) return this.next(now, 0);
    this.host.flush();
    this.nextPollAt = now + this.config.delayMs;
    this.next(now, Math.min(this.config.delayMs, WAIT_MS_MAX));
  }

  private send(now: number, waitMs: number): void {
    const { position, offset } = this.host.standsAt();
    this.current = openFetch(++this.seq >>> 0, position, offset, waitMs, this.config.maxDatagrams, now, this.rtt);
    // A fetch confirms everything before its position: it goes only once what was taken is printed
    // (`next` holds it until then), so that a reader killed at any moment never leaves a gap.
    this.host.delivery.confirmed(position);
    this.host.send(this.current, now);
  }

  /** The open fetch's reply is late. */
  /** The path dropped what was in flight (a TCP connection reset): the fetch out goes again now. */
  pathReset(now: number): void {
    const f = this.current;
    if (!f || !this.host.isOpen()) return;
    if (f.lastPartAt > 0) return this.next(now, 0);
    // Not `resent`: nothing says the server is slow, so a long poll's next wait is not lengthened.
    f.sends++;
    f.lastSentAt = now;
    this.host.send(f, now);
  }

  private late(now: number): void {
    const f = this.current!;
    if (f.lastPartAt > 0) {
      // Some parts came, one before them did not: ask again from the gap. The whole reply comes again
      // (bandwidth is cheap, round trips are not); parts held fill the holes of the new one.
      return this.next(now, 0);
    }
    // No answer yet: the same fetch again (the server ignores it while it holds the first, and answers it
    // again if its reply was lost). Only an unanswered immediate fetch is a loss signal.
    if (f.waitMs === 0) this.rtt.timedOut();
    resent(f, now);
    this.host.send(f, now);
  }
}
