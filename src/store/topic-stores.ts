import type { TopicInfo } from '../protocol/packets.js';
import { anyMatches, DEFAULT_TOPIC, splitInTopic } from '../protocol/topics.js';
import { StoreOpenError } from './store-errors.js';
import type { ProducerBatch, Store } from './store.js';

/** Topics one server keeps open at most (each is a log of its own: a file, or keys, and their caches). */
export const TOPICS_MAX = 1_000;

/**
 * Every topic's log, each a store of its own: the default topic's is the store the server was started on
 * (it also keeps what is server-wide: clients and name claims), the others are opened as they are first
 * named, by `open`.
 */
export class TopicStores {
  private readonly stores = new Map<string, Promise<Store>>();
  private watcher: ((topic: string, next: number) => void) | undefined;

  constructor(
    readonly main: Store,
    private readonly open: (topic: string) => Promise<Store>,
    private readonly topicsMax = TOPICS_MAX,
    /** The topics the store keeps, opened or not (sqlite: its topics/ directory; redis: its keys). */
    private readonly kept: () => Promise<string[]> = async () => [],
  ) {
    this.stores.set(DEFAULT_TOPIC, Promise.resolve(main));
  }

  /** The store of `topic`'s log, opened if it is not yet. */
  of(topic: string): Promise<Store> {
    let store = this.stores.get(topic);
    if (store) return store;
    if (this.stores.size >= this.topicsMax) {
      return Promise.reject(new StoreOpenError(`this server keeps at most ${this.topicsMax} topics: topic ${topic} refused`));
    }
    store = this.open(topic).then(async (opened) => {
      if (this.watcher) await opened.watch?.((next) => this.watcher!(topic, next));
      return opened;
    });
    this.stores.set(topic, store);
    // A topic that failed to open is tried again when next named.
    store.catch(() => this.stores.delete(topic));
    return store;
  }

  /**
   * Stores shared by several servers tell each when another appends: `listener` hears of every topic's
   * log, those opened later included.
   */
  async watch(listener: (topic: string, next: number) => void): Promise<void> {
    this.watcher = listener;
    await Promise.all(
      [...this.stores].map(async ([topic, store]) => (await store).watch?.((next) => listener(topic, next))),
    );
  }

  /**
   * Up to `max` topics named after `after` (by name), each with its log's extent and last write: those
   * kept in the store and those opened since.
   */
  async list(after: string, max: number, only?: readonly string[]): Promise<TopicInfo[]> {
    const names = new Set([...this.stores.keys(), ...(await this.kept())]);
    const page = [...names].filter((t) => t > after && (only === undefined || anyMatches(only, t))).sort().slice(0, max);
    return Promise.all(page.map(async (topic) => describeTopic(topic, await this.of(topic))));
  }

  /** The topics opened so far. */
  get topics(): string[] {
    return [...this.stores.keys()];
  }

  async close(): Promise<void> {
    const opened = await Promise.allSettled([...this.stores.values()]);
    await Promise.all(opened.map((o) => (o.status === 'fulfilled' && o.value !== this.main ? o.value.close() : undefined)));
    await this.main.close();
  }
}

async function describeTopic(topic: string, store: Store): Promise<TopicInfo> {
  const { first, next, bytes } = await store.size();
  const last = next > first ? (await store.read(next - 1, { maxMessages: 1, maxBytes: Number.MAX_SAFE_INTEGER, user: '' })).messages[0] : undefined;
  return { topic, messages: next - first, bytes, first, next, lastWrite: last?.ts ?? 0 };
}

/** Writers' batches, topic by topic, each appended in its topic's log; the first ids in the order given. */
export async function appendByTopic(stores: TopicStores, batches: readonly (ProducerBatch & { topic: string })[]): Promise<(number | null)[]> {
  const byTopic = new Map<string, number[]>();
  batches.forEach((b, i) => {
    const at = byTopic.get(b.topic);
    if (at) at.push(i);
    else byTopic.set(b.topic, [i]);
  });
  const out: (number | null)[] = new Array<number | null>(batches.length).fill(null);
  await Promise.all(
    [...byTopic].map(async ([topic, indexes]) => {
      const store = await stores.of(topic);
      const firstIds = await store.append(indexes.map((i) => withoutTopic(batches[i]!)));
      indexes.forEach((i, k) => (out[i] = firstIds[k]!));
    }),
  );
  return out;
}

const withoutTopic = ({ topic: _, ...batch }: ProducerBatch & { topic: string }): ProducerBatch => batch;

/** Positions to save, named within their topics, each saved in its topic's store. */
export async function saveCursorsByTopic(stores: TopicStores, cursors: ReadonlyMap<string, number>): Promise<void> {
  const byTopic = new Map<string, Map<string, number>>();
  for (const [scoped, position] of cursors) {
    const { topic, key } = splitInTopic(scoped);
    let m = byTopic.get(topic);
    if (!m) byTopic.set(topic, (m = new Map()));
    m.set(key, position);
  }
  await Promise.all([...byTopic].map(async ([topic, m]) => (await stores.of(topic)).saveCursors(m)));
}
