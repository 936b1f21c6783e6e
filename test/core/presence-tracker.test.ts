import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PresenceTracker, type WhoRequest } from '../../src/core/reader/presence-tracker.js';
import type { PresenceEntry } from '../../src/protocol/packets.js';

const T0 = 1_000_000;
const entry = (name: string, online: boolean, lastSeen = T0): PresenceEntry => ({ name, role: 'writer', online, lastSeen });

/** A tracker whose requests are kept, so that a test can answer the last one. */
function tracker(pollMs = 1_000) {
  const asked: WhoRequest[] = [];
  const t = new PresenceTracker(pollMs, (w) => asked.push({ ...w }));
  const answer = (now: number, version: number, entries: PresenceEntry[], full: boolean) =>
    t.onPresence({ kind: 'presence', sessionId: 1n, requestId: asked.at(-1)!.requestId, version, full, more: false, nextOffset: 0, entries }, now);
  return { t, asked, answer };
}

test('presence: changes after the first registry are who came online or went offline', () => {
  const { t, answer } = tracker();
  t.start(T0);
  assert.deepEqual(answer(T0, 1, [entry('bob', true)], true)?.changes, []);
  t.handleTimeout(T0 + 1_000);
  assert.deepEqual(answer(T0 + 1_000, 2, [entry('bob', false)], false)?.changes, [entry('bob', false)]);
});

test('presence: after signing on again, the others signing on again is not news', () => {
  const { t, answer } = tracker();
  t.start(T0);
  answer(T0, 1, [entry('bob', true), entry('carol', true)], true);
  // The server restarted: everyone is offline in its registry until their clients sign on again.
  t.start(T0 + 10_000, 11_000);
  assert.deepEqual(answer(T0 + 10_000, 1, [entry('bob', false), entry('carol', false)], true)?.changes, []);
  t.handleTimeout(T0 + 11_000);
  assert.deepEqual(answer(T0 + 11_000, 2, [entry('bob', true, T0 + 11_000)], false)?.changes, []);
  assert.deepEqual(t.takeSettled(T0 + 20_000), [], 'still settling');
  // carol did not come back: that is news, once the others have had their time.
  assert.equal(t.deadline, T0 + 12_000, 'the next poll comes first');
  t.handleTimeout(T0 + 12_000);
  answer(T0 + 12_000, 2, [], false);
  assert.equal(t.deadline, T0 + 13_000);
  assert.deepEqual(t.takeSettled(T0 + 21_000), [entry('carol', false)]);
  assert.deepEqual(t.takeSettled(T0 + 22_000), []);
  // Later changes are news at once.
  t.handleTimeout(T0 + 22_000);
  assert.deepEqual(answer(T0 + 22_000, 3, [entry('bob', false, T0 + 22_000)], false)?.changes, [entry('bob', false, T0 + 22_000)]);
});

test('presence: one who was offline before the restart and comes online is news', () => {
  const { t, answer } = tracker();
  t.start(T0);
  answer(T0, 1, [entry('bob', false)], true);
  t.start(T0 + 10_000, 11_000);
  answer(T0 + 10_000, 1, [entry('bob', false)], true);
  t.handleTimeout(T0 + 11_000);
  assert.deepEqual(answer(T0 + 11_000, 2, [entry('bob', true)], false)?.changes, [entry('bob', true)]);
});
