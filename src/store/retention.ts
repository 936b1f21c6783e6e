import type { ProducerBatch, RetentionLimits } from './store.js';

/** The newest timestamp of a commit: age retention counts from it at each append. */
export function latestTs(batches: readonly ProducerBatch[]): number {
  let latest = 0;
  for (const b of batches) for (const m of b.messages) latest = Math.max(latest, m.ts);
  return latest;
}

/**
 * With an age limit, `trim` by the clock as well (at least every second), so that a quiet log ages out
 * too. Not kept alive by it: the process may end. Undefined without an age limit.
 */
export function trimByClock(retention: RetentionLimits, trim: (now: number) => void): NodeJS.Timeout | undefined {
  if (retention.ageMs <= 0) return undefined;
  return setInterval(() => trim(Date.now()), Math.min(1000, retention.ageMs)).unref();
}

/**
 * The retention rule of every store: the log's oldest message goes while the log holds more than
 * `messages`, more than `bytes` of text, or that message is older than `ageMs` at `now` (the newest
 * message appended, or the clock). A store walks its oldest messages through `drops` and `dropped`, in id
 * order, and stops at the first that stays; it then starts its log at `first`.
 */
export class RetentionCut {
  /** Where the log starts once the cut is made, and the bytes of text it keeps. */
  first: number;
  bytes: number;
  private readonly next: number;

  constructor(
    private readonly limits: RetentionLimits,
    log: { first: number; next: number; bytes: number },
    private readonly now: number,
  ) {
    this.first = log.first;
    this.next = log.next;
    this.bytes = log.bytes;
  }

  /** Whether the oldest message kept, written at `ts`, goes. */
  drops(ts: number): boolean {
    const { messages, bytes } = this.limits;
    return (messages > 0 && this.next - this.first > messages) || (bytes > 0 && this.bytes > bytes) || this.agedOut(ts);
  }

  /** Whether a message written at `ts` is too old, whatever the size of the log. */
  agedOut(ts: number): boolean {
    return this.limits.ageMs > 0 && this.now - ts > this.limits.ageMs;
  }

  /** The messages before `id` went, with `textBytes` of text between them. */
  droppedTo(id: number, textBytes: number): void {
    if (id <= this.first) return;
    this.first = id;
    this.bytes -= textBytes;
  }

  /** Where the count limit alone starts the log: every message before it goes, whatever its age or size. */
  get countFloor(): number {
    const { messages } = this.limits;
    return messages > 0 ? Math.max(this.first, this.next - messages) : this.first;
  }

  /** Past the count floor, only the byte or the age limit can take more. */
  get mayTakeMore(): boolean {
    return (this.limits.bytes > 0 && this.bytes > this.limits.bytes) || this.limits.ageMs > 0;
  }
}
