import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MarkRecall } from '../../src/core/writer/mark-recall.js';
import type { Marks, WriterMark } from '../../src/protocol/packets.js';

// A resuming writer's questions for its marks, page by page: which answers it takes, and when it is done.

const mark = (k: string): WriterMark => ({ key: Buffer.from(k), value: Buffer.from(`v${k}`) });
const page = (requestId: number, total: number, from: number, marks: WriterMark[]): Marks => ({ kind: 'marks', sessionId: 9n, requestId, total, from, marks });

test('pages are asked for one after the other until all are in; then nothing is out', () => {
  const r = new MarkRecall();
  assert.equal(r.deadline, undefined);
  assert.deepEqual(r.begin(9n, 1_000), { kind: 'recall', sessionId: 9n, requestId: 1, from: 0 });
  assert.equal(r.deadline, 1_300);
  const next = r.answered(page(1, 3, 0, [mark('a'), mark('b')]), 1_010);
  assert.deepEqual(next, { next: { kind: 'recall', sessionId: 9n, requestId: 2, from: 2 } });
  assert.equal(r.deadline, 1_310);
  assert.deepEqual(r.again(9n, 1_400), { kind: 'recall', sessionId: 9n, requestId: 2, from: 2 });
  assert.deepEqual(r.answered(page(2, 3, 2, [mark('c')]), 1_410), { done: [mark('a'), mark('b'), mark('c')] });
  assert.equal(r.deadline, undefined);
});

test('an answer to another question is not taken: an old request, another page, or one after the last', () => {
  const r = new MarkRecall();
  r.begin(9n, 0);
  r.answered(page(1, 3, 0, [mark('a')]), 1);
  // An answer at the right place to a request not out (another session's), the first question's answer
  // again (resent), and a page that starts elsewhere.
  assert.equal(r.answered(page(7, 3, 1, [mark('x')]), 2), undefined);
  assert.equal(r.answered(page(1, 3, 0, [mark('a')]), 2), undefined);
  assert.equal(r.answered(page(2, 3, 0, [mark('a')]), 2), undefined);
  assert.deepEqual(r.answered(page(2, 2, 1, [mark('b')]), 3), { done: [mark('a'), mark('b')] });
  // Done: nothing is out, so even an answer that would fit on (the same request, the next place) is not taken.
  assert.equal(r.answered(page(2, 3, 2, [mark('c')]), 4), undefined);
  // Started over (a new session): the marks gathered before are dropped.
  r.begin(9n, 10);
  assert.deepEqual(r.answered(page(3, 1, 0, [mark('z')]), 11), { done: [mark('z')] });
});

test('an empty page ends the asking even if the total said more (the store lost some meanwhile)', () => {
  const r = new MarkRecall();
  r.begin(9n, 0);
  assert.deepEqual(r.answered(page(1, 5, 0, [mark('a')]), 1), { next: { kind: 'recall', sessionId: 9n, requestId: 2, from: 1 } });
  assert.deepEqual(r.answered(page(2, 5, 1, []), 2), { done: [mark('a')] });
});
