import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServer } from '../store/redis-server.js';
import { jsonLines, lines, run, sleep, start, startReader, startServer, waitFor, type Running, type Server } from './processes.js';

let redis: RedisServer;
let logs = 0;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

/** Two servers on one log of their own in the test redis. */
async function twoServers(): Promise<[Server, Server]> {
  const url = redis.url(`e2e${++logs}`);
  return Promise.all([startServer(['--store', url]), startServer(['--store', url])]);
}

const both = (a: Server, b: Server): string => `127.0.0.1:${a.port},127.0.0.1:${b.port}`;

/** Feeds lines from..to into a running writer, a few hundred at a time. */
async function feed(w: Running, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i += 250) {
    w.proc.stdin!.write(lines(i, Math.min(to, i + 249)));
    await sleep(5);
  }
}

const untilPrinted = async (r: Running, count: number, ms = 30_000): Promise<void> => {
  const deadline = performance.now() + ms;
  while (r.stdout().split('\n').length - 1 < count) {
    if (performance.now() > deadline || r.proc.exitCode !== null) throw new Error(`printed ${r.stdout().split('\n').length - 1} of ${count}: ${r.stderr()}`);
    await sleep(20);
  }
};

describe('several servers on one redis', () => {
  test('a writer on each of two servers, 5,000 lines each: a reader on one gets all 10,000 once, each writer in order', async () => {
    const [a, b] = await twoServers();
    const reader = await startReader(['-u', 'all', '--port', String(a.port), '--format', 'json', '--count', '10000']);
    const [wa, wb] = await Promise.all([
      run('run-writer', ['-u', 'wa', '--port', String(a.port)], lines(1, 5000)),
      run('run-writer', ['-u', 'wb', '--port', String(b.port)], lines(1, 5000)),
    ]);
    assert.deepEqual([wa.code, wb.code], [0, 0]);
    const got = jsonLines((await reader.done).stdout);
    assert.equal(got.length, 10_000);
    for (const w of ['wa', 'wb']) {
      assert.deepEqual(
        got.filter((m) => m['from'] === w).map((m) => m['text']),
        lines(1, 5000).trim().split('\n'),
        `${w}: every line once, in order`,
      );
    }
    const ids = got.map((m) => m['id'] as number);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'one log order');
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a reader held open on one server wakes as soon as the other appends', async () => {
    const [a, b] = await twoServers();
    try {
      const reader = await startReader(['-u', 'waiting', '--port', String(b.port), '--format', 'raw', '--count', '5']);
      const writer = start('run-writer', ['-u', 'w', '--port', String(a.port), '--log-level', 'info']);
      await waitFor(writer, /registered as w/);
      // Without a wake-up the reader would still see each line when its held poll (1.5 s) is renewed:
      // five lines each seen within 400 ms of being written would then be a chance of (0.4 / 1.5)^5, 0.1%.
      const waits: number[] = [];
      for (let i = 1; i <= 5; i++) {
        await sleep(300 + 200 * i);
        const printed = reader.chunks.length;
        const sent = performance.now();
        writer.proc.stdin!.write(`line ${i}\n`);
        while (reader.chunks.length === printed && performance.now() - sent < 5_000) await sleep(5);
        waits.push(Math.round(reader.chunks[printed]!.at - sent));
      }
      writer.proc.stdin!.end();
      assert.equal((await reader.done).stdout, 'line 1\nline 2\nline 3\nline 4\nline 5\n');
      assert.equal((await writer.done).code, 0);
      assert.ok(waits.every((w) => w < 400), `printed after ${waits.join(', ')} ms`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('kill -9 of a server mid-stream: writer and reader given both move to the other; nothing doubled, nothing lost', async () => {
    const [a, b] = await twoServers();
    const reader = await startReader(['-u', 'mover', '--address', both(a, b), '--format', 'raw', '--count', '5000']);
    const writer = start('run-writer', ['-u', 'steady', '--address', both(a, b), '--log-level', 'info']);
    await waitFor(writer, /registered as/);
    await feed(writer, 1, 2000);
    await untilPrinted(reader, 1000);
    a.proc.kill('SIGKILL');
    await feed(writer, 2001, 5000);
    writer.proc.stdin!.end();
    const w = await writer.done;
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /is not responding; trying 127\.0\.0\.1:\d+/);
    const r = await reader.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, lines(1, 5000), 'the reader printed every line once, in order');
    assert.match(r.stderr, /is not responding; trying/);
    // And the log itself holds each line once.
    const audit = await run('run-reader', ['-u', 'audit', '--port', String(b.port), '--from', 'earliest', '--format', 'raw', '--count', '5000']);
    assert.equal(audit.stdout, lines(1, 5000));
    const extra = await run('run-reader', ['-u', 'audit', '--port', String(b.port), '--once']);
    assert.equal(extra.code, 6, 'nothing after the 5,000');
    await b.stop();
  });

  test('redis going away mid-stream: the server says so, confirms nothing meanwhile, and carries on when it is back', async () => {
    const [a, b] = await twoServers();
    const reader = await startReader(['-u', 'patient', '--port', String(b.port), '--format', 'raw', '--count', '3000']);
    const writer = start('run-writer', ['-u', 'w', '--port', String(a.port), '--log-level', 'info']);
    await waitFor(writer, /registered as/);
    await feed(writer, 1, 1000);
    await untilPrinted(reader, 1000);
    await redis.kill();
    await feed(writer, 1001, 2000);
    await waitFor(a, /lost the connection to redis/);
    await sleep(1_000);
    const printedDuring = reader.stdout().split('\n').length - 1;
    assert.equal(printedDuring, 1000, 'nothing reaches readers while redis is away');
    await redis.restart();
    await waitFor(a, /connected to redis again/);
    await feed(writer, 2001, 3000);
    writer.proc.stdin!.end();
    const w = await writer.done;
    assert.equal(w.code, 0, w.stderr);
    const r = await reader.done;
    assert.equal(r.stdout, lines(1, 3000));
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a name held on one server is refused on the other to anyone else, and free there once its holder leaves', async () => {
    const [a, b] = await twoServers();
    const first = await startReader(['-u', 'alice', '--port', String(a.port)]);
    const second = await run('run-reader', ['-u', 'alice', '--port', String(b.port), '--once']);
    assert.equal(second.code, 4);
    assert.match(second.stderr, /^run-reader: refused by the server: the name alice is in use by a live reader on another server \(free when it exits, or once it has been silent for \d+ s\)\n$/);
    assert.equal(first.proc.exitCode, null, 'the holder is unaffected');
    first.proc.kill('SIGINT');
    await first.done;
    const third = await run('run-reader', ['-u', 'alice', '--port', String(b.port), '--once']);
    assert.equal(third.code, 6, `free at once after a clean exit: ${third.stderr}`);
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a client killed with kill -9 and started again on the same host gets its name back at once, as on a store of its own', async () => {
    const s = await startServer(['--store', redis.url(`e2e${++logs}`)]);
    const first = start('run-writer', ['-u', 'again', '--port', String(s.port), '--log-level', 'info']);
    first.proc.stdin!.write('one\n');
    await waitFor(first, /registered as again/);
    first.proc.kill('SIGKILL');
    await first.done;
    const second = await run('run-writer', ['-u', 'again', '--port', String(s.port), '--timeout', '5'], 'two\n');
    assert.equal(second.code, 0, second.stderr);
    assert.ok(second.ms < 4_000, `took ${Math.round(second.ms)} ms`);
    await s.stop();
  });

  test('a redis that cannot be reached at start is one line, exit 7', async () => {
    const r = await run('run-server', ['--port', '0', '--store', 'redis://127.0.0.1:1']);
    assert.equal(r.code, 7);
    assert.match(r.stderr, /^run-server: cannot connect to redis at 127\.0\.0\.1:1: .+\n$/);
  });
});

describe('what docs/SCALING.md promises of redis', () => {
  test('a proven login on another server takes the name over: the holder\u2019s server learns it within a third of the session timeout, and its client exits 4', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-takeover-'));
    const users = join(dir, 'users.json');
    writeFileSync(users, JSON.stringify({ alice: 'correct horse' }), { mode: 0o600 });
    const url = redis.url(`e2e${++logs}`);
    const [a, b] = await Promise.all([0, 1].map(() => startServer(['--store', url, '--users', users, '--session-timeout', '3'])));
    const env = { RELAY_SECRET: 'correct horse' };
    try {
      const first = await startReader(['-u', 'alice', '--port', String(a!.port)], env);
      await sleep(300);
      const took = performance.now();
      const second = await startReader(['-u', 'alice', '--port', String(b!.port), '--format', 'raw'], env);
      const f = await first.done;
      const after = performance.now() - took;
      assert.equal(f.code, 4, f.stderr);
      assert.match(f.stderr, /took over this session/);
      assert.ok(after < 3_000, `the holder learnt it after ${Math.round(after)} ms (a third of 3 s is the renewal)`);
      const w = await run('run-writer', ['-u', 'alice', '--port', String(a!.port)], 'for the new login\n', env);
      assert.equal(w.code, 0, w.stderr);
      await untilPrinted(second, 1);
      assert.equal(second.stdout(), 'for the new login\n');
      second.proc.kill('SIGINT');
      assert.equal((await second.done).code, 0);
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a redis emptied under a running server is detected: nothing more is acknowledged, no id is reused; a restarted server starts a new log', async () => {
    const url = redis.url(`e2e${++logs}`);
    let s = await startServer(['--store', url]);
    try {
      const p = ['--port', String(s.port)];
      assert.equal((await run('run-writer', ['-u', 'w', ...p], 'one\ntwo\n')).code, 0);
      assert.equal(await redis.command('FLUSHALL'), '+OK');
      const w = await run('run-writer', ['-u', 'w', ...p, '--timeout', '3'], 'after the flush\n');
      assert.notEqual(w.code, 0, 'a line into an emptied redis is never confirmed');
      assert.match(w.stderr, /not confirmed|unconfirmed|stalled|timed out/i);
      assert.match(s.stderr(), /the relay keys are missing from this redis \(flushed or restarted empty\?\)/);
      assert.equal(await redis.command(`EXISTS ${new URL(url).searchParams.get('prefix')}:log`), ':0', 'nothing was written into the empty redis');
      await s.stop();
      s = await startServer(['--store', url]);
      const q = ['--port', String(s.port)];
      assert.equal((await run('run-writer', ['-u', 'w', ...q], 'new log\n')).code, 0);
      const r = await run('run-reader', ['-u', 'r', ...q, '--from', 'earliest', '--once', '--format', 'json']);
      assert.deepEqual(jsonLines(r.stdout).map((m) => [m['id'], m['text']]), [[1, 'new log']]);
    } finally {
      await s.stop();
    }
  });

  test('a second Ctrl-C while the server waits on a frozen redis gives up at once: exit 130', async () => {
    const s = await startServer(['--store', redis.url(`e2e${++logs}`)]);
    try {
      assert.equal((await run('run-writer', ['-u', 'w', '--port', String(s.port)], 'x\n')).code, 0);
      // A line on its way into the frozen redis: the server has a store in progress.
      const w = start('run-writer', ['-u', 'w2', '--port', String(s.port), '--timeout', '5', '--log-level', 'info'], {});
      await waitFor(w, /registered as/);
      redis.pause();
      w.proc.stdin!.end('stuck\n');
      await sleep(300);
      s.proc.kill('SIGINT');
      await waitFor(s, /stopping: finishing stores in progress/);
      await sleep(500);
      assert.equal(s.proc.exitCode, null, `still finishing what it was storing: ${s.stderr()}`);
      s.proc.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => s.proc.once('exit', (c) => resolve(c)));
      assert.equal(code, 130);
      await w.done;
    } finally {
      redis.resume();
      await s.stop();
    }
  });
});
