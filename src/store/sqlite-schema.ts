import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { StoreOpenError } from './store-errors.js';
import { structuralDamage } from './sqlite-integrity.js';
import { DEFAULT_TOPIC } from '../protocol/topics.js';

/** The schema of the SQLite store's file, and the checks a file passes before the server uses it. */
const APP = 'udp-relay';
/**
 * 2: records carry a checksum (version 1 files are upgraded in place; their old records have none).
 * 3: writers' marks (older files gain the table in place).
 * 4: the registry says where each client was (older files gain the column in place: the default topic).
 */
const SCHEMA_VERSION = 4;

const MARKS_TABLE = `CREATE TABLE producer_marks (
  producer INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (producer, key)
) WITHOUT ROWID;`;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE records (
  first_id INTEGER PRIMARY KEY,
  last_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  sender TEXT NOT NULL,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  payload BLOB NOT NULL,
  crc INTEGER
);
CREATE TABLE producers (id INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, updated INTEGER NOT NULL);
${MARKS_TABLE}
CREATE TABLE cursors (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE clients (
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  online INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  topic TEXT NOT NULL DEFAULT '${DEFAULT_TOPIC}',
  PRIMARY KEY (name, role)
) WITHOUT ROWID;
`;

export function meta(db: Database.Database, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
}

/**
 * Refuses a file that is not ours, one that is damaged, and an empty one where the log used to be
 * longer; creates the schema in a new one. Nothing is written before every check has passed.
 * `held`: the next id this data directory's log had reached (its mark).
 */
export function checkOrCreate(db: Database.Database, path: string, held: number, opts: { dataDir: string; acceptEmptyLog?: boolean }): void {
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name);
  const emptied = (): boolean => tables.length === 0 || (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n === 0;
  if (tables.length > 0 && tables.includes('meta') && meta(db, 'app') === APP) {
    const damage = structuralDamage(db);
    if (damage !== undefined) {
      throw new StoreOpenError(damagedMessage(path, damage, opts.dataDir));
    }
  }
  if (held > 1 && !opts.acceptEmptyLog && emptied() && Number(tables.includes('meta') ? (meta(db, 'next_id') ?? 1) : 1) < held) {
    throw new StoreOpenError(
      `${path} holds no messages, but this data directory's log had reached id ${held - 1}: refusing to start ` +
        `a new log over it. Restore the file, or start with --accept-empty-log to begin again`,
    );
  }
  if (tables.length === 0) {
    db.transaction(() => {
      db.exec(SCHEMA);
      const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      put.run('app', APP);
      put.run('schema', String(SCHEMA_VERSION));
      put.run('next_id', '1');
      put.run('first_id', '1');
    })();
    return;
  }
  if (!tables.includes('meta') || meta(db, 'app') !== APP) {
    throw new StoreOpenError(`${path} is not a ${APP} database; refusing to touch it`);
  }
  const version = Number(meta(db, 'schema'));
  if (version >= 1 && version < SCHEMA_VERSION) {
    db.transaction(() => {
      if (version === 1) db.exec('ALTER TABLE records ADD COLUMN crc INTEGER');
      if (version <= 2) db.exec(MARKS_TABLE);
      db.exec(`ALTER TABLE clients ADD COLUMN topic TEXT NOT NULL DEFAULT '${DEFAULT_TOPIC}'`);
      db.prepare(`UPDATE meta SET value = ? WHERE key = 'schema'`).run(String(SCHEMA_VERSION));
    })();
    return;
  }
  if (version !== SCHEMA_VERSION) {
    throw new StoreOpenError(`${path} has schema version ${version}; this server reads version ${SCHEMA_VERSION}`);
  }
}

export const damagedMessage = (path: string, damage: string, dataDir: string): string =>
  `${path} is damaged (${damage.slice(0, 160)}); it was not written to. ` +
  `Copy what is intact to a new data directory with run-server --data-dir ${dataDir} --recover-to NEW-DIR`;

/**
 * Creates the data directory one level at a time (Node's recursive mkdir spins for ever under /proc),
 * saying in one line why it cannot be.
 */
export function makeDataDir(dataDir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dataDir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      const why = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT' ? 'not writable' : code;
      throw new StoreOpenError(`cannot create data directory ${dataDir}: ${dirname(d)} is ${why === 'not writable' ? `not writable (${code})` : `refusing it (${why})`}`);
    }
  }
}

/** A row of the records table, as queries read it. */
export interface RecordRow {
  first_id: number;
  last_id: number;
  ts: number;
  sender: string;
  count: number;
  bytes: number;
  payload: Buffer;
  /** Absent in records written before checksums (schema 1). */
  crc: number | null;
}
