import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressKey, type Address } from '../../src/core/address.js';
import { ReaderCore, READER_DEFAULTS, type Message } from '../../src/core/reader/reader-core.js';
import { SERVER_DEFAULTS, ServerCore } from '../../src/core/server/server-core.js';
import { WRITER_DEFAULTS, WriterCore } from '../../src/core/writer/writer-core.js';
import type { ClientEncryption } from '../../src/core/client/client-cipher.js';
import { FromKind } from '../../src/protocol/constants.js';
import type { KeyPair, NoiseCrypto } from '../../src/protocol/noise.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { TopicStores } from '../../src/store/topic-stores.js';
import { retentionOf } from '../../src/store/topic-retention.js';
import { DEFAULT_TOPIC } from '../../src/protocol/topics.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { NO_RETENTION, type Store } from '../../src/store/store.js';
import { EventQueue } from './event-queue.js';
import { CLEAN, SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { SimOptions } from './scenario.js';

export const EPOCH = 1_800_000_000_000;
const serverAddress = (i: number): Address => ({ address: `10.0.0.${i + 1}`, port: 12345 + i });
const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();

/** A fast, well-mixed (not cryptographic) digest of `parts`, `n` bytes long. */
function mix(parts: readonly Buffer[], n = 32): Buffer {
  let h1 = 0x811c9dc5;
  let h2 = 0x9e3779b9;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      h1 = Math.imul(h1 ^ p[i]!, 0x01000193);
      h2 = Math.imul(h2 ^ p[i]!, 0x5bd1e995) ^ (h2 >>> 15);
    }
    h1 = Math.imul(h1 ^ p.length, 0x01000193);
  }
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) {
    h1 = Math.imul(h1 ^ (h2 >>> 13), 0x85ebca6b) ^ i;
    h2 = Math.imul(h2 ^ (h1 >>> 16), 0xc2b2ae35);
    out.writeUInt32BE((h1 ^ h2) >>> 0, i);
  }
  return out;
}

/**
 * Stand-ins for the handshake's primitives, cheap enough for thousands of runs: the simulation checks what
 * the protocol does with keys, handshakes and sealed records (lost, late, doubled, from a server that
 * restarted), not the primitives, which their own tests check against published vectors. A key pair's
 * halves are equal and "DH" is XOR (so both sides agree); hashes are a fast mix; sealing appends a tag
 * over key, nonce, associated data and length (the simulated network loses, delays and doubles bytes but
 * never alters them), so that a record sealed with other keys or for another place is refused as it
 * would be. Keys come from a counter, not from the run's generator: a seed gives the same run.
 */
function simCrypto(): NoiseCrypto {
  let keys = 0;
  const tag = (key: Buffer, nonce: bigint, ad: Buffer, length: number): Buffer => {
    const n = Buffer.alloc(12);
    n.writeBigUInt64BE(nonce);
    n.writeUInt32BE(length, 8);
    return mix([key, n, ad], 16);
  };
  return {
    dh: (privateKey, publicKey) => Buffer.from(privateKey.map((b, i) => b ^ publicKey[i]!)),
    generateKeyPair: () => {
      const key = mix([Buffer.from(`key ${++keys}`)]);
      return { privateKey: key, publicKey: key };
    },
    seal: (key, nonce, ad, text) => Buffer.concat([text, tag(key, nonce, ad, text.length)]),
    open: (key, nonce, ad, sealed) => {
      if (sealed.length < 16) return undefined;
      const text = sealed.subarray(0, sealed.length - 16);
      return tag(key, nonce, ad, text.length).equals(sealed.subarray(sealed.length - 16)) ? Buffer.from(text) : undefined;
    },
    hash: (data) => mix([data]),
    hmac: (key, data) => mix([key, data]),
  };
}

export interface SimServer {
  addr: Address;
  core: ServerCore;
  /** Bumped at each crash: results of store requests made before it are not delivered. */
  epoch: number;
  down: boolean;
  storeResultAt: number;
}

export interface SimWriter {
  name: string;
  index: number;
  addr: Address;
  core: WriterCore;
  lines: Buffer[];
  submitted: number;
  outcome?: 'done' | 'failed' | 'refused';
  /** A writer that keeps its place in the store (`--follow`): killed now and then, it resumes from its mark. */
  resuming: boolean;
  /** Lines before this run of it: where it resumed. */
  base: number;
  /** The run that last got its marks (and sent its mark ahead of its lines, as a follower does for a file it opens). */
  recalledRun?: number;
  /** Its runs so far (a feed from an earlier run stops). */
  run: number;
  /** May be fed: registered (and, resuming, told its mark). */
  ready: boolean;
  /** Resumed at this line and not yet checked against the log. */
  resumedAt?: number;
  /** Marks sent ahead mid-run so far, over all runs (each one's value: the count then). */
  aheadMarks: number;
  /** The last mark sent ahead this run. */
  aheadIssued?: number;
  /**
   * Sent ahead before this run registered again: from then on nothing may be stored before it, so once more
   * than `storedAt` lines are stored, it is too.
   */
  aheadDue?: { value: number; storedAt: number };
}

export interface SimReader {
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
  /** A watcher's view of the registry: role:name -> 'online in TOPIC' or 'offline in TOPIC'. */
  view?: Map<string, string>;
  /** Messages the server said this reader missed (retention), and how many of them its skips used. */
  missedTold: number;
  missedUsed: number;
  /**
   * Where its first session started (what it was told it missed counts from there): from the earliest
   * message kept, which retention may have moved past 1. A group member: where its group stood.
   */
  firstAt?: number;
}

export interface ReaderKind {
  group?: string;
  count?: number;
  once?: boolean;
  fromKind?: FromKind;
  watch?: boolean;
}

/**
 * The simulated world: a virtual clock and its event queue, the network, the store, and the servers,
 * writers and readers on them, with what has happened to them (crashes, expired and lost members).
 */
export class SimWorld {
  now = EPOCH;
  readonly queue = new EventQueue();
  readonly failures: string[] = [];
  readonly faultEnd: number;
  readonly sqliteDir: string | undefined;
  /** The default topic's log, and the registry. */
  readonly store: Store;
  readonly stores: TopicStores;
  readonly net: SimNetwork;
  /** Who is at each address: a datagram delivered there goes to its core. */
  readonly nodes = new Map<string, (data: Buffer, from: Address) => void>();
  /** Names whose sessions are all unlisted (as a chat's direct-message pair): never in the registry. */
  readonly unlisted = new Set<string>();
  /** The registry was saved to since the presence check last read it. */
  registryChanged = true;
  readonly users = new Map<string, Buffer>();
  /** The servers' one static key (as servers sharing a store share a key file), and the clients' crypto. */
  readonly crypto: NoiseCrypto;
  readonly serverKey: KeyPair;
  readonly servers: SimServer[];
  readonly writers: SimWriter[] = [];
  readonly readers: SimReader[] = [];
  /** `--group q --count K` consumers, one after the other. */
  readonly consumers: SimReader[] = [];
  /** A full disk: every append fails until then. */
  storeFullUntil = 0;
  /** Resuming writers killed so far. */
  writerKills = 0;
  /** Server crashes so far; whether there was one. */
  crashes = 0;
  serverCrashed = false;
  /** Names whose session a server let go of (silent for the session timeout). */
  readonly expiredNames = new Set<string>();
  /** Groups that lost a member's session (expired while cut off, or moved to another server). */
  readonly lostMember = new Set<string>();
  /** The one pending timeout of each core (timers as data): its deadline. */
  readonly armed = new Map<object, number>();
  private readerPort = 50000;

  constructor(
    readonly rng: Prng,
    readonly opts: SimOptions,
  ) {
    this.faultEnd = EPOCH + opts.faultsForMs;
    this.crypto = simCrypto();
    this.serverKey = this.crypto.generateKeyPair();
    this.sqliteDir = opts.store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'relay-sim-')) : undefined;
    const retention = opts.retainMessages > 0 ? { ...NO_RETENTION, messages: opts.retainMessages } : NO_RETENTION;
    const dir = this.sqliteDir;
    // The side topics keep everything, whatever the default topic's retention (run-server --retain 'side.>:…').
    const rules = [{ pattern: 'side.>', limits: NO_RETENTION }];
    const open = (dataDir: string | undefined, topic: string): Store => {
      const limits = retentionOf(topic, retention, rules);
      return dataDir ? new SqliteStore({ dataDir, retention: limits, fsync: false }) : new MemoryStore(limits);
    };
    this.store = open(dir, DEFAULT_TOPIC);
    this.watchRegistry(this.store);
    // On sqlite, one side topic's database open at once: the others are closed and opened again as they are used.
    this.stores = new TopicStores(this.store, async (topic) => open(dir && join(dir, 'topics', topic), topic), undefined, undefined, dir ? 1 : undefined);
    this.servers = Array.from({ length: opts.servers }, (_, i) => ({ addr: serverAddress(i), core: this.newServerCore(), epoch: 0, down: false, storeResultAt: this.now }));
    this.net = new SimNetwork(rng, (at, fn) => this.schedule(at, fn), (to, from, data) => this.nodes.get(addressKey(to))?.(data, from));
    for (const sv of this.servers) {
      this.nodes.set(addressKey(sv.addr), (data, from) => {
        if (!sv.down) sv.core.handleDatagram(data, from, this.now);
      });
    }
  }

  schedule(at: number, fn: () => void | Promise<void>): void {
    this.queue.push(Math.max(at, this.now), fn);
  }

  /** A broken property, with the virtual time it broke at (the first 20 are kept). */
  fail(what: string): void {
    if (this.failures.length < 20) this.failures.push(`at ${(this.now - EPOCH).toFixed(1)} ms: ${what}`);
  }

  get faulty(): boolean {
    return this.now < this.faultEnd;
  }

  /** Every reader, the queue's consumers included. */
  get allReaders(): SimReader[] {
    return [...this.readers, ...this.consumers];
  }

  get total(): number {
    return this.writers.reduce((n, w) => n + w.lines.length, 0);
  }

  /** A client's secret (authenticated mode) and encryption (unless in plain text): it trusts the servers' key alone. */
  credentials(name: string): { secret?: Buffer; encryption?: ClientEncryption } {
    if (this.opts.plaintext) return {};
    const serverKeys = { check: (_: Address, key: Buffer) => (key.equals(this.serverKey.publicKey) ? undefined : 'not the servers\' key'), remember: () => undefined };
    const encryption = { crypto: this.crypto, serverKeys };
    if (!this.opts.authenticated) return { encryption };
    this.users.set(name, Buffer.from(`secret of ${name}`));
    return { secret: this.users.get(name)!, encryption };
  }

  newServerCore(): ServerCore {
    const { opts, rng } = this;
    return new ServerCore({
      ...SERVER_DEFAULTS,
      datagramBytes: opts.datagramBytes,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      randomId: () => rng.u64(),
      randomKey: () => Buffer.from(rng.u64().toString(16).padStart(16, '0'), 'hex'),
      mac: hmac,
      ...(opts.authenticated && { users: { has: (name: string) => this.users.has(name), verify: (name: string, secret: Buffer) => this.users.get(name)?.equals(secret) === true } }),
      ...(!opts.plaintext && { encryption: { crypto: this.crypto, staticKey: this.serverKey } }),
    });
  }

  /** Every server, starting from the i-th: each client has them all, each in its own order. */
  serverList(i: number): Address[] {
    return this.servers.map((_, k) => this.servers[(i + k) % this.servers.length]!.addr);
  }

  /** The i-th writer, with its lines made up. */
  addWriter(i: number): SimWriter {
    const { opts, rng } = this;
    const addr = { address: `10.0.1.${i + 1}`, port: 40000 + i };
    const name = `w${i + 1}`;
    const lines: Buffer[] = [];
    for (let n = 1; n <= opts.linesPerWriter; n++) {
      const long = rng.chance(opts.longLineChance);
      const body = long ? 'x'.repeat(rng.int(600, 6000)) : rng.chance(0.05) ? '' : 'y'.repeat(rng.int(0, 40));
      lines.push(Buffer.from(`${name}:${n}:${body}`));
    }
    const resuming = opts.writerCrashes > 0;
    const w: SimWriter = { name, index: i, addr, core: this.writerCore(name, i, resuming, rng.u64(), i + 1), lines, submitted: 0, resuming, base: 0, run: 1, ready: !resuming, aheadMarks: 0 };
    this.writers.push(w);
    this.route(w);
    return w;
  }

  /** A resuming writer killed (kill -9: its core and what it had unconfirmed gone) and started again on its host. */
  restartWriter(w: SimWriter): void {
    w.addr = { address: w.addr.address, port: w.addr.port + 1000 };
    w.core = this.writerCore(w.name, w.index, true, 0n, 100 * w.run + w.index + 1);
    w.run++;
    w.ready = false;
    w.submitted = 0;
    this.route(w);
  }

  private writerCore(name: string, i: number, resuming: boolean, producerId: bigint, nonce: number): WriterCore {
    const { opts } = this;
    return new WriterCore(
      {
        ...WRITER_DEFAULTS,
        name,
        servers: this.serverList(i),
        // A resuming writer's id is its name's, the same in every run (as run-writer --follow makes it).
        producerId: resuming ? BigInt(1_000_003 * (i + 1)) : producerId,
        ...(resuming && { recall: true }),
        nonce,
        timeoutMs: 1e12,
        datagramBytes: opts.datagramBytes,
        ...this.credentials(name),
      },
      this.now,
    );
  }

  private route(w: SimWriter): void {
    const core = w.core;
    this.nodes.set(addressKey(w.addr), (data, from) => {
      if (w.core === core) core.handleDatagram(data, from, this.now);
    });
  }

  /** A reader on its own address (a new port each time), reached through `nodes` while it lives. */
  newReader(name: string, kind: ReaderKind, serverIndex: number, host = `10.0.2.${(this.readerPort % 200) + 1}`): SimReader {
    const { opts, rng } = this;
    const addr = { address: host, port: this.readerPort++ };
    const core = new ReaderCore(
      {
        ...READER_DEFAULTS,
        name,
        servers: this.serverList(serverIndex),
        nonce: this.readerPort,
        fromKind: kind.fromKind ?? FromKind.Earliest,
        delayMs: rng.pick(opts.readerDelays),
        awaitPrinted: opts.slowOutput,
        ...(kind.group !== undefined && { group: kind.group }),
        ...(kind.count !== undefined && { count: kind.count }),
        ...(kind.once && { once: true }),
        ...(kind.watch && { presence: 'watch' as const }),
        ...this.credentials(name),
      },
      this.now,
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
      ...(kind.group !== undefined && { group: kind.group }),
      ...(kind.once && { once: true }),
      ...(kind.watch && { view: new Map<string, string>() }),
    };
    this.nodes.set(addressKey(addr), (data, from) => {
      if (r.core === core && !r.dead) core.handleDatagram(data, from, this.now);
    });
    return r;
  }

  /** A member of the group died (killed, expired, or cut off from its server): its messages go round again. */
  memberDied(group: string): boolean {
    return this.lostMember.has(group) || this.allReaders.some((r) => r.group === group && (r.dead || this.expiredNames.has(r.name)));
  }

  /** A member died, or a server did (a group resumes from its saved low water: at least once). */
  killed(group: string): boolean {
    return this.serverCrashed || this.memberDied(group);
  }

  /**
   * Each registry change as it is saved: an unlisted name is never one (checked as the run goes); and the
   * presence check reads the registry again only once it has changed.
   */
  private watchRegistry(store: Store): void {
    const save = store.saveClient.bind(store);
    const forget = store.forgetClients.bind(store);
    store.saveClient = (c) => {
      if (this.unlisted.has(c.name)) this.fail(`${c.name}'s sessions are unlisted, but its ${c.role} is saved in the registry, ${c.online ? 'online' : 'offline'} in ${c.topic}`);
      return save(c).then(() => void (this.registryChanged = true));
    };
    store.forgetClients = (before) => forget(before).then((n) => ((this.registryChanged = true), n));
  }

  /** On a clean network with live servers and a store that works, nobody may be told a server is lost. */
  get healthy(): boolean {
    const o = this.opts;
    return o.faults === CLEAN && o.restarts === 0 && o.partitions === 0 && o.outages === 0 && o.storeStalls === 0 && o.storeErrors === 0 && o.storeFullMs === 0;
  }
}
