import type { TopicInfo } from '../protocol/packets.js';
import { appendByTopic, saveCursorsByTopic, type TopicStores } from './topic-stores.js';
import type { ClaimResult, ClientRecord, LogBounds, ProducerBatch, ProducerMark, ReadLimits, ReadResult } from './store.js';

/** What a sans-IO core asks of the store; the I/O edge runs it and hands back the result. */
export type StoreRequest =
  | { op: 'producerSeq'; topic: string; producerId: bigint }
  | { op: 'producerMarks'; topic: string; producerId: bigint }
  | { op: 'append'; batches: TopicBatch[] }
  | { op: 'read'; topic: string; from: number; limits: ReadLimits }
  | { op: 'readerStart'; topic: string; name: string }
  | { op: 'cursor'; topic: string; name: string }
  /** `only`: the topics these patterns match (a user's rights); absent: all. */
  | { op: 'topics'; after: string; max: number; only?: string[] }
  /** Keys are names within their topics (core/server/log-end.ts `inTopic`). */
  | { op: 'saveCursors'; cursors: Map<string, number> }
  | { op: 'saveClient'; client: ClientRecord }
  | { op: 'clients' }
  | { op: 'claimName'; key: string; holder: string; ttlMs: number; force: boolean }
  | { op: 'renewNames'; claims: { key: string; holder: string }[]; ttlMs: number }
  | { op: 'releaseName'; key: string; holder: string };

/** A writer's batch, and the topic whose log it goes to. */
export interface TopicBatch extends ProducerBatch {
  topic: string;
}

export interface ReaderStart extends LogBounds {
  cursor: number | undefined;
}

export interface StoreResults {
  producerSeq: number | undefined;
  producerMarks: ProducerMark[];
  append: (number | null)[];
  read: ReadResult;
  readerStart: ReaderStart;
  cursor: number | undefined;
  topics: TopicInfo[];
  saveCursors: void;
  saveClient: void;
  clients: ClientRecord[];
  claimName: ClaimResult;
  renewNames: string[];
  releaseName: void;
}

/** Runs one request on the store of its topic (server-wide ones, on the default topic's store). */
export async function runStoreRequest(stores: TopicStores, req: StoreRequest): Promise<unknown> {
  const store = stores.main;
  switch (req.op) {
    case 'producerSeq':
      return stores.use(req.topic, (s) => s.producerSeq(req.producerId));
    case 'producerMarks':
      return stores.use(req.topic, (s) => s.producerMarks(req.producerId));
    case 'append':
      return appendByTopic(stores, req.batches);
    case 'read':
      return stores.use(req.topic, (s) => s.read(req.from, req.limits));
    case 'readerStart':
      return stores.use(req.topic, async (topic) => {
        const [cursor, bounds] = await Promise.all([topic.cursor(req.name), topic.bounds()]);
        return { cursor, ...bounds } satisfies ReaderStart;
      });
    case 'cursor':
      return stores.use(req.topic, (s) => s.cursor(req.name));
    case 'topics':
      return stores.list(req.after, req.max, req.only);
    case 'saveCursors':
      return saveCursorsByTopic(stores, req.cursors);
    case 'saveClient':
      return store.saveClient(req.client);
    case 'clients':
      return store.clients();
    // A store only one server uses has no claims to keep: its server's own sessions are the whole truth.
    case 'claimName':
      return store.claimName ? store.claimName(req.key, req.holder, req.ttlMs, req.force) : { ok: true };
    case 'renewNames':
      return store.renewNames ? store.renewNames(req.claims, req.ttlMs) : [];
    case 'releaseName':
      return store.releaseName?.(req.key, req.holder);
  }
}
