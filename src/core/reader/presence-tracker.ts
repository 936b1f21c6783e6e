import type { Presence, PresenceEntry } from '../../protocol/packets.js';

const RESEND_MS = 300;

export interface WhoRequest {
  requestId: number;
  since: number;
  offset: number;
}

/** What one PRESENCE brought: the whole registry when first known, then who came online, went offline, or moved to another topic. */
export interface PresenceUpdate {
  registry?: PresenceEntry[];
  changes: PresenceEntry[];
}

const key = (e: PresenceEntry): string => `${e.role}:${e.name}`;
/** A change worth telling: online or offline, or online (or last seen) in another topic. */
const changed = (before: PresenceEntry | undefined, e: PresenceEntry): boolean => before?.online !== e.online || before.topic !== e.topic;

/**
 * A client's copy of the registry: fetched whole once (page by page), then kept current by asking for
 * the changes since its version every `pollMs`. Requests lost on the way are asked again.
 */
export class PresenceTracker {
  private table = new Map<string, PresenceEntry>();
  private version = 0;
  private known = false;
  private request: (WhoRequest & { sentAt: number }) | undefined;
  private requestSeq = 0;
  private pages: Map<string, PresenceEntry> | undefined;
  /**
   * The version of the whole registry's first page. The pages are read one after the other while the
   * registry changes: what changed between the first page and the last is asked for next, from this
   * version (asking from the last page's would lose a change to an entry already paged).
   */
  private pagesVersion: number | undefined;
  private pollAt: number | undefined;
  /** Someone asked for the whole registry as it is now: hand it over once the next answer is in. */
  private wanted = false;
  /**
   * After signing on again (a server restart, a failover) everyone looks offline until their own clients
   * sign on again too: until this time, "offline" for one who was online is held, and dropped if they return.
   */
  private settleUntil = 0;
  private held = new Map<string, PresenceEntry>();

  constructor(
    /** 0: fetch the registry once and stop. */
    private readonly pollMs: number,
    private readonly send: (who: WhoRequest, now: number) => void,
  ) {}

  /** `settleMs`: how long, when this is a sign-on again, the others get to sign on again too. */
  start(now: number, settleMs = 0): void {
    this.pages = undefined;
    this.pagesVersion = undefined;
    if (this.known) this.settleUntil = now + settleMs;
    this.ask(this.known ? this.version : 0, 0, now);
  }

  /** Asks the server now; the registry comes with the update that answers. */
  refresh(now: number): void {
    this.wanted = true;
    if (this.request) return;
    this.pollAt = undefined;
    this.ask(this.known ? this.version : 0, 0, now);
  }

  get deadline(): number | undefined {
    const next = this.request ? this.request.sentAt + RESEND_MS : this.pollAt;
    if (this.held.size === 0) return next;
    return next === undefined ? this.settleUntil : Math.min(next, this.settleUntil);
  }

  /** Those who went offline and did not come back while the others signed on again. */
  takeSettled(now: number): PresenceEntry[] {
    if (this.held.size === 0 || now < this.settleUntil) return [];
    const gone = [...this.held.values()];
    this.held.clear();
    return gone;
  }

  handleTimeout(now: number): void {
    if (this.request && now >= this.request.sentAt + RESEND_MS) {
      this.request.sentAt = now;
      this.send(this.request, now);
    } else if (!this.request && this.pollAt !== undefined && now >= this.pollAt) {
      this.pollAt = undefined;
      this.ask(this.version, 0, now);
    }
  }

  onPresence(p: Presence, now: number): PresenceUpdate | undefined {
    if (!this.request || p.requestId !== this.request.requestId) return undefined;
    this.request = undefined;
    if (p.full) {
      this.pages ??= new Map();
      this.pagesVersion ??= p.version;
      for (const e of p.entries) this.pages.set(key(e), e);
      if (p.more) {
        this.ask(0, p.nextOffset, now);
        return { changes: [] };
      }
      const before = this.table;
      this.table = this.pages;
      this.pages = undefined;
      this.version = this.pagesVersion ?? p.version;
      this.pagesVersion = undefined;
      const first = !this.known;
      this.known = true;
      this.schedule(now);
      const changes = first ? [] : [...this.table.values()].filter((e) => changed(before.get(key(e)), e));
      return this.handOver(first, this.settle(changes, before, now));
    }
    const changes: PresenceEntry[] = [];
    const before = new Map(this.table);
    for (const e of p.entries) {
      if (changed(this.table.get(key(e)), e)) changes.push(e);
      this.table.set(key(e), e);
    }
    this.version = p.version;
    const settled = this.settle(changes, before, now);
    if (p.more) {
      this.ask(this.version, 0, now);
      return { changes: settled };
    }
    this.schedule(now);
    return this.handOver(false, settled);
  }

  private settle(changes: PresenceEntry[], before: Map<string, PresenceEntry>, now: number): PresenceEntry[] {
    return changes.filter((e) => {
      const k = key(e);
      if (e.online) {
        const held = this.held.get(k);
        this.held.delete(k);
        // Back where it was: nothing happened, as far as a watcher can tell; back elsewhere: it moved.
        return held === undefined || held.topic !== e.topic;
      }
      if (now >= this.settleUntil || !before.get(k)?.online) return true;
      this.held.set(k, e);
      return false;
    });
  }

  private handOver(first: boolean, changes: PresenceEntry[]): PresenceUpdate {
    if (!first && !this.wanted) return { changes };
    this.wanted = false;
    return { registry: [...this.table.values()], changes };
  }

  private schedule(now: number): void {
    this.pollAt = this.pollMs > 0 ? now + this.pollMs : undefined;
  }

  private ask(since: number, offset: number, now: number): void {
    this.request = { requestId: ++this.requestSeq >>> 0, since, offset, sentAt: now };
    this.send(this.request, now);
  }
}
