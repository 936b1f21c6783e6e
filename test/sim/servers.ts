import { runStoreRequest } from '../../src/store/store-request.js';
import type { KnownLog } from './checkers.js';
import type { SimServer, SimWorld } from './world.js';

/** How long a store's notification of an append takes to reach the other servers. */
const NOTIFY_MS = 0.5;

/**
 * Takes what a server core put out: its datagrams onto the network, its store requests to the shared store
 * (applied later, in order per server, some stalled or failed while the faults last), its events.
 */
export async function pumpServer(world: SimWorld, sv: SimServer, log: KnownLog): Promise<void> {
  if (sv.down) return;
  const { opts, rng } = world;
  const core = sv.core;
  for (let t = core.pollTransmit(); t; t = core.pollTransmit()) world.net.send(world.now, sv.addr, t.to, t.data);
  for (let r = core.pollStoreRequest(); r; r = core.pollStoreRequest()) {
    const request = r;
    // Applied later, in order; the result comes back as it is applied.
    const stall = world.faulty && rng.chance(opts.storeStalls) ? rng.int(500, 4_000) : 0;
    sv.storeResultAt = Math.max(sv.storeResultAt, world.now + rng.next() * 2 + stall);
    const epoch = sv.epoch;
    world.schedule(sv.storeResultAt, () => applyRequest(world, sv, core, epoch, request, log));
  }
  for (let e = core.pollEvent(); e; e = core.pollEvent()) {
    // A member the server let go of (silent for the session timeout) died, as far as its group is concerned.
    if (e.type === 'session-closed' && e.reason === 'expired') world.expiredNames.add(e.name);
    // Injected store failures are reported by the server as they should be; any other is a bug.
    if (e.type === 'store-error' && opts.storeErrors === 0 && !(opts.storeFullMs > 0 && e.op === 'append')) world.failures.push(`store error in ${e.op}: ${String(e.error)}`);
  }
}

type Request = NonNullable<ReturnType<SimServer['core']['pollStoreRequest']>>;

/** One store request applied, as it reaches the store; its result goes back to the core that made it, if that still runs. */
async function applyRequest(world: SimWorld, sv: SimServer, core: SimServer['core'], epoch: number, { id, req }: Request, log: KnownLog): Promise<void> {
  const { opts, rng, stores } = world;
  // The SQLite store lives in the server's process: what it had not committed when the process died
  // is gone with it. (A networked store, as redis, still applies what was on its way.)
  if (opts.store === 'sqlite' && sv.epoch !== epoch) return;
  let ok = true;
  let value: unknown;
  const fails = opts.storeErrors > 0 && world.faulty && rng.chance(opts.storeErrors) ? rng.pick(['before', 'after'] as const) : undefined;
  try {
    if (req.op === 'append' && world.now < world.storeFullUntil) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    if (fails === 'before') throw new Error('connection to the store lost');
    value = await runStoreRequest(stores, req);
    if (req.op === 'append' && opts.retainMessages > 0) log.recordAppend(req.batches, value as (number | null)[]);
    if (fails === 'after') throw new Error('connection to the store lost before its answer');
  } catch (e) {
    ok = false;
    value = e;
  }
  if (req.op === 'append' && world.servers.length > 1) {
    for (const topic of new Set(req.batches.map((b) => b.topic))) notifyOthers(world, sv, topic, (await (await stores.of(topic)).bounds()).next);
  }
  if (sv.epoch === epoch && sv.core === core) core.handleStoreResult(id, ok, value, world.now);
}

/** The store tells the other servers that the log grew (redis: a published notification). */
function notifyOthers(world: SimWorld, origin: SimServer, topic: string, next: number): void {
  for (const sv of world.servers) {
    if (sv === origin) continue;
    world.schedule(world.now + NOTIFY_MS, () => {
      if (!sv.down) sv.core.handleLogAdvanced(next, world.now, topic);
    });
  }
}
