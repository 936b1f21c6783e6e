import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CacheBudget, MESSAGE_OVERHEAD_BYTES, RecordCache } from '../../src/store/record-cache.js';
import type { StoredMessage } from '../../src/store/store.js';

const record = (first: number, count: number): StoredMessage[] =>
  Array.from({ length: count }, (_, i) => ({ id: first + i, ts: 1, from: 'w', text: Buffer.from(String(first + i)) }));

test('finds the record holding an id, whatever order records came in', () => {
  const c = new RecordCache({ messages: 1000, bytes: 1e6 });
  c.put(11, record(11, 5));
  c.put(1, record(1, 10));
  c.put(16, record(16, 1));
  assert.equal(c.find(1)!.first, 1);
  assert.equal(c.find(10)!.first, 1);
  assert.equal(c.find(11)!.last, 15);
  assert.equal(c.find(16)!.messages[0]!.id, 16);
  assert.equal(c.find(17), undefined);
  assert.equal(c.find(0), undefined);
});

test('holds at most its bound in messages, letting go of the least recently used', () => {
  const c = new RecordCache({ messages: 30, bytes: 1e6 });
  for (let first = 1; first <= 30; first += 10) c.put(first, record(first, 10));
  c.find(1); // 1 is used again: 11 is now the least recently used
  c.put(31, record(31, 10));
  assert.equal(c.size, 3);
  assert.ok(c.find(1));
  assert.equal(c.find(11), undefined);
  assert.ok(c.find(21) && c.find(31));
});

test('forgets rolled-back records from an id on, and retained-out records below one', () => {
  const c = new RecordCache({ messages: 1000, bytes: 1e6 });
  for (let first = 1; first <= 40; first += 10) c.put(first, record(first, 10));
  c.dropFrom(25);
  assert.deepEqual([c.find(5)?.first, c.find(15)?.first, c.find(25), c.find(35)], [1, 11, undefined, undefined]);
  c.dropBelow(12);
  assert.deepEqual([c.find(5), c.find(15)?.first], [undefined, 11]);
});

test('holds at most its bound in bytes: the text and the cost of each message', () => {
  const c = new RecordCache({ messages: 1000, bytes: 2 * (60 + MESSAGE_OVERHEAD_BYTES) });
  const big = (first: number): StoredMessage[] => [{ id: first, ts: 1, from: 'w', text: Buffer.alloc(60) }];
  c.put(1, big(1));
  c.put(2, big(2));
  assert.equal(c.size, 2);
  c.put(3, big(3));
  assert.equal(c.size, 2);
  assert.deepEqual([c.find(1), c.find(2)?.first, c.find(3)?.first], [undefined, 2, 3]);
});

test('a full cache, long used: keeps exactly the newest records, finds them, and still drops by id', () => {
  const c = new RecordCache({ messages: 100, bytes: 1e6 });
  for (let id = 1; id <= 10_000; id++) c.put(id, record(id, 1));
  assert.equal(c.size, 100);
  assert.equal(c.find(9_900), undefined);
  for (let id = 9_901; id <= 10_000; id++) assert.equal(c.find(id)?.first, id);
  // An old record read again goes in at its place in log order, and is found there.
  c.put(50, record(50, 1));
  assert.equal(c.find(50)?.first, 50);
  assert.equal(c.size, 100);
  c.dropBelow(9_950);
  assert.deepEqual([c.find(50), c.find(9_949), c.find(9_950)?.first], [undefined, undefined, 9_950]);
  c.dropFrom(9_990);
  assert.deepEqual([c.find(9_989)?.first, c.find(9_990), c.size], [9_989, undefined, 40]);
});

test("caches sharing a budget (one per topic) hold the bound together: the least recently used record of any goes first; a cache cleared gives its room back", () => {
  const budget = new CacheBudget({ messages: 30, bytes: 1e6 });
  const a = new RecordCache(budget);
  const b = new RecordCache(budget);
  a.put(1, record(1, 10));
  b.put(1, record(1, 10));
  a.put(11, record(11, 10));
  b.find(1); // b's record is used again: a's first is now the least recently used of all
  b.put(11, record(11, 10));
  assert.deepEqual([a.find(1), a.find(11)?.first, b.find(1)?.first, b.find(11)?.first], [undefined, 11, 1, 11]);
  assert.equal(budget.messages, 30);
  b.clear();
  assert.deepEqual([b.size, budget.messages, budget.count], [0, 10, 1]);
  a.put(21, record(21, 10));
  a.put(31, record(31, 10));
  assert.equal(a.size, 3, 'the room b gave back');
});
