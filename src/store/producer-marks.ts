import { MARKS_PER_WRITER_MAX, type ProducerMark } from './store.js';

/** A writer's marks as a store keeps them in memory: by key, as hex. */
export type MarkTable = Map<string, ProducerMark>;

/** Applies a batch's marks: a value replaces, an empty one removes, a new key past the limit is not kept. */
export function mergeMarks(stored: MarkTable, marks: readonly ProducerMark[]): void {
  for (const m of marks) {
    const k = m.key.toString('hex');
    if (m.value.length === 0) stored.delete(k);
    else if (stored.has(k) || stored.size < MARKS_PER_WRITER_MAX) stored.set(k, { key: Buffer.from(m.key), value: Buffer.from(m.value) });
  }
}

/** The marks in the order the store contract gives them: by key, bytewise. */
export const sortedMarks = (marks: Iterable<ProducerMark>): ProducerMark[] => [...marks].sort((a, b) => Buffer.compare(a.key, b.key));
