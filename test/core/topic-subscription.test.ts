import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SUBSCRIBED_TOPICS_MAX, TopicSubscription } from '../../src/core/reader/topic-subscription.js';

test('named topics are read at once and need no list; patterns take what the lists show, once each', () => {
  const s = new TopicSubscription(['logs.web', 'logs.>', 'chat.*']);
  assert.equal(s.watching, true);
  assert.deepEqual(s.named(), { topics: ['logs.web'], fromStart: false, over: [] });
  // The first list: the topics that exist as the reader starts, read from where --from says.
  assert.deepEqual(s.offer(['chat.ops', 'chat.ops.eu', 'logs', 'logs.web', 'logs.db', 'main']), { topics: ['chat.ops', 'logs.db'], fromStart: false, over: [] });
  // Later lists: topics created since, read from their first message.
  assert.deepEqual(s.offer(['chat.ops', 'logs.db', 'logs.db.slow', 'logs.web', 'main']), { topics: ['logs.db.slow'], fromStart: true, over: [] });
  assert.deepEqual(s.offer(['chat.ops', 'logs.db', 'logs.db.slow']).topics, []);
  assert.deepEqual(s.topics.sort(), ['chat.ops', 'logs.db', 'logs.db.slow', 'logs.web']);
  assert.equal(new TopicSubscription(['a', 'b']).watching, false);
});

test('at most so many topics are read; each one past that is told once', () => {
  const s = new TopicSubscription(['t.>'], 2);
  assert.deepEqual(s.offer(['t.a', 't.b', 't.c']), { topics: ['t.a', 't.b'], fromStart: false, over: ['t.c'] });
  assert.deepEqual(s.offer(['t.a', 't.b', 't.c', 't.d']), { topics: [], fromStart: true, over: ['t.d'] });
  assert.ok(SUBSCRIBED_TOPICS_MAX >= 2);
});
