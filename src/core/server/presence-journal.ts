import type { PresenceEntry } from '../../protocol/packets.js';

const JOURNAL_MAX = 1024;

/**
 * The registry's recent changes, numbered, so that a client watching presence asks "what changed
 * since version v" and gets a few entries, not the whole registry. Versions start at a random point
 * so that a version from before a server restart is not mistaken for a current one.
 */
export class PresenceJournal {
  private readonly changes: { version: number; entry: PresenceEntry }[] = [];
  private current: number;
  /** The version just before the oldest change kept: from it on, every change is here. */
  private floor: number;

  constructor(start: number) {
    this.current = (start >>> 0) % 0x7fff_ffff || 1;
    this.floor = this.current;
  }

  get version(): number {
    return this.current;
  }

  record(entry: PresenceEntry): void {
    this.current = this.current >= 0xffff_fffe ? 1 : this.current + 1;
    this.changes.push({ version: this.current, entry });
    if (this.changes.length > JOURNAL_MAX) this.floor = this.changes.shift()!.version;
  }

  /** The changes after `since`, oldest first, each with its version; undefined when `since` is not known. */
  since(since: number): readonly { version: number; entry: PresenceEntry }[] | undefined {
    if (since === this.floor) return this.changes;
    const i = this.changes.findIndex((c) => c.version === since);
    if (i < 0) return undefined;
    return this.changes.slice(i + 1);
  }
}
