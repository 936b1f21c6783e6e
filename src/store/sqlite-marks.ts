import type Database from 'better-sqlite3';
import { MARKS_PER_WRITER_MAX, type ProducerMark } from './store.js';

/** Writers' marks in the SQLite store (table producer_marks), as mergeMarks (producer-marks.ts) keeps them in memory. */
export class SqliteMarks {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      all: db.prepare('SELECT key, value FROM producer_marks WHERE producer = ? ORDER BY key'),
      has: db.prepare('SELECT 1 FROM producer_marks WHERE producer = ? AND key = ?').pluck(),
      count: db.prepare('SELECT count(*) FROM producer_marks WHERE producer = ?').pluck(),
      put: db.prepare('INSERT OR REPLACE INTO producer_marks (producer, key, value) VALUES (?, ?, ?)'),
      remove: db.prepare('DELETE FROM producer_marks WHERE producer = ? AND key = ?'),
      orphans: db.prepare('DELETE FROM producer_marks WHERE producer NOT IN (SELECT id FROM producers)'),
    };
  }

  get(producer: bigint): ProducerMark[] {
    return this.stmt.all.all(producer) as ProducerMark[];
  }

  /** Inside the append's transaction. */
  put(producer: bigint, marks: readonly ProducerMark[]): void {
    for (const m of marks) {
      if (m.value.length === 0) this.stmt.remove.run(producer, m.key);
      else if (this.stmt.has.get(producer, m.key) || (this.stmt.count.get(producer) as number) < MARKS_PER_WRITER_MAX) {
        this.stmt.put.run(producer, m.key, m.value);
      }
    }
  }

  /** The marks of writers forgotten (PRODUCER_TTL_MS) go with them. */
  forgetOrphans(): void {
    this.stmt.orphans.run();
  }
}
