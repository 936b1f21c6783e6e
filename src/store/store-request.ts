import type { ClaimResult, ClientRecord, LogBounds, ProducerBatch, ProducerMark, ReadLimits, ReadResult, Store } from './store.js';

/** What a sans-IO core asks of the store; the I/O edge runs it and hands back the result. */
export type StoreRequest =
  | { op: 'producerSeq'; producerId: bigint }
  | { op: 'producerMarks'; producerId: bigint }
  | { op: 'append'; batches: ProducerBatch[] }
  | { op: 'read'; from: number; limits: ReadLimits }
  | { op: 'readerStart'; name: string }
  | { op: 'cursor'; name: string }
  | { op: 'saveCursors'; cursors: Map<string, number> }
  | { op: 'saveClient'; client: ClientRecord }
  | { op: 'clients' }
  | { op: 'claimName'; key: string; holder: string; ttlMs: number; force: boolean }
  | { op: 'renewNames'; claims: { key: string; holder: string }[]; ttlMs: number }
  | { op: 'releaseName'; key: string; holder: string };

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
  saveCursors: void;
  saveClient: void;
  clients: ClientRecord[];
  claimName: ClaimResult;
  renewNames: string[];
  releaseName: void;
}

export async function runStoreRequest(store: Store, req: StoreRequest): Promise<unknown> {
  switch (req.op) {
    case 'producerSeq':
      return store.producerSeq(req.producerId);
    case 'producerMarks':
      return store.producerMarks(req.producerId);
    case 'append':
      return store.append(req.batches);
    case 'read':
      return store.read(req.from, req.limits);
    case 'readerStart': {
      const [cursor, bounds] = await Promise.all([store.cursor(req.name), store.bounds()]);
      return { cursor, ...bounds } satisfies ReaderStart;
    }
    case 'cursor':
      return store.cursor(req.name);
    case 'saveCursors':
      return store.saveCursors(req.cursors);
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
