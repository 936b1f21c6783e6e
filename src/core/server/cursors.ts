import { inTopic, splitInTopic } from '../../protocol/topics.js';
import type { Outbox } from './outbox.js';
import type { QueueGroup } from './queue-group.js';
import type { ReaderSession, SessionTable } from './sessions.js';

/** Where a queue group's position is saved: '/' is not allowed in names, so it meets no reader's. */
const GROUP_KEY_PREFIX = 'group/';
export const groupKey = (group: string): string => GROUP_KEY_PREFIX + group;

/**
 * Readers' and groups' positions, saved in batches (one store write per flush interval), and the readers
 * that said goodbye and hear GOODBYE only once their position is saved.
 */
export class CursorSaver {
  private readonly dirty = new Map<string, number>();
  private flushAt: number | undefined;
  private inFlight = false;
  private readonly waiters: ReaderSession[] = [];

  constructor(
    private readonly out: Outbox,
    private readonly sessions: SessionTable,
    private readonly groups: ReadonlyMap<string, QueueGroup<ReaderSession>>,
    private readonly flushMs: number,
  ) {}

  get deadline(): number | undefined {
    return this.flushAt;
  }

  /** A reader's position in a topic that waits to be saved, if any. */
  unsaved(topic: string, name: string): number | undefined {
    return this.dirty.get(inTopic(topic, name));
  }

  /** A reader's position moved: saved at the next flush. */
  mark(s: ReaderSession): void {
    this.dirty.set(inTopic(s.topic, s.name), s.position);
    this.flushAt ??= s.lastSeen + this.flushMs;
  }

  /** The group's position (its oldest unfinished id) is saved, unless the store has it already. */
  markGroup(g: QueueGroup<ReaderSession>, now: number): void {
    const low = g.lowWater;
    const key = inTopic(g.topic, groupKey(g.name));
    const pending = this.dirty.get(key);
    if (pending === undefined ? g.saved !== low : pending !== low) {
      this.dirty.set(key, low);
      this.flushAt ??= now + this.flushMs;
    }
  }

  /** Whether the group's position waits to be saved. */
  groupDirty(g: QueueGroup<ReaderSession>): boolean {
    return this.dirty.has(inTopic(g.topic, groupKey(g.name)));
  }

  /** The reader hears GOODBYE once what is dirty now is saved. */
  goodbyeWhenSaved(s: ReaderSession): void {
    s.closing = true;
    this.waiters.push(s);
    this.flush();
  }

  flush(): void {
    if (this.inFlight || this.dirty.size === 0) {
      // Nothing to save, or a save in flight, which saves what is dirty by then as it finishes: no timer
      // (one left in the past would fire again and again while a slow store works).
      this.flushAt = undefined;
      return;
    }
    const cursors = new Map(this.dirty);
    this.dirty.clear();
    this.flushAt = undefined;
    this.inFlight = true;
    const waiters = this.waiters.splice(0);
    this.out.call({ op: 'saveCursors', cursors }, (ok, error, doneAt) => {
      this.inFlight = false;
      if (!ok) {
        // Not saved: tried again after the flush interval (not at once: a store that is away fails fast),
        // unless a newer position came meanwhile; those who said goodbye wait for that save.
        this.out.storeError('saveCursors', error);
        for (const [name, position] of cursors) if (!this.dirty.has(name)) this.dirty.set(name, position);
        this.waiters.unshift(...waiters);
        this.flushAt = doneAt + this.flushMs;
        return;
      }
      for (const [scoped, position] of cursors) {
        const { topic, key } = splitInTopic(scoped);
        const g = key.startsWith(GROUP_KEY_PREFIX) ? this.groups.get(inTopic(topic, key.slice(GROUP_KEY_PREFIX.length))) : undefined;
        if (g) g.saved = position;
      }
      // A reader that said goodbye learns its position is saved only once it is.
      for (const w of waiters) {
        const l = this.sessions.left.get(w.id);
        if (l) l.saved = true;
        this.out.sendTo(w, { kind: 'goodbye', sessionId: w.id });
      }
      if (this.dirty.size > 0) this.flush();
    });
  }
}
