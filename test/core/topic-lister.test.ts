import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopicLister } from '../../src/core/reader/topic-lister.js';
import type { TopicInfo } from '../../src/protocol/packets.js';

const info = (topic: string): TopicInfo => ({ topic, messages: 1, bytes: 1, first: 1, next: 2, lastWrite: 1 });

test('the topics come page by page, each asked from after the last name; a lost request is sent again; an answer to an old one is ignored', () => {
  const sent: { requestId: number; after: string }[] = [];
  const done: TopicInfo[][] = [];
  const lister = new TopicLister((t) => sent.push(t), (topics) => done.push(topics));
  lister.start(0);
  assert.deepEqual(sent, [{ requestId: 1, after: '' }]);
  assert.equal(lister.deadline, 1_000);
  lister.handleTimeout(1_000);
  assert.deepEqual(sent[1], { requestId: 2, after: '' }, 'sent again, as a new request');
  lister.onList({ kind: 'topic-list', sessionId: 1n, requestId: 1, more: true, topics: [info('a')] }, 1_001);
  assert.equal(sent.length, 2, 'the answer to the first request is late: ignored');
  lister.onList({ kind: 'topic-list', sessionId: 1n, requestId: 2, more: true, topics: [info('a'), info('b')] }, 1_002);
  assert.deepEqual(sent[2], { requestId: 3, after: 'b' });
  assert.equal(done.length, 0);
  lister.onList({ kind: 'topic-list', sessionId: 1n, requestId: 3, more: false, topics: [info('c')] }, 1_003);
  assert.deepEqual(done.map((d) => d.map((t) => t.topic)), [['a', 'b', 'c']]);
  assert.equal(lister.deadline, undefined, 'nothing more to ask');
});

test('watching: the list is asked for again, whole, that long after each one is in, and each is handed on', () => {
  const sent: { requestId: number; after: string }[] = [];
  const done: string[][] = [];
  const lister = new TopicLister((t) => sent.push(t), (topics) => done.push(topics.map((t) => t.topic)), 500);
  lister.start(0);
  lister.onList({ kind: 'topic-list', sessionId: 1n, requestId: 1, more: false, topics: [info('a')] }, 10);
  assert.equal(lister.deadline, 510);
  lister.handleTimeout(509);
  assert.equal(sent.length, 1, 'not before its time');
  lister.handleTimeout(510);
  assert.deepEqual(sent[1], { requestId: 2, after: '' }, 'from the first page again');
  lister.onList({ kind: 'topic-list', sessionId: 1n, requestId: 2, more: false, topics: [info('a'), info('b')] }, 520);
  assert.deepEqual(done, [['a'], ['a', 'b']], 'each list whole, not added to the one before');
  assert.equal(lister.deadline, 1_020);
});
