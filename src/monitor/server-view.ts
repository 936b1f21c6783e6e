import type { ServerCore } from '../core/server/server-core.js';
import type { ServerSnapshot } from '../core/server/server-snapshot.js';
import type { LogSize, Store, TopicCounts } from '../store/store.js';
import type { TcpCounts } from '../io/tcp-listener.js';

/** How long a snapshot or the log's size serves: one scrape or page update asks for them several times. */
const FRESH_MS = 25;
/** How long a scrape waits for the store to say its size: a store that hangs does not hold up monitoring. */
const SIZE_WAIT_MS = 500;

/**
 * What monitoring reads of a running server, taken at most once per FRESH_MS: a scrape every second
 * costs one snapshot and one store call, however many metrics read them.
 */
export class ServerView {
  core: ServerCore | undefined;
  store: Store | undefined;
  /** The topics served and open (store/topic-stores.ts). */
  topics: (() => TopicCounts) | undefined;
  tcp: TcpCounts | undefined;
  private snap: { at: number; value: ServerSnapshot } | undefined;
  private size: { at: number; value: Promise<LogSize | undefined> } | undefined;

  constructor(private readonly clock: () => number) {}

  snapshot(): ServerSnapshot | undefined {
    if (!this.core) return undefined;
    const at = this.clock();
    if (!this.snap || at - this.snap.at > FRESH_MS) this.snap = { at, value: this.core.snapshot() };
    return this.snap.value;
  }

  /**
   * The log's size; undefined while the store is not open or does not answer. While the store is away
   * it is not asked (its answer would wait for it to come back).
   */
  logSize(storeUp = true): Promise<LogSize | undefined> {
    const store = this.store;
    if (!store || !storeUp) return Promise.resolve(undefined);
    const at = this.clock();
    if (!this.size || at - this.size.at > FRESH_MS) this.size = { at, value: withinMs(store.size(), SIZE_WAIT_MS) };
    return this.size.value;
  }
}

/** The promise's value if it comes within `ms`; undefined if it fails or comes later. */
function withinMs<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}
