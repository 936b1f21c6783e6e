import type { Message } from '../../src/core/reader/reader-core.js';
import { DEFAULT_TOPIC } from '../../src/protocol/topics.js';
import type { ProducerBatch, StoredMessage } from '../../src/store/store.js';
import type { SimReader, SimWorld, SimWriter } from './world.js';

// The properties a run must keep, each checked by its own checker: as the run goes (after every event),
// and once it has settled.

/** The log as stored so far, by id, grown from the store as the run goes. */
export class KnownLog {
  readonly stored = new Map<number, StoredMessage>();
  /** Messages stored per writer name. */
  readonly storedBy = new Map<string, number>();
  private scannedTo = 1;

  constructor(private readonly world: SimWorld) {}

  /** With retention, the log is known from what each append stored (a scan would miss what was trimmed at once). */
  recordAppend(batches: (ProducerBatch & { topic: string })[], firstIds: (number | null)[]): void {
    batches.forEach((b, i) => {
      const first = firstIds[i];
      // The log of the default topic: the side topics' batches have ids of their own.
      if (first === null || first === undefined || b.topic !== DEFAULT_TOPIC) return;
      b.messages.forEach((m, k) => this.add({ ...m, id: first + k }));
    });
  }

  async scan(): Promise<void> {
    if (this.world.opts.retainMessages > 0) return;
    const r = await this.world.store.read(this.scannedTo, { maxMessages: 1e9, maxBytes: 1e12, user: '' });
    for (const m of r.messages) this.add(m);
    this.scannedTo = r.next;
  }

  /** The whole log as appended (with retention, the store keeps only its newest part). */
  async all(): Promise<StoredMessage[]> {
    if (this.world.opts.retainMessages > 0) return [...this.stored.values()].sort((a, b) => a.id - b.id);
    return (await this.world.store.read(1, { maxMessages: 1e9, maxBytes: 1e12, user: '' })).messages;
  }

  private add(m: StoredMessage): void {
    this.stored.set(m.id, m);
    this.storedBy.set(m.from, (this.storedBy.get(m.from) ?? 0) + 1);
  }
}

/** A writer's confirmed lines are in the store, every one of them, at every moment. */
export function checkConfirmed(world: SimWorld, log: KnownLog): void {
  for (const w of world.writers) {
    const have = log.storedBy.get(w.name) ?? 0;
    if (w.base + w.core.confirmedLines > have) world.fail(`${w.name}: ${w.base + w.core.confirmedLines} lines confirmed, ${have} in the store (acknowledged before stored)`);
    // A resumed run's mark says how far its lines were stored: exactly as far as the store holds them.
    if (w.resumedAt !== undefined && w.resumedAt !== have) world.fail(`${w.name}: resumed at line ${w.resumedAt}, the store holds ${have} of its lines`);
    delete w.resumedAt;
  }
}

/** On a healthy run no client is told that its server is lost, or moves to another. */
export function checkHealthy(world: SimWorld, name: string, e: { type: string }): void {
  if (world.healthy && (e.type === 'server-lost' || e.type === 'failover')) world.fail(`${name}: told ${e.type} by a healthy server`);
}

/**
 * What readers print: each message is the stored one; a plain reader never skips an id it was not told it
 * missed; a group never hands a message to two members while none died, nor again once the member that
 * took it left cleanly.
 */
export class DeliveryChecker {
  /** group:id -> the member that took it. */
  private readonly takenBy = new Map<string, string>();

  constructor(
    private readonly world: SimWorld,
    private readonly log: KnownLog,
  ) {}

  check(r: SimReader, messages: Message[]): void {
    let last = r.delivered[r.delivered.length - 1]?.id ?? (r.group === undefined ? (r.firstAt ?? 1) - 1 : 0);
    for (const m of messages) {
      const want = this.log.stored.get(m.id);
      if (!want || !m.text.equals(want.text) || m.from !== want.from || m.ts !== want.ts) {
        return this.world.fail(`${r.name}: printed id ${m.id}, which the log does not hold as printed`);
      }
      const broken = r.group === undefined ? this.plain(r, m.id, last) : this.member(r, r.group, m.id, last);
      if (broken) return this.world.fail(broken);
      last = m.id;
    }
  }

  private plain(r: SimReader, id: number, last: number): string | undefined {
    const gap = id - last - 1;
    if (gap > 0 && gap <= r.missedTold - r.missedUsed) r.missedUsed += gap; // removed by retention, and said so
    else if (gap > 0) return `${r.name}: skipped from ${last} to ${id}, told of ${r.missedTold - r.missedUsed} missed`;
    if (id <= last && !r.restarted) return `${r.name}: printed ${id} again after ${last}`;
    return undefined;
  }

  private member(r: SimReader, group: string, id: number, last: number): string | undefined {
    const world = this.world;
    if (id <= last && !world.killed(group)) return `${r.name}: ${id} after ${last} (out of order in the group)`;
    const key = `${group}:${id}`;
    const other = this.takenBy.get(key);
    if (other !== undefined && other !== r.name && !world.killed(group)) return `${id} handed to ${other} and ${r.name} while no member of ${group} died`;
    // While no member died: one that signed on, took a message and left cleanly (its BYE answered) with
    // no server crash in between took it for good, whatever crashes after.
    const gone = other === undefined ? undefined : world.allReaders.find((x) => x.name === other);
    if (gone && gone !== r && gone.closed && !gone.dead && gone.crashesAtClose === gone.crashesAtSignOn && !world.memberDied(group)) {
      return `${id} handed to ${r.name} after ${other} had taken it and left cleanly`;
    }
    this.takenBy.set(key, r.name);
    return undefined;
  }
}

/** A registry entry as a watcher shows it: online or not, and in which topic. */
export const whereIs = (e: { online: boolean; topic: string }): string => `${e.online ? 'online' : 'offline'} in ${e.topic}`;

/** Every watcher shows the registry as the store has it, where each client is included (its own entry aside), once the run settles. */
export class PresenceChecker {
  private registry = new Map<string, string>();

  constructor(private readonly world: SimWorld) {}

  async refresh(): Promise<void> {
    const { world } = this;
    if (world.opts.watchers === 0 || !world.registryChanged) return;
    world.registryChanged = false;
    this.registry = new Map((await world.store.clients()).map((c) => [`${c.role}:${c.name}`, whereIs(c)]));
  }

  /** Where a watcher's view differs from the registry, or undefined. */
  differs(r: SimReader): string | undefined {
    // With several servers a watcher sees the comings and goings of its own server only (docs/SCALING.md).
    if (!r.view || this.world.opts.servers > 1) return undefined;
    for (const [k, online] of this.registry) {
      if (k === `reader:${r.name}`) continue;
      if (r.view.get(k) !== online) return `${k} is ${online}, ${r.name} shows ${r.view.get(k) ?? 'nothing'}`;
    }
    return undefined;
  }
}

// ---- once the run has settled ----

/** Every writer is done, and the log holds each of its lines once, in order, under consecutive ids. */
export function checkLog(log: StoredMessage[], writers: SimWriter[], failures: string[]): void {
  for (const w of writers) {
    if (w.outcome !== 'done') failures.push(`${w.name} ended ${w.outcome ?? 'unfinished'}, ${w.core.unconfirmedLines} lines unconfirmed`);
    const mine = log.filter((m) => m.from === w.name);
    const seen = new Set<string>();
    for (const m of mine) {
      const t = m.text.toString();
      if (seen.has(t)) failures.push(`${w.name}: line stored twice: ${t.slice(0, 40)}`);
      seen.add(t);
    }
    const expected = w.lines.map((l) => l.toString());
    const got = mine.map((m) => m.text.toString());
    if (got.length !== expected.length || got.some((t, i) => t !== expected[i])) {
      const i = got.findIndex((t, k) => t !== expected[k]);
      failures.push(`${w.name}: log holds ${got.length} of ${expected.length} lines; first difference at ${i}`);
    }
  }
  for (let i = 1; i < log.length; i++) {
    if (log[i]!.id !== log[i - 1]!.id + 1) failures.push(`log ids not consecutive at ${log[i]!.id}`);
  }
}

/** A plain reader printed the whole log in order, each message once (or, killed and restarted, from where it was kept). */
export function checkReader(r: SimReader, log: StoredMessage[], failures: string[]): void {
  const ids: number[] = [];
  for (const m of r.delivered) if (ids.length === 0 || m.id > ids[ids.length - 1]!) ids.push(m.id);
  // What it skipped it was told of as it went (DeliveryChecker); it must have been told of nothing more.
  if (r.missedTold !== r.missedUsed && !r.restarted) failures.push(`${r.name}: told of ${r.missedTold} missed, skipped ${r.missedUsed}`);
  const skipped = new Set<number>();
  for (let i = 1; i < ids.length; i++) for (let id = ids[i - 1]! + 1; id < ids[i]!; id++) skipped.add(id);
  for (let id = r.firstAt ?? 1; id < (ids[0] ?? 1); id++) skipped.add(id);
  const want = log.map((m) => m.id).filter((id) => id >= (r.firstAt ?? 1) && (r.missedTold === 0 || !skipped.has(id)));
  if (ids.length !== want.length || ids.some((id, i) => id !== want[i])) {
    failures.push(`${r.name}: printed ${ids.length} distinct of ${want.length} in order`);
  }
  if (!r.restarted && r.delivered.length !== ids.length) failures.push(`${r.name}: printed ${r.delivered.length - ids.length} twice`);
}

/**
 * Every message went to some member of the group (none lost, also when one was killed), but those its
 * members were told retention removed; and, while no member died and no server crashed, they were told of
 * no more than that (after a crash a group may hear again of what it missed).
 */
export function checkGroup(name: string, members: SimReader[], log: StoredMessage[], failures: string[], told: number, exact: boolean): void {
  if (members.length === 0) return;
  const got = new Set(members.flatMap((r) => r.delivered.map((m) => m.id)));
  const missing = log.filter((m) => !got.has(m.id)).map((m) => m.id);
  if (missing.length > told) failures.push(`group ${name}: ${missing.length} messages never handed out (first ${missing[0]}), ${told} told missed`);
  if (exact && told > missing.length) failures.push(`group ${name}: told of ${told} missed, ${missing.length} were not handed out`);
}
