import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetentionCut } from '../../src/store/retention.js';

/** Walks a log of messages (ts, bytes) from its first id through the rule, as a store does. */
const cutOf = (limits: { messages?: number; bytes?: number; ageMs?: number }, log: { ts: number; bytes: number }[], now: number, first = 1) => {
  const total = log.reduce((n, m) => n + m.bytes, 0);
  const cut = new RetentionCut({ messages: 0, bytes: 0, ageMs: 0, ...limits }, { first, next: first + log.length, bytes: total }, now);
  for (const [i, m] of log.entries()) {
    if (!cut.drops(m.ts)) break;
    cut.droppedTo(first + i + 1, m.bytes);
  }
  return { first: cut.first, bytes: cut.bytes };
};

const log = [
  { ts: 100, bytes: 5 },
  { ts: 200, bytes: 5 },
  { ts: 300, bytes: 5 },
  { ts: 400, bytes: 5 },
];

test('retention rule: without limits nothing goes', () => {
  assert.deepEqual(cutOf({}, log, 1e9), { first: 1, bytes: 20 });
});

test('retention rule: by count, the newest N stay', () => {
  assert.deepEqual(cutOf({ messages: 3 }, log, 0), { first: 2, bytes: 15 });
  assert.deepEqual(cutOf({ messages: 4 }, log, 0), { first: 1, bytes: 20 });
  assert.deepEqual(cutOf({ messages: 1 }, log, 0, 10), { first: 13, bytes: 5 });
});

test('retention rule: by bytes, the oldest go until the text fits', () => {
  assert.deepEqual(cutOf({ bytes: 10 }, log, 0), { first: 3, bytes: 10 });
  assert.deepEqual(cutOf({ bytes: 9 }, log, 0), { first: 4, bytes: 5 });
  assert.deepEqual(cutOf({ bytes: 20 }, log, 0), { first: 1, bytes: 20 });
});

test('retention rule: by age, older than the limit at `now` (strictly); the first that is young enough stops the cut', () => {
  assert.deepEqual(cutOf({ ageMs: 100 }, log, 400), { first: 3, bytes: 10 });
  assert.deepEqual(cutOf({ ageMs: 100 }, log, 250), { first: 2, bytes: 15 });
  assert.deepEqual(cutOf({ ageMs: 100 }, log, 300), { first: 2, bytes: 15 }, 'exactly the limit old stays');
  assert.deepEqual(cutOf({ ageMs: 100 }, [{ ts: 500, bytes: 1 }, { ts: 100, bytes: 1 }], 1000), { first: 3, bytes: 0 });
  // Times out of order: the cut stops at the first young message, older ones behind it wait (a log is cut from its start).
  assert.deepEqual(cutOf({ ageMs: 100 }, [{ ts: 950, bytes: 1 }, { ts: 100, bytes: 1 }], 1000), { first: 1, bytes: 2 });
});

test('retention rule: any limit exceeded takes the oldest message', () => {
  assert.deepEqual(cutOf({ messages: 3, bytes: 100, ageMs: 1e6 }, log, 400), { first: 2, bytes: 15 });
  assert.deepEqual(cutOf({ messages: 100, bytes: 12, ageMs: 1e6 }, log, 400), { first: 3, bytes: 10 });
  assert.deepEqual(cutOf({ messages: 100, bytes: 100, ageMs: 150 }, log, 400), { first: 3, bytes: 10 });
});

test('retention rule: the count floor is where the count limit alone starts the log; past it only bytes or age can take more', () => {
  const cut = new RetentionCut({ messages: 3, bytes: 0, ageMs: 0 }, { first: 1, next: 11, bytes: 100 }, 0);
  assert.equal(cut.countFloor, 8);
  cut.droppedTo(cut.countFloor, 70);
  assert.deepEqual([cut.first, cut.bytes, cut.mayTakeMore, cut.drops(0)], [8, 30, false, false]);
  cut.droppedTo(5, 1); // behind the start: nothing
  assert.deepEqual([cut.first, cut.bytes], [8, 30]);
  assert.equal(new RetentionCut({ messages: 0, bytes: 0, ageMs: 0 }, { first: 4, next: 9, bytes: 1 }, 0).countFloor, 4);
  assert.equal(new RetentionCut({ messages: 0, bytes: 0, ageMs: 5 }, { first: 4, next: 9, bytes: 1 }, 0).mayTakeMore, true);
  assert.equal(new RetentionCut({ messages: 0, bytes: 2, ageMs: 0 }, { first: 4, next: 9, bytes: 3 }, 0).mayTakeMore, true);
  assert.equal(new RetentionCut({ messages: 0, bytes: 3, ageMs: 0 }, { first: 4, next: 9, bytes: 3 }, 0).mayTakeMore, false);
});
