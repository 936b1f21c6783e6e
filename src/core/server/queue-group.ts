import { DEFAULT_TOPIC } from '../../protocol/topics.js';
/** A stretch of the log: from (position, offset) up to, not including, `end`. */
export interface Span {
  start: number;
  offset: number;
  end: number;
}

/** Messages handed to one member and not yet acknowledged by it. */
export interface Lease extends Span {
  /** The fetch its reply answers: a repeat of that fetch gets the same reply again. */
  fetchId: number;
  /** The fetch whose reply first carried it: replies to it and to later fetches are all of this lease. */
  firstFetchId: number;
  /** Where the member stood when it was given the lease. */
  from: number;
  /**
   * What the group missed before this lease (retention), told with its first part: told again while the
   * member has taken nothing of the lease (that reply was lost).
   */
  toldBefore: number;
}

/** Most messages in one lease: small enough that members share a backlog, big enough to keep them busy. */
export const LEASE_MESSAGES_MAX = 64;

/**
 * A queue group's shared position (seed 002's FIFO queue). Each member is leased a stretch of the
 * log at a time, in log order; what a member acknowledges is done, what a departed member held goes
 * back to be leased again (first). Pure bookkeeping: the server core reads the log and answers.
 */
export class QueueGroup<M> {
  private readonly leases = new Map<M, Lease>();
  /** Stretches given back by members that left without finishing them, oldest first. */
  private readonly redo: Span[] = [];
  readonly members = new Set<M>();
  /** One lease is read at a time, so two members are never handed the same stretch. */
  granting = false;
  /** Members whose fetch waits for that read to finish. */
  readonly waiting = new Set<M>();
  /** Where the store has the group's position (undefined: not saved yet). */
  saved: number | undefined;
  /** Messages retention removed before the group took them, not yet told to a member. */
  private missedCount = 0;
  /** What a member was last told it missed, by the fetch whose reply told it: told again if it asks again. */
  private readonly told = new Map<M, { fetchId: number; count: number }>();

  constructor(
    readonly name: string,
    /** The next log id never leased. */
    public next: number,
    /** The topic whose log the group reads. */
    readonly topic = DEFAULT_TOPIC,
  ) {}

  lease(member: M): Lease | undefined {
    return this.leases.get(member);
  }

  /** What the next lease is read from: a stretch given back, else the unleased rest of the log. */
  nextSpan(logNext: number): Span | undefined {
    if (this.redo.length > 0) return { ...this.redo[0]! }; // a copy: skip() moves the stretch itself
    return this.next < logNext ? { start: this.next, offset: 0, end: Number.MAX_SAFE_INTEGER } : undefined;
  }

  /** Something could be leased now: a stretch given back, or messages not leased yet. */
  hasWork(logNext: number): boolean {
    return this.redo.length > 0 || this.next < logNext;
  }

  /** The read of `span` found nothing for the group up to `end`: that much needs no lease. */
  skip(span: Span, end: number): void {
    const redo = this.redo[0];
    if (redo && redo.start === span.start && redo.offset === span.offset) {
      if (end >= redo.end) this.redo.shift();
      else Object.assign(redo, { start: end, offset: 0 });
    } else {
      this.next = Math.max(this.next, end);
    }
  }

  /** A read found `count` messages of the group's next stretch removed by retention (none: 0 or less). */
  missed(count: number): void {
    if (count > 0) this.missedCount += count;
  }

  /** What was missed since a member was last told: that member tells its user. */
  takeMissed(): number {
    const count = this.missedCount;
    this.missedCount = 0;
    return count;
  }

  /**
   * What a reply to `member`'s fetch `fetchId` tells it missed: what the group missed since a member was
   * last told, and what a reply to this same fetch told before (that reply was lost: the member asks again).
   */
  tellMissed(member: M, fetchId: number): number {
    const before = this.told.get(member);
    const count = (before?.fetchId === fetchId ? before.count : 0) + this.takeMissed();
    if (count > 0) this.told.set(member, { fetchId, count });
    else this.told.delete(member);
    return count;
  }

  /** Leases `span.start` up to `end` (what one read covered) to `member`. */
  grant(member: M, span: Span, end: number, fetchId: number, from: number, toldBefore = 0): Lease {
    const lease: Lease = { start: span.start, offset: span.offset, end, fetchId, firstFetchId: fetchId, from, toldBefore };
    this.skip(span, end);
    this.leases.set(member, lease);
    return lease;
  }

  /**
   * A new fetch from a member at (position, offset): progress within its lease, the lease done, or
   * not begun (a fetch that follows a reply always comes from inside it, or from its end).
   */
  advance(member: M, position: number, offset: number, fetchId: number): 'done' | 'partial' | 'unchanged' {
    const l = this.leases.get(member);
    if (!l) return 'done';
    if (position === l.start && offset < l.offset) {
      // It lost the first part of a long message (a reader keeps a part only with its start): it takes the
      // message again from where it asks, or it could never put it together.
      Object.assign(l, { offset, fetchId, from: position });
      return 'partial';
    }
    if (!this.inside(l, position, offset)) {
      l.fetchId = fetchId;
      return 'unchanged';
    }
    if (position >= l.end) {
      this.leases.delete(member);
      return 'done';
    }
    // It took the lease's first part, and with it what that part told.
    Object.assign(l, { start: position, offset, fetchId, from: position, toldBefore: 0 });
    return 'partial';
  }

  /**
   * A member leaves with its last position (0: unknown): what it did not acknowledge goes back.
   * `fetchId` names the reply the member reached that position in: the position counts only when that
   * reply carried this lease (its first one, or a later one; a part of the first may arrive after the
   * second was asked for). Without it (an older client), only when the position says something the
   * position it was given the lease at cannot (so a lease taken whole up to that same position is handed
   * out again).
   */
  leave(member: M, position: number, offset: number, fetchId?: number): void {
    this.members.delete(member);
    this.waiting.delete(member);
    // Told, but the reply may not have reached it: the next member tells it (rather twice than never).
    const told = this.told.get(member);
    this.told.delete(member);
    if (told && (fetchId === undefined || fetchId < told.fetchId)) this.missedCount += told.count;
    const l = this.leases.get(member);
    if (!l) return;
    this.leases.delete(member);
    const taken = fetchId === undefined ? position !== l.from : fetchId >= l.firstFetchId;
    if (taken && this.inside(l, position, offset)) Object.assign(l, { start: position, offset });
    if (l.start >= l.end) return;
    // Whole messages only: the next member cannot take up a long message where this one left it.
    this.redo.push({ start: l.start, offset: 0, end: l.end });
    this.redo.sort((a, b) => a.start - b.start);
  }

  /** The oldest id any member may still need: where the group resumes after a restart. */
  get lowWater(): number {
    let low = this.next;
    for (const l of this.leases.values()) low = Math.min(low, l.start);
    for (const r of this.redo) low = Math.min(low, r.start);
    return low;
  }

  private inside(l: Lease, position: number, offset: number): boolean {
    const after = position > l.start || (position === l.start && offset > l.offset);
    return after && position <= l.end;
  }
}
