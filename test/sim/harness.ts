import { rmSync } from 'node:fs';
import { addressKey } from '../../src/core/address.js';
import { serverInvariants } from '../core/server-invariants.js';
import { checkConfirmed, checkGroup, checkLog, checkReader, DeliveryChecker, KnownLog, PresenceChecker } from './checkers.js';
import { ClientDriver } from './clients.js';
import { FaultPlan } from './faults.js';
import { Prng } from './prng.js';
import { scenario, type SimOptions } from './scenario.js';
import { ReceiptsCheck } from './receipts-check.js';
import { RegistrySweep } from './registry-sweep.js';
import { pumpServer } from './servers.js';
import { SideTopics } from './side-topics.js';
import { EPOCH, SimWorld, type SimReader } from './world.js';

export type { SimOptions } from './scenario.js';

export interface SimReport {
  seed: number;
  ok: boolean;
  failures: string[];
  virtualMs: number;
  events: number;
  datagrams: number;
  dropped: number;
  stored: number;
  faultsScheduled: number;
  faultsFired: number;
  /** Names a server gave to a client started again on the same host, the old one not answering. */
  namesReclaimed: number;
  /** Messages readers were told they missed (removed by retention before they read them). */
  missed: number;
  /** Answers to TRACK that watchers got, each checked sound. */
  tracked: number;
  /** Resuming writers killed and started again. */
  writerKills: number;
}

/** Events at most in one run: more is a livelock. */
const EVENTS_MAX = 3_000_000;

/** Writers, servers and readers on one simulated network, driven by one seed. */
export async function runSimulation(seed: number, override: Partial<SimOptions> = {}): Promise<SimReport> {
  const rng = new Prng(seed);
  const world = new SimWorld(rng, { ...scenario(rng), ...override });
  const opts = world.opts;
  const log = new KnownLog(world);
  const presence = new PresenceChecker(world);
  const faults = new FaultPlan(world);
  const clients = new ClientDriver(world, new DeliveryChecker(world, log), faults);
  const sweep = new RegistrySweep(world);
  await sweep.plant();
  const receipts = new ReceiptsCheck(world, log);
  clients.onTracked = (w, e) => receipts.check(w, e);

  for (let i = 0; i < opts.writers; i++) world.addWriter(i);
  for (let i = 0; i < opts.readers; i++) world.readers.push(world.newReader(`r${i + 1}`, {}, i + 1));
  for (let i = 0; i < opts.watchers; i++) world.readers.push(world.newReader(`p${i + 1}`, { watch: true }, i));
  if (opts.onceRuns) world.readers.push(world.newReader('o1', { once: true }, 0));
  // A group's members share one server list (docs/SCALING.md: a group is coordinated by its server).
  for (let i = 0; i < opts.groupMembers; i++) world.readers.push(world.newReader(`m${i + 1}`, { group: 'g' }, 0));
  // Side topics keep everything, whatever the default topic's retention (a rule of their own): every line is read.
  const side = new SideTopics(world, opts.sideTopics);
  clients.feedWriters();
  side.feed();
  faults.plan();
  if (opts.countConsumers) clients.nextConsumer();

  const timers = new SimTimers(world);
  const afterEvent = async (): Promise<void> => {
    receipts.ask();
    clients.pump();
    side.pump();
    for (const sv of world.servers) await pumpServer(world, sv, log);
    await log.scan();
    await sweep.sweep();
    await presence.refresh();
    clients.pump();
    checkConfirmed(world, log);
    for (const sv of world.servers) if (!sv.down) for (const broken of serverInvariants(sv.core)) world.fail(`server ${addressKey(sv.addr)}: ${broken}`);
    if (opts.countConsumers) clients.stopWaitingConsumer();
    clients.pump();
    for (const w of world.writers) timers.arm(w.core);
    for (const r of world.allReaders) if (!r.dead) timers.arm(r.core);
    for (const sv of world.servers) if (!sv.down) timers.arm(sv.core);
    for (const core of side.cores) timers.arm(core);
  };

  const progress = new Progress(world, clients, presence, faults, side);
  const deadline = world.faultEnd + opts.settleMs;
  let events = 0;
  await afterEvent();
  while (!progress.finished() && !timers.spinning) {
    const ev = world.queue.pop();
    if (!ev) {
      world.failures.push('nothing left to happen, yet not finished (a stall)');
      break;
    }
    if (ev.at > deadline) {
      world.failures.push(`not finished ${opts.settleMs} ms after the network healed (liveness): ${progress.left().join(', ')} of ${world.total}`);
      break;
    }
    if (++events > EVENTS_MAX) {
      world.failures.push('too many events (a livelock)');
      break;
    }
    world.now = ev.at;
    await ev.fn();
    await afterEvent();
  }
  await sweep.check(world.failures);
  await side.checkLogs();
  return { ...(await settle(world, log, clients, progress, faults, seed, events)), tracked: receipts.answered, writerKills: world.writerKills };
}

/** The checks once the run has settled, and its report. */
async function settle(world: SimWorld, known: KnownLog, clients: ClientDriver, progress: Progress, faults: FaultPlan, seed: number, events: number): Promise<Omit<SimReport, 'tracked' | 'writerKills'>> {
  const { opts, failures, readers } = world;
  const log = await known.all();
  checkLog(log, world.writers, failures);
  for (const r of readers) if (r.group === undefined && !r.dead) checkReader(r, log, failures);
  const gFrom = opts.retainMessages > 0 ? progress.groupFirstAt('g') : 1;
  checkGroup('g', readers.filter((r) => r.group === 'g'), log.filter((m) => m.id >= gFrom), failures, progress.groupMissed('g'), !world.killed('g'));
  const qFrom = opts.retainMessages > 0 ? Math.min(...world.consumers.map((c) => c.firstAt ?? Infinity), Infinity) : 1;
  if (opts.countConsumers) checkGroup('q', world.consumers, log.filter((m) => m.id >= qFrom), failures, clients.missedQ(), !world.killed('q'));
  if (faults.fired < faults.scheduled) failures.push(`${faults.scheduled - faults.fired} of ${faults.scheduled} scheduled faults never happened`);
  if (world.sqliteDir) {
    await world.stores.close();
    rmSync(world.sqliteDir, { recursive: true, force: true });
  }
  return {
    seed,
    ok: failures.length === 0,
    failures,
    virtualMs: world.now - EPOCH,
    events,
    datagrams: world.net.sent,
    dropped: world.net.dropped,
    stored: log.length,
    faultsScheduled: faults.scheduled,
    faultsFired: faults.fired,
    namesReclaimed: faults.namesReclaimed + world.servers.reduce((n, sv) => n + (sv.down ? 0 : sv.core.stats.namesReclaimed), 0),
    missed: world.allReaders.reduce((n, r) => n + r.missedTold, 0),
  };
}

type Core = { nextDeadline(): number | undefined; handleTimeout(now: number): void; armedTimers?(): Record<string, number> };

/** Timers as data: one pending timeout per core, and a core whose deadline does not move on caught. */
class SimTimers {
  spinning = false;

  constructor(private readonly world: SimWorld) {}

  arm(core: Core): void {
    const { world } = this;
    const d = core.nextDeadline();
    if (d === undefined || world.armed.get(core) === d) return;
    world.armed.set(core, d);
    world.schedule(d, () => {
      if (world.armed.get(core) !== d) return;
      world.armed.delete(core);
      if (world.servers.some((sv) => sv.core === core && sv.down)) return;
      core.handleTimeout(world.now);
      // A deadline handled and still due would fire again at once, forever: a process spinning on its timer.
      const again = core.nextDeadline();
      if (again !== undefined && again <= world.now) {
        const due = Object.entries(core.armedTimers?.() ?? {}).filter(([, at]) => at <= world.now);
        world.failures.push(`at ${(world.now - EPOCH).toFixed(1)} ms: a core's next deadline is not after the timeout it just handled (it would spin): ${due.map(([name]) => name).join(', ')}`);
        this.spinning = true;
      }
    });
  }
}

/** When a run is done: every fault happened, every writer ended, every reader has what it should. */
class Progress {
  constructor(
    private readonly world: SimWorld,
    private readonly clients: ClientDriver,
    private readonly presence: PresenceChecker,
    private readonly faults: FaultPlan,
    private readonly side: SideTopics,
  ) {}

  finished(): boolean {
    const { world, clients, presence } = this;
    return (
      this.faults.fired >= this.faults.scheduled &&
      this.side.finished() &&
      world.writers.every((w) => w.outcome !== undefined) &&
      world.readers.every((r) => r.group !== undefined || r.dead || this.readerDone(r)) &&
      this.groupDone() &&
      (!world.opts.countConsumers || clients.queueDrained) &&
      world.readers.every((r) => r.dead || presence.differs(r) === undefined)
    );
  }

  /** What is not done yet, for the report of a run that did not finish. */
  left(): string[] {
    const { world, clients, presence } = this;
    const last = world.consumers[world.consumers.length - 1];
    return [
      ...this.side.left(),
      ...world.writers.filter((w) => w.outcome === undefined).map((w) => `${w.name} unfinished`),
      ...world.readers.filter((r) => r.group === undefined && !r.dead && !this.readerDone(r)).map((r) => `${r.name} has ${r.seen.size}`),
      ...(this.groupDone() ? [] : [`group g has ${clients.groupSeen.get('g')!.size}`]),
      ...world.readers.filter((r) => !r.dead && presence.differs(r) !== undefined).map((r) => `presence: ${presence.differs(r)}`),
      ...(world.opts.countConsumers && !clients.queueDrained
        ? [`queue q has ${clients.consumedQ()} after ${world.consumers.length} consumers (the last: ${JSON.stringify({ ...last, core: undefined, delivered: last?.delivered.map((m) => m.id), seen: undefined })})`]
        : []),
    ];
  }

  groupMissed(group: string): number {
    return this.world.readers.reduce((n, r) => n + (r.group === group ? r.missedTold : 0), 0);
  }

  /** The first id that was the group's business: where it stood when its first member signed on. */
  groupFirstAt(group: string): number {
    return Math.min(...this.world.readers.filter((r) => r.group === group).map((r) => r.firstAt ?? Infinity), Infinity);
  }

  // With retention a reader is done once it has the last line (what it skipped it was told of, as it went).
  private groupDone(): boolean {
    const { opts } = this.world;
    if (opts.groupMembers === 0) return true;
    const from = opts.retainMessages > 0 ? this.groupFirstAt('g') : 1;
    return from !== Infinity && this.clients.groupSeen.get('g')!.size + this.groupMissed('g') >= this.world.total - from + 1;
  }

  private readerDone(r: SimReader): boolean {
    return this.world.opts.retainMessages > 0 ? r.seen.has(this.world.total) : r.seen.size >= this.world.total;
  }
}
