import { packMessages, recordEnd, senderField, storedMessage } from './record-codec.js';
import { MARKS_PER_WRITER_MAX, PRODUCER_TTL_MS, type ProducerBatch, type StoredMessage } from './store.js';

/** An append as the redis APPEND script takes it (redis-scripts.ts), and the messages it stores. */
export interface AppendCall {
  keys: string[];
  args: (string | Buffer)[];
  /** Per batch, its records' messages, decoded as a read would give them (ids set once stored). */
  pending: StoredMessage[][][];
}

export function appendCall(batches: ProducerBatch[], keys: { fixed: string[]; marksPrefix: string }, publish: string): AppendCall {
  const args: (string | Buffer)[] = [String(Date.now()), String(PRODUCER_TTL_MS), String(batches.length), keys.marksPrefix, String(MARKS_PER_WRITER_MAX), publish];
  const pending: StoredMessage[][][] = [];
  for (const b of batches) {
    const records: StoredMessage[][] = [];
    const recordArgs: (string | Buffer)[] = [];
    for (let start = 0; start < b.messages.length; ) {
      const end = recordEnd(b.messages, start);
      const slice = b.messages.slice(start, end);
      const ts = Math.floor(slice[0]!.ts);
      const from = slice[0]!.from;
      const bytes = slice.reduce((n, m) => n + m.text.length, 0);
      recordArgs.push(String(slice.length), String(ts), senderField(slice[0]!), String(bytes), packMessages(slice));
      records.push(slice.map((m) => storedMessage(0, ts, from, m)));
      start = end;
    }
    const marks = b.marks ?? [];
    const markArgs = marks.flatMap((m) => [m.key.toString('hex'), m.value]);
    args.push(b.producerId.toString(), b.afterSeq === undefined ? '' : String(b.afterSeq), String(b.lastSeq), String(records.length), String(marks.length));
    args.push(...recordArgs, ...markArgs);
    pending.push(records);
  }
  return { keys: [...keys.fixed, ...batches.map((b) => keys.marksPrefix + b.producerId.toString())], args, pending };
}
