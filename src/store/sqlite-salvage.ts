import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DATABASE_FILE, SqliteStore } from './sqlite-store.js';
import type { RecordRow } from './sqlite-schema.js';
import { recordChecksum } from './sqlite-integrity.js';
import { unpackRecord } from './record-codec.js';
import { StoreOpenError } from './store-errors.js';
import { DEFAULT_TOPIC } from '../protocol/topics.js';

export interface SalvageReport {
  /** Messages copied, and records (of one or more messages) left behind as damaged or unreadable. */
  messages: number;
  records: number;
  damagedRecords: number;
  /** Ids the copy holds: from `first` up to, not including, `next` (with the damaged ones missing). */
  first: number;
  next: number;
  positions: number;
}

/**
 * Copies what is intact of a damaged sqlite log into a new data directory: every record whose checksum
 * holds and that SQLite can still read, the writers' sequence numbers, the readers' positions and the
 * registry (what of them can be read). The damaged file is only read. Damage that hides rows from
 * SQLite is stepped over by probing further ids, so one bad page costs only the records on it.
 */
export async function salvageSqlite(fromDir: string, toDir: string): Promise<SalvageReport> {
  const fromPath = join(fromDir, DATABASE_FILE);
  if (!existsSync(fromPath)) throw new StoreOpenError(`${fromPath} does not exist`);
  if (existsSync(join(toDir, DATABASE_FILE))) throw new StoreOpenError(`${join(toDir, DATABASE_FILE)} exists already: recover into a new directory`);
  let src: Database.Database;
  try {
    src = new Database(fromPath, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new StoreOpenError(`cannot open ${fromPath}: ${(e as Error).message}`);
  }
  mkdirSync(toDir, { recursive: true });
  // The new directory starts as a store of its own (its schema), then takes the rows.
  await new SqliteStore({ dataDir: toDir, retention: { messages: 0, bytes: 0, ageMs: 0 }, fsync: false }).close();
  const dst = new Database(join(toDir, DATABASE_FILE));
  try {
    return copy(src, dst);
  } finally {
    src.close();
    dst.close();
  }
}

function copy(src: Database.Database, dst: Database.Database): SalvageReport {
  const report: SalvageReport = { messages: 0, records: 0, damagedRecords: 0, first: 0, next: 1, positions: 0 };
  const tryGet = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const meta = (key: string): number | undefined => {
    const v = tryGet(() => (src.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value);
    return v === undefined ? undefined : Number(v);
  };
  const end = Math.max(meta('next_id') ?? 1, tryGet(() => (src.prepare('SELECT max(last_id) AS m FROM records').get() as { m: number | null }).m ?? 0) ?? 0) + 1;
  const nextRow = src.prepare('SELECT first_id, last_id, ts, sender, count, bytes, payload, crc FROM records WHERE first_id >= ? ORDER BY first_id LIMIT 1');
  const insert = dst.prepare('INSERT INTO records (first_id, last_id, ts, sender, count, bytes, payload, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  let from = 1;
  let step = 1;
  dst.transaction(() => {
    while (from < end) {
      let row: RecordRow | undefined;
      try {
        row = nextRow.get(from) as RecordRow | undefined;
      } catch {
        from += step; // unreadable here: step over it, further each time
        step *= 2;
        continue;
      }
      if (!row) break;
      step = 1;
      from = row.last_id + 1;
      const sound =
        (row.crc === null || recordChecksum(row.first_id, row.last_id, row.ts, row.sender, row.count, row.payload) === row.crc) &&
        tryGet(() => unpackRecord(row.payload, row.count, row.first_id, row.ts, row.sender)) !== undefined;
      if (!sound) {
        report.damagedRecords++;
        continue;
      }
      insert.run(row.first_id, row.last_id, row.ts, row.sender, row.count, row.bytes, row.payload, row.crc);
      report.records++;
      report.messages += row.count;
      if (report.first === 0) report.first = row.first_id;
      report.next = row.last_id + 1;
    }
    const next = Math.max(report.next, meta('next_id') ?? 1);
    report.next = next;
    const put = dst.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    put.run('next_id', String(next));
    put.run('first_id', String(Math.max(1, meta('first_id') ?? 1)));
    for (const r of tryGet(() => src.prepare('SELECT id, last_seq, updated FROM producers').all() as { id: bigint; last_seq: number; updated: number }[]) ?? []) {
      dst.prepare('INSERT OR REPLACE INTO producers (id, last_seq, updated) VALUES (?, ?, ?)').run(r.id, r.last_seq, r.updated);
    }
    for (const m of tryGet(() => src.prepare('SELECT producer, key, value FROM producer_marks').all() as { producer: bigint; key: Buffer; value: Buffer }[]) ?? []) {
      dst.prepare('INSERT OR REPLACE INTO producer_marks (producer, key, value) VALUES (?, ?, ?)').run(m.producer, m.key, m.value);
    }
    for (const c of tryGet(() => src.prepare('SELECT name, position FROM cursors').all() as { name: string; position: number }[]) ?? []) {
      dst.prepare('INSERT OR REPLACE INTO cursors (name, position) VALUES (?, ?)').run(c.name, c.position);
      report.positions++;
    }
    const clients = (columns: string) => src.prepare(`SELECT ${columns} FROM clients`).all() as { name: string; role: string; last_seen: number; topic?: string }[];
    for (const c of tryGet(() => clients('name, role, last_seen, topic')) ?? tryGet(() => clients('name, role, last_seen')) ?? []) {
      dst.prepare('INSERT OR REPLACE INTO clients (name, role, online, last_seen, topic) VALUES (?, ?, 0, ?, ?)').run(c.name, c.role, c.last_seen, c.topic ?? DEFAULT_TOPIC);
    }
  })();
  if (report.first === 0) report.first = report.next;
  return report;
}
