import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jsonLines, run, startServer, type Server } from './processes.js';

const root = mkdtempSync(join(tmpdir(), 'relay-seed-'));

describe('one-shot receive and files as messages (as in the queue seed)', () => {
  let server: Server;
  let p: string[];
  before(async () => {
    server = await startServer();
    p = ['--port', String(server.port)];
  });
  after(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('--once on an empty stream says "no messages" and exits 6; then prints what arrived, once', async () => {
    const empty = await run('run-reader', ['-u', 'cron', ...p, '--once']);
    assert.equal(empty.code, 6);
    assert.match(empty.stderr, /run-reader: no messages\n$/);
    await run('run-writer', ['-u', 'job', ...p], 'a\nb\nc\n');
    const got = await run('run-reader', ['-u', 'cron', ...p, '--once', '--format', 'raw']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'a\nb\nc\n');
    const again = await run('run-reader', ['-u', 'cron', ...p, '--once']);
    assert.equal(again.code, 6, 'nothing new since');
  });

  test('--file sends a 5 KB file with newlines as one message, byte for byte; an empty file is an empty message', async () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i} ${'x'.repeat(40)}\r\n`).join('') + 'no newline at the end';
    assert.ok(text.length > 5000);
    writeFileSync(join(root, 'report.txt'), text);
    writeFileSync(join(root, 'empty.txt'), '');
    for (const f of ['report.txt', 'empty.txt']) {
      const w = await run('run-writer', ['-u', 'filer', ...p, '--file', join(root, f)]);
      assert.equal(w.code, 0, w.stderr);
    }
    const r = await run('run-reader', ['-u', 'files-r', ...p, '--from', 'earliest', '--format', 'json', '--once']);
    const mine = jsonLines(r.stdout).filter((m) => m['from'] === 'filer');
    assert.deepEqual(mine.map((m) => m['text']), [text, '']);
  });

  test('--file that does not exist is one line and exit 2', async () => {
    const w = await run('run-writer', ['-u', 'filer', ...p, '--file', join(root, 'missing.txt')]);
    assert.equal(w.code, 2);
    assert.equal(w.stderr.trim().split('\n').length, 1);
    assert.match(w.stderr, /cannot read --file/);
  });
});
