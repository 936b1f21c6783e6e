import type { ClientRecord, LogBounds, ProducerBatch, ReadLimits, ReadResult, Store } from './store.js';

/** What a sans-IO core asks of the store; the I/O edge runs it and hands back the result. */
export type StoreRequest =
  | { op: 'producerSeq'; producerId: bigint }
  | { op: 'append'; batches: ProducerBatch[] }
  | { op: 'read'; from: number; limits: ReadLimits }
  | { op: 'readerStart'; name: string }
  | { op: 'saveCursors'; cursors: Map<string, number> }
  | { op: 'saveClient'; client: ClientRecord }
  | { op: 'clients' };

export interface ReaderStart extends LogBounds {
  cursor: number | undefined;
}

export interface StoreResults {
  producerSeq: number | undefined;
  append: (number | null)[];
  read: ReadResult;
  readerStart: ReaderStart;
  saveCursors: void;
  saveClient: void;
  clients: ClientRecord[];
}

export async function runStoreRequest(store: Store, req: StoreRequest): Promise<unknown> {
  switch (req.op) {
    case 'producerSeq':
      return store.producerSeq(req.producerId);
    case 'append':
      return store.append(req.batches);
    case 'read':
      return store.read(req.from, req.limits);
    case 'readerStart': {
      const [cursor, bounds] = await Promise.all([store.cursor(req.name), store.bounds()]);
      return { cursor, ...bounds } satisfies ReaderStart;
    }
    case 'saveCursors':
      return store.saveCursors(req.cursors);
    case 'saveClient':
      return store.saveClient(req.client);
    case 'clients':
      return store.clients();
  }
}
