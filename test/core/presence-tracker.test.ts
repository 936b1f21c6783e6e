import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PresenceTracker, type WhoRequest } from '../../src/core/reader/presence-tracker.js';
import type { PresenceEntry } from '../../src/protocol/packets.js';

const T0 = 1_000_000;
const entry = (name: string, online: boolean, lastSeen = T0): PresenceEntry => ({ name, role: 'writer', online, lastSeen, topic: 'main' });

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

test('presence: one online who moves to another topic is news (a chat changing rooms), and so is one back online elsewhere after a restart', () => {
  const { t, answer } = tracker();
  const at = (name: string, online: boolean, topic: string, lastSeen = T0): PresenceEntry => ({ ...entry(name, online, lastSeen), topic });
  t.start(T0);
  answer(T0, 1, [at('bob', true, 'chat.ops'), at('cy', true, 'chat.ops')], true);
  t.handleTimeout(T0 + 1_000);
  assert.deepEqual(answer(T0 + 1_000, 2, [at('bob', true, 'chat.dev')], false)?.changes, [at('bob', true, 'chat.dev')]);
  t.start(T0 + 10_000, 11_000);
  assert.deepEqual(answer(T0 + 10_000, 1, [at('bob', false, 'chat.dev'), at('cy', false, 'chat.ops')], true)?.changes, []);
  t.handleTimeout(T0 + 11_000);
  const back = answer(T0 + 11_000, 2, [at('bob', true, 'chat.dev'), at('cy', true, 'chat.dev')], false)?.changes;
  assert.deepEqual(back, [at('cy', true, 'chat.dev')], 'bob came back where he was: not news; cy came back elsewhere: news');
});

/** A request as sent, without when. */
const req = ({ requestId, since, offset }: WhoRequest): WhoRequest => ({ requestId, since, offset });

test('presence: a request unanswered for 300 ms goes again, the same; a stale or unasked answer is ignored', () => {
  const { t, asked, answer } = tracker();
  t.start(T0);
  assert.deepEqual(asked.map(req), [{ requestId: 1, since: 0, offset: 0 }]);
  assert.equal(t.deadline, T0 + 300);
  t.handleTimeout(T0 + 299);
  assert.equal(asked.length, 1, 'not before 300 ms');
  t.handleTimeout(T0 + 300);
  assert.deepEqual(req(asked[1]!), { requestId: 1, since: 0, offset: 0 }, 'the same request again');
  assert.equal(t.deadline, T0 + 600);
  const stale = t.onPresence({ kind: 'presence', sessionId: 1n, requestId: 7, version: 1, full: true, more: false, nextOffset: 0, entries: [entry('x', true)] }, T0 + 310);
  assert.equal(stale, undefined, 'an answer to no request of ours');
  const update = answer(T0 + 320, 5, [entry('bob', true)], true);
  assert.deepEqual(update, { registry: [entry('bob', true)], changes: [] }, 'the first registry is handed over whole');
  assert.equal(answer(T0 + 330, 6, [], false), undefined, 'answered already: a duplicate is ignored');
  assert.equal(t.deadline, T0 + 320 + 1_000, 'next, the poll');
});

test('presence: a registry too big for one datagram comes page by page, and counts once it is all in', () => {
  const { t, asked } = tracker();
  t.start(T0);
  const page = (requestId: number, entries: PresenceEntry[], more: boolean, nextOffset: number) =>
    t.onPresence({ kind: 'presence', sessionId: 1n, requestId, version: 9, full: true, more, nextOffset, entries }, T0 + 10);
  assert.deepEqual(page(1, [entry('a', true), entry('b', false)], true, 2), { changes: [] });
  assert.deepEqual(req(asked.at(-1)!), { requestId: 2, since: 0, offset: 2 }, 'the next page, from where the last ended');
  const done = page(2, [entry('c', true)], false, 3);
  assert.deepEqual(done?.registry, [entry('a', true), entry('b', false), entry('c', true)]);
  // Changes since version 9 are asked for at the next poll.
  t.handleTimeout(T0 + 10 + 1_000);
  assert.deepEqual(req(asked.at(-1)!), { requestId: 3, since: 9, offset: 0 });
});

test('presence: what changed while the registry came page by page is asked for from the first page on (a change to a paged entry is not lost)', () => {
  const { t, asked } = tracker();
  t.start(T0);
  const page = (requestId: number, version: number, entries: PresenceEntry[], more: boolean) =>
    t.onPresence({ kind: 'presence', sessionId: 1n, requestId, version, full: true, more, nextOffset: 1, entries }, T0 + 10);
  page(1, 40, [entry('a', true)], true);
  // 'a' goes offline (version 41) before the second page is read.
  page(2, 41, [entry('b', true)], false);
  t.handleTimeout(T0 + 10 + 1_000);
  assert.deepEqual(req(asked.at(-1)!), { requestId: 3, since: 40, offset: 0 }, 'from the first page, not the last');
  const next = t.onPresence({ kind: 'presence', sessionId: 1n, requestId: 3, version: 41, full: false, more: false, nextOffset: 0, entries: [entry('a', false)] }, T0 + 1_020);
  assert.deepEqual(next?.changes, [entry('a', false)]);
  // A whole registry again starts its own count.
  t.start(T0 + 5_000);
  page(4, 50, [entry('a', false)], false);
  t.handleTimeout(T0 + 10 + 1_000 + 5_000);
  assert.equal(asked.at(-1)!.since, 50);
});

test('presence: changes that do not fit one answer come in several; the version moves with each', () => {
  const { t, asked, answer } = tracker();
  t.start(T0);
  answer(T0, 4, [entry('a', true)], true);
  t.handleTimeout(T0 + 1_000);
  const more = t.onPresence({ kind: 'presence', sessionId: 1n, requestId: asked.at(-1)!.requestId, version: 6, full: false, more: true, nextOffset: 0, entries: [entry('a', false), entry('b', true)] }, T0 + 1_000);
  assert.deepEqual(more, { changes: [entry('a', false), entry('b', true)] });
  assert.deepEqual(req(asked.at(-1)!), { requestId: 3, since: 6, offset: 0 }, 'asked again at once, from the new version');
  assert.deepEqual(answer(T0 + 1_001, 8, [entry('a', false), entry('c', true)], false)?.changes, [entry('c', true)], 'no change is news twice');
});

test('presence: refresh hands the registry over with the next answer; a tracker with no poll asks once', () => {
  const { t, asked, answer } = tracker();
  t.start(T0);
  answer(T0, 1, [entry('a', true)], true);
  t.refresh(T0 + 100);
  assert.deepEqual(req(asked.at(-1)!), { requestId: 2, since: 1, offset: 0 }, 'asked at once');
  t.refresh(T0 + 150);
  assert.equal(asked.length, 2, 'not again while a request is out');
  assert.deepEqual(answer(T0 + 160, 2, [entry('b', true)], false), { registry: [entry('a', true), entry('b', true)], changes: [entry('b', true)] });
  assert.deepEqual(answer(T0 + 170, 3, [], false), undefined);
  const once = tracker(0);
  once.t.start(T0);
  once.answer(T0, 1, [entry('a', true)], true);
  assert.equal(once.t.deadline, undefined, 'no poll');
  once.t.handleTimeout(T0 + 60_000);
  assert.equal(once.asked.length, 1);
});

test('presence: a whole registry again (after signing on again) brings as news only who changed, new names included; a first sign-on holds nothing', () => {
  const { t, answer } = tracker();
  t.start(T0, 11_000);
  answer(T0, 1, [entry('a', true), entry('b', true)], true);
  t.handleTimeout(T0 + 1_000);
  assert.deepEqual(answer(T0 + 1_000, 2, [entry('a', false)], false), { changes: [entry('a', false)] }, 'the first sign-on holds no "offline"');
  t.start(T0 + 5_000);
  const again = answer(T0 + 5_000, 7, [entry('a', false), entry('b', false), entry('c', true)], true);
  assert.deepEqual(again, { changes: [entry('b', false), entry('c', true)] });
});

test('presence: no poll before its time; after signing on again, an "offline" is held until the very end of the settling time, not after', () => {
  const { t, asked, answer } = tracker();
  t.start(T0);
  answer(T0, 1, [entry('a', true), entry('b', true)], true);
  t.handleTimeout(T0 + 500);
  assert.equal(asked.length, 1, 'the poll is at +1,000 ms');
  t.handleTimeout(T0 + 1_000);
  assert.equal(asked.length, 2);
  answer(T0 + 1_000, 1, [], false);
  // Signed on again at +2,000, settling until +5,000; a and b are back already.
  t.start(T0 + 2_000, 3_000);
  answer(T0 + 2_000, 1, [entry('a', true), entry('b', true)], true);
  t.handleTimeout(T0 + 3_000);
  assert.deepEqual(answer(T0 + 3_000, 2, [entry('a', false)], false), { changes: [] }, 'held while settling');
  t.handleTimeout(T0 + 4_000);
  t.handleTimeout(T0 + 5_000);
  const last = asked.at(-1)!;
  const update = t.onPresence({ kind: 'presence', sessionId: 1n, requestId: last.requestId, version: 3, full: false, more: false, nextOffset: 0, entries: [entry('b', false)] }, T0 + 5_000);
  assert.deepEqual(update, { changes: [entry('b', false)] }, 'at the end of the settling time an offline is news at once');
  assert.deepEqual(t.takeSettled(T0 + 5_000), [entry('a', false)]);
});

test('presence: while others settle, the deadline is the end of the settling time when that comes before the next poll, or when there is no poll', () => {
  for (const pollMs of [20_000, 0]) {
    const { t, answer } = tracker(pollMs);
    t.start(T0);
    answer(T0, 1, [entry('a', true), entry('b', true)], true);
    t.start(T0 + 1_000, 5_000);
    answer(T0 + 1_000, 1, [entry('a', false), entry('b', true)], true);
    assert.equal(t.deadline, T0 + 6_000, `poll every ${pollMs} ms: a's "offline" is due when the settling ends`);
    assert.deepEqual(t.takeSettled(T0 + 6_000), [entry('a', false)]);
    assert.equal(t.deadline, pollMs > 0 ? T0 + 1_000 + pollMs : undefined, 'then the poll again');
  }
});

test('presence: a request sent on signing on again is not doubled by the poll that was due before it', () => {
  const { t, asked, answer } = tracker();
  t.start(T0);
  answer(T0, 1, [entry('a', true)], true);
  // The poll would be at +1,000; the client signs on again at +900 and asks at once.
  t.start(T0 + 900, 3_000);
  assert.equal(asked.length, 2);
  t.handleTimeout(T0 + 1_000);
  assert.equal(asked.length, 2, 'the open request is answered or sent again on its own time, not replaced');
  t.handleTimeout(T0 + 1_200);
  assert.deepEqual(req(asked[2]!), req(asked[1]!), 'sent again, the same');
});

test('presence: one never seen before who shows up offline while others settle is news at once', () => {
  const { t, answer } = tracker();
  t.start(T0);
  answer(T0, 1, [entry('a', true)], true);
  t.start(T0 + 1_000, 5_000);
  assert.deepEqual(answer(T0 + 1_000, 1, [entry('a', true), entry('z', false)], true)?.changes, [entry('z', false)]);
});
