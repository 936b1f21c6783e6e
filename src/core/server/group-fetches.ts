import { FromKind } from '../../protocol/constants.js';
import type { Fetch } from '../../protocol/packets.js';
import type { ReadLimits, ReadResult } from '../../store/store.js';
import { FetchWork, type FetchDeps } from './fetch-replies.js';
import { inTopic } from '../../protocol/topics.js';
import { LEASE_MESSAGES_MAX, QueueGroup, type Lease, type Span } from './queue-group.js';
import type { ReaderSession } from './sessions.js';

/** Queue groups' fetches: each member is leased a stretch of the log, one lease read per group at a time. */
export class GroupFetches extends FetchWork {
  constructor(
    deps: FetchDeps,
    /** The latest time an input brought. */
    private readonly clock: () => number,
    readonly groups = new Map<string, QueueGroup<ReaderSession>>(),
  ) {
    super(deps);
  }

  /** A group started from its saved place (or where its first member asks, if none), clamped to the log. */
  create(topic: string, name: string, start: { first: number; next: number; cursor: number | undefined }, from: number): { group: QueueGroup<ReaderSession>; missed: number } {
    const at = start.cursor ?? from;
    const group = new QueueGroup<ReaderSession>(name, Math.min(Math.max(at, start.first), start.next), topic);
    group.saved = start.cursor;
    this.groups.set(inTopic(topic, name), group);
    // Retention removed what the group had not taken: the member that brings the group back says so.
    return { group, missed: at < start.first ? start.first - at : 0 };
  }

  /** Where a new group starts when the store has no place for it. */
  static asked(fromKind: FromKind, fromId: number, start: { first: number; next: number }): number {
    return fromKind === FromKind.Earliest ? start.first : fromKind === FromKind.Id ? fromId : start.next;
  }

  /** A member's new fetch: acknowledges what it took of its lease; the rest is sent again, or a new lease. */
  onFetch(s: ReaderSession, f: Fetch, now: number): void {
    const g = s.group!;
    s.fetch = f;
    s.fetchDeadline = now + f.waitMs;
    this.replies.parked.unpark(s);
    const lease = g.lease(s);
    if (lease && lease.fetchId !== f.fetchId && g.advance(s, f.position, f.offset, f.fetchId) === 'done') {
      this.changed(g);
      return this.grantLease(s);
    }
    const held = g.lease(s);
    if (held) {
      this.changed(g);
      return this.readLease(s, f, held);
    }
    this.grantLease(s);
  }

  /** Reads the group's next stretch for this member: one lease read at a time per group. */
  grantLease(s: ReaderSession): void {
    const g = s.group!;
    const f = s.fetch;
    if (!f) return;
    if (g.granting) {
      g.waiting.add(s);
      return;
    }
    const log = this.logs.of(g.topic);
    const span = g.nextSpan(log.next);
    if (!span) return this.idleMember(s);
    g.granting = true;
    // A backlog is shared out: no member is leased more than its share of what is waiting.
    const share = Math.ceil((log.next - span.start) / Math.max(1, g.members.size));
    const limits = { ...this.leaseLimits(s, g, f), maxMessages: Math.min(LEASE_MESSAGES_MAX, Math.max(1, share)) };
    this.out.call({ op: 'read', topic: g.topic, from: span.start, limits }, (ok, result) => {
      g.granting = false;
      if (!ok) this.replies.readFailed(s, result);
      else if (this.sessions.isLive(s) && s.fetch === f) this.leased(s, f, span, result);
      const next = g.waiting.values().next();
      if (!next.done) {
        g.waiting.delete(next.value);
        this.grantLease(next.value);
      }
    });
  }

  /** What a lease read found for `span`: a lease for the member, or nothing for the group up to where it read. */
  private leased(s: ReaderSession, f: Fetch, span: Span, result: ReadResult): void {
    const g = s.group!;
    const log = this.logs.of(g.topic);
    log.advance(result.next);
    const messages = result.messages.filter((m) => m.id < span.end);
    const end = messages.length < result.messages.length ? span.end : Math.min(result.next, span.end);
    // Retention removed the start of the span: the member that takes it is told, or the next one.
    const gone = Math.max(0, Math.min(result.first, end) - span.start);
    if (messages.length === 0) {
      g.missed(gone);
      g.skip(span, end);
      this.changed(g);
      if (g.hasWork(log.next) && end > span.start) this.grantLease(s);
      else this.idleMember(s);
    } else {
      const before = g.tellMissed(s, f.fetchId);
      const lease = g.grant(s, span, end, f.fetchId, f.position, before);
      this.changed(g);
      this.replyLease(s, f, lease, { ...result, messages, next: end, atEnd: !g.hasWork(log.next) }, before + gone);
    }
  }

  /** The member's lease again (its reply was lost, or part of it), from where the member stands in it. */
  private readLease(s: ReaderSession, f: Fetch, lease: Lease): void {
    const g = s.group!;
    this.out.call({ op: 'read', topic: g.topic, from: lease.start, limits: this.leaseLimits(s, g, f) }, (ok, result) => {
      if (!ok) return this.replies.readFailed(s, result);
      // A member that ended meanwhile has left the group, and holds no lease.
      if (s.fetch !== f || g.lease(s) !== lease) return;
      const messages = result.messages.filter((m) => m.id < lease.end);
      // The lease starts where the member stands in it: what retention removed from there, it never had;
      // and while it has taken nothing of the lease, what the group missed before it is told again.
      const missed = lease.toldBefore + Math.max(0, Math.min(result.first, lease.end) - lease.start);
      this.replyLease(s, f, lease, { ...result, messages, next: lease.end, atEnd: !g.hasWork(this.logs.of(g.topic).next) }, missed);
    });
  }

  private leaseLimits(s: ReaderSession, g: QueueGroup<ReaderSession>, f: Fetch): ReadLimits {
    return { ...this.replies.limits(s, f, g.name), maxMessages: LEASE_MESSAGES_MAX };
  }

  /** Nothing to lease: hold the poll until there is, or answer empty. */
  private idleMember(s: ReaderSession): void {
    if (!s.fetch) return;
    if (this.clock() < s.fetchDeadline) this.replies.parked.park(s);
    else this.replies.replyEmpty(s);
  }

  /** The member is told of `missed` messages retention removed before the group took them. */
  private replyLease(s: ReaderSession, f: Fetch, lease: Span, result: ReadResult, missed: number): void {
    const seek = lease.start !== f.position || lease.offset !== f.offset;
    this.replies.reply(s, { ...f, position: lease.start, offset: lease.offset }, result, seek, missed);
  }

  /** The group's position moved: save it (its oldest unfinished id) and let idle members look. */
  changed(g: QueueGroup<ReaderSession>): void {
    this.cursors.markGroup(g, this.clock());
    for (const m of g.members) if (this.replies.parked.has(m) && g.hasWork(this.logs.of(g.topic).next)) {
      this.replies.parked.unpark(m);
      this.grantLease(m);
    }
  }

  /** A member leaves with its last position (0: unknown): what it did not acknowledge goes to another member. */
  leave(s: ReaderSession, position: number, fetchId?: number): void {
    const g = s.group!;
    g.leave(s, position, 0, fetchId);
    this.changed(g);
  }

  /**
   * Groups with no members and nothing of theirs in memory alone are forgotten: a member coming back finds
   * the group's place in the store. (A saved place at the group's next means no lease is out and nothing
   * was given back: those would hold the place below next.)
   */
  prune(): void {
    for (const [name, g] of this.groups) {
      if (g.members.size === 0 && !g.granting && g.saved === g.next && !this.cursors.groupDirty(g)) this.groups.delete(name);
    }
  }
}
