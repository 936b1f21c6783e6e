// `node bench/sqlite-drivers.mjs` on Node 22.13 or later, with better-sqlite3 built for that Node: the two
// SQLite drivers side by side on the sqlite store's own work (its records table; each commit one
// datagram's record of 150 lines and the writer's sequence; reads in pages, as a reader's fetch does).
// The drivers alternate, three rounds, so that the machine's noise hits both alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const Better = createRequire(import.meta.url)('better-sqlite3');
const { DatabaseSync } = await import('node:sqlite');

const SCHEMA = `
CREATE TABLE records (first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, ts INTEGER NOT NULL, sender TEXT NOT NULL,
  count INTEGER NOT NULL, bytes INTEGER NOT NULL, payload BLOB NOT NULL, crc INTEGER);
CREATE TABLE producers (id INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, updated INTEGER NOT NULL);`;
const COMMITS = Number(process.env.COMMITS ?? 20_000);
const LINES = 150;
const payload = Buffer.alloc(LINES * 60, 'x');

const drivers = {
  'better-sqlite3': (file) => {
    const db = new Better(file);
    return { exec: (sql) => db.exec(sql), prepare: (sql) => db.prepare(sql), close: () => db.close() };
  },
  'node:sqlite': (file) => {
    const db = new DatabaseSync(file);
    return { exec: (sql) => db.exec(sql), prepare: (sql) => db.prepare(sql), close: () => db.close() };
  },
};

function measure(open) {
  const dir = mkdtempSync(join(tmpdir(), 'relay-drivers-'));
  try {
    const db = open(join(dir, 'relay.db'));
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    db.exec(SCHEMA);
    const insert = db.prepare('INSERT INTO records (first_id, last_id, ts, sender, count, bytes, payload, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const producer = db.prepare('INSERT OR REPLACE INTO producers (id, last_seq, updated) VALUES (?, ?, ?)');
    let t = performance.now();
    for (let i = 0; i < COMMITS; i++) {
      db.exec('BEGIN');
      insert.run(i * LINES + 1, (i + 1) * LINES, Date.now(), 'bench', LINES, payload.length, payload, 0);
      producer.run(1, i + 1, Date.now());
      db.exec('COMMIT');
    }
    const appends = (COMMITS * LINES) / ((performance.now() - t) / 1000);
    const page = db.prepare('SELECT first_id, last_id, ts, sender, count, bytes, payload, crc FROM records WHERE first_id >= ? ORDER BY first_id LIMIT 64');
    t = performance.now();
    let lines = 0;
    for (let from = 1; ; ) {
      const rows = page.all(from);
      if (rows.length === 0) break;
      for (const r of rows) lines += Number(r.count);
      from = Number(rows.at(-1).last_id) + 1;
    }
    const reads = lines / ((performance.now() - t) / 1000);
    db.close();
    return { appends, reads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = Object.fromEntries(Object.keys(drivers).map((d) => [d, []]));
for (let round = 0; round < 3; round++) for (const [name, open] of Object.entries(drivers)) results[name].push(measure(open));
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (name) => ({ appends: median(results[name].map((r) => r.appends)), reads: median(results[name].map((r) => r.reads)) });
const [b, n] = [row('better-sqlite3'), row('node:sqlite')];
console.log(`Node ${process.version}, ${COMMITS} commits of one ${LINES}-line record, then read back in pages of 64 (median of 3):`);
console.log(`| driver | lines appended/s | lines read/s |\n|---|---:|---:|`);
for (const [name, r] of [['better-sqlite3', b], ['node:sqlite', n]]) console.log(`| ${name} | ${Math.round(r.appends).toLocaleString('en')} | ${Math.round(r.reads).toLocaleString('en')} |`);
console.log(`node:sqlite / better-sqlite3: appends ${(n.appends / b.appends).toFixed(2)}x, reads ${(n.reads / b.reads).toFixed(2)}x`);
