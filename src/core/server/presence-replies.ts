import { nameKey } from './handshake.js';
import { RECORD_OVERHEAD } from '../../protocol/records.js';
import { ReaderState, Role } from '../../protocol/constants.js';
import type { PresenceEntry, Topics, Track, Who } from '../../protocol/packets.js';
import { TOPIC_INFO_BYTES_MAX, TOPIC_LIST_HEADER_BYTES } from '../../protocol/topics-codec.js';
import { PRESENCE_HEADER_BYTES, presenceEntryBytes } from '../../protocol/sizes.js';
import type { ClientRecord } from '../../store/store.js';
import type { CursorSaver } from './cursors.js';
import type { LogEnds } from './log-end.js';
import type { Outbox } from './outbox.js';
import type { PresenceJournal } from './presence-journal.js';
import type { Session, SessionTable } from './sessions.js';
import type { Users } from './authenticator.js';
import { visibleTopics } from './topic-rights.js';

/**
 * Answers to WHO (changes since the asker's version when the journal still has them, else the registry
 * page by page), and to TRACK (where a name's reader is: what the chat's receipts are made of).
 */
export class PresenceReplies {
  constructor(
    private readonly out: Outbox,
    private readonly sessions: SessionTable,
    private readonly journal: PresenceJournal,
    private readonly cursors: CursorSaver,
    private readonly logs: LogEnds,
    private readonly users: Users | undefined,
  ) {}

  /**
   * A name's reader, in the asking session's topic: online here with its position; else its saved
   * position (one waiting to be saved first), offline; or unknown when no reader of that name has a position.
   */
  onTrack(s: Session, t: Track): void {
    const answer = (state: ReaderState, position: number): void =>
      this.out.sendTo(s, { kind: 'tracked', sessionId: s.id, requestId: t.requestId, name: t.name, state, position, logNext: this.logs.of(s.topic).next });
    const live = this.sessions.byName.get(nameKey(Role.Reader, t.name, s.topic));
    if (live?.role === Role.Reader) return answer(ReaderState.Online, live.position);
    const unsaved = this.cursors.unsaved(s.topic, t.name);
    if (unsaved !== undefined) return answer(ReaderState.Offline, unsaved);
    this.out.call({ op: 'cursor', topic: s.topic, name: t.name }, (ok, position) => {
      if (!ok || !this.sessions.isLive(s)) return;
      answer(position === undefined ? ReaderState.Unknown : ReaderState.Offline, position ?? 0);
    });
  }

  /** A page of the topics the server keeps, by name after `t.after`, as many as fit one datagram. */
  onTopics(s: Session, t: Topics): void {
    const budget = s.datagramBytes - (s.cipher ? RECORD_OVERHEAD : 0) - TOPIC_LIST_HEADER_BYTES;
    const max = Math.max(1, Math.floor(budget / TOPIC_INFO_BYTES_MAX));
    // A user whose topics are limited is shown those it may read or write, and no other name.
    const only = visibleTopics(this.users?.rights?.(s.name));
    this.out.call({ op: 'topics', after: t.after, max: max + 1, ...(only && { only }) }, (ok, topics) => {
      if (!ok) return this.out.storeError('topics', topics);
      if (!this.sessions.isLive(s)) return;
      this.out.sendTo(s, { kind: 'topic-list', sessionId: s.id, requestId: t.requestId, more: topics.length > max, topics: topics.slice(0, max) });
    });
  }

  onWho(s: Session, w: Who): void {
    const budget = s.datagramBytes - (s.cipher ? RECORD_OVERHEAD : 0) - PRESENCE_HEADER_BYTES;
    const changes = w.since === 0 ? undefined : this.journal.since(w.since);
    if (changes) return this.sendChanges(s, w, budget, changes);
    const version = this.journal.version;
    this.out.call({ op: 'clients' }, (ok, clients) => {
      if (!ok || !this.sessions.isLive(s)) return;
      this.sendPage(s, w, budget, version, clients);
    });
  }

  private sendChanges(s: Session, w: Who, budget: number, changes: readonly { version: number; entry: PresenceEntry }[]): void {
    const entries: PresenceEntry[] = [];
    let used = 0;
    let version = w.since;
    for (const c of changes) {
      const size = presenceEntryBytes(c.entry);
      if (used + size > budget && entries.length > 0) break;
      entries.push(c.entry);
      used += size;
      version = c.version;
    }
    const more = version !== this.journal.version;
    const at = more ? version : this.journal.version;
    this.out.sendTo(s, { kind: 'presence', sessionId: s.id, requestId: w.requestId, version: at, full: false, more, nextOffset: 0, entries });
  }

  /** One page of the whole registry, in name order, from the offset the asker reached. */
  private sendPage(s: Session, w: Who, budget: number, version: number, clients: ClientRecord[]): void {
    const all = clients.sort((a, b) => (a.name === b.name ? a.role.localeCompare(b.role) : a.name < b.name ? -1 : 1));
    const entries: PresenceEntry[] = [];
    let used = 0;
    let i = Math.min(w.offset, all.length);
    for (; i < all.length; i++) {
      const size = presenceEntryBytes(all[i]!);
      if (used + size > budget && entries.length > 0) break;
      entries.push(all[i]!);
      used += size;
    }
    this.out.sendTo(s, { kind: 'presence', sessionId: s.id, requestId: w.requestId, version, full: true, more: i < all.length, nextOffset: i, entries });
  }
}
