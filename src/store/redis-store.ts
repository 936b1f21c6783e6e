import { ReadScan } from './read-scan.js';
import { RecordCache, SHARED_CACHE_BUDGET, type CachedRecord } from './record-cache.js';
import { unpackRecord } from './record-codec.js';
import { appendCall } from './redis-append.js';
import { sortedMarks } from './producer-marks.js';
import { fieldsOf, loadScripts, pairsOf, scripts } from './redis-script-runner.js';
import { connectRedis, LinkStatus, type RedisLink, type RedisStatus } from './redis-link.js';
import { parseRedisSpec } from './redis-url.js';
import { latestTs, RetentionCut, trimByClock } from './retention.js';
import { DEFAULT_TOPIC, isValidTopic } from '../protocol/topics.js';
import { StoreOpenError } from './store-errors.js';
import type {
  ClaimResult,
  ClientRecord,
  LogBounds,
  LogSize,
  ProducerBatch,
  ProducerMark,
  ReadLimits,
  ReadResult,
  RetentionLimits,
  Store,
} from './store.js';

const SCHEMA_VERSION = '1';
const READ_RECORDS = 64;

export type { RedisStatus };

export interface RedisOptions {
  /** redis://[user:password@]host:port[/db][?prefix=NAME], or redis+cluster://host:port[,host:port…][?prefix=NAME] */
  url: string;
  retention: RetentionLimits;
  onStatus?: (status: RedisStatus) => void;
}

/**
 * The log in a Redis Stream, and writers' sequence numbers, readers' positions and the registry in
 * Redis hashes, so that several relay servers can share one log. Appends are one script each (the
 * messages and the writer's sequence number together); each append publishes the log's new end, which
 * wakes the other servers' waiting readers. Each topic's log is a store of its own, in keys of its own
 * (one hash slot per topic, so that a cluster spreads topics over its shards), on the connection of the
 * server's default topic.
 */
export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly keys: { meta: string; log: string; producers: string; seen: string; cursors: string; clients: string; channel: string; name: string; marks: string };
  private readonly cache = new RecordCache(SHARED_CACHE_BUDGET);
  private watching = false;
  private readonly listeners: ((next: number) => void)[] = [];
  /** What this server last learned of the log's bounds (its own appends, reads, notifications). */
  private first = 1;
  private next = 1;
  private ageTimer: NodeJS.Timeout | undefined;
  private trimming = false;
  private closed = false;

  private constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly opts: Pick<RedisOptions, 'retention'>,
    /** The default topic's store owns the connection; the other topics' stores borrow it. */
    private readonly ownsLink: boolean,
    /** Where the keys are, for messages. */
    private readonly where: string,
  ) {
    const p = `{${prefix}}`;
    this.keys = {
      meta: `${p}:meta`,
      log: `${p}:log`,
      producers: `${p}:producers`,
      seen: `${p}:producers:seen`,
      cursors: `${p}:cursors`,
      clients: `${p}:clients`,
      channel: `${p}:appended`,
      name: `${p}:name:`,
      marks: `${p}:marks:`,
    };
  }

  /** Connects and checks (or creates) the relay's keys. A redis that cannot be reached is a StoreOpenError. */
  static async open(opts: RedisOptions): Promise<RedisStore> {
    const target = parseRedisSpec(opts.url);
    const status = new LinkStatus(opts.onStatus);
    let link: RedisLink;
    try {
      link = await connectRedis(target, status);
    } catch (e) {
      throw new StoreOpenError(`cannot connect to redis at ${target.where}: ${(e as Error).message}`);
    }
    const store = new RedisStore(link, target.prefix, opts, true, target.where);
    try {
      await loadScripts(link);
      await store.init();
    } catch (e) {
      await link.close().catch(() => undefined);
      if (e instanceof StoreOpenError) throw e;
      throw new StoreOpenError(`cannot use redis at ${target.where}: ${(e as Error).message}`);
    }
    // From now on the connection reports outages and keeps trying.
    status.opened = true;
    return store;
  }

  /** `topic`'s log: keys `{PREFIX:TOPIC}:…`, on this store's connection. */
  async openTopic(topic: string, retention: RetentionLimits): Promise<RedisStore> {
    const store = new RedisStore(this.link, `${this.prefix}:${topic}`, { retention }, false, this.where);
    await store.init();
    return store;
  }

  private async init(): Promise<void> {
    const [app, schema] = (await scripts.init.run(this.link, [this.keys.meta], [SCHEMA_VERSION])) as Buffer[];
    if (app!.toString() !== 'udp-relay') {
      throw new StoreOpenError(`${this.keys.meta} at ${this.where} belongs to something else; refusing to touch it`);
    }
    if (schema!.toString() !== SCHEMA_VERSION) {
      throw new StoreOpenError(`the relay keys at ${this.where} have schema ${schema!.toString()}; this server reads ${SCHEMA_VERSION}`);
    }
    await this.bounds();
    // Whoever was online when the relay last stopped must register again to be online now (the registry
    // is the default topic's: the other topics' keys hold none).
    if (this.ownsLink) await this.clearStaleOnline();
    this.ageTimer = trimByClock(this.opts.retention, (now) => void this.trim(now).catch(() => undefined));
  }

  private async clearStaleOnline(): Promise<void> {
    const clients = await this.clients();
    const stale = clients.filter((c) => c.online);
    if (stale.length > 0 && (await this.onlineElsewhere()) === 0) {
      for (const c of stale) await this.saveClient({ ...c, online: false });
    }
  }

  /** Other relay servers listening on this log right now (each holds a subscription). */
  private async onlineElsewhere(): Promise<number> {
    return this.link.subscribers(this.keys.channel);
  }

  async producerSeq(producerId: bigint): Promise<number | undefined> {
    const v = await this.link.send(this.keys.meta, ['HGET', this.keys.producers, producerId.toString()]);
    return v === null ? undefined : Number(v);
  }

  async producerMarks(producerId: bigint): Promise<ProducerMark[]> {
    const flat = (await scripts.marks.run(this.link, [this.keys.marks + producerId.toString()], [])) as Buffer[];
    const marks: ProducerMark[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) marks.push({ key: Buffer.from(flat[i]!.toString(), 'hex'), value: flat[i + 1]! });
    return sortedMarks(marks);
  }

  async append(batches: ProducerBatch[]): Promise<(number | null)[]> {
    const k = this.keys;
    const { keys, args, pending } = appendCall(batches, { fixed: [k.meta, k.log, k.producers, k.seen, k.channel], marksPrefix: k.marks }, this.link.publish);
    const reply = (await scripts.append.run(this.link, keys, args)) as number[];
    const firstIds = reply.slice(0, batches.length).map((id) => (id < 0 ? null : id));
    const [next, first, bytes] = reply.slice(batches.length) as [number, number, number];
    // Stored: keep the records decoded for readers that follow the log, as a read would.
    firstIds.forEach((firstId, i) => {
      if (firstId === null) return;
      let id = firstId;
      for (const messages of pending[i]!) {
        messages.forEach((m, j) => (m.id = id + j));
        this.cache.put(id, messages);
        id += messages.length;
      }
    });
    this.learn(first, next);
    // Age is measured against the newest message appended (the timer uses the clock).
    if (this.overRetention(first, next, bytes)) await this.trim(latestTs(batches));
    return firstIds;
  }

  async read(from: number, limits: ReadLimits): Promise<ReadResult> {
    let first = this.first;
    const scan = new ReadScan(Math.max(from, first), limits);
    /**
     * The end of the log as of what this read has looked at. Not `this.next`: that moves while the read
     * awaits Redis (an append's reply can land first), and a read must not claim to have seen up to an end
     * it did not look at: its reader would be moved past messages it never got.
     */
    let end: number | undefined;
    scan: for (;;) {
      let records: CachedRecord[];
      const cached = scan.cursor < this.next ? this.cache.find(scan.cursor) : undefined;
      if (cached) {
        records = [cached];
      } else {
        // Not known here, or at what this server thinks is the end: ask Redis (once per read at the end).
        if (scan.cursor >= this.next && end !== undefined) break;
        const got = await this.fetchRecords(scan.cursor);
        end = got.next;
        first = got.first;
        scan.skipTo(first);
        records = got.records;
        if (records.length === 0) break;
      }
      for (const record of records) if (!scan.take(record.first, record.messages)) break scan;
    }
    const next = scan.atEnd && end !== undefined ? Math.max(scan.next, end) : scan.next;
    return { messages: scan.messages, next, first, atEnd: scan.atEnd };
  }

  async bounds(): Promise<LogBounds> {
    const [first, next] = (await this.link.send(this.keys.meta, ['HMGET', this.keys.meta, 'first', 'next'])) as [string | null, string | null];
    this.learn(Number(first ?? 1), Number(next ?? 1));
    return { first: this.first, next: this.next };
  }

  async size(): Promise<LogSize> {
    const [first, next, bytes] = (await this.link.send(this.keys.meta, ['HMGET', this.keys.meta, 'first', 'next', 'bytes'])) as (string | null)[];
    this.learn(Number(first ?? 1), Number(next ?? 1));
    return { first: this.first, next: this.next, bytes: Number(bytes ?? 0) };
  }

  async cursor(name: string): Promise<number | undefined> {
    const v = await this.link.send(this.keys.meta, ['HGET', this.keys.cursors, name]);
    return v === null ? undefined : Number(v);
  }

  async saveCursors(cursors: ReadonlyMap<string, number>): Promise<void> {
    if (cursors.size === 0) return;
    const args: string[] = [];
    for (const [name, position] of cursors) args.push(name, String(position));
    await this.link.send(this.keys.meta, ['HSET', this.keys.cursors, ...args]);
  }

  async saveClient(c: ClientRecord): Promise<void> {
    await this.link.send(this.keys.meta, ['HSET', this.keys.clients, `${c.role}:${c.name}`, `${c.online ? 1 : 0}:${Math.floor(c.lastSeen)}:${c.topic}`]);
  }

  /** The topics whose logs are kept beside this one: keys `{PREFIX:TOPIC}:meta` (store/open-store.ts). */
  async topicsBeside(): Promise<string[]> {
    const found = new Set<string>();
    const head = `${this.keys.meta.slice(0, -'}:meta'.length)}:`; // '{PREFIX:'
    for await (const key of this.link.scan(`${head}*}:meta`)) found.add(key.slice(head.length, -'}:meta'.length));
    return [...found].filter(isValidTopic);
  }

  async clients(): Promise<ClientRecord[]> {
    const all = (await this.link.send(this.keys.meta, ['HGETALL', this.keys.clients])) as Record<string, string> | string[];
    const pairs: [string, string][] = Array.isArray(all) ? pairsOf(all) : Object.entries(all);
    return pairs.map(([key, value]) => {
      const colon = key.indexOf(':');
      // Kept before clients said where they were: the default topic.
      const [online, lastSeen, topic = DEFAULT_TOPIC] = value.split(':');
      return { name: key.slice(colon + 1), role: key.slice(0, colon) as 'writer' | 'reader', online: online === '1', lastSeen: Number(lastSeen), topic };
    });
  }

  async forgetClients(seenBefore: number): Promise<number> {
    return (await scripts.forget.run(this.link, [this.keys.clients, this.keys.cursors], [String(seenBefore)])) as number;
  }

  async claimName(key: string, holder: string, ttlMs: number, force: boolean): Promise<ClaimResult> {
    const [ok, heldForMs] = (await scripts.claim.run(this.link, [this.keys.name + key], [holder, String(ttlMs), force ? '1' : '0'])) as [number, number];
    return ok === 1 ? { ok: true } : { ok: false, heldForMs: Math.max(0, heldForMs) };
  }

  async renewNames(claims: readonly { key: string; holder: string }[], ttlMs: number): Promise<string[]> {
    if (claims.length === 0) return [];
    const lost = (await scripts.renew.run(
      this.link,
      claims.map((c) => this.keys.name + c.key),
      [String(ttlMs), ...claims.map((c) => c.holder)],
    )) as number[];
    return lost.map((i) => claims[i - 1]!.key);
  }

  async releaseName(key: string, holder: string): Promise<void> {
    await scripts.release.run(this.link, [this.keys.name + key], [holder]);
  }

  /**
   * Calls `listener` with the log's new end whenever another server appends (and once the subscription
   * is back after an outage, with the end as it is then). Not polling: one subscription per server.
   */
  async watch(listener: (next: number) => void): Promise<void> {
    this.listeners.push(listener);
    if (this.watching) return;
    this.watching = true;
    await this.link.subscribe(
      this.keys.channel,
      (message) => {
        const next = Number(message);
        if (Number.isSafeInteger(next)) this.notify(next);
      },
      // Back after an outage: appends made meanwhile were announced to nobody.
      () => void this.bounds().then((b) => this.notify(b.next), () => undefined),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ageTimer) clearInterval(this.ageTimer);
    this.cache.clear();
    if (this.ownsLink) await this.link.close();
    else if (this.watching) await this.link.unsubscribe(this.keys.channel).catch(() => undefined);
  }

  // ---- internals ----

  private notify(next: number): void {
    if (next <= this.next) return;
    this.next = next;
    for (const l of this.listeners) l(next);
  }

  private learn(first: number, next: number): void {
    if (first > this.first) {
      this.first = first;
      this.cache.dropBelow(first);
    }
    if (next > this.next) this.next = next;
  }

  /** Up to READ_RECORDS records from the one holding `id`, decoded and cached; and the log's bounds then. */
  private async fetchRecords(id: number): Promise<{ first: number; next: number; records: CachedRecord[] }> {
    const [first, next, entries] = (await scripts.read.run(this.link, [this.keys.meta, this.keys.log], [String(id), String(READ_RECORDS)])) as [
      number,
      number,
      [Buffer, Buffer[]][],
    ];
    this.learn(first, next);
    const records = entries.map(([entryId, fields]) => {
      const firstId = Number(entryId.toString().slice(2));
      const cached = this.cache.find(firstId);
      if (cached?.first === firstId) return cached;
      const f = fieldsOf(fields);
      const ts = Number(f['ts']!.toString());
      const from = f['f']!.toString();
      const messages = unpackRecord(f['p']!, Number(f['n']!.toString()), firstId, ts, from);
      return this.cache.put(firstId, messages);
    });
    return { first, next, records: records.filter((r) => r.last >= Math.max(id, first)) };
  }

  /** Whether a trim may take something: the count limit is passed, or a byte or age limit may be. */
  private overRetention(first: number, next: number, bytes: number): boolean {
    const cut = new RetentionCut(this.opts.retention, { first, next, bytes }, 0);
    return cut.countFloor > first || cut.mayTakeMore;
  }

  /** Retention: works out the new first id from the oldest records, then moves it if no other server did meanwhile. */
  private async trim(now: number): Promise<void> {
    if (this.trimming || this.closed) return;
    this.trimming = true;
    try {
      const [firstS, nextS, bytesS] = (await this.link.send(this.keys.meta, ['HMGET', this.keys.meta, 'first', 'next', 'bytes'])) as string[];
      const start = Number(firstS);
      const next = Number(nextS);
      const cut = new RetentionCut(this.opts.retention, { first: start, next, bytes: Number(bytesS) }, now);
      // From the oldest records: what the cut takes, and the bytes of text that go with it.
      let cursor = start;
      scan: while (cursor < next) {
        const { records } = await this.fetchRecords(cursor);
        if (records.length === 0) break;
        for (const r of records) {
          for (let i = Math.max(0, cursor - r.first); i < r.messages.length; i++) {
            const m = r.messages[i]!;
            if (!cut.drops(m.ts)) break scan;
            cut.droppedTo(r.first + i + 1, m.text.length);
          }
          cursor = r.last + 1;
        }
      }
      const first = cut.first;
      const removed = Number(bytesS) - cut.bytes;
      if (first > start) {
        await scripts.trim.run(this.link, [this.keys.meta, this.keys.log], [String(start), String(first), String(removed)]);
        this.learn(first, next);
      }
    } finally {
      this.trimming = false;
    }
  }
}
