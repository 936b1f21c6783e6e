import { createHmac } from 'node:crypto';
import { addressKey, type Address } from '../../src/core/address.js';
import { ReaderCore, READER_DEFAULTS, type Message } from '../../src/core/reader/reader-core.js';
import { SERVER_DEFAULTS, ServerCore } from '../../src/core/server/server-core.js';
import { WRITER_DEFAULTS, WriterCore } from '../../src/core/writer/writer-core.js';
import { FromKind } from '../../src/protocol/constants.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { runStoreRequest } from '../../src/store/store-request.js';
import type { StoredMessage } from '../../src/store/store.js';
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
  delivered: Message[];
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
  const store = new MemoryStore();
  const failures: string[] = [];
  const faultEnd = EPOCH + opts.faultsForMs;

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
        let ok = true;
        let value: unknown;
        const fails = opts.storeErrors > 0 && now < faultEnd && rng.chance(opts.storeErrors) ? rng.pick(['before', 'after'] as const) : undefined;
        try {
          if (fails === 'before') throw new Error('connection to the store lost');
          value = await runStoreRequest(store, req);
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
      // Injected store failures are reported by the server as they should be; any other is a bug.
      if (e.type === 'store-error' && opts.storeErrors === 0) failures.push(`store error in ${e.op}: ${String(e.error)}`);
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
  const readers: SimReader[] = [];
  for (let i = 0; i < opts.readers; i++) {
    const addr = { address: `10.0.2.${i + 1}`, port: 50000 + i };
    const core = new ReaderCore(
      {
        ...READER_DEFAULTS,
        name: `r${i + 1}`,
        servers: serverList(i + 1),
        nonce: 100 + i,
        fromKind: FromKind.Earliest,
        delayMs: rng.pick(opts.readerDelays),
        ...credentials(`r${i + 1}`),
      },
      now,
    );
    const r: SimReader = { name: `r${i + 1}`, addr, core, delivered: [] };
    readers.push(r);
    nodes.set(addressKey(addr), (data, from) => core.handleDatagram(data, from, now));
  }

  const pumpClients = (): void => {
    for (const w of writers) {
      for (let t = w.core.pollTransmit(); t; t = w.core.pollTransmit()) net.send(now, w.addr, t.to, t.data);
      for (let e = w.core.pollEvent(); e; e = w.core.pollEvent()) {
        if (e.type === 'done' || e.type === 'failed' || e.type === 'refused') w.outcome = e.type;
        if (e.type === 'oversize') failures.push(`${w.name}: line ${e.line} refused as oversize`);
      }
    }
    for (const r of readers) {
      for (let t = r.core.pollTransmit(); t; t = r.core.pollTransmit()) net.send(now, r.addr, t.to, t.data);
      for (let e = r.core.pollEvent(); e; e = r.core.pollEvent()) {
        if (e.type === 'messages') r.delivered.push(...e.messages);
        if (e.type === 'refused') failures.push(`${r.name} refused: ${e.reason}`);
      }
    }
  };

  // ---- timers as data: one pending timeout per core ----
  const armed = new Map<object, number>();
  const arm = (core: { nextDeadline(): number | undefined; handleTimeout(now: number): void }): void => {
    const d = core.nextDeadline();
    if (d === undefined || armed.get(core) === d) return;
    armed.set(core, d);
    schedule(d, () => {
      if (armed.get(core) !== d) return;
      armed.delete(core);
      if (servers.some((sv) => sv.core === core && sv.down)) return;
      core.handleTimeout(now);
    });
  };
  const afterEvent = async (): Promise<void> => {
    pumpClients();
    for (const sv of servers) await pumpServer(sv);
    pumpClients();
    for (const w of writers) arm(w.core);
    for (const r of readers) arm(r.core);
    for (const sv of servers) if (!sv.down) arm(sv.core);
  };

  // ---- input: lines arrive in bursts, as fast as the writer accepts them ----
  for (const w of writers) {
    const feed = (): void => {
      if (w.core.finished) return;
      const burst = rng.int(1, 200);
      for (let i = 0; i < burst && w.submitted < w.lines.length && w.core.acceptingInput; i++) {
        w.core.submitLine(w.lines[w.submitted++]!);
      }
      w.core.flush(now);
      if (w.submitted < w.lines.length) schedule(now + rng.next() * 20, feed);
      else w.core.endInput(now);
    };
    schedule(now + rng.next() * 50, feed);
  }

  // ---- faults ----
  net.faults = opts.faults;
  schedule(faultEnd, () => {
    net.faults = CLEAN;
    net.partitioned.clear();
  });
  /** A crash: the process and everything in its memory is gone; a new one starts later on the same store. */
  const crash = (sv: SimServer, at: number, backAt: number): void => {
    schedule(at, () => {
      if (sv.down) return;
      sv.down = true;
      sv.epoch++;
      armed.delete(sv.core);
    });
    schedule(backAt, () => {
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
  for (let i = 0; i < opts.partitions; i++) {
    const all = [...servers.map((sv) => sv.addr), ...writers.map((w) => w.addr), ...readers.map((r) => r.addr)];
    const victim = addressKey(rng.pick(all));
    const at = EPOCH + rng.next() * opts.faultsForMs;
    schedule(at, () => {
      net.partitioned.add(victim);
    });
    schedule(Math.min(at + rng.int(100, 5_000), faultEnd), () => {
      net.partitioned.delete(victim);
    });
  }

  // ---- run ----
  const total = writers.reduce((n, w) => n + w.lines.length, 0);
  const finished = (): boolean =>
    writers.every((w) => w.outcome !== undefined) && readers.every((r) => r.delivered.length >= total);
  const deadline = faultEnd + opts.settleMs;
  let events = 0;
  await afterEvent();
  while (!finished()) {
    const ev = queue.pop();
    if (!ev) {
      failures.push('nothing left to happen, yet not finished (a stall)');
      break;
    }
    if (ev.at > deadline) {
      failures.push(`not finished ${opts.settleMs} ms after the network healed (liveness)`);
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
  const log = (await store.read(1, { maxMessages: 1e9, maxBytes: 1e12, user: '' })).messages;
  checkLog(log, writers, failures);
  for (const r of readers) checkReader(r, log, failures);
  return {
    seed,
    ok: failures.length === 0,
    failures,
    virtualMs: now - EPOCH,
    events,
    datagrams: net.sent,
    dropped: net.dropped,
    stored: log.length,
  };
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

function checkReader(r: SimReader, log: StoredMessage[], failures: string[]): void {
  const got = r.delivered;
  for (let i = 0; i < got.length; i++) {
    const want = log[i];
    const m = got[i]!;
    if (!want || m.id !== want.id || !m.text.equals(want.text) || m.from !== want.from || m.ts !== want.ts) {
      failures.push(`${r.name}: delivery ${i} is id ${m.id}, the log has ${want?.id ?? 'nothing'} there (gap, repeat or change)`);
      return;
    }
  }
  if (got.length !== log.length) failures.push(`${r.name}: delivered ${got.length} of ${log.length}`);
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
