import type { ReaderEvent } from '../../src/core/reader/reader-core.js';
import { ReaderState } from '../../src/protocol/constants.js';
import type { KnownLog } from './checkers.js';
import { EPOCH, type SimReader, type SimWorld } from './world.js';

/** How often (virtual ms) each watcher asks where a reader is. */
const ASK_EVERY_MS = 400;

/**
 * The chat's receipts as a workload: watchers ask the server where the lone readers are (TRACK) while the
 * run goes on, through loss, crashes and failovers, and every answer must be sound: a reader said to be at
 * position P has printed every message before P that was for it, since it started; P is never past the
 * log's end in the same answer. ("Delivered" is said from exactly this.)
 */
export class ReceiptsCheck {
  private nextAt = EPOCH;
  private requests = 0;
  answered = 0;

  constructor(
    private readonly world: SimWorld,
    private readonly log: KnownLog,
  ) {}

  ask(): void {
    const { world } = this;
    if (world.now < this.nextAt) return;
    this.nextAt = world.now + ASK_EVERY_MS;
    const targets = world.readers.filter((r) => r.group === undefined && !r.view && !r.once);
    if (targets.length === 0) return;
    for (const w of world.readers) {
      if (!w.view || w.dead) continue;
      const target = targets[this.requests % targets.length]!;
      w.core.track(target.name, ++this.requests, world.now);
    }
  }

  check(watcher: SimReader, e: Extract<ReaderEvent, { type: 'tracked' }>): void {
    const { world } = this;
    this.answered++;
    const say = (what: string): void => world.fail(`${watcher.name} asked where ${e.name} is: ${what}`);
    if (e.state === ReaderState.Unknown) {
      if (e.position !== 0) say(`unknown, yet at ${e.position}`);
      return;
    }
    if (e.position > e.logNext) say(`at ${e.position}, past the log's end ${e.logNext}`);
    const target = world.readers.find((r) => r.name === e.name);
    // With retention a reader may be moved past what it never printed (it is told it missed them).
    if (!target || target.firstAt === undefined || world.opts.retainMessages > 0) return;
    for (const [id] of this.log.stored) {
      if (id >= target.firstAt && id < e.position && !target.seen.has(id)) return say(`at ${e.position}, but it never printed ${id}`);
    }
  }
}
