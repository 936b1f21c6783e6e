import { MemoryStore } from './memory-store.js';
import { SqliteStore } from './sqlite-store.js';
import { StoreOpenError } from './store-errors.js';
import type { RetentionLimits, Store } from './store.js';

export { StoreOpenError };

export interface StoreOptions {
  spec: string;
  dataDir: string;
  retention: RetentionLimits;
  fsync: boolean;
}

/** Opens the store named on the command line: `sqlite` (under dataDir), `memory`, or (later) a redis:// URL. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  await Promise.resolve();
  if (opts.spec === 'memory') return new MemoryStore(opts.retention);
  if (opts.spec === 'sqlite') return new SqliteStore({ dataDir: opts.dataDir, retention: opts.retention, fsync: opts.fsync });
  throw new StoreOpenError(`unknown store '${opts.spec}': expected sqlite or memory`);
}
