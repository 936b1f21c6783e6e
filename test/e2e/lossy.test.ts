import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LossyProxy } from './lossy-proxy.js';
import { jsonLines, lines, run, startReader, startServer, startServerToRestart, sleep, type Server } from './processes.js';

const root = mkdtempSync(join(tmpdir(), 'relay-lossy-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('through a network that drops 20%, duplicates 5% and reorders 10% of datagrams both ways', () => {
  let server: Server;
  let proxy: LossyProxy;
  let via: string[];
  before(async () => {
    server = await startServer(['--store', 'sqlite', '--data-dir', join(root, 'data')]);
    proxy = new LossyProxy(server.port, { loss: 0.2, duplicate: 0.05, reorder: 0.1, reorderMs: 5 }, 42);
    via = ['--port', String(await proxy.start())];
  });
  after(async () => {
    await proxy.stop();
    await server.stop();
  });

  test('two writers of 5,000 lines exit 0; a reader prints all 10,000 exactly once, each writer in order', async () => {
    const reader = await startReader(['-u', 'lossy-r', ...via, '--format', 'json', '--count', '10000']);
    const [a, b] = await Promise.all([
      run('run-writer', ['-u', 'la', ...via], lines(1, 5000)),
      run('run-writer', ['-u', 'lb', ...via], lines(1, 5000)),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const r = await reader.done;
    assert.equal(r.code, 0, r.stderr);
    const msgs = jsonLines(r.stdout);
    assert.equal(msgs.length, 10000);
    const ids = msgs.map((m) => m['id'] as number);
    assert.equal(new Set(ids).size, 10000, 'no repeats');
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'log order');
    for (const w of ['la', 'lb']) {
      assert.deepEqual(
        msgs.filter((m) => m['from'] === w).map((m) => Number(m['text'])),
        Array.from({ length: 5000 }, (_, i) => i + 1),
        `${w}: all lines, in order`,
      );
    }
    assert.ok(proxy.stats.dropped > 0 && proxy.stats.duplicated > 0 && proxy.stats.reordered > 0);
  });

  test('a 400 KB line crosses unaltered', async () => {
    const big = Array.from({ length: 400 * 1024 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 90))).join('');
    const reader = await startReader(['-u', 'big-r', ...via, '--format', 'raw', '--count', '1']);
    const w = await run('run-writer', ['-u', 'big-w', ...via], `${big}\n`);
    assert.equal(w.code, 0, w.stderr);
    const r = await reader.done;
    assert.equal(r.stdout.length, big.length + 1);
    assert.ok(r.stdout === `${big}\n`, 'byte for byte');
  });

  test('a 2.1 MB line between two short ones: the short ones arrive, the writer exits non-zero with one clear line', async () => {
    const reader = await startReader(['-u', 'over-r', ...via, '--format', 'raw', '--count', '2']);
    const huge = 'z'.repeat(2.1 * 1024 * 1024);
    const w = await run('run-writer', ['-u', 'over-w', ...via], `before\n${huge}\nafter\n`);
    assert.equal(w.code, 5);
    assert.match(w.stderr, /run-writer: line 2 is 2202009 bytes, over the limit of 1048576; not sent/);
    const r = await reader.done;
    assert.equal(r.stdout, 'before\nafter\n');
  });
});

test('a reader waiting through a 3-second server outage carries on with no gap and no repeat', async () => {
  const dataDir = join(root, 'outage');
  const first = await startServerToRestart(['--store', 'sqlite', '--data-dir', dataDir]);
  const port = String(first.port);
  const reader = await startReader(['-u', 'patient', '--port', port, '--format', 'raw', '--count', '200']);
  await run('run-writer', ['-u', 'w', '--port', port], lines(1, 100));
  await first.stop();
  await sleep(3000);
  const second = await startServer(['--store', 'sqlite', '--data-dir', dataDir, '--port', port]);
  const w = await run('run-writer', ['-u', 'w', '--port', port], lines(101, 200));
  assert.equal(w.code, 0, w.stderr);
  const r = await reader.done;
  await second.stop();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, lines(1, 200));
  assert.match(r.stderr, /not responding/);
  assert.match(r.stderr, /is back/);
  assert.equal(r.stderr.match(/not responding/g)!.length, 1, 'said once');
});
