import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DATABASE_FILE, SqliteStore } from '../../src/store/sqlite-store.js';
import { StoreOpenError } from '../../src/store/store-errors.js';
import { WAL_BYTES_KEPT } from '../../src/store/wal-checkpointer.js';
import { NO_RETENTION } from '../../src/store/store.js';
import { storeContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'relay-sqlite-'));
let n = 0;
const freshDir = (): string => join(root, `db${++n}`);
after(() => rmSync(root, { recursive: true, force: true }));

storeContract('sqlite', (retention = NO_RETENTION) => Promise.resolve(new SqliteStore({ dataDir: freshDir(), retention, fsync: false })));

describe('sqlite store on disk', () => {
  const msg = (text: string) => ({ ts: 1, from: 'w', text: Buffer.from(text) });

  test('everything survives closing and reopening: log, ids, producers, cursors, clients', async () => {
    const dir = freshDir();
    const a = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    await a.append([{ producerId: 2n ** 63n + 5n, lastSeq: 42, messages: [msg('one'), msg('two')] }]);
    await a.saveCursors(new Map([['r', 2]]));
    await a.saveClient({ name: 'w', role: 'writer', online: false, lastSeen: 7, topic: 'logs.web' });
    await a.close();
    const b = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: true });
    assert.deepEqual(await b.bounds(), { first: 1, next: 3 });
    assert.equal(await b.producerSeq(2n ** 63n + 5n), 42);
    assert.equal(await b.cursor('r'), 2);
    assert.deepEqual((await b.clients())[0], { name: 'w', role: 'writer', online: false, lastSeen: 7, topic: 'logs.web' });
    assert.deepEqual(await b.append([{ producerId: 1n, lastSeq: 1, messages: [msg('three')] }]), [3]);
    await b.close();
  });

  test('a file of schema 3 (a registry without topics) is upgraded in place: its clients were in the default topic, and new records say where', async () => {
    const dir = freshDir();
    const a = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    await a.append([{ producerId: 1n, lastSeq: 1, messages: [msg('kept')] }]);
    await a.saveClient({ name: 'old', role: 'reader', online: false, lastSeen: 5, topic: 'x' });
    await a.close();
    const db = new Database(join(dir, DATABASE_FILE));
    db.exec('ALTER TABLE clients DROP COLUMN topic');
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'schema'").run();
    db.close();
    const b = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    assert.deepEqual(await b.clients(), [{ name: 'old', role: 'reader', online: false, lastSeen: 5, topic: 'main' }]);
    await b.saveClient({ name: 'new', role: 'writer', online: true, lastSeen: 6, topic: 'chat.ops' });
    assert.deepEqual((await b.clients()).map((c) => [c.name, c.topic]), [['new', 'chat.ops'], ['old', 'main']]);
    assert.equal((await b.read(1, { maxMessages: 10, maxBytes: 1e6, user: 'r' })).messages[0]!.text.toString(), 'kept');
    await b.close();
    const check = new Database(join(dir, DATABASE_FILE), { readonly: true });
    assert.equal((check.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string }).value, '4');
    check.close();
  });

  test('a group bigger than a record is split, and reads cross record boundaries', async () => {
    const s = new SqliteStore({ dataDir: freshDir(), retention: NO_RETENTION, fsync: false });
    const many = Array.from({ length: 2000 }, (_, i) => msg(String(i)));
    await s.append([{ producerId: 1n, lastSeq: 1, messages: many }]);
    const r = await s.read(400, { maxMessages: 1000, maxBytes: 1e9, user: 'u' });
    assert.equal(r.messages.length, 1000);
    assert.equal(r.messages[0]!.id, 400);
    assert.equal(r.messages[999]!.text.toString(), '1398');
    await s.close();
  });

  test('retention by count after 5,000 messages keeps 4,001 to 5,000, also after reopening', async () => {
    const dir = freshDir();
    const retention = { messages: 1000, bytes: 0, ageMs: 0 };
    const s = new SqliteStore({ dataDir: dir, retention, fsync: false });
    for (let i = 0; i < 50; i++) {
      await s.append([{ producerId: 1n, lastSeq: i + 1, messages: Array.from({ length: 100 }, (_, k) => msg(String(i * 100 + k + 1))) }]);
    }
    assert.deepEqual(await s.bounds(), { first: 4001, next: 5001 });
    await s.close();
    const again = new SqliteStore({ dataDir: dir, retention, fsync: false });
    const r = await again.read(1, { maxMessages: 5000, maxBytes: 1e9, user: 'u' });
    assert.equal(r.first, 4001);
    assert.deepEqual([r.messages[0]!.text.toString(), r.messages.length], ['4001', 1000]);
    await again.close();
  });

  test('a log that retention has emptied keeps its next id across reopening', async () => {
    const dir = freshDir();
    const retention = { messages: 0, bytes: 0, ageMs: 50 };
    const s = new SqliteStore({ dataDir: dir, retention, fsync: false });
    await s.append([{ producerId: 1n, lastSeq: 1, messages: [msg('a'), msg('b'), msg('c')] }]);
    const deadline = Date.now() + 5000;
    while ((await s.bounds()).first < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await s.bounds(), { first: 4, next: 4 }, 'every message is older than the retention');
    await s.close();
    const again = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    assert.deepEqual(await again.bounds(), { first: 4, next: 4 });
    assert.deepEqual(await again.append([{ producerId: 1n, lastSeq: 2, messages: [msg('d')] }]), [4]);
    await again.close();
    const third = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    assert.deepEqual(await third.bounds(), { first: 4, next: 5 }, 'the last record says where the log ends');
    await third.close();
  });

  test('a data directory that cannot be created is a clear error', () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    assert.throws(
      () => new SqliteStore({ dataDir: join(file, 'sub'), retention: NO_RETENTION, fsync: false }),
      (e: unknown) => e instanceof StoreOpenError && /cannot create data directory/.test(e.message),
    );
  });

  test('a file that is not a database, or a database that is not ours, is refused and left as it was', () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, DATABASE_FILE), 'these are my notes, not a database\n'.repeat(200));
    assert.throws(
      () => new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false }),
      (e: unknown) => e instanceof StoreOpenError && /not a SQLite database/.test(e.message),
    );
    const other = freshDir();
    mkdirSync(other);
    const db = new Database(join(other, DATABASE_FILE));
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);');
    db.close();
    assert.throws(
      () => new SqliteStore({ dataDir: other, retention: NO_RETENTION, fsync: false }),
      (e: unknown) => e instanceof StoreOpenError && /not a udp-relay database/.test(e.message),
    );
    const check = new Database(join(other, DATABASE_FILE));
    assert.deepEqual(check.prepare('SELECT * FROM invoices').all(), [{ id: 1, total: 9.5 }]);
    assert.equal(check.pragma('journal_mode', { simple: true }), 'delete', 'not even switched to WAL');
    check.close();
  });

  test('a second server on the same data directory is refused while the first has it', async () => {
    const dir = freshDir();
    const first = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    assert.throws(
      () => new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false }),
      (e: unknown) => e instanceof StoreOpenError && /in use by another server/.test(e.message),
    );
    await first.close();
  });

  test('the WAL is checkpointed off the commit path (never inside a commit, by a worker) and stays bounded under a steady stream of small commits', async () => {
    const dir = freshDir();
    const s = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    // SQLite's own checkpoint runs inside the commit that crosses its threshold: it must be off.
    const db = (s as unknown as { db: { pragma(p: string, o: { simple: true }): unknown } }).db;
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no checkpoint inside a commit');
    const wal = join(dir, `${DATABASE_FILE}-wal`);
    // 20,000 commits of one 2 KB message, an event-loop turn apart: about 80,000 pages of WAL if never reset.
    let walMax = 0;
    const text = 'x'.repeat(2048);
    for (let i = 1; i <= 20_000; i++) {
      await s.append([{ producerId: 1n, lastSeq: i, messages: [msg(text)] }]);
      await new Promise((r) => setImmediate(r));
      if (i % 100 === 0) walMax = Math.max(walMax, statSync(wal).size);
    }
    const { background, foreground } = s.checkpoints;
    assert.ok(background > 0, 'checkpoints ran in the background');
    assert.ok(foreground > 0, 'the WAL was started over');
    // This writes WAL at about 100 MB/s, so the peak is the bound plus what is written between two checks;
    // never reset, it would reach about 200 MB.
    assert.ok(walMax < 4 * WAL_BYTES_KEPT, `WAL reached ${Math.round(walMax / 1e6)} MB`);
    assert.deepEqual(await s.bounds(), { first: 1, next: 20_001 });
    await s.close();
    assert.ok(!existsSync(wal), 'closing copies the WAL back and removes it');
    const again = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false });
    const r = await again.read(19_999, { maxMessages: 10, maxBytes: 1e6, user: 'x' });
    assert.deepEqual(r.messages.map((m) => m.id), [19_999, 20_000]);
    await again.close();
  });

  test('a refused directory is left as it was: no lock file stays behind', () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, DATABASE_FILE), 'not a database\n'.repeat(100));
    assert.throws(() => new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync: false }), StoreOpenError);
    assert.deepEqual(readdirSync(dir), [DATABASE_FILE]);
  });
});
