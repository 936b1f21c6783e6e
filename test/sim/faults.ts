import { addressKey } from '../../src/core/address.js';
import { CLEAN } from './network.js';
import type { SimReader, SimServer, SimWorld } from './world.js';

/**
 * The faults of a run, from its scenario: server crashes and outages, readers killed (and started again),
 * a full disk, partitions, and a faulty network until `faultEnd`. Each is counted: a run goes on until
 * every scheduled fault has happened.
 */
export class FaultPlan {
  scheduled = 0;
  fired = 0;
  /** Names servers gave to a client started again on the same host, counted as the servers crash. */
  namesReclaimed = 0;

  constructor(private readonly world: SimWorld) {}

  /** Schedules the scenario's faults, in this order (the seed decides the rest). */
  plan(): void {
    const { world } = this;
    const { opts, rng, net } = world;
    const during = (): number => world.now + rng.next() * opts.faultsForMs;
    net.faults = opts.faults;
    world.schedule(world.faultEnd, () => {
      net.faults = CLEAN;
      net.partitioned.clear();
    });
    for (let i = 0; i < opts.restarts; i++) {
      const at = during();
      this.crash(rng.pick(world.servers), at, at + rng.int(10, 3_000));
    }
    for (let i = 0; i < opts.outages; i++) this.crash(rng.pick(world.servers), during(), world.faultEnd + rng.int(0, 1_000));
    const plain = world.readers.filter((r) => r.group === undefined);
    if (opts.readerCrash && plain.length > 0) {
      const at = during();
      // Back at once (its host's newcomer gets the name when the old client does not answer), or much later.
      this.kill(rng.pick(plain), at, at + (rng.chance(0.5) ? rng.int(50, 3_000) : opts.sessionTimeoutMs + rng.int(1_000, 3_000)));
    }
    const members = world.readers.filter((r) => r.group === 'g');
    if (opts.memberCrash && members.length > 1) this.kill(rng.pick(members), during());
    if (opts.storeFullMs > 0) {
      const at = during();
      this.schedule(at, () => (world.storeFullUntil = at + opts.storeFullMs));
    }
    for (let i = 0; i < opts.partitions; i++) this.partition();
    for (let i = 0; i < opts.pathResets; i++) this.pathReset(during());
  }

  /** A client's TCP connection drops: what was in flight is lost, and the client is told. */
  private pathReset(at: number): void {
    const world = this.world;
    this.schedule(at, () => {
      const clients = [...world.writers, ...world.allReaders.filter((r) => !r.dead && !r.closed)];
      const c = world.rng.pick(clients);
      world.net.cut(c.addr);
      c.core.handlePathReset(world.now);
    });
  }

  /** A crash: the process and everything in its memory is gone; a new one starts later on the same store. */
  crash(sv: SimServer, at: number, backAt: number): void {
    const world = this.world;
    this.schedule(at, () => {
      if (sv.down) return;
      world.crashes++;
      this.namesReclaimed += sv.core.stats.namesReclaimed;
      sv.down = true;
      world.serverCrashed = true;
      sv.epoch++;
      world.armed.delete(sv.core);
    });
    this.schedule(backAt, () => {
      if (!sv.down) return;
      sv.core = world.newServerCore();
      sv.down = false;
    });
  }

  /** A killed reader: gone with what it had not printed; `restartAt`: the same name comes back there. */
  private kill(r: SimReader, at: number, restartAt?: number): void {
    const world = this.world;
    this.schedule(at, () => {
      if (r.dead || r.closed) return;
      r.dead = true;
      world.armed.delete(r.core);
      if (restartAt === undefined) return;
      this.schedule(restartAt, () => {
        // Started again on the same host, from a new port (the server asks the old session's client first).
        const again = world.newReader(r.name, r.group !== undefined ? { group: r.group } : { watch: r.view !== undefined }, r.group !== undefined ? 0 : 1, r.addr.address);
        // A watcher started again knows nothing yet of who is online: its view starts over.
        Object.assign(r, { addr: again.addr, core: again.core, dead: false, restarted: true, view: again.view });
      });
    });
  }

  /** One of the hosts is cut off from everyone for a while. */
  private partition(): void {
    const { world } = this;
    const { rng, net } = world;
    const all = [...world.servers.map((sv) => sv.addr), ...world.writers.map((w) => w.addr), ...world.readers.map((r) => r.addr)];
    const victim = addressKey(rng.pick(all));
    const at = world.now + rng.next() * world.opts.faultsForMs;
    this.schedule(at, () => {
      net.partitioned.add(victim);
    });
    this.schedule(Math.min(at + rng.int(100, 5_000), world.faultEnd), () => {
      net.partitioned.delete(victim);
    });
  }

  private schedule(at: number, fn: () => void): void {
    this.scheduled++;
    this.world.schedule(at, () => {
      this.fired++;
      fn();
    });
  }
}
