import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServer } from '../store/redis-server.js';
import { get, metric, scrape, startWatchedServer, until } from './monitoring.js';
import { lines, run, sleep, start, startReader, waitFor, type Running } from './processes.js';


describe('run-server --http: metrics, health and status', () => {
  test('/metrics while 10,000 lines flow: counters climb with the flow, a stopped reader\'s lag grows with it and goes back to 0', async () => {
    const s = await startWatchedServer();
    let reader: Running | undefined;
    try {
      const port = String(s.port);
      reader = await startReader(['-u', 'behind', '--port', port, '--format', 'raw']);
      reader.proc.kill('SIGSTOP');
      const writer = start('run-writer', ['-u', 'shipper', '--port', port]);
      const seen: { stored: number; lag: number | undefined; writers: number | undefined }[] = [];
      for (let chunk = 0; chunk < 10; chunk++) {
        writer.proc.stdin!.write(lines(chunk * 1000 + 1, chunk * 1000 + 1000));
        await sleep(150);
        const m = await scrape(s.http);
        seen.push({
          stored: metric(m, 'relay_messages_stored_total')!,
          lag: metric(m, 'relay_reader_lag_messages', { reader: 'behind' }),
          writers: metric(m, 'relay_sessions', { role: 'writer' }),
        });
      }
      writer.proc.stdin!.end();
      assert.equal((await writer.done).code, 0);
      const stored = seen.map((x) => x.stored);
      assert.deepEqual([...stored].sort((a, b) => a - b), stored, `the stored counter never goes back: ${stored}`);
      assert.ok(new Set(stored.filter((n) => n > 0 && n < 10_000)).size >= 3, `it moves with the flow: ${stored}`);
      assert.ok(seen.every((x) => x.stored === 0 || x.writers === 1), 'one writer online while it stores');
      for (const x of seen) assert.equal(x.lag, x.stored, 'the stopped reader is behind by all that was stored');

      // The writer exits as it says goodbye: the server may take a moment more to end its session.
      const full = await until('the writer to be gone', async () => {
        const m = await scrape(s.http);
        return metric(m, 'relay_sessions', { role: 'writer' }) === 0 ? m : undefined;
      });
      assert.equal(metric(full, 'relay_messages_stored_total'), 10_000);
      assert.equal(metric(full, 'relay_log_messages', { bound: 'next' }), 10_001);
      assert.equal(metric(full, 'relay_commit_messages_sum'), 10_000, 'the commits carried every line');
      assert.ok(metric(full, 'relay_commits_total')! >= 1);
      assert.ok(metric(full, 'relay_datagrams_received_total')! > 10);
      assert.equal(metric(full, 'relay_log_bytes'), 38_894, 'the digits of 1 to 10,000');
      assert.equal(metric(full, 'relay_ready'), 1);
      assert.deepEqual([metric(full, 'relay_topics', { state: 'served' }), metric(full, 'relay_topics', { state: 'open' })], [1, 1], 'the default topic only');
      assert.equal((await run('run-writer', ['-u', 'other', '--port', port, '-t', 'logs.web'], 'one\n')).code, 0);
      assert.equal(metric(await scrape(s.http), 'relay_topics', { state: 'served' }), 2, 'and one more');
      assert.ok(metric(full, 'process_cpu_user_seconds_total')! > 0, 'the process metrics are there');
      assert.ok(metric(full, 'nodejs_eventloop_lag_seconds') !== undefined, 'and the event loop lag');

      reader.proc.kill('SIGCONT');
      const r = reader;
      await until('the reader to print everything', async () => (r.stdout().split('\n').length > 10_000 ? true : undefined));
      const caught = await until('the lag to go back to 0', async () => {
        const m = await scrape(s.http);
        return metric(m, 'relay_reader_lag_messages', { reader: 'behind' }) === 0 ? m : undefined;
      });
      assert.ok(metric(caught, 'relay_fetch_reply_messages_sum')! >= 10_000, 'the replies carried the lines');
    } finally {
      reader?.proc.kill('SIGCONT');
      reader?.proc.kill('SIGTERM');
      await reader?.done;
      await s.stop();
    }
  });

  test('/healthz, /readyz, /status and the page answer; other paths and methods do not', async () => {
    const s = await startWatchedServer(['--stats-interval', '1']);
    try {
      await run('run-writer', ['-u', 'w1', '--port', String(s.port)], lines(1, 5));
      const health = await get(s.http, '/healthz');
      assert.deepEqual([health.status, health.type, health.body], [200, 'application/json; charset=utf-8', '{\n "status": "ok"\n}\n']);
      assert.equal((await get(s.http, '/readyz')).status, 200);
      const status = JSON.parse((await get(s.http, '/status')).body) as Record<string, unknown>;
      assert.equal(status.server, 'udp-relay');
      assert.equal(status.address, `127.0.0.1:${s.port}`);
      assert.deepEqual(status.log, { first: 1, next: 6, messages: 5, bytes: 5 });
      assert.deepEqual(status.store, { kind: 'memory', up: true, ready: true, reason: null });
      assert.equal((status.counters as Record<string, number>).messagesStored, 5);
      const page = await get(s.http, '/');
      assert.equal(page.status, 200);
      assert.match(page.type, /^text\/html/);
      assert.match(page.body, /<script src="status.js"><\/script>/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self';/, 'no inline script runs on the page');
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      assert.equal((await get(s.http, '/status.js')).status, 200);
      assert.equal((await get(s.http, '/nothing')).status, 404);
      assert.equal((await get(s.http, '/metrics', 'POST')).status, 405);
      await waitFor(s, /lines\/s over the last 1 s, 0 writers, 0 readers, log 5 messages \(5 bytes\)/);
    } finally {
      await s.stop();
    }
  });

  test('a wrong --http is one line and exit 2; a port in use is one line and exit 7', async () => {
    const bad = await run('run-server', ['--port', '0', '--store', 'memory', '--http', 'localhost:x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^run-server: invalid --http 'localhost:x': expected \[HOST:\]PORT/);
    const s = await startWatchedServer();
    try {
      const taken = await run('run-server', ['--port', '0', '--store', 'memory', '--http', String(s.http)]);
      assert.equal(taken.code, 7);
      assert.equal(taken.stderr, `run-server: --http: port ${s.http} on 127.0.0.1 is already in use\n`);
    } finally {
      await s.stop();
    }
  });

  test('clients not seen for --forget-after are dropped from the registry, with their positions: as the server runs, and at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-forget-'));
    try {
      const args = ['--store', 'sqlite', '--data-dir', join(dir, 'data'), '--forget-after', String(2 / 86_400)];
      const first = await startWatchedServer(args);
      try {
        const p = ['--port', String(first.port)];
        await run('run-writer', ['-u', 'once', ...p], lines(1, 3));
        const r = await run('run-reader', ['-u', 'oldreader', ...p, '--from', 'earliest', '--count', '3', '--format', 'raw']);
        assert.equal(r.stdout, lines(1, 3));
        assert.match((await run('run-reader', ['-u', 'looker', ...p, '--who', '--format', 'json'])).stdout, /"name":"oldreader"/);
        // Online for longer than the limit is not "not seen": a reader waiting all along stays.
        const waiting = await startReader(['-u', 'patient', ...p]);
        // Both gone, in one sweep or in two (a sweep may fall between the two clients' last sight).
        const forgotten = (): number => [...first.stderr().matchAll(/forgot (\d+) clients not seen for 2 s/g)].reduce((n, m) => n + Number(m[1]), 0);
        await until('the two clients forgotten', async () => (forgotten() >= 2 ? true : undefined), 10_000);
        assert.equal(forgotten(), 2);
        const who = await run('run-reader', ['-u', 'looker2', ...p, '--who', '--format', 'json']);
        assert.doesNotMatch(who.stdout, /oldreader|"once"/, 'forgotten: not in --who');
        assert.match(who.stdout, /"name":"patient"/);
        const back = await run('run-reader', ['-u', 'oldreader', ...p, '--once', '--format', 'raw', '--log-level', 'info']);
        assert.match(back.stderr, /next id 4/, 'its position went too: it starts as a new reader, at the end');
        waiting.proc.kill('SIGTERM');
        await waiting.done;
      } finally {
        await first.stop();
      }
      await sleep(2_500);
      const again = await startWatchedServer(args);
      try {
        await waitFor(again, /forgot \d clients not seen for 2 s/);
        const who = await run('run-reader', ['-u', 'looker3', '--port', String(again.port), '--who', '--format', 'json']);
        assert.doesNotMatch(who.stdout, /oldreader|patient/, 'gone since the last run: forgotten at start');
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('run-server --http on redis: /readyz follows the store', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });
  const readyz = async (port: number) => {
    const a = await get(port, '/readyz');
    const { reason } = JSON.parse(a.body) as { status: string; reason?: string };
    return { status: a.status, ...(reason !== undefined && { reason }) };
  };

  test('503 while the store is not open, 200 once it is; 503 while redis is away, 200 when it is back; 503 while draining', async () => {
    redis.pause();
    const s = start('run-server', ['--port', '0', '--http', '0', '--store', redis.url('monitor')]);
    try {
      const http = Number(await until('the status page address', async () => /"http":"http:\/\/127\.0\.0\.1:(\d+)\/"/.exec(s.stderr())?.[1]));
      assert.deepEqual(await readyz(http), { status: 503, reason: 'the store is not open yet' });
      assert.equal((await get(http, '/healthz')).status, 200, 'alive all the same');
      redis.resume();
      await until('ready', async () => ((await readyz(http)).status === 200 ? true : undefined));
      // Ready once it listens: its address is in the log (written just after).
      const port = Number(await until('the server port', async () => /"port":(\d+)/.exec(s.stderr())?.[1]));

      await redis.kill();
      assert.deepEqual(await until('not ready', async () => ((await readyz(http)).status === 503 ? readyz(http) : undefined)), {
        status: 503,
        reason: 'the store cannot be reached',
      });
      const started = Date.now();
      assert.equal(metric(await scrape(http), 'relay_store_up'), 0);
      assert.match((await get(http, '/status')).body, /lost the connection to redis/);
      assert.ok(Date.now() - started < 2_000, 'a store away does not hold up a scrape');
      await redis.restart();
      await until('ready again', async () => ((await readyz(http)).status === 200 ? true : undefined));
      assert.equal(metric(await scrape(http), 'relay_store_up'), 1);

      // A line on its way into a frozen redis: stopping waits for it, and says it is not ready meanwhile.
      redis.pause();
      const received = metric(await scrape(http), 'relay_datagrams_received_total') ?? 0;
      const w = start('run-writer', ['-u', 'late', '--port', String(port), '--timeout', '5']);
      w.proc.stdin!.end('one line\n');
      // The writer's first datagram has reached the server, which asks the (frozen) store about its name.
      await until('the writer heard', async () => ((metric(await scrape(http), 'relay_datagrams_received_total') ?? 0) > received ? true : undefined));
      await sleep(100);
      s.proc.kill('SIGTERM');
      await until('draining', async () => ((await readyz(http)).status === 503 ? true : undefined));
      assert.deepEqual(await readyz(http), { status: 503, reason: 'stopping' });
      redis.resume();
      assert.equal((await s.done).code, 0);
      w.proc.kill('SIGKILL');
      await w.done;
    } finally {
      redis.resume();
      s.proc.kill('SIGKILL');
      await s.done;
    }
  });
});
