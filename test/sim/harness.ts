import { createHmac } from 'node:crypto';
import { addressKey, type Address } from '../../src/core/address.js';
import { ReaderCore, READER_DEFAULTS, type Message } from '../../src/core/reader/reader-core.js';
import { SERVER_DEFAULTS, ServerCore } from '../../src/core/server/server-core.js';
import { WRITER_DEFAULTS, WriterCore } from '../../src/core/writer/writer-core.js';
import { FromKind, PacketKind } from '../../src/protocol/constants.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { runStoreRequest } from '../../src/store/store-request.js';
import { NO_RETENTION, type ProducerBatch, type Store, type StoredMessage } from '../../src/store/store.js';
import { serverInvariants } from '../core/server-invariants.js';
import { CLEAN, SimNetwork, type Faults } from './network.js';
import { Prng } from './prng.js';

const EPOCH = 1_800_000_000_000;
const serverAddress = (i: number): Address => ({ address: `10.0.0.${i + 1}`, port: 12345 + i });
/** How long a store's notification of an append takes to reach the other servers. */
const NOTIFY_MS = 0.5;

export interface SimOptions {
  writers: number;
  readers: number;
  linesPerWriter: number;
  longLineChance: number;
  datagramBytes: number;
  faults: Faults;
  faultsForMs: number;
  /** Servers sharing one store; every client has them all, each in its own order. */
  servers: number;
  restarts: number;
  partitions: number;
  /** Servers that go down while the faults last and come back only after (clients must move on). */
  outages: number;
  /**
   * While the faults last, this share of store requests stalls for seconds on its way to the store (a
   * networked store: a slow link, a busy store). Requests are applied in order per server, and one sent
   * before its server crashed is still applied.
   */
  storeStalls: number;
  /**
   * While the faults last, this share of store requests fails (a networked store whose connection drops):
   * half of them before reaching the store, half after it applied them, with the answer lost on the way back.
   */
  storeErrors: number;
  sessionTimeoutMs: number;
  readerDelays: number[];
  /** Virtual time allowed after the network heals for everything to finish. */
  settleMs: number;
  /** Authenticated mode: every client proves a secret and every datagram of a session is tagged. */
  authenticated: boolean;
  /** Readers sharing the queue group 'g' (each message to one of them); one of them may be killed. */
  groupMembers: number;
  /** A group member is killed (no BYE) while the faults last; the others must cover what it held. */
  memberCrash: boolean;
  /** `--group q --count K` consumers, one after the other, until the queue is drained; then one finds it empty. */
  countConsumers: boolean;
  /** A plain reader is killed mid-stream (what it had not printed is lost with it) and restarted later. */
  readerCrash: boolean;
  /** Readers print through a slow output: a message counts as printed a little after it is handed on. */
  slowOutput: boolean;
  /** Each writer stops for this long once, mid-input (longer than the liveness timeout, or a heartbeat). */
  writerPauseMs: number;
  /** While the faults last, the store refuses every append for this long (a full disk), once. */
  storeFullMs: number;
  /** The store: in memory, or a SQLite file in a temporary directory (the server's default store). */
  store: 'memory' | 'sqlite';
  /**
   * Readers that also watch who is online (as the chat does). Once the run settles, what each shows must
   * be the registry as the store has it: everyone online or offline as they really are (with one server:
   * with several, each reports what its own server sees, docs/SCALING.md).
   */
  watchers: number;
  /**
   * A plain reader run with --once again and again (as from cron) until it has printed the whole log:
   * each run goes on from where the last one stopped, so across runs every message is printed once.
   */
  onceRuns: boolean;
  /**
   * The store keeps only the newest N messages (0: all). Readers that fall behind are told how many they
   * missed: every id a reader skips must have been told, and no more than that; a group likewise.
   */
  retainMessages: number;
}

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
}

interface SimWriter {
  name: string;
  addr: Address;
  core: WriterCore;
  lines: Buffer[];
  submitted: number;
  outcome?: 'done' | 'failed' | 'refused';
}

interface SimReader {
  name: string;
  addr: Address;
  core: ReaderCore;
  /** Messages printed (by every incarnation of this name, in order). */
  delivered: Message[];
  /** Their ids. */
  seen: Set<number>;
  /** Slow output prints in order: when the last piece handed on comes out. */
  printAt: number;
  group?: string;
  /** Killed: its core is gone, and what it had not printed with it. */
  dead?: boolean;
  /** Restarted after a kill: it may print again what it had printed, from where the server kept it. */
  restarted?: boolean;
  /** A --count consumer: done once closed. */
  closed?: boolean;
  /** A --once consumer: the last one, which must find the drained queue empty. */
  once?: boolean;
  /** Told to stop (Ctrl-C). */
  stopping?: boolean;
  /** How many server crashes had happened when it last signed on, and when it closed. */
  crashesAtSignOn?: number;
  crashesAtClose?: number;
  /** A watcher's view of the registry: role:name -> online. */
  view?: Map<string, boolean>;
  /** Messages the server said this reader missed (retention), and how many of them its skips used. */
  missedTold: number;
  missedUsed: number;
  /**
   * Where its first session started (what it was told it missed counts from there): from the earliest
   * message kept, which retention may have moved past 1. A group member: where its group stood.
   */
  firstAt?: number;
}

/** Chooses a scenario from the seed alone. */
export function scenario(rng: Prng): SimOptions {
  const lossy = rng.chance(0.8);
  return {
    writers: rng.int(1, 3),
    readers: rng.int(1, 2),
    linesPerWriter: rng.int(20, 300),
    longLineChance: rng.pick([0, 0.01, 0.05]),
    datagramBytes: rng.pick([512, 1200]),
    faults: lossy
      ? {
          loss: rng.next() * 0.5,
          duplicate: rng.next() * 0.1,
          reorder: rng.next() * 0.2,
          delayMs: 0.05 + rng.next() * 3,
          jitterMs: rng.next() * 2,
        }
      : CLEAN,
    faultsForMs: rng.int(1_000, 15_000),
    restarts: rng.pick([0, 0, 1, 2]),
    partitions: rng.pick([0, 0, 1, 2]),
    servers: 1,
    outages: 0,
    storeStalls: 0,
    storeErrors: 0,
    sessionTimeoutMs: rng.pick([3_000, 30_000]),
    readerDelays: [0, 0, 50, 700],
    settleMs: 120_000,
    authenticated: rng.chance(0.25),
    groupMembers: rng.pick([0, 0, 2, 3]),
    memberCrash: rng.chance(0.3),
    countConsumers: rng.chance(0.3),
    readerCrash: rng.chance(0.25),
    slowOutput: rng.chance(0.5),
    writerPauseMs: rng.pick([0, 0, 3_000, 8_000]),
    storeFullMs: rng.chance(0.15) ? rng.int(500, 5_000) : 0,
    store: 'memory',
    watchers: 0,
    onceRuns: false,
    retainMessages: 0,
  };
}

const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();

/** Writers, a server and readers on one simulated network, driven by one seed. */
export async function runSimulation(seed: number, override: Partial<SimOptions> = {}): Promise<SimReport> {
  const rng = new Prng(seed);
  const opts = { ...scenario(rng), ...override };
  const queue = new EventQueue();
  let now = EPOCH;
  const schedule = (at: number, fn: () => void | Promise<void>): void => queue.push(Math.max(at, now), fn);
  const sqliteDir = opts.store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'relay-sim-')) : undefined;
  const retention = opts.retainMessages > 0 ? { ...NO_RETENTION, messages: opts.retainMessages } : NO_RETENTION;
  const store: Store = sqliteDir ? new SqliteStore({ dataDir: sqliteDir, retention, fsync: false }) : new MemoryStore(retention);
  const failures: string[] = [];
  const faultEnd = EPOCH + opts.faultsForMs;
  /** A full disk: every append fails until then. */
  let storeFullUntil = 0;

  const users = new Map<string, Buffer>();
  const credentials = (name: string): { secret?: Buffer; mac?: typeof hmac } => {
    if (!opts.authenticated) return {};
    users.set(name, Buffer.from(`secret of ${name}`));
    return { secret: users.get(name)!, mac: hmac };
  };

  // ---- the servers, restartable with their shared store intact ----
  interface SimServer {
    addr: Address;
    core: ServerCore;
    /** Bumped at each crash: results of store requests made before it are not delivered. */
    epoch: number;
    down: boolean;
    storeResultAt: number;
  }
  const newCore = (): ServerCore =>
    new ServerCore({
      ...SERVER_DEFAULTS,
      datagramBytes: opts.datagramBytes,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      randomId: () => rng.u64(),
      randomKey: () => Buffer.from(rng.u64().toString(16).padStart(16, '0'), 'hex'),
      mac: hmac,
      ...(opts.authenticated && { users }),
    });
  const servers: SimServer[] = Array.from({ length: opts.servers }, (_, i) => ({
    addr: serverAddress(i),
    core: newCore(),
    epoch: 0,
    down: false,
    storeResultAt: now,
  }));

  const nodes = new Map<string, (data: Buffer, from: Address) => void>();
  const net = new SimNetwork(rng, schedule, (to, from, data) => nodes.get(addressKey(to))?.(data, from));
  for (const sv of servers) {
    nodes.set(addressKey(sv.addr), (data, from) => {
      if (!sv.down) sv.core.handleDatagram(data, from, now);
    });
  }

  /** The store tells the other servers that the log grew (redis: a published notification). */
  const notifyOthers = (origin: SimServer, next: number): void => {
    for (const sv of servers) {
      if (sv === origin) continue;
      schedule(now + NOTIFY_MS, () => {
        if (!sv.down) sv.core.handleLogAdvanced(next, now);
      });
    }
  };

  const pumpServer = async (sv: SimServer): Promise<void> => {
    if (sv.down) return;
    const myEpoch = sv.epoch;
    const core = sv.core;
    for (let t = core.pollTransmit(); t; t = core.pollTransmit()) net.send(now, sv.addr, t.to, t.data);
    for (let r = core.pollStoreRequest(); r; r = core.pollStoreRequest()) {
      const { id, req } = r;
      // Applied later, in order; the result comes back as it is applied.
      const stall = now < faultEnd && rng.chance(opts.storeStalls) ? rng.int(500, 4_000) : 0;
      sv.storeResultAt = Math.max(sv.storeResultAt, now + rng.next() * 2 + stall);
      schedule(sv.storeResultAt, async () => {
        // The SQLite store lives in the server's process: what it had not committed when the process died
        // is gone with it. (A networked store, as redis, still applies what was on its way.)
        if (opts.store === 'sqlite' && sv.epoch !== myEpoch) return;
        let ok = true;
        let value: unknown;
        const fails = opts.storeErrors > 0 && now < faultEnd && rng.chance(opts.storeErrors) ? rng.pick(['before', 'after'] as const) : undefined;
        try {
          if (req.op === 'append' && now < storeFullUntil) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
          if (fails === 'before') throw new Error('connection to the store lost');
          value = await runStoreRequest(store, req);
          if (req.op === 'append' && opts.retainMessages > 0) recordAppend(req.batches, value as (number | null)[]);
          if (fails === 'after') throw new Error('connection to the store lost before its answer');
        } catch (e) {
          ok = false;
          value = e;
        }
        if (req.op === 'append' && servers.length > 1) notifyOthers(sv, (await store.bounds()).next);
        if (sv.epoch === myEpoch && sv.core === core) core.handleStoreResult(id, ok, value, now);
      });
    }
    for (let e = core.pollEvent(); e; e = core.pollEvent()) {
      // A member the server let go of (silent for the session timeout) died, as far as its group is concerned.
      if (e.type === 'session-closed' && e.reason === 'expired') expiredNames.add(e.name);
      // Injected store failures are reported by the server as they should be; any other is a bug.
      if (e.type === 'store-error' && opts.storeErrors === 0 && !(opts.storeFullMs > 0 && e.op === 'append')) failures.push(`store error in ${e.op}: ${String(e.error)}`);
    }
  };
  const serverList = (i: number): Address[] => servers.map((_, k) => servers[(i + k) % servers.length]!.addr);

  // ---- clients ----
  const writers: SimWriter[] = [];
  for (let i = 0; i < opts.writers; i++) {
    const addr = { address: `10.0.1.${i + 1}`, port: 40000 + i };
    const name = `w${i + 1}`;
    const lines: Buffer[] = [];
    for (let n = 1; n <= opts.linesPerWriter; n++) {
      const long = rng.chance(opts.longLineChance);
      const body = long ? 'x'.repeat(rng.int(600, 6000)) : rng.chance(0.05) ? '' : 'y'.repeat(rng.int(0, 40));
      lines.push(Buffer.from(`${name}:${n}:${body}`));
    }
    const core = new WriterCore(
      {
        ...WRITER_DEFAULTS,
        name,
        servers: serverList(i),
        producerId: rng.u64(),
        nonce: i + 1,
        timeoutMs: 1e12,
        datagramBytes: opts.datagramBytes,
        ...credentials(name),
      },
      now,
    );
    const w: SimWriter = { name, addr, core, lines, submitted: 0 };
    writers.push(w);
    nodes.set(addressKey(addr), (data, from) => core.handleDatagram(data, from, now));
  }
  const total = writers.reduce((n, w) => n + w.lines.length, 0);
  const readers: SimReader[] = [];
  let readerPort = 50000;
  const newReader = (
    name: string,
    extra: { group?: string; count?: number; once?: boolean; fromKind?: FromKind; watch?: boolean },
    serverIndex: number,
    host = `10.0.2.${(readerPort % 200) + 1}`,
  ): SimReader => {
    const addr = { address: host, port: readerPort++ };
    const core = new ReaderCore(
      {
        ...READER_DEFAULTS,
        name,
        servers: serverList(serverIndex),
        nonce: readerPort,
        fromKind: extra.fromKind ?? FromKind.Earliest,
        delayMs: rng.pick(opts.readerDelays),
        awaitPrinted: opts.slowOutput,
        ...(extra.group !== undefined && { group: extra.group }),
        ...(extra.count !== undefined && { count: extra.count }),
        ...(extra.once && { once: true }),
        ...(extra.watch && { presence: 'watch' as const }),
        ...credentials(name),
      },
      now,
    );
    const r: SimReader = {
      name,
      addr,
      core,
      delivered: [],
      seen: new Set(),
      printAt: 0,
      missedTold: 0,
      missedUsed: 0,
      ...(extra.group !== undefined && { group: extra.group }),
      ...(extra.once && { once: true }),
      ...(extra.watch && { view: new Map<string, boolean>() }),
    };
    nodes.set(addressKey(addr), (data, from) => {
      if (r.core === core && !r.dead) core.handleDatagram(data, from, now);
    });
    return r;
  };
  for (let i = 0; i < opts.readers; i++) readers.push(newReader(`r${i + 1}`, {}, i + 1));
  for (let i = 0; i < opts.watchers; i++) readers.push(newReader(`p${i + 1}`, { watch: true }, i));
  if (opts.onceRuns) readers.push(newReader('o1', { once: true }, 0));
  // A group's members share one server list (docs/SCALING.md: a group is coordinated by its server).
  for (let i = 0; i < opts.groupMembers; i++) readers.push(newReader(`m${i + 1}`, { group: 'g' }, 0));
  const consumers: SimReader[] = [];
  let queueDrained = false;
  const nextConsumer = (): void => {
    const once = consumers.length > 0 && consumedQ() >= total;
    // Each takes a few, never more than are left (or it would wait for ever, as it should).
    const count = Math.min(rng.int(1, 5), total - consumedQ());
    const c = newReader(`c${consumers.length + 1}`, once ? { group: 'q', once: true } : { group: 'q', count }, 0);
    consumers.push(c);
  };
  const groupSeen = new Map<string, Set<number>>([['g', new Set()], ['q', new Set()]]);
  const consumedQ = (): number => groupSeen.get('q')!.size;
  /** The queue is all taken while a consumer still waits for its count: its user stops it (Ctrl-C). */
  const stopWaitingConsumer = (): void => {
    const c = consumers[consumers.length - 1];
    if (!c || c.once || c.closed || c.dead || c.stopping || consumedQ() < total) return;
    c.stopping = true;
    c.core.close(now);
  };

  /** Hands messages on as printed: at once, or (slow output) a little later; a killed reader prints nothing more. */
  const print = (r: SimReader, core: ReaderCore, messages: Message[], upTo: number): void => {
    const done = (): void => {
      if (r.dead || r.core !== core) return;
      checkDelivery(r, messages);
      r.delivered.push(...messages);
      for (const m of messages) {
        r.seen.add(m.id);
        if (r.group !== undefined) groupSeen.get(r.group)!.add(m.id);
      }
      if (opts.slowOutput) core.printed(upTo, now);
    };
    if (!opts.slowOutput) return done();
    r.printAt = Math.max(r.printAt, now) + rng.next() * 3;
    schedule(r.printAt, done);
  };

  /** The registry as the store has it, read after every event when someone watches it. */
  let registry = new Map<string, boolean>();
  /** Where a watcher's view differs from the registry (its own entry aside), or undefined. */
  const viewDiffers = (r: SimReader): string | undefined => {
    // With several servers a watcher sees the comings and goings of its own server only (docs/SCALING.md).
    if (!r.view || opts.servers > 1) return undefined;
    for (const [k, online] of registry) {
      if (k === `reader:${r.name}`) continue;
      if (r.view.get(k) !== online) return `${k} is ${online ? 'online' : 'offline'}, ${r.name} shows ${r.view.get(k) ?? 'nothing'}`;
    }
    return undefined;
  };

  // ---- checks made as the run goes ----
  /** The log as stored so far, by id (grown from the store as the run goes). */
  const stored = new Map<number, StoredMessage>();
  const storedBy = new Map<string, number>();
  let scannedTo = 1;
  /** With retention, the log is known from what each append stored (a scan would miss what was trimmed at once). */
  const recordAppend = (batches: ProducerBatch[], firstIds: (number | null)[]): void => {
    batches.forEach((b, i) => {
      const first = firstIds[i];
      if (first === null || first === undefined) return;
      b.messages.forEach((m, k) => {
        stored.set(first + k, { ...m, id: first + k });
        storedBy.set(m.from, (storedBy.get(m.from) ?? 0) + 1);
      });
    });
  };
  const scanStore = async (): Promise<void> => {
    if (opts.retainMessages > 0) return;
    const r = await store.read(scannedTo, { maxMessages: 1e9, maxBytes: 1e12, user: '' });
    for (const m of r.messages) {
      stored.set(m.id, m);
      storedBy.set(m.from, (storedBy.get(m.from) ?? 0) + 1);
    }
    scannedTo = r.next;
  };
  const fail = (what: string): void => {
    if (failures.length < 20) failures.push(`at ${(now - EPOCH).toFixed(1)} ms: ${what}`);
  };
  /** A writer's confirmed lines are in the store, every one of them, at every moment. */
  const checkConfirmed = (): void => {
    for (const w of writers) {
      const have = storedBy.get(w.name) ?? 0;
      if (w.core.confirmedLines > have) fail(`${w.name}: ${w.core.confirmedLines} lines confirmed, ${have} in the store (acknowledged before stored)`);
    }
  };
  /** A member died, or a server did (a group resumes from its saved low water: at least once). */
  /** A member of the group died (killed, expired, or cut off from its server): its messages go round again. */
  const memberDied = (group: string): boolean =>
    lostMember.has(group) || [...readers, ...consumers].some((r) => r.group === group && (r.dead || expiredNames.has(r.name)));
  const killed = (group: string): boolean =>
    serverCrashed || lostMember.has(group) || [...readers, ...consumers].some((r) => r.group === group && (r.dead || expiredNames.has(r.name)));
  const expiredNames = new Set<string>();
  let serverCrashed = false;
  const lostMember = new Set<string>();
  /** Server crashes so far. */
  let crashes = 0;
  const takenBy = new Map<string, string>();
  /** Each printed message is the stored one; a plain reader never skips an id; a group never hands one out twice while no member died. */
  const checkDelivery = (r: SimReader, messages: Message[]): void => {
    let last = r.delivered[r.delivered.length - 1]?.id ?? (r.group === undefined ? (r.firstAt ?? 1) - 1 : 0);
    for (const m of messages) {
      const want = stored.get(m.id);
      if (!want || !m.text.equals(want.text) || m.from !== want.from || m.ts !== want.ts) {
        return fail(`${r.name}: printed id ${m.id}, which the log does not hold as printed`);
      }
      if (r.group === undefined) {
        const gap = m.id - last - 1;
        if (gap > 0 && gap <= r.missedTold - r.missedUsed) r.missedUsed += gap; // removed by retention, and said so
        else if (gap > 0) return fail(`${r.name}: skipped from ${last} to ${m.id}, told of ${r.missedTold - r.missedUsed} missed`);
        if (m.id <= last && !r.restarted) return fail(`${r.name}: printed ${m.id} again after ${last}`);
      } else {
        if (m.id <= last && !killed(r.group)) return fail(`${r.name}: ${m.id} after ${last} (out of order in the group)`);
        const key = `${r.group}:${m.id}`;
        const other = takenBy.get(key);
        if (other !== undefined && other !== r.name && !killed(r.group)) return fail(`${m.id} handed to ${other} and ${r.name} while no member of ${r.group} died`);
        // While no member died: one that signed on, took a message and left cleanly (its BYE answered) with
        // no server crash in between took it for good, whatever crashes after.
        const gone = other === undefined ? undefined : [...readers, ...consumers].find((x) => x.name === other);
        if (gone && gone !== r && gone.closed && !gone.dead && gone.crashesAtClose === gone.crashesAtSignOn && !memberDied(r.group)) {
          return fail(`${m.id} handed to ${r.name} after ${other} had taken it and left cleanly`);
        }
        takenBy.set(key, r.name);
      }
      last = m.id;
    }
  };
  /** On a clean network with live servers and a store that works, nobody is told a server is lost. */
  const healthy =
    opts.faults === CLEAN && opts.restarts === 0 && opts.partitions === 0 && opts.outages === 0 && opts.storeStalls === 0 && opts.storeErrors === 0 && opts.storeFullMs === 0;

  const pumpClients = (): void => {
    for (const w of writers) {
      for (let t = w.core.pollTransmit(); t; t = w.core.pollTransmit()) net.send(now, w.addr, t.to, t.data);
      for (let e = w.core.pollEvent(); e; e = w.core.pollEvent()) {
        if (e.type === 'done' || e.type === 'failed' || e.type === 'refused') w.outcome = e.type;
        if (e.type === 'oversize') failures.push(`${w.name}: line ${e.line} refused as oversize`);
        if (healthy && (e.type === 'server-lost' || e.type === 'failover')) fail(`${w.name}: told ${e.type} by a healthy server`);
      }
    }
    for (const r of [...readers, ...consumers]) {
      if (r.dead) continue;
      const core = r.core;
      for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
        // The worst moment for a --once run: its server crashes as the run's goodbye is on its way.
        if (r.once && r.group === undefined && (t.data[3]! & 0x7f) === PacketKind.Bye && now < faultEnd && rng.chance(0.3)) {
          const sv = servers.find((x) => addressKey(x.addr) === addressKey(t.to));
          if (sv && !sv.down) crash(sv, now, now + rng.int(10, 300));
        }
        net.send(now, r.addr, t.to, t.data);
      }
      for (let e = core.pollEvent(); e; e = core.pollEvent()) {
        if (e.type === 'messages') print(r, core, e.messages, e.upTo);
        const missed = e.type === 'missed' ? e.count : e.type === 'registered' ? e.missed : 0;
        if (missed > 0 && opts.retainMessages === 0) fail(`${r.name}: told of ${missed} missed with nothing removed`);
        r.missedTold += missed;
        if (e.type === 'registered' && r.firstAt === undefined) r.firstAt = e.position - e.missed;
        // A member's leave is certain only for its first session, closed by GOODBYE (not 'unknown session').
        if (e.type === 'registered') r.crashesAtSignOn = e.again ? -1 : crashes;
        if (e.type === 'failover' || (e.type === 'closed' && e.sessionLost)) r.crashesAtSignOn = -1;
        if (e.type === 'registry' && r.view) r.view = new Map(e.entries.map((x) => [`${x.role}:${x.name}`, x.online]));
        if (e.type === 'presence' && r.view) for (const x of e.changes) r.view.set(`${x.role}:${x.name}`, x.online);
        // Registered again: the server had lost its session (expired while cut off), and what it held with it.
        // So did a member that moved to another server (a group is coordinated by its server: docs/SCALING.md).
        if (((e.type === 'registered' && e.again) || e.type === 'failover') && r.group !== undefined) lostMember.add(r.group);
        if (e.type === 'refused') failures.push(`${r.name} refused: ${e.reason}`);
        if (healthy && (e.type === 'server-lost' || e.type === 'failover')) fail(`${r.name}: told ${e.type} by a healthy server`);
        if (e.type === 'closed' && !r.closed) {
          r.closed = true;
          r.crashesAtClose = crashes;
          // No answer to its BYE: to the server it is a member that died (what it held comes back later).
          if (e.unconfirmed) r.dead = true;
          if (r.group === undefined && r.once && !r.dead && r.seen.size < total) {
            // The next run, a little later, from the same host. A run whose goodbye was not confirmed may
            // not have had its place kept: the next one may print some of it again.
            if (e.unconfirmed || e.sessionLost) r.restarted = true;
            const at = now + rng.int(1, 300);
            schedule(at, () => {
              const next = newReader(r.name, { once: true }, 0, r.addr.address);
              Object.assign(r, { addr: next.addr, core: next.core, closed: false });
            });
          }
          const c = consumers[consumers.length - 1];
          if (c === r && r.once) {
            if (r.delivered.length > 0 && !killed('q')) fail(`${r.name}: the drained queue handed out ${r.delivered.map((m) => m.id).join(',')} again`);
            queueDrained = true;
          } else if (c === r) nextConsumer();
        }
      }
    }
  };

  // ---- timers as data: one pending timeout per core ----
  const armed = new Map<object, number>();
  let spinning = false;
  const arm = (core: { nextDeadline(): number | undefined; handleTimeout(now: number): void; armedTimers?(): Record<string, number> }): void => {
    const d = core.nextDeadline();
    if (d === undefined || armed.get(core) === d) return;
    armed.set(core, d);
    schedule(d, () => {
      if (armed.get(core) !== d) return;
      armed.delete(core);
      if (servers.some((sv) => sv.core === core && sv.down)) return;
      core.handleTimeout(now);
      // A deadline handled and still due would fire again at once, forever: a process spinning on its timer.
      const again = core.nextDeadline();
      if (again !== undefined && again <= now) {
        const due = Object.entries(core.armedTimers?.() ?? {}).filter(([, at]) => at <= now);
        failures.push(`at ${(now - EPOCH).toFixed(1)} ms: a core's next deadline is not after the timeout it just handled (it would spin): ${due.map(([name]) => name).join(', ')}`);
        spinning = true;
      }
    });
  };
  const afterEvent = async (): Promise<void> => {
    pumpClients();
    for (const sv of servers) await pumpServer(sv);
    await scanStore();
    if (opts.watchers > 0) registry = new Map((await store.clients()).map((c) => [`${c.role}:${c.name}`, c.online]));
    pumpClients();
    checkConfirmed();
    for (const sv of servers) if (!sv.down) for (const broken of serverInvariants(sv.core)) fail(`server ${addressKey(sv.addr)}: ${broken}`);
    if (opts.countConsumers) stopWaitingConsumer();
    pumpClients();
    for (const w of writers) arm(w.core);
    for (const r of [...readers, ...consumers]) if (!r.dead) arm(r.core);
    for (const sv of servers) if (!sv.down) arm(sv.core);
  };

  // ---- input: lines arrive in bursts, as fast as the writer accepts them ----
  const paused = new Set<SimWriter>();
  for (const w of writers) {
    const feed = (): void => {
      if (w.core.finished) return;
      const burst = rng.int(1, 200);
      for (let i = 0; i < burst && w.submitted < w.lines.length && w.core.acceptingInput; i++) {
        w.core.submitLine(w.lines[w.submitted++]!);
      }
      w.core.flush(now);
      if (w.submitted >= w.lines.length) return w.core.endInput(now);
      // Once, mid-input, the source goes quiet for a while (a log with nothing to say).
      const pause = w.submitted >= pauseAt && !paused.has(w) ? (paused.add(w), opts.writerPauseMs) : 0;
      schedule(now + pause + rng.next() * 20, feed);
    };
    const pauseAt = rng.int(1, w.lines.length);
    schedule(now + rng.next() * 50, feed);
  }

  // ---- faults ----
  /** Faults are scheduled here: the run goes on until the last of them has happened, and counts them. */
  let lastFaultAt = 0;
  let faultsScheduled = 0;
  let faultsFired = 0;
  let namesReclaimed = 0;
  const scheduleFault = (at: number, fn: () => void): void => {
    faultsScheduled++;
    lastFaultAt = Math.max(lastFaultAt, at);
    schedule(at, () => {
      faultsFired++;
      fn();
    });
  };
  net.faults = opts.faults;
  schedule(faultEnd, () => {
    net.faults = CLEAN;
    net.partitioned.clear();
  });
  /** A crash: the process and everything in its memory is gone; a new one starts later on the same store. */
  const crash = (sv: SimServer, at: number, backAt: number): void => {
    scheduleFault(at, () => {
      if (sv.down) return;
      crashes++;
      namesReclaimed += sv.core.stats.namesReclaimed;
      sv.down = true;
      serverCrashed = true;
      sv.epoch++;
      armed.delete(sv.core);
    });
    scheduleFault(backAt, () => {
      if (!sv.down) return;
      sv.core = newCore();
      sv.down = false;
    });
  };
  for (let i = 0; i < opts.restarts; i++) {
    const at = EPOCH + rng.next() * opts.faultsForMs;
    crash(rng.pick(servers), at, at + rng.int(10, 3_000));
  }
  for (let i = 0; i < opts.outages; i++) {
    crash(rng.pick(servers), EPOCH + rng.next() * opts.faultsForMs, faultEnd + rng.int(0, 1_000));
  }
  /** A killed reader: gone with what it had not printed; `restartAt`: the same name comes back there. */
  const kill = (r: SimReader, at: number, restartAt?: number): void => {
    scheduleFault(at, () => {
      if (r.dead || r.closed) return;
      r.dead = true;
      armed.delete(r.core);
      if (restartAt === undefined) return;
      scheduleFault(restartAt, () => {
        // Started again on the same host, from a new port (the server asks the old session's client first).
        const again = newReader(r.name, r.group !== undefined ? { group: r.group } : { watch: r.view !== undefined }, r.group !== undefined ? 0 : 1, r.addr.address);
        // A watcher started again knows nothing yet of who is online: its view starts over.
        Object.assign(r, { addr: again.addr, core: again.core, dead: false, restarted: true, view: again.view });
      });
    });
  };
  const plain = readers.filter((r) => r.group === undefined);
  if (opts.readerCrash && plain.length > 0) {
    const at = EPOCH + rng.next() * opts.faultsForMs;
    // Back at once (its host's newcomer gets the name when the old client does not answer), or much later.
    kill(rng.pick(plain), at, at + (rng.chance(0.5) ? rng.int(50, 3_000) : opts.sessionTimeoutMs + rng.int(1_000, 3_000)));
  }
  const members = readers.filter((r) => r.group === 'g');
  if (opts.memberCrash && members.length > 1) kill(rng.pick(members), EPOCH + rng.next() * opts.faultsForMs);
  if (opts.storeFullMs > 0) {
    const at = EPOCH + rng.next() * opts.faultsForMs;
    scheduleFault(at, () => (storeFullUntil = at + opts.storeFullMs));
  }
  for (let i = 0; i < opts.partitions; i++) {
    const all = [...servers.map((sv) => sv.addr), ...writers.map((w) => w.addr), ...readers.map((r) => r.addr)];
    const victim = addressKey(rng.pick(all));
    const at = EPOCH + rng.next() * opts.faultsForMs;
    scheduleFault(at, () => {
      net.partitioned.add(victim);
    });
    scheduleFault(Math.min(at + rng.int(100, 5_000), faultEnd), () => {
      net.partitioned.delete(victim);
    });
  }

  // ---- run ----
  if (opts.countConsumers) nextConsumer();
  const live = (r: SimReader): boolean => !r.dead;
  const groupMissed = (group: string): number => readers.reduce((n, r) => n + (r.group === group ? r.missedTold : 0), 0);
  /** The first id that was the group's business: where it stood when its first member signed on. */
  const groupFirstAt = (group: string): number => Math.min(...readers.filter((r) => r.group === group).map((r) => r.firstAt ?? Infinity), Infinity);
  // With retention a reader is done once it has the last line (what it skipped it was told of, as it went).
  const groupDone = (): boolean => {
    if (opts.groupMembers === 0) return true;
    const from = opts.retainMessages > 0 ? groupFirstAt('g') : 1;
    return from !== Infinity && groupSeen.get('g')!.size + groupMissed('g') >= total - from + 1;
  };
  const readerDone = (r: SimReader): boolean => (opts.retainMessages > 0 ? r.seen.has(total) : r.seen.size >= total);
  const finished = (): boolean =>
    faultsFired >= faultsScheduled &&
    writers.every((w) => w.outcome !== undefined) &&
    readers.every((r) => r.group !== undefined || !live(r) || readerDone(r)) &&
    groupDone() &&
    (!opts.countConsumers || queueDrained) &&
    readers.every((r) => !live(r) || viewDiffers(r) === undefined);
  const deadline = faultEnd + opts.settleMs;
  let events = 0;
  await afterEvent();
  while (!finished() && !spinning) {
    const ev = queue.pop();
    if (!ev) {
      failures.push('nothing left to happen, yet not finished (a stall)');
      break;
    }
    if (ev.at > deadline) {
      const left = [
        ...writers.filter((w) => w.outcome === undefined).map((w) => `${w.name} unfinished`),
        ...readers.filter((r) => r.group === undefined && !r.dead && !readerDone(r)).map((r) => `${r.name} has ${r.seen.size}`),
        ...(groupDone() ? [] : [`group g has ${groupSeen.get('g')!.size}`]),
        ...readers.filter((r) => live(r) && viewDiffers(r) !== undefined).map((r) => `presence: ${viewDiffers(r)}`),
        ...(opts.countConsumers && !queueDrained
          ? [`queue q has ${consumedQ()} after ${consumers.length} consumers (the last: ${JSON.stringify({ ...consumers[consumers.length - 1], core: undefined, delivered: consumers[consumers.length - 1]?.delivered.map((m) => m.id), seen: undefined })})`]
          : []),
      ];
      failures.push(`not finished ${opts.settleMs} ms after the network healed (liveness): ${left.join(', ')} of ${total}`);
      break;
    }
    if (++events > 3_000_000) {
      failures.push('too many events (a livelock)');
      break;
    }
    now = ev.at;
    await ev.fn();
    await afterEvent();
  }

  // ---- invariants ----
  // With retention, the log as it was appended (the store keeps only its newest part).
  const log = opts.retainMessages > 0 ? [...stored.values()].sort((a, b) => a.id - b.id) : (await store.read(1, { maxMessages: 1e9, maxBytes: 1e12, user: '' })).messages;
  checkLog(log, writers, failures);
  for (const r of readers) if (r.group === undefined && !r.dead) checkReader(r, log, failures);
  const gFrom = opts.retainMessages > 0 ? groupFirstAt('g') : 1;
  checkGroup('g', readers.filter((r) => r.group === 'g'), log.filter((m) => m.id >= gFrom), failures, groupMissed('g'));
  if (opts.countConsumers) checkGroup('q', consumers, log, failures, 0);
  if (faultsFired < faultsScheduled) failures.push(`${faultsScheduled - faultsFired} of ${faultsScheduled} scheduled faults never happened`);
  if (sqliteDir) {
    await store.close();
    rmSync(sqliteDir, { recursive: true, force: true });
  }
  return {
    seed,
    ok: failures.length === 0,
    failures,
    virtualMs: now - EPOCH,
    events,
    datagrams: net.sent,
    dropped: net.dropped,
    stored: log.length,
    faultsScheduled,
    faultsFired,
    namesReclaimed: namesReclaimed + servers.reduce((n, sv) => n + (sv.down ? 0 : sv.core.stats.namesReclaimed), 0),
    missed: [...readers, ...consumers].reduce((n, r) => n + r.missedTold, 0),
  };
}

/** Every message went to some member of the group (none lost, also when one was killed), but those its members were told retention removed. */
function checkGroup(name: string, members: SimReader[], log: StoredMessage[], failures: string[], told: number): void {
  if (members.length === 0) return;
  const got = new Set(members.flatMap((r) => r.delivered.map((m) => m.id)));
  const missing = log.filter((m) => !got.has(m.id)).map((m) => m.id);
  if (missing.length > told) failures.push(`group ${name}: ${missing.length} messages never handed out (first ${missing[0]}), ${told} told missed`);
}

function checkLog(log: StoredMessage[], writers: SimWriter[], failures: string[]): void {
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
function checkReader(r: SimReader, log: StoredMessage[], failures: string[]): void {
  const ids: number[] = [];
  for (const m of r.delivered) if (ids.length === 0 || m.id > ids[ids.length - 1]!) ids.push(m.id);
  // What it skipped it was told of as it went (checkDelivery); it must have been told of nothing more.
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

/** A binary heap of timed events; ties keep insertion order, so runs are reproducible. */
class EventQueue {
  private heap: { at: number; seq: number; fn: () => void | Promise<void> }[] = [];
  private seq = 0;

  push(at: number, fn: () => void | Promise<void>): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, fn });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): { at: number; fn: () => void | Promise<void> } | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}
