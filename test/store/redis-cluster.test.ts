import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openStore, topicStores, type StoreOptions } from '../../src/store/open-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { appendByTopic } from '../../src/store/topic-stores.js';
import { StoreOpenError } from '../../src/store/store-errors.js';
import { NO_RETENTION } from '../../src/store/store.js';
import { storeContract } from './contract.js';
import { startRedisCluster, type RedisCluster } from './redis-cluster.js';

let cluster: RedisCluster;
let n = 0;
before(async () => {
  cluster = await startRedisCluster(3);
});
after(async () => {
  await cluster.stop();
});

storeContract('redis cluster', (retention) => RedisStore.open({ url: cluster.url(`c${++n}`), retention: retention ?? NO_RETENTION }));

const msg = (text: string) => ({ ts: 1, from: 'w', text: Buffer.from(text) });
const all = { maxMessages: 1e6, maxBytes: 1e9, user: 'r' };
const TOPICS = ['logs.web', 'logs.db', 'logs.api', 'chat.ops', 'chat.dev', 'metrics'];
const options = (prefix: string): StoreOptions => ({ spec: cluster.url(prefix), dataDir: '.', retention: NO_RETENTION, fsync: false });
const texts = async (stores: ReturnType<typeof topicStores>, topic: string): Promise<string[]> =>
  (await (await stores.of(topic)).read(1, all)).messages.map((m) => m.text.toString());

describe('redis store on a Redis Cluster', () => {
  test("topics' logs spread over the masters; a second server finds them all, reads them, and hears of the first's appends", async () => {
    const opts = options('spread');
    const a = topicStores(await openStore(opts), opts);
    const b = topicStores(await openStore(opts), opts);
    const heard: string[] = [];
    await b.watch((topic, next) => heard.push(`${topic}:${next}`));
    await appendByTopic(a, TOPICS.map((topic, i) => ({ topic, producerId: BigInt(i + 1), lastSeq: 1, messages: [msg(`${topic} 1`), msg(`${topic} 2`)] })));
    const holders = cluster.ports.map((_, i) => cluster.keys(i, '{spread:*}:log').length);
    assert.equal(holders.reduce((x, y) => x + y, 0), 6, `logs per master: ${holders.join(',')}`);
    assert.ok(holders.filter((k) => k > 0).length >= 2, `six topics on at least two masters: ${holders.join(',')}`);
    assert.deepEqual((await b.list('', 10)).map((t) => `${t.topic}:${t.messages}`), [...TOPICS, 'main'].sort().map((t) => `${t}:${t === 'main' ? 0 : 2}`));
    for (const topic of TOPICS) await b.of(topic);
    await appendByTopic(a, TOPICS.map((topic, i) => ({ topic, producerId: BigInt(i + 1), lastSeq: 2, messages: [msg(`${topic} 3`)] })));
    for (let i = 0; i < 100 && TOPICS.some((t) => !heard.includes(`${t}:4`)); i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(TOPICS.filter((t) => !heard.includes(`${t}:4`)), [], `b heard ${heard.join(' ')}`);
    for (const topic of TOPICS) assert.deepEqual(await texts(b, topic), [`${topic} 1`, `${topic} 2`, `${topic} 3`]);
    await Promise.all([a.close(), b.close()]);
  });

  test('a master killed and started again: its topics wait, the others go on, nothing acknowledged is lost', async () => {
    const opts = options('crash');
    const statuses: string[] = [];
    const s = topicStores(await openStore({ ...opts, onStatus: (st) => statuses.push(st.state) }), opts);
    await appendByTopic(s, TOPICS.map((topic, i) => ({ topic, producerId: BigInt(i + 1), lastSeq: 1, messages: [msg('before')] })));
    const victim = cluster.ports.findIndex((_, i) => cluster.keys(i, '{crash:*}:log').length > 0);
    const onVictim = TOPICS.filter((t) => cluster.keys(victim, `{crash:${t}}:log`).length > 0);
    const elsewhere = TOPICS.filter((t) => !onVictim.includes(t));
    await cluster.kill(victim);
    for (let i = 0; i < 100 && !statuses.includes('down'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(statuses, ['down']);
    const waiting = appendByTopic(s, onVictim.map((topic) => ({ topic, producerId: BigInt(TOPICS.indexOf(topic) + 1), lastSeq: 2, messages: [msg('during')] })));
    let settled = false;
    void waiting.then(() => (settled = true), () => (settled = true));
    if (elsewhere.length > 0) {
      await appendByTopic(s, elsewhere.map((topic) => ({ topic, producerId: BigInt(TOPICS.indexOf(topic) + 1), lastSeq: 2, messages: [msg('during')] })));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, 'nothing is confirmed on a master that is away');
    await cluster.restart(victim);
    assert.equal((await waiting).length, onVictim.length);
    for (let i = 0; i < 100 && statuses.at(-1) !== 'up'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(statuses, ['down', 'up']);
    for (const topic of TOPICS) assert.deepEqual(await texts(s, topic), ['before', 'during'], topic);
    await s.close();
  });

  test('a cluster URL that names no node, or a cluster nobody answers at, is one clear error', async () => {
    await assert.rejects(RedisStore.open({ url: 'redis+cluster://', retention: NO_RETENTION }), (e: unknown) => e instanceof StoreOpenError && /invalid redis cluster URL/.test(e.message));
    await assert.rejects(
      RedisStore.open({ url: 'redis+cluster://127.0.0.1:1,127.0.0.1:2', retention: NO_RETENTION }),
      (e: unknown) => e instanceof StoreOpenError && /cannot connect to redis at cluster 127\.0\.0\.1:1,127\.0\.0\.1:2/.test(e.message),
    );
  });
});
