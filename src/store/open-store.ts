import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TOPIC, isValidTopic } from '../protocol/topics.js';
import { MemoryStore } from './memory-store.js';
import { isRedisSpec } from './redis-url.js';
import { TopicStores } from './topic-stores.js';
import type { RedisStatus, RedisStore } from './redis-store.js';
import type { RecordDamagedError } from './sqlite-integrity.js';
import { StoreOpenError } from './store-errors.js';
import type { RetentionLimits, Store } from './store.js';
import { retentionOf, type RetentionRule } from './topic-retention.js';

export { StoreOpenError };

export interface StoreOptions {
  spec: string;
  dataDir: string;
  /** The server's retention: of every topic no rule names. */
  retention: RetentionLimits;
  /** Topics with a retention of their own (the first rule that names a topic is its). */
  retentionRules?: readonly RetentionRule[];
  fsync: boolean;
  /** sqlite: start on an empty database although the data directory once held a longer log. */
  acceptEmptyLog?: boolean;
  /** sqlite: told once per damaged record found (it is skipped; readers are told they missed it). */
  onDamage?: (e: RecordDamagedError) => void;
  /** How a networked store (redis) reports losing its connection and getting it back. */
  onStatus?: (status: RedisStatus) => void;
}

/**
 * Opens the store named on the command line: `sqlite` (under dataDir), `memory`, or a redis:// (or
 * redis+cluster://) URL. It
 * keeps the default topic's log; each other topic's log is a store of the same kind, opened by `openTopic`.
 */
export async function openStore(opts: StoreOptions): Promise<Store> {
  return openStoreOf(opts, retentionOf(DEFAULT_TOPIC, opts.retention, opts.retentionRules));
}

/** `underLock`: a topic's database, in the data directory the default topic's store holds locked. */
async function openStoreOf(opts: StoreOptions, retention: RetentionLimits, underLock = false): Promise<Store> {
  if (opts.spec === 'memory') return new MemoryStore(retention);
  // Each driver is loaded only when asked for: the Redis client alone takes longer to load than Node to start.
  if (opts.spec === 'sqlite') {
    const { SqliteStore } = await import('./sqlite-store.js');
    return new SqliteStore({
      dataDir: opts.dataDir,
      retention,
      fsync: opts.fsync,
      underLock,
      ...(opts.acceptEmptyLog !== undefined && { acceptEmptyLog: opts.acceptEmptyLog }),
      ...(opts.onDamage && { onDamage: opts.onDamage }),
    });
  }
  if (isRedisSpec(opts.spec)) {
    const { RedisStore } = await import('./redis-store.js');
    return RedisStore.open({ url: opts.spec, retention, ...(opts.onStatus && { onStatus: opts.onStatus }) });
  }
  throw new StoreOpenError(`unknown store '${opts.spec}': expected sqlite, memory, redis://host:port[/db] or redis+cluster://host:port[,host:port…]`);
}

/**
 * A topic's log, in a store of the kind `opts` names: sqlite, a database of its own in `topics/TOPIC`
 * under the data directory; redis, keys of their own on the default topic's connection
 * (RedisStore.openTopic).
 */
export function openTopic(opts: StoreOptions, topic: string, main: Store): Promise<Store> {
  const retention = retentionOf(topic, opts.retention, opts.retentionRules);
  if (isRedisSpec(opts.spec)) return (main as RedisStore).openTopic(topic, retention);
  return openStoreOf({ ...opts, dataDir: join(opts.dataDir, TOPICS_DIR, topic) }, retention, true);
}

/** Where the sqlite store keeps topics' databases, under its data directory. */
export const TOPICS_DIR = 'topics';

/**
 * All the topics' stores of the store `opts` names, its default topic's opened already as `main`. Topics'
 * databases (sqlite) are kept open up to `openDatabasesMax()` at once.
 */
export const topicStores = (main: Store, opts: StoreOptions, topicsMax?: number): TopicStores =>
  new TopicStores(main, (topic) => openTopic(opts, topic, main), topicsMax, () => keptTopics(main, opts), opts.spec === 'sqlite' ? openDatabasesMax() : undefined);

/** File descriptors an open topic database holds: the file, its WAL, its shared memory, and one the checkpoint's connection leaves. */
const FILES_PER_DATABASE = 4;
/** File descriptors left for everything else: sockets, the default topic, the runtime's own. */
const FILES_SPARE = 256;
export const OPEN_DATABASES_MAX = 1_000;

/**
 * How many topics' databases stay open at once: 1,000, or fewer where the process may open fewer files
 * (its soft limit, `ulimit -n`: 1,024 on many systems gives about 190).
 */
export function openDatabasesMax(limitsFile = '/proc/self/limits'): number {
  let files = Number.POSITIVE_INFINITY;
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync(limitsFile, 'utf8'))?.[1];
    if (soft !== undefined) files = Number(soft);
  } catch {
    // Not Linux: the usual limits apply.
  }
  return Math.max(16, Math.min(OPEN_DATABASES_MAX, Math.floor((files - FILES_SPARE) / FILES_PER_DATABASE)));
}

/** The topics a store keeps beside its default topic: sqlite, in topics/; redis, under keys of their own. */
async function keptTopics(main: Store, opts: StoreOptions): Promise<string[]> {
  if (opts.spec === 'sqlite') {
    const dir = join(opts.dataDir, TOPICS_DIR);
    return existsSync(dir) ? readdirSync(dir).filter(isValidTopic) : [];
  }
  if (main instanceof MemoryStore) return [];
  const { RedisStore } = await import('./redis-store.js');
  return main instanceof RedisStore ? main.topicsBeside() : [];
}
