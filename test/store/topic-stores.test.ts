import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inTopic } from '../../src/protocol/topics.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { openDatabasesMax, openStore, openTopic, topicStores } from '../../src/store/open-store.js';
import { NO_RETENTION, type Store } from '../../src/store/store.js';
import { appendByTopic, saveCursorsByTopic, TopicStores } from '../../src/store/topic-stores.js';

const line = (text: string) => ({ ts: 1, from: 'w', text: Buffer.from(text) });
const texts = async (s: Store) => (await s.read(1, { maxMessages: 100, maxBytes: 1e6, user: '' })).messages.map((m) => `${m.id}:${m.text.toString()}`);

test("writers' batches go each to its topic's log, appended there with ids of its own; the first ids come back in the order given", async () => {
  const stores = new TopicStores(new MemoryStore(), async () => new MemoryStore());
  const firstIds = await appendByTopic(stores, [
    { topic: 'a', producerId: 1n, lastSeq: 2, messages: [line('a1'), line('a2')] },
    { topic: 'main', producerId: 2n, lastSeq: 1, messages: [line('m1')] },
    { topic: 'b', producerId: 3n, lastSeq: 1, messages: [line('b1')] },
    { topic: 'a', producerId: 4n, lastSeq: 1, messages: [line('a3')] },
  ]);
  assert.deepEqual(firstIds, [1, 1, 1, 3]);
  assert.deepEqual(await texts(await stores.of('a')), ['1:a1', '2:a2', '3:a3']);
  assert.deepEqual(await texts(await stores.of('b')), ['1:b1']);
  assert.deepEqual(await texts(stores.main), ['1:m1']);
  assert.equal(await (await stores.of('a')).producerSeq(1n), 2);
  assert.equal(await stores.main.producerSeq(1n), undefined, "a writer's sequence is kept in its topic");
  await saveCursorsByTopic(stores, new Map([[inTopic('a', 'r'), 3], [inTopic('b', 'r'), 2], ['r', 1]]));
  assert.deepEqual([await (await stores.of('a')).cursor('r'), await (await stores.of('b')).cursor('r'), await stores.main.cursor('r')], [3, 2, 1]);
});

test('a server keeps at most so many topics open; a topic that failed to open is tried again when named again', async () => {
  let fail = true;
  const stores = new TopicStores(new MemoryStore(), async (topic) => {
    if (topic === 'flaky' && fail) throw new Error('not now');
    return new MemoryStore();
  }, 3);
  await stores.of('a');
  await assert.rejects(stores.of('flaky'), /not now/);
  fail = false;
  await stores.of('flaky');
  await assert.rejects(stores.of('c'), /at most 3 topics: topic c refused/);
  assert.equal(await stores.of('a'), await stores.of('a'), 'one store per topic');
  await stores.close();
});

test('sqlite: each topic is a database of its own under topics/ in the data directory; the default topic stays where the log always was', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-topics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const opts = { spec: 'sqlite', dataDir: dir, retention: NO_RETENTION, fsync: false };
  const stores = topicStores(await openStore(opts), opts);
  await appendByTopic(stores, [{ topic: 'logs.web', producerId: 1n, lastSeq: 1, messages: [line('w1')] }, { topic: 'main', producerId: 2n, lastSeq: 1, messages: [line('m1')] }]);
  assert.ok(existsSync(join(dir, 'relay.db')));
  assert.ok(existsSync(join(dir, 'topics', 'logs.web', 'relay.db')));
  await stores.close();
  // Opened again: each topic's log is where it was.
  const again = topicStores(await openStore(opts), opts);
  assert.deepEqual(await texts(await again.of('logs.web')), ['1:w1']);
  assert.deepEqual(await texts(again.main), ['1:m1']);
  await again.close();
});

test('stores that hold files open are kept open up to a bound: the least recently used one not in use is closed, and opened again when next used, with what it had', async () => {
  const open = new Set<string>();
  const kept = new Map<string, MemoryStore>();
  const stores = new TopicStores(
    new MemoryStore(),
    async (topic) => {
      const store = kept.get(topic) ?? new MemoryStore();
      kept.set(topic, store);
      open.add(topic);
      // The same log each time it is opened; closing it only says so.
      return new Proxy(store, {
        get: (target, key: keyof MemoryStore) => {
          if (key === 'close') return async () => void open.delete(topic);
          const v = target[key];
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
    5,
    async () => [],
    2,
  );
  await appendByTopic(stores, [{ topic: 'a', producerId: 1n, lastSeq: 1, messages: [line('a1')] }]);
  await appendByTopic(stores, [{ topic: 'b', producerId: 1n, lastSeq: 1, messages: [line('b1')] }]);
  // 'a' is in use while 'c' opens: 'b' (idle) goes instead.
  await stores.use('a', async () => {
    await appendByTopic(stores, [{ topic: 'c', producerId: 1n, lastSeq: 1, messages: [line('c1')] }]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([...open].sort(), ['a', 'c']);
  });
  assert.deepEqual(stores.topics, ['main', 'a', 'c']);
  // Opened again with what it had; 'a', now the least recently used, closes.
  assert.deepEqual(await stores.use('b', texts), ['1:b1']);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([...open].sort(), ['b', 'c']);
  // A topic closed for a while is still served: it does not count again against the topics a server serves.
  await stores.use('a', texts);
  await stores.use('d', texts);
  await assert.rejects(stores.use('e', texts), /at most 5 topics: topic e refused/);
  assert.deepEqual((await stores.list('', 10)).map((t) => `${t.topic}:${t.messages}`), ['a:1', 'b:1', 'c:1', 'd:0', 'main:0']);
  await stores.close();
  assert.deepEqual([...open], []);
});

test('sqlite: a server with more topics than it keeps open holds a bounded number of files, and every topic keeps its log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-topics-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const opts = { spec: 'sqlite', dataDir: dir, retention: NO_RETENTION, fsync: false };
  const files = (): number => readdirSync('/proc/self/fd').length;
  const main = await openStore(opts);
  const before = files();
  const stores = new TopicStores(main, (topic) => openTopic(opts, topic, main), 200, async () => [], 16);
  for (let i = 0; i < 120; i++) {
    await appendByTopic(stores, [{ topic: `t.${i}`, producerId: 1n, lastSeq: 1, messages: [line(`m${i}`)] }]);
  }
  await new Promise((r) => setTimeout(r, 100));
  const held = files() - before;
  // Four per open database, and the checkpoint thread's own (its eight connections, itself): 120 open would be 480.
  assert.ok(held <= 16 * 4 + 8 * 3 + 12, `120 topics, 16 open: ${held} more files open`);
  for (let i = 0; i < 120; i += 7) assert.deepEqual(await stores.use(`t.${i}`, texts), [`1:m${i}`]);
  await stores.close();
});

test('how many topic databases stay open follows the open-files limit', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const limits = (soft: string): string => {
    const f = join(dir, soft);
    writeFileSync(f, `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 524288               files\n`);
    return f;
  };
  assert.equal(openDatabasesMax(limits('1024')), 192);
  assert.equal(openDatabasesMax(limits('1048576')), 1_000);
  assert.equal(openDatabasesMax(limits('100')), 16);
  assert.equal(openDatabasesMax(join(dir, 'missing')), 1_000);
});
