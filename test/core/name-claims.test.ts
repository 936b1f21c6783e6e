import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NameClaims } from '../../src/core/server/name-claims.js';

test('a claim names the client and the server', () => {
  assert.equal(new NameClaims('s1', 3_000).holder('127.0.0.1|5'), '127.0.0.1|5|s1');
});

test('claims are renewed three times per lifetime, all in one request, while any is held', () => {
  const c = new NameClaims('s1', 3_000);
  assert.equal(c.deadline, undefined);
  assert.deepEqual(c.due(0), []);
  c.claimed('w:a', 'h1', 100);
  assert.equal(c.deadline, 1_100);
  c.claimed('r:b', 'h2', 500);
  assert.equal(c.deadline, 1_100, 'a second claim keeps the first one\u2019s renewal time');
  assert.deepEqual(c.due(1_099), []);
  assert.deepEqual(c.due(1_100), [
    { key: 'w:a', holder: 'h1' },
    { key: 'r:b', holder: 'h2' },
  ]);
  assert.equal(c.deadline, 2_100);
  assert.deepEqual(c.due(1_500), [], 'not due again before the next renewal');
});

test('a release gives back only the holder\u2019s claim; the last one stops the renewals', () => {
  const c = new NameClaims('s1', 3_000);
  c.claimed('w:a', 'h1', 0);
  c.claimed('r:b', 'h2', 0);
  assert.equal(c.release('w:a', 'someone else'), false);
  assert.equal(c.release('w:x', 'h1'), false);
  assert.equal(c.release('w:a', 'h1'), true);
  assert.equal(c.release('w:a', 'h1'), false, 'given back once');
  assert.equal(c.deadline, 1_000, 'r:b still held');
  assert.deepEqual(c.due(1_000), [{ key: 'r:b', holder: 'h2' }]);
  assert.equal(c.release('r:b', 'h2'), true);
  assert.equal(c.deadline, undefined);
  assert.deepEqual(c.due(10_000), []);
});

test('claims lost at renewal are dropped; when none is left, nothing is renewed', () => {
  const c = new NameClaims('s1', 3_000);
  c.claimed('w:a', 'h1', 0);
  c.claimed('r:b', 'h2', 0);
  c.lost(['w:a']);
  assert.equal(c.deadline, 1_000);
  assert.deepEqual(c.due(1_000), [{ key: 'r:b', holder: 'h2' }]);
  c.lost(['r:b']);
  assert.equal(c.deadline, undefined);
  c.claimed('w:c', 'h3', 5_000);
  assert.equal(c.deadline, 6_000, 'a new claim after all were lost starts the renewals again');
});

test('a tiny lifetime still renews, every millisecond', () => {
  const c = new NameClaims('s1', 2);
  c.claimed('w:a', 'h1', 0);
  assert.equal(c.deadline, 1);
});
