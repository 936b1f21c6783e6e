import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openStore, topicStores } from '../../src/store/open-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { appendByTopic } from '../../src/store/topic-stores.js';
import { StoreOpenError } from '../../src/store/store-errors.js';
import { NO_RETENTION } from '../../src/store/store.js';
import { storeContract } from './contract.js';
import { startRedis, type RedisServer } from './redis-server.js';

let redis: RedisServer;
let n = 0;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

/** Each store its own log in the one redis: a prefix of its own. */
const fresh = (retention = NO_RETENTION, prefix = `t${++n}`): Promise<RedisStore> => RedisStore.open({ url: redis.url(prefix), retention });

storeContract('redis', (retention) => fresh(retention));

describe('redis store: several servers on one redis', () => {
  const msg = (text: string) => ({ ts: 1, from: 'w', text: Buffer.from(text) });
  const all = { maxMessages: 1e6, maxBytes: 1e9, user: 'r' };

  test('two stores on one prefix share one log, in one order; each hears of the other\'s appends', async () => {
    const a = await fresh(NO_RETENTION, 'shared1');
    const b = await fresh(NO_RETENTION, 'shared1');
    const heard: number[] = [];
    await b.watch((next) => heard.push(next));
    await a.append([{ producerId: 1n, afterSeq: 0, lastSeq: 1, messages: [msg('a1'), msg('a2')] }]);
    await b.append([{ producerId: 2n, afterSeq: 0, lastSeq: 1, messages: [msg('b1')] }]);
    await a.append([{ producerId: 1n, afterSeq: 1, lastSeq: 2, messages: [msg('a3')] }]);
    for (let i = 0; i < 50 && !heard.includes(5); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(heard.includes(3) && heard.includes(5), `b heard ${heard.join(',')}`);
    for (const s of [a, b]) {
      assert.deepEqual((await s.read(1, all)).messages.map((m) => `${m.id}:${m.text.toString()}`), ['1:a1', '2:a2', '3:b1', '4:a3']);
      assert.deepEqual(await s.bounds(), { first: 1, next: 5 });
    }
    // A reader's position saved by one is what the other finds.
    await a.saveCursors(new Map([['r', 3]]));
    assert.equal(await b.cursor('r'), 3);
    // A writer that moved from a to b: b's batch continues from what b learned; a's late one is refused.
    assert.equal(await b.producerSeq(1n), 2);
    assert.deepEqual(await a.append([{ producerId: 1n, afterSeq: 1, lastSeq: 3, messages: [msg('late')] }]), [null]);
    await a.close();
    await b.close();
  });

  test('a read at the end never claims messages it did not return, even when an append lands while it waits', async () => {
    const s = await fresh(NO_RETENTION, 'race1');
    await s.append([{ producerId: 1n, lastSeq: 1, messages: [msg('1'), msg('2')] }]);
    for (let round = 0; round < 20; round++) {
      const { next } = await s.bounds();
      // The read is sent first and answered first; the append's answer arrives in the same breath.
      const reading = s.read(next, all);
      const appending = s.append([{ producerId: 1n, lastSeq: round + 2, messages: [msg('x'), msg('y')] }]);
      const [r] = await Promise.all([reading, appending]);
      assert.equal(r.next, next + r.messages.length, `round ${round}: next ${r.next} after ${r.messages.length} messages from ${next}`);
    }
    await s.close();
  });

  test('a name claimed by one client is refused to another until it is given back or expires; the same client may claim it again', async () => {
    const a = await fresh(NO_RETENTION, 'names1');
    const b = await fresh(NO_RETENTION, 'names1');
    assert.deepEqual(await a.claimName('reader:alice', '10.0.0.1:5000|serverA', 30_000, false), { ok: true });
    const refused = await b.claimName('reader:alice', '10.0.0.2:6000|serverB', 30_000, false);
    assert.ok(!refused.ok && refused.heldForMs > 29_000 && refused.heldForMs <= 30_000);
    // The same client (same address) moving to server B takes its name along; A's renewal then finds it gone.
    assert.deepEqual(await b.claimName('reader:alice', '10.0.0.1:5000|serverB', 30_000, false), { ok: true });
    assert.deepEqual(await a.renewNames([{ key: 'reader:alice', holder: '10.0.0.1:5000|serverA' }], 30_000), ['reader:alice']);
    assert.deepEqual(await b.renewNames([{ key: 'reader:alice', holder: '10.0.0.1:5000|serverB' }], 30_000), []);
    // A late release by A does not free what B holds; B's release does.
    await a.releaseName('reader:alice', '10.0.0.1:5000|serverA');
    assert.equal((await a.claimName('reader:alice', '10.0.0.3:7000|serverA', 30_000, false)).ok, false);
    await b.releaseName('reader:alice', '10.0.0.1:5000|serverB');
    assert.deepEqual(await a.claimName('reader:alice', '10.0.0.3:7000|serverA', 30_000, false), { ok: true });
    // A proven login takes a held name; roles are separate names; a claim not renewed expires.
    assert.deepEqual(await b.claimName('reader:alice', '10.0.0.4:8000|serverB', 30_000, true), { ok: true });
    assert.deepEqual(await b.claimName('writer:alice', '10.0.0.5:9000|serverB', 100, false), { ok: true });
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(await a.claimName('writer:alice', '10.0.0.6:9000|serverA', 30_000, false), { ok: true });
    await a.close();
    await b.close();
  });

  test('retention trims the stream: entries wholly below the oldest kept are gone from redis', async () => {
    const s = await fresh({ messages: 1000, bytes: 0, ageMs: 0 }, 'trim1');
    for (let i = 0; i < 50; i++) {
      await s.append([{ producerId: 1n, lastSeq: i + 1, messages: Array.from({ length: 100 }, (_, k) => msg(String(i * 100 + k + 1))) }]);
    }
    assert.deepEqual(await s.bounds(), { first: 4001, next: 5001 });
    const r = await s.read(1, all);
    assert.deepEqual([r.first, r.messages.length, r.messages[0]!.text.toString()], [4001, 1000, '4001']);
    const { createClient } = await import('@redis/client');
    const c = createClient({ url: redis.url() });
    await c.connect();
    assert.equal(await c.sendCommand(['XLEN', '{trim1}:log']), 10, 'ten records of 100 remain');
    await c.close();
    await s.close();
  });

  test("each topic's log is in keys of its own, hash-tagged by topic (one cluster slot each); two servers' topic stores share it, and hear of each other's appends", async () => {
    const opts = { spec: redis.url('topics1'), dataDir: '.', retention: NO_RETENTION, fsync: false };
    const a = topicStores(await openStore(opts), opts);
    const b = topicStores(await openStore(opts), opts);
    const heard: string[] = [];
    await b.watch((topic, next) => heard.push(`${topic}:${next}`));
    await appendByTopic(a, [{ topic: 'logs.web', producerId: 1n, lastSeq: 1, messages: [msg('w1'), msg('w2')] }, { topic: 'main', producerId: 2n, lastSeq: 1, messages: [msg('m1')] }]);
    assert.deepEqual((await (await b.of('logs.web')).read(1, all)).messages.map((m) => m.text.toString()), ['w1', 'w2']);
    await appendByTopic(a, [{ topic: 'logs.web', producerId: 1n, lastSeq: 2, messages: [msg('w3')] }]);
    for (let i = 0; i < 50 && !heard.includes('logs.web:4'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(heard.includes('logs.web:4'), `b heard ${heard.join(',')}`);
    const keys = execFileSync('redis-cli', ['-p', String(redis.port), 'KEYS', '{topics1:logs.web}:*'], { encoding: 'utf8' }).split('\n');
    assert.ok(keys.includes('{topics1:logs.web}:log') && keys.includes('{topics1:logs.web}:meta'), keys.join(' '));
    assert.deepEqual((await (await b.of('main')).read(1, all)).messages.map((m) => m.text.toString()), ['m1']);
    // A third server, which has opened no topic, finds them in the keys.
    const c = topicStores(await openStore(opts), opts);
    assert.deepEqual((await c.list('', 10)).map((t) => `${t.topic}:${t.messages}`), ['logs.web:3', 'main:1']);
    assert.deepEqual((await c.list('logs.web', 10)).map((t) => t.topic), ['main']);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('a redis nobody answers at is one clear error, quickly', async () => {
    const started = Date.now();
    await assert.rejects(
      RedisStore.open({ url: 'redis://127.0.0.1:1', retention: NO_RETENTION }),
      (e: unknown) => e instanceof StoreOpenError && /cannot connect to redis at 127\.0\.0\.1:1/.test(e.message),
    );
    assert.ok(Date.now() - started < 6_000);
  });

  test('registry records kept before they said where the client was read as the default topic, and are forgotten as before', async () => {
    const s = await fresh(NO_RETENTION, 'oldclients');
    const { createClient } = await import('@redis/client');
    const c = createClient({ url: redis.url() });
    await c.connect();
    await c.sendCommand(['HSET', '{oldclients}:clients', 'reader:old', '0:5', 'writer:older', '0:1']);
    await c.close();
    await s.saveClient({ name: 'new', role: 'reader', online: false, lastSeen: 7, topic: 'chat.ops' });
    const byName = (await s.clients()).sort((x, y) => x.name.localeCompare(y.name)).map((r) => [r.name, r.lastSeen, r.topic]);
    assert.deepEqual(byName, [['new', 7, 'chat.ops'], ['old', 5, 'main'], ['older', 1, 'main']]);
    assert.equal(await s.forgetClients(6), 2, 'both old records are forgotten');
    assert.equal(await s.forgetClients(8), 1, 'and a new one');
    await s.close();
  });

  test('keys of something else under the prefix are left alone', async () => {
    const { createClient } = await import('@redis/client');
    const c = createClient({ url: redis.url() });
    await c.connect();
    await c.sendCommand(['HSET', '{mine}:meta', 'app', 'my-invoices']);
    await assert.rejects(fresh(NO_RETENTION, 'mine'), (e: unknown) => e instanceof StoreOpenError && /belongs to something else/.test(e.message));
    assert.equal(await c.sendCommand(['HGET', '{mine}:meta', 'app']), 'my-invoices');
    await c.close();
  });

  test('redis killed and started again: the store says so, an append waits for it, and nothing stored is lost', async () => {
    const statuses: string[] = [];
    const s = await RedisStore.open({ url: redis.url('outage1'), retention: NO_RETENTION, onStatus: (st) => statuses.push(st.state) });
    await s.append([{ producerId: 1n, lastSeq: 1, messages: [msg('before')] }]);
    await redis.kill();
    for (let i = 0; i < 100 && !statuses.includes('down'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(statuses, ['down']);
    const during = s.append([{ producerId: 1n, lastSeq: 2, messages: [msg('during')] }]);
    let settled = false;
    void during.then(() => (settled = true), () => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, 'nothing is confirmed while redis is away');
    await redis.restart();
    assert.deepEqual(await during, [2]);
    assert.deepEqual(statuses, ['down', 'up']);
    assert.deepEqual((await s.read(1, all)).messages.map((m) => m.text.toString()), ['before', 'during']);
    await s.close();
  });
});
