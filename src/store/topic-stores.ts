import type { TopicInfo } from '../protocol/packets.js';
import { anyMatches, DEFAULT_TOPIC, splitInTopic } from '../protocol/topics.js';
import { StoreOpenError } from './store-errors.js';
import type { ProducerBatch, Store, TopicCounts } from './store.js';

/** Topics one server serves at most (each is a log of its own: a file, or keys, and their caches). */
export const TOPICS_MAX = 1_000;

interface Opened {
  store: Promise<Store>;
  /** Requests using it now: a store in use is never closed. */
  users: number;
}

/**
 * Every topic's log, each a store of its own: the default topic's is the store the server was started on
 * (it also keeps what is server-wide: clients and name claims), the others are opened as they are first
 * named, by `open`. Stores that hold a file open (sqlite) are kept open up to `openMax` at once: past
 * that, the least recently used one not in use is closed, and opened again when next used.
 */
export class TopicStores {
  /** Open stores but the default topic's, from the least recently used to the most. */
  private readonly opened = new Map<string, Opened>();
  /** Topics opened once or more (served: counted against `topicsMax`). */
  private readonly known = new Set<string>([DEFAULT_TOPIC]);
  private readonly closing = new Map<string, Promise<void>>();
  private watcher: ((topic: string, next: number) => void) | undefined;

  constructor(
    readonly main: Store,
    private readonly open: (topic: string) => Promise<Store>,
    private readonly topicsMax = TOPICS_MAX,
    /** The topics the store keeps, opened or not (sqlite: its topics/ directory; redis: its keys). */
    private readonly kept: () => Promise<string[]> = async () => [],
    private readonly openMax = Number.POSITIVE_INFINITY,
  ) {}

  /** Runs `fn` on `topic`'s store (opened if it is not yet), which stays open until `fn` is done. */
  async use<T>(topic: string, fn: (store: Store) => Promise<T> | T): Promise<T> {
    if (topic === DEFAULT_TOPIC) return fn(this.main);
    const entry = this.entry(topic);
    entry.users++;
    try {
      return await fn(await entry.store);
    } finally {
      entry.users--;
      this.shed();
    }
  }

  /** The store of `topic`, for a caller that uses it at once (`use` keeps it open while in use). */
  of(topic: string): Promise<Store> {
    return topic === DEFAULT_TOPIC ? Promise.resolve(this.main) : this.entry(topic).store;
  }

  /**
   * Stores shared by several servers tell each when another appends: `listener` hears of every topic's
   * log, those opened later included.
   */
  async watch(listener: (topic: string, next: number) => void): Promise<void> {
    this.watcher = listener;
    await this.main.watch?.((next) => listener(DEFAULT_TOPIC, next));
    await Promise.all([...this.opened].map(async ([topic, o]) => (await o.store).watch?.((next) => listener(topic, next))));
  }

  /**
   * Up to `max` topics named after `after` (by name), each with its log's extent and last write: those
   * kept in the store and those opened since.
   */
  async list(after: string, max: number, only?: readonly string[]): Promise<TopicInfo[]> {
    const names = new Set([...this.known, ...(await this.kept())]);
    const page = [...names].filter((t) => t > after && (only === undefined || anyMatches(only, t))).sort().slice(0, max);
    return Promise.all(page.map((topic) => this.use(topic, (store) => describeTopic(topic, store))));
  }

  /** The topics open now. */
  get topics(): string[] {
    return [DEFAULT_TOPIC, ...this.opened.keys()];
  }

  /** Topics served since the server started (counted against `topicsMax`), and their logs open now. */
  get counts(): TopicCounts {
    return { served: this.known.size, open: this.opened.size + 1 };
  }

  async close(): Promise<void> {
    const opened = await Promise.allSettled([...this.opened.values()].map((o) => o.store));
    this.opened.clear();
    await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
    await Promise.all(this.closing.values());
    await this.main.close();
  }

  private entry(topic: string): Opened {
    const found = this.opened.get(topic);
    if (found) {
      this.opened.delete(topic);
      this.opened.set(topic, found);
      return found;
    }
    const wasKnown = this.known.has(topic);
    if (!wasKnown && this.known.size >= this.topicsMax) {
      return { store: Promise.reject(new StoreOpenError(`this server keeps at most ${this.topicsMax} topics: topic ${topic} refused`)), users: 0 };
    }
    this.known.add(topic);
    // A store being closed is closed before it is opened again.
    const store = (this.closing.get(topic) ?? Promise.resolve()).then(async () => {
      const opened = await this.open(topic);
      if (this.watcher) await opened.watch?.((next) => this.watcher!(topic, next));
      return opened;
    });
    const entry: Opened = { store, users: 0 };
    this.opened.set(topic, entry);
    // A topic that failed to open is tried again when next named.
    store.catch(() => {
      if (this.opened.get(topic) === entry) this.opened.delete(topic);
      if (!wasKnown) this.known.delete(topic);
    });
    return entry;
  }

  /** Closes the least recently used stores not in use, down to `openMax` open. */
  private shed(): void {
    if (this.opened.size <= this.openMax) return;
    for (const [topic, entry] of this.opened) {
      if (this.opened.size <= this.openMax) break;
      if (entry.users > 0) continue;
      this.opened.delete(topic);
      const done: Promise<void> = entry.store
        .then((s) => s.close(), () => undefined)
        .finally(() => {
          if (this.closing.get(topic) === done) this.closing.delete(topic);
        });
      this.closing.set(topic, done);
    }
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
      const firstIds = await stores.use(topic, (store) => store.append(indexes.map((i) => withoutTopic(batches[i]!))));
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
  await Promise.all([...byTopic].map(([topic, m]) => stores.use(topic, (store) => store.saveCursors(m))));
}
