import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedisCluster, type RedisCluster } from '../store/redis-cluster.js';
import { lines, run, sleep, start, startReader, startServer, waitFor, type Running, type Server } from './processes.js';

let cluster: RedisCluster;
before(async () => {
  cluster = await startRedisCluster(3);
});
after(async () => {
  await cluster.stop();
});

const TOPICS = ['logs.web', 'logs.db', 'logs.api', 'chat.ops', 'chat.dev', 'metrics.cpu'];

async function feed(w: Running, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i += 250) {
    w.proc.stdin!.write(lines(i, Math.min(to, i + 249)));
    await sleep(5);
  }
}

const printed = (r: Running): number => r.stdout().split('\n').length - 1;

async function untilPrinted(readers: Running[], count: number, ms = 60_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (readers.some((r) => printed(r) < count)) {
    if (performance.now() > deadline) throw new Error(`printed ${readers.map(printed).join(', ')} of ${count}: ${readers.map((r) => r.stderr()).join('\n')}`);
    await sleep(20);
  }
}

test('3 relay servers on a 3-master Redis Cluster, 6 topics: a reader per topic gets every line once, in order, through a master killed and restarted', async () => {
  const servers: Server[] = await Promise.all([0, 1, 2].map(() => startServer(['--store', cluster.url('e2e')])));
  const all = servers.map((s) => `127.0.0.1:${s.port}`).join(',');
  // Each client starts on a different server, and may move to the others.
  const around = (i: number): string => [...all.split(',').slice(i % 3), ...all.split(',').slice(0, i % 3)].join(',');
  try {
    // Started one after the other: twelve processes starting at once would starve whatever else runs.
    const readers: Running[] = [];
    for (const [i, t] of TOPICS.entries()) readers.push(await startReader(['-u', `r${i}`, '--address', around(i + 1), '--topic', t, '--format', 'raw', '--count', '3000']));
    const writers: Running[] = [];
    for (const [i, t] of TOPICS.entries()) {
      writers.push(start('run-writer', ['-u', `w${i}`, '--address', around(i), '--topic', t, '--log-level', 'info']));
      await waitFor(writers[i]!, /registered as/);
    }
    await Promise.all(writers.map((w) => feed(w, 1, 1000)));
    await untilPrinted(readers, 1000);
    const holders = cluster.ports.map((_, i) => cluster.keys(i, '{e2e:*}:log').length);
    assert.ok(holders.filter((k) => k > 0).length >= 2, `the topics' logs are spread over the masters: ${holders.join(',')}`);
    const victim = holders.indexOf(Math.max(...holders));
    await cluster.kill(victim);
    await Promise.all(writers.map((w) => feed(w, 1001, 2000)));
    await Promise.race(servers.map((s) => waitFor(s, /lost the connection to redis/)));
    await sleep(1_000);
    await cluster.restart(victim);
    await Promise.all(writers.map((w) => feed(w, 2001, 3000)));
    for (const w of writers) w.proc.stdin!.end();
    for (const [i, w] of writers.entries()) {
      const done = await w.done;
      assert.equal(done.code, 0, `writer ${i}: ${done.stderr}`);
    }
    for (const [i, r] of readers.entries()) {
      const done = await r.done;
      assert.equal(done.code, 0, `reader of ${TOPICS[i]}: ${done.stderr}`);
      assert.equal(done.stdout, lines(1, 3000), `the reader of ${TOPICS[i]} printed every line once, in order`);
    }
    // And each topic's log holds each line once, read through another server.
    for (const [i, t] of TOPICS.entries()) {
      const audit = await run('run-reader', ['-u', `audit${i}`, '--port', String(servers[(i + 2) % 3]!.port), '--topic', t, '--from', 'earliest', '--format', 'raw', '--count', '3000']);
      assert.equal(audit.stdout, lines(1, 3000), t);
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
});
