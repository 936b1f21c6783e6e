import type { Address } from '../address.js';
import { FromKind, RefuseCode, roleName } from '../../protocol/constants.js';
import type { Hello, HelloReader, HelloWriter } from '../../protocol/packets.js';
import type { CursorSaver } from './cursors.js';
import { groupKey } from './cursors.js';
import { GroupFetches } from './group-fetches.js';
import type { LogEnds } from './log-end.js';
import { inTopic } from '../../protocol/topics.js';
import type { NameClaims } from './name-claims.js';
import type { Outbox } from './outbox.js';
import type { QueueGroup } from './queue-group.js';
import type { ServerConfig } from './server-config.js';
import type { ReaderSession, Session, SessionTable, WriterSession } from './sessions.js';
import { WriterIngest } from './writer-ingest.js';

export interface StartHooks {
  /** The session is ready: WELCOME, resuming at `resume`. */
  open(s: Session, resume: number, missed: number): void;
  /** The store failed a request the session needs: it is forgotten, and the client's HELLO starts anew. */
  openFailed(s: Session, op: string, error: unknown): void;
  refuse(h: Hello, to: Address, code: RefuseCode, reason: string): void;
  /** Forgets a session that never opened. */
  discard(s: Session): void;
}

/** What the store is asked before a session opens: its name claimed, then where its writer or reader stands. */
export class SessionStart {
  constructor(
    private readonly config: ServerConfig,
    private readonly out: Outbox,
    private readonly sessions: SessionTable,
    private readonly claims: NameClaims,
    private readonly logs: LogEnds,
    private readonly cursors: CursorSaver,
    private readonly groupFetches: GroupFetches,
    private readonly hooks: StartHooks,
  ) {}

  writer(w: WriterSession, h: HelloWriter, from: Address, proven: boolean): void {
    this.claimThen(w, h, from, proven, () =>
      this.out.call({ op: 'producerSeq', topic: w.topic, producerId: h.producerId }, (ok, lastSeq) => {
        if (!ok) return this.hooks.openFailed(w, 'producerSeq', lastSeq);
        if (!this.sessions.isLive(w)) return;
        const expected = Math.max((lastSeq ?? 0) + 1, h.nextSeq);
        w.ingest = new WriterIngest(expected, this.config.windowMax, this.config.maxMessageBytes);
        w.committed = expected - 1;
        this.hooks.open(w, expected, 0);
      }),
    );
  }

  /** A lone reader: from where it asks, else its saved position, else the end (or start) of the log. */
  reader(r: ReaderSession, h: HelloReader, from: Address, proven: boolean): void {
    this.claimThen(r, h, from, proven, () =>
      this.out.call({ op: 'readerStart', topic: r.topic, name: h.name }, (ok, start) => {
        if (!ok) return this.hooks.openFailed(r, 'readerStart', start);
        if (!this.sessions.isLive(r)) return;
        let pos: number;
        if (h.fromKind === FromKind.Id) pos = h.fromId;
        else if (start.cursor !== undefined) pos = start.cursor;
        else pos = h.fromKind === FromKind.Earliest ? start.first : start.next;
        const missed = pos < start.first ? start.first - pos : 0;
        pos = Math.min(Math.max(pos, start.first), start.next);
        r.position = pos;
        this.logs.of(r.topic).advance(start.next);
        if (start.cursor !== pos) this.cursors.mark(r);
        this.hooks.open(r, pos, missed);
      }),
    );
  }

  member(r: ReaderSession, h: HelloReader, group: string, from: Address, proven: boolean): void {
    this.claimThen(r, h, from, proven, () => this.joinGroup(r, group, h.fromKind, h.fromId));
  }

  private joinGroup(r: ReaderSession, name: string, fromKind: FromKind, fromId: number): void {
    const join = (g: QueueGroup<ReaderSession>, missed = 0): void => {
      r.group = g;
      g.members.add(r);
      this.hooks.open(r, g.next, missed);
    };
    const id = inTopic(r.topic, name);
    const known = this.groupFetches.groups.get(id);
    if (known) return join(known);
    this.out.call({ op: 'readerStart', topic: r.topic, name: groupKey(name) }, (ok, start) => {
      if (!ok) return this.hooks.openFailed(r, 'readerStart', start);
      if (!this.sessions.isLive(r)) return;
      this.logs.of(r.topic).advance(start.next);
      const found = this.groupFetches.groups.get(id);
      if (found) return join(found);
      // A member coming back after a restart names where it stood: better than the end of the log.
      const { group, missed } = this.groupFetches.create(r.topic, name, start, GroupFetches.asked(fromKind, fromId, start));
      if (start.cursor !== undefined) return join(group, missed);
      // A new group is saved before its first member is welcomed: a server restarted before its first
      // lease still knows where the group starts (a member coming back knows only where it stood).
      const at = group.next;
      this.out.call({ op: 'saveCursors', cursors: new Map([[inTopic(r.topic, groupKey(name)), at]]) }, (saved, error) => {
        if (!saved) return this.hooks.openFailed(r, 'saveCursors', error);
        group.saved ??= at;
        if (this.sessions.isLive(r)) join(group, missed);
      });
    });
  }

  /**
   * Claims the session's name in the store (servers sharing a store see each other's names) before going
   * on. A name another client holds there is refused as a local one would be; a proven login takes it.
   */
  private claimThen(s: Session, h: Hello, from: Address, proven: boolean, next: () => void): void {
    const holder = this.claims.holder(s.addrKey);
    this.out.call({ op: 'claimName', key: s.nameKey, holder, ttlMs: this.claims.ttlMs, force: proven }, (ok, claim, doneAt) => {
      if (!this.sessions.isLive(s)) return;
      if (ok && !claim.ok) {
        this.hooks.discard(s);
        const secs = Math.ceil(this.config.sessionTimeoutMs / 1000);
        return this.hooks.refuse(
          h,
          from,
          RefuseCode.NameTaken,
          `the name ${h.name} is in use by a live ${roleName(h.role)} on another server (free when it exits, or once it has been silent for ${secs} s)`,
        );
      }
      // A store that failed to answer is reported by it; the session goes on with its local name only.
      if (ok) this.claims.claimed(s.nameKey, holder, doneAt);
      next();
    });
  }
}
