import type { ClientRecord } from '../../src/store/store.js';
import { EPOCH, type SimWorld } from './world.js';

/** The limit the sweep forgets by (the server's --forget-after), and how often it sweeps (virtual ms). */
const FORGET_AFTER_MS = 86_400_000;
const SWEEP_EVERY_MS = 5_000;

const key = (c: { role: string; name: string }): string => `${c.role}:${c.name}`;

/**
 * The registry swept as the server sweeps it (--forget-after), while the run goes on: the store holds
 * clients long gone from the start, and they must go, with their positions; no client of the run (all
 * seen within the limit, or online) may ever be forgotten, nor lose its place.
 */
export class RegistrySweep {
  private nextAt = EPOCH;
  /** Records older than the limit, put there before the run: they are what the sweep must take. */
  private readonly ghosts: ClientRecord[] = [
    { name: 'gone-reader', role: 'reader', online: false, lastSeen: EPOCH - 40 * FORGET_AFTER_MS, topic: 'main' },
    { name: 'gone-writer', role: 'writer', online: false, lastSeen: EPOCH - 2 * FORGET_AFTER_MS, topic: 'main' },
  ];
  /** Offline, but seen within the limit: it stays. */
  private readonly recent: ClientRecord = { name: 'recent-reader', role: 'reader', online: false, lastSeen: EPOCH - FORGET_AFTER_MS / 2, topic: 'main' };
  swept = 0;

  constructor(private readonly world: SimWorld) {}

  async plant(): Promise<void> {
    if (!this.world.opts.forgetting) return;
    for (const c of [...this.ghosts, this.recent]) await this.world.store.saveClient(c);
    await this.world.store.saveCursors(new Map([['gone-reader', 1], ['recent-reader', 1]]));
  }

  /** Sweeps when one is due; what went must be what was long gone. */
  async sweep(): Promise<void> {
    const { world } = this;
    if (!world.opts.forgetting || world.now < this.nextAt) return;
    this.nextAt = world.now + SWEEP_EVERY_MS;
    const before = await world.store.clients();
    const forgotten = await world.store.forgetClients(world.now - FORGET_AFTER_MS);
    const after = new Set((await world.store.clients()).map(key));
    const gone = before.filter((c) => !after.has(key(c)));
    if (gone.length !== forgotten) world.fail(`the sweep said it forgot ${forgotten}, and ${gone.length} went`);
    const ghosts = new Set(this.ghosts.map(key));
    for (const c of gone) {
      if (!ghosts.has(key(c))) world.fail(`the sweep forgot ${key(c)} (${c.online ? 'online' : 'offline'}, last seen ${c.lastSeen - world.now} ms from now)`);
    }
    this.swept++;
  }

  /** Once the run settled: the long gone went with their positions, the recent stayed with theirs. */
  async check(failures: string[]): Promise<void> {
    if (!this.world.opts.forgetting) return;
    const store = this.world.store;
    const left = new Set((await store.clients()).map(key));
    for (const g of this.ghosts) if (left.has(key(g))) failures.push(`${key(g)}, long gone, was never forgotten`);
    if ((await store.cursor('gone-reader')) !== undefined) failures.push("a forgotten reader's position was kept");
    if (!left.has(key(this.recent)) || (await store.cursor('recent-reader')) !== 1) failures.push('a reader seen within the limit lost its record or position');
    if (this.swept === 0) failures.push('the registry was never swept');
  }
}
