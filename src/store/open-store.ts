import { MemoryStore } from './memory-store.js';
import type { RedisStatus } from './redis-store.js';
import type { RecordDamagedError } from './sqlite-integrity.js';
import { StoreOpenError } from './store-errors.js';
import type { RetentionLimits, Store } from './store.js';

export { StoreOpenError };

export interface StoreOptions {
  spec: string;
  dataDir: string;
  retention: RetentionLimits;
  fsync: boolean;
  /** sqlite: start on an empty database although the data directory once held a longer log. */
  acceptEmptyLog?: boolean;
  /** sqlite: told once per damaged record found (it is skipped; readers are told they missed it). */
  onDamage?: (e: RecordDamagedError) => void;
  /** How a networked store (redis) reports losing its connection and getting it back. */
  onStatus?: (status: RedisStatus) => void;
}

/** Opens the store named on the command line: `sqlite` (under dataDir), `memory`, or a redis:// URL. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.spec === 'memory') return new MemoryStore(opts.retention);
  // Each driver is loaded only when asked for: the Redis client alone takes longer to load than Node to start.
  if (opts.spec === 'sqlite') {
    const { SqliteStore } = await import('./sqlite-store.js');
    return new SqliteStore({
      dataDir: opts.dataDir,
      retention: opts.retention,
      fsync: opts.fsync,
      ...(opts.acceptEmptyLog !== undefined && { acceptEmptyLog: opts.acceptEmptyLog }),
      ...(opts.onDamage && { onDamage: opts.onDamage }),
    });
  }
  if (/^rediss?:\/\//.test(opts.spec)) {
    const { RedisStore } = await import('./redis-store.js');
    return RedisStore.open({ url: opts.spec, retention: opts.retention, ...(opts.onStatus && { onStatus: opts.onStatus }) });
  }
  throw new StoreOpenError(`unknown store '${opts.spec}': expected sqlite, memory or redis://host:port[/db]`);
}
