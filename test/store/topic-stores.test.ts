import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inTopic } from '../../src/protocol/topics.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { openStore, topicStores } from '../../src/store/open-store.js';
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
