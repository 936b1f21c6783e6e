import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ReadScan } from './read-scan.js';
import { RecordCache, SHARED_CACHE_BUDGET, type CachedRecord } from './record-cache.js';
import { packMessages, recordEnd, senderField, storedMessage, unpackRecord } from './record-codec.js';
import type {
  ClientRecord,
  LogBounds,
  LogSize,
  NewMessage,
  ProducerBatch,
  ProducerMark,
  ReadLimits,
  ReadResult,
  RetentionLimits,
  Store,
  StoredMessage,
} from './store.js';
import { PRODUCER_TTL_MS } from './store.js';
import { SqliteMarks } from './sqlite-marks.js';
import { RetentionCut, trimByClock } from './retention.js';
import { StoreOpenError } from './store-errors.js';
import { DataDirLock } from './data-dir-lock.js';
import { LogMark, RecordDamagedError, recordChecksum } from './sqlite-integrity.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { checkOrCreate, damagedMessage, makeDataDir, meta, type RecordRow } from './sqlite-schema.js';

/** Records one query brings at most. */
const READ_ROWS_MAX = 64;
export const DATABASE_FILE = 'relay.db';

export interface SqliteOptions {
  dataDir: string;
  retention: RetentionLimits;
  /** fsync at every commit: survives power loss, not only a killed process. */
  fsync: boolean;
  /** Start even though the database is empty while its data directory once held a longer log. */
  acceptEmptyLog?: boolean;
  /** Told once per damaged record a read or trim comes across (the record is skipped, never served altered). */
  onDamage?: (e: RecordDamagedError) => void;
  /** A topic's database, under a data directory its server holds locked already: no lock file of its own. */
  underLock?: boolean;
}

/**
 * The default store: one SQLite file in WAL mode. Each append is one transaction holding the messages
 * and their writers' sequence numbers, so a retransmission after a crash is recognised.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly path: string;
  private readonly db: Database.Database;
  private firstId: number;
  private nextId: number;
  private totalBytes: number;
  private readonly cache = new RecordCache(SHARED_CACHE_BUDGET);
  private readonly ageTimer: NodeJS.Timeout | undefined;
  private readonly stmt: ReturnType<SqliteStore['prepare']>;
  private readonly marks: SqliteMarks;
  private readonly appendTx: (batches: ProducerBatch[]) => (number | null)[];
  private readonly trimTx: (now: number) => boolean;
  private readonly lock: Pick<DataDirLock, 'release'>;
  private readonly checkpointer: WalCheckpointer;
  private readonly mark: LogMark;
  private readonly damageSeen = new Set<number>();

  constructor(private readonly opts: SqliteOptions) {
    this.path = join(opts.dataDir, DATABASE_FILE);
    makeDataDir(opts.dataDir);
    this.lock = opts.underLock ? { release: () => undefined } : new DataDirLock(opts.dataDir, this.path);
    const existed = existsSync(this.path);
    try {
      this.db = new Database(this.path);
    } catch (e) {
      this.lock.release(true);
      throw new StoreOpenError(`cannot open ${this.path}: ${(e as Error).message}`);
    }
    const synchronous = opts.fsync ? 'FULL' : 'NORMAL';
    try {
      this.mark = new LogMark(opts.dataDir);
      // Every check reads only: a file refused here is left exactly as it was.
      checkOrCreate(this.db, this.path, this.mark.nextId, this.opts);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${synchronous}`);
      this.db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('opened', ?)`).run(new Date().toISOString());
    } catch (e) {
      this.db.close();
      if (!existed) rmSync(this.path, { force: true }); // a refused start leaves nothing behind
      this.lock.release(true);
      if (e instanceof StoreOpenError) throw e;
      const code = (e as { code?: string }).code;
      if (code === 'SQLITE_NOTADB') throw new StoreOpenError(`${this.path} is not a SQLite database; refusing to touch it`);
      if (code === 'SQLITE_CORRUPT') throw new StoreOpenError(damagedMessage(this.path, (e as Error).message, this.opts.dataDir));
      throw new StoreOpenError(`cannot open ${this.path}: ${(e as Error).message}`);
    }
    this.checkpointer = new WalCheckpointer(this.db, this.path, synchronous);
    this.stmt = this.prepare();
    // The last record says where the log ends; the meta row does once retention has emptied the log.
    const lastRecord = this.db.prepare('SELECT last_id FROM records ORDER BY first_id DESC LIMIT 1').get() as { last_id: number } | undefined;
    this.nextId = Math.max(Number(meta(this.db, 'next_id') ?? 1), (lastRecord?.last_id ?? 0) + 1);
    this.firstId = Number(meta(this.db, 'first_id') ?? 1);
    this.totalBytes = this.bytesBetween(this.firstId, this.nextId);
    this.mark.mark(this.nextId);
    this.db.prepare('DELETE FROM producers WHERE updated < ?').run(Date.now() - PRODUCER_TTL_MS);
    this.marks = new SqliteMarks(this.db);
    this.marks.forgetOrphans();
    // Whoever was online when the server last stopped must register again to be online now.
    this.db.prepare('UPDATE clients SET online = 0 WHERE online = 1').run();
    this.appendTx = this.db.transaction((batches: ProducerBatch[]) => this.appendNow(batches));
    this.trimTx = this.db.transaction((now: number) => this.trim(now));
    this.ageTimer = trimByClock(opts.retention, (now) => {
      if (this.trimTx(now)) this.checkpointer.committed();
    });
  }

  producerSeq(producerId: bigint): Promise<number | undefined> {
    const row = this.stmt.getProducer.get(BigInt.asIntN(64, producerId)) as { last_seq: number } | undefined;
    return Promise.resolve(row?.last_seq);
  }

  producerMarks(producerId: bigint): Promise<ProducerMark[]> {
    return Promise.resolve(this.marks.get(BigInt.asIntN(64, producerId)));
  }

  append(batches: ProducerBatch[]): Promise<(number | null)[]> {
    const { nextId, firstId, totalBytes } = this;
    let firstIds: (number | null)[];
    try {
      firstIds = this.appendTx(batches);
    } catch (e) {
      // Rolled back: so is what this object had counted and cached of it.
      this.cache.dropFrom(nextId);
      Object.assign(this, { nextId, firstId, totalBytes });
      return Promise.reject(e as Error);
    }
    this.checkpointer.committed();
    if (this.mark.nextId === 1) this.mark.mark(this.nextId); // the first messages this directory holds
    return Promise.resolve(firstIds);
  }

  read(from: number, limits: ReadLimits): Promise<ReadResult> {
    const first = this.firstId;
    const scan = new ReadScan(Math.max(from, first), limits);
    scan: while (scan.cursor < this.nextId) {
      const cached = this.cache.find(scan.cursor);
      if (cached) {
        if (!scan.take(cached.first, cached.messages)) break;
        continue;
      }
      let rows = 0;
      // Row by row, decoding only what the read takes: a reader far behind the head would otherwise
      // decode (and cache, evicting what others need) many records for every reply it gets.
      for (const row of this.stmt.readRecords.iterate({ from: scan.cursor, limit: READ_ROWS_MAX }) as IterableIterator<RecordRow>) {
        rows++;
        let record: CachedRecord;
        try {
          record = this.unpack(row);
        } catch (e) {
          if (!(e instanceof RecordDamagedError)) throw e;
          this.damaged(e);
          // What comes before it is served; a read that starts at it passes over it, as over messages
          // removed by retention: the reader is told how many it missed, and never gets altered text.
          if (scan.messages.length > 0) return Promise.resolve({ messages: scan.messages, next: row.first_id, first, atEnd: false });
          const after = row.last_id + 1;
          return Promise.resolve({ messages: [], next: after, first: Math.max(first, after), atEnd: after >= this.nextId });
        }
        if (!scan.take(record.first, record.messages)) break scan;
      }
      if (rows === 0) break;
    }
    const next = scan.atEnd ? this.nextId : scan.next;
    return Promise.resolve({ messages: scan.messages, next, first, atEnd: scan.atEnd });
  }

  bounds(): Promise<LogBounds> {
    return Promise.resolve({ first: this.firstId, next: this.nextId });
  }

  size(): Promise<LogSize> {
    return Promise.resolve({ first: this.firstId, next: this.nextId, bytes: this.totalBytes });
  }

  cursor(name: string): Promise<number | undefined> {
    const row = this.stmt.getCursor.get(name) as { position: number } | undefined;
    return Promise.resolve(row?.position);
  }

  saveCursors(cursors: ReadonlyMap<string, number>): Promise<void> {
    this.db.transaction(() => {
      for (const [name, position] of cursors) this.stmt.putCursor.run(name, position);
    })();
    this.checkpointer.committed();
    return Promise.resolve();
  }

  saveClient(c: ClientRecord): Promise<void> {
    this.stmt.putClient.run(c.name, c.role, c.online ? 1 : 0, Math.floor(c.lastSeen), c.topic);
    this.checkpointer.committed();
    return Promise.resolve();
  }

  clients(): Promise<ClientRecord[]> {
    const rows = this.stmt.allClients.all() as { name: string; role: 'writer' | 'reader'; online: number; last_seen: number; topic: string }[];
    return Promise.resolve(rows.map((r) => ({ name: r.name, role: r.role, online: r.online === 1, lastSeen: r.last_seen, topic: r.topic })));
  }

  forgetClients(seenBefore: number): Promise<number> {
    const forgotten = this.db.transaction(() => {
      this.stmt.forgetCursors.run(seenBefore);
      return this.stmt.forgetClients.run(seenBefore).changes;
    })();
    if (forgotten > 0) this.checkpointer.committed();
    return Promise.resolve(forgotten);
  }

  async close(): Promise<void> {
    if (this.ageTimer) clearInterval(this.ageTimer);
    this.mark.mark(this.nextId);
    await this.checkpointer.close();
    // The last connection to close copies the WAL back and removes it.
    if (this.db.open) this.db.close();
    this.lock.release();
    this.cache.clear();
  }

  /** Checkpoints done in the background and in the foreground so far. */
  get checkpoints(): { background: number; foreground: number } {
    return { ...this.checkpointer.stats };
  }

  // ---- internals ----

  private prepare() {
    const db = this.db;
    return {
      insertRecord: db.prepare('INSERT INTO records (first_id, last_id, ts, sender, count, bytes, payload, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      putProducer: db.prepare(
        'INSERT INTO producers (id, last_seq, updated) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), updated = excluded.updated',
      ),
      getProducer: db.prepare('SELECT last_seq FROM producers WHERE id = ?'),
      putMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      readRecords: db.prepare(
        'SELECT first_id, last_id, ts, sender, count, bytes, payload, crc FROM records WHERE first_id >= coalesce((SELECT max(first_id) FROM records WHERE first_id <= @from), 0) ORDER BY first_id LIMIT @limit',
      ),
      deleteBelow: db.prepare('DELETE FROM records WHERE last_id < ?'),
      sumWhole: db.prepare('SELECT coalesce(sum(bytes), 0) AS s FROM records WHERE first_id >= @a AND last_id < @b'),
      edgeRecords: db.prepare(
        `SELECT first_id, last_id, ts, sender, count, bytes, payload, crc FROM records WHERE first_id IN (
           (SELECT max(first_id) FROM records WHERE first_id <= @a), (SELECT max(first_id) FROM records WHERE first_id < @b))`,
      ),
      getCursor: db.prepare('SELECT position FROM cursors WHERE name = ?'),
      putCursor: db.prepare('INSERT OR REPLACE INTO cursors (name, position) VALUES (?, ?)'),
      putClient: db.prepare('INSERT OR REPLACE INTO clients (name, role, online, last_seen, topic) VALUES (?, ?, ?, ?, ?)'),
      allClients: db.prepare('SELECT name, role, online, last_seen, topic FROM clients ORDER BY name, role'),
      forgetCursors: db.prepare("DELETE FROM cursors WHERE name IN (SELECT name FROM clients WHERE role = 'reader' AND online = 0 AND last_seen < ?)"),
      forgetClients: db.prepare('DELETE FROM clients WHERE online = 0 AND last_seen < ?'),
    };
  }

  private appendNow(batches: ProducerBatch[]): (number | null)[] {
    const firstIds: (number | null)[] = [];
    let latestTs = 0;
    for (const b of batches) {
      const producerId = BigInt.asIntN(64, b.producerId);
      if (b.afterSeq !== undefined) {
        const stored = (this.stmt.getProducer.get(producerId) as { last_seq: number } | undefined)?.last_seq ?? 0;
        if (stored > b.afterSeq) {
          firstIds.push(null);
          continue;
        }
      }
      firstIds.push(this.nextId);
      let start = 0;
      while (start < b.messages.length) {
        const end = recordEnd(b.messages, start);
        this.insertRecord(b.messages.slice(start, end));
        latestTs = Math.max(latestTs, b.messages[start]!.ts);
        start = end;
      }
      this.stmt.putProducer.run(producerId, b.lastSeq, Date.now());
      if (b.marks) this.marks.put(producerId, b.marks);
    }
    // next_id is not written here: the new last record says it, and a commit writes one page fewer.
    this.trim(latestTs);
    return firstIds;
  }

  private insertRecord(messages: NewMessage[]): void {
    const payload = packMessages(messages);
    const first = this.nextId;
    const last = first + messages.length - 1;
    const bytes = messages.reduce((n, m) => n + m.text.length, 0);
    const ts = Math.floor(messages[0]!.ts);
    const sender = senderField(messages[0]!);
    this.stmt.insertRecord.run(first, last, ts, sender, messages.length, bytes, payload, recordChecksum(first, last, ts, sender, messages.length, payload));
    this.nextId = last + 1;
    this.totalBytes += bytes;
    // Readers that follow the log will ask for it at once: keep it decoded, as a read would.
    this.cache.put(first, messages.map((m, i) => storedMessage(first + i, ts, m.from, m)));
  }

  /** A record's messages, decoded once its checksum holds (RecordDamagedError otherwise). */
  private unpack(row: RecordRow): CachedRecord {
    const cached = this.cache.find(row.first_id);
    if (cached?.first === row.first_id) return cached;
    const { first_id: first, last_id: last, ts, sender, count, payload, crc } = row;
    if (crc !== null && recordChecksum(first, last, ts, sender, count, payload) !== crc) {
      throw new RecordDamagedError(first, last, 'checksum mismatch');
    }
    let messages;
    try {
      messages = unpackRecord(payload, count, first, ts, sender);
    } catch (e) {
      throw new RecordDamagedError(first, last, (e as Error).message);
    }
    return this.cache.put(first, messages);
  }

  private unpackOrNone(r: RecordRow): readonly StoredMessage[] | undefined {
    try {
      return this.unpack(r).messages;
    } catch (e) {
      if (!(e instanceof RecordDamagedError)) throw e;
      this.damaged(e);
      return undefined;
    }
  }

  private damaged(e: RecordDamagedError): void {
    if (this.damageSeen.has(e.firstId)) return;
    this.damageSeen.add(e.firstId);
    this.opts.onDamage?.(e);
  }

  /** Applies retention: moves the first id forward, message by message, and deletes records wholly below it. Says whether it did. */
  private trim(now: number): boolean {
    const cut = new RetentionCut(this.opts.retention, { first: this.firstId, next: this.nextId, bytes: this.totalBytes }, now);
    cut.droppedTo(cut.countFloor, this.bytesBetween(cut.first, cut.countFloor));
    scan: while (cut.mayTakeMore && cut.first < this.nextId) {
      const rows = this.stmt.readRecords.all({ from: cut.first, limit: READ_ROWS_MAX }) as RecordRow[];
      if (rows.length === 0) break;
      for (const r of rows) {
        // A record's messages share its time: too old, they go together (unread).
        if (cut.agedOut(r.ts)) {
          cut.droppedTo(r.last_id + 1, this.bytesBetween(cut.first, r.last_id + 1));
          continue;
        }
        if (!cut.drops(r.ts)) break scan;
        const packed = this.unpackOrNone(r);
        if (!packed) {
          cut.droppedTo(r.last_id + 1, this.bytesBetween(cut.first, r.last_id + 1)); // damaged: goes whole
          continue;
        }
        for (let i = Math.max(0, cut.first - r.first_id); i < packed.length; i++) {
          if (!cut.drops(r.ts)) break scan;
          cut.droppedTo(r.first_id + i + 1, packed[i]!.text.length);
        }
      }
    }
    const first = cut.first;
    const total = cut.bytes;
    if (first === this.firstId) return false;
    this.stmt.deleteBelow.run(first);
    this.cache.dropBelow(first);
    this.stmt.putMeta.run('first_id', String(first));
    this.stmt.putMeta.run('next_id', String(this.nextId)); // the log may be empty now
    this.firstId = first;
    this.totalBytes = total;
    return true;
  }

  /** Bytes of text of the messages with ids in [a, b). */
  private bytesBetween(a: number, b: number): number {
    if (b <= a) return 0;
    let sum = (this.stmt.sumWhole.get({ a, b }) as { s: number }).s;
    for (const r of this.stmt.edgeRecords.all({ a, b }) as RecordRow[]) {
      if (r.first_id >= a && r.last_id < b) continue; // counted whole above
      const packed = this.unpackOrNone(r);
      if (!packed) {
        // Damaged: its share of the record's bytes.
        const overlap = Math.min(b, r.last_id + 1) - Math.max(a, r.first_id);
        sum += Math.round((r.bytes * overlap) / r.count);
        continue;
      }
      for (let id = Math.max(a, r.first_id); id < Math.min(b, r.last_id + 1); id++) sum += packed[id - r.first_id]!.text.length;
    }
    return sum;
  }
}
