import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatReceipts } from '../../src/cli/chat-receipts.js';
import { ReaderState } from '../../src/protocol/constants.js';

function receipts(): { r: ChatReceipts; lines: string[]; asked: [string, number][] } {
  const lines: string[] = [];
  const asked: [string, number][] = [];
  return { r: new ChatReceipts((l) => lines.push(l), (n, id) => asked.push([n, id])), lines, asked };
}

const answer = (requestId: number, name: string, state: ReaderState, position: number, logNext: number) =>
  ({ type: 'tracked', requestId, name, state, position, logNext }) as const;

test('receipts: each line is said stored once the server confirms it, in order, and only then', () => {
  const { r, lines, asked } = receipts();
  r.sent(undefined);
  r.sent(undefined);
  r.sent(undefined);
  assert.deepEqual(lines, []);
  r.confirmed(2);
  assert.deepEqual(lines, ['-- stored', '-- stored']);
  r.confirmed(2);
  r.confirmed(5); // more than was sent through this chat: nothing more to say
  assert.deepEqual(lines, ['-- stored', '-- stored', '-- stored']);
  assert.deepEqual(asked, []);
  // New sessions after /back count their confirmations from 0.
  r.restart();
  r.sent(undefined);
  r.confirmed(1);
  assert.equal(lines.length, 4);
});

test('receipts: a direct message is said stored with where its recipient is, then delivered once the reader passes it', () => {
  const { r, lines, asked } = receipts();
  r.sent('bob');
  r.confirmed(1);
  assert.deepEqual(asked, [['bob', 1]], 'the server is asked at once');
  r.tracked(answer(1, 'bob', ReaderState.Offline, 5, 11));
  r.tracked(answer(1, 'bob', ReaderState.Offline, 5, 11));
  assert.deepEqual(lines, ['-- stored; bob is offline: it is kept for bob until bob is back'], 'said once');
  r.poll();
  assert.deepEqual(asked.at(-1), ['bob', 2], 'asked again while not delivered');
  r.tracked(answer(2, 'bob', ReaderState.Online, 10, 12));
  assert.equal(lines.length, 1, 'online, but not past the log end of the first answer: nothing new');
  r.tracked(answer(3, 'bob', ReaderState.Online, 11, 12));
  assert.deepEqual(lines.slice(1), ['-- delivered to bob']);
  r.tracked(answer(4, 'bob', ReaderState.Online, 12, 12));
  r.poll();
  assert.equal(lines.length, 2, 'delivered once, and no longer asked about');
  assert.equal(asked.length, 2);
  assert.equal(r.undelivered, 0);
});

test('receipts: an answer to a question asked before the message was stored says nothing of it', () => {
  const { r, lines, asked } = receipts();
  r.sent('bob');
  r.confirmed(1);
  r.sent('bob');
  r.confirmed(2);
  assert.deepEqual(asked, [['bob', 1], ['bob', 2]]);
  // The answer to request 1 came from before the second message was stored: bob may be past the log end
  // then, and not past the second message.
  r.tracked(answer(1, 'bob', ReaderState.Online, 9, 9));
  assert.deepEqual(lines, ['-- delivered to bob'], 'the first, only');
  r.tracked(answer(2, 'bob', ReaderState.Online, 9, 10));
  assert.deepEqual(lines, ['-- delivered to bob', '-- stored; bob is online']);
  r.tracked(answer(3, 'bob', ReaderState.Online, 10, 10));
  assert.deepEqual(lines.at(-1), '-- delivered to bob');
});

test('receipts: an online recipient who leaves before reading is said so; a name never seen; answers about others change nothing', () => {
  const { r, lines } = receipts();
  r.sent('al');
  r.sent('zed');
  r.confirmed(2);
  r.tracked(answer(1, 'al', ReaderState.Online, 3, 30));
  r.tracked(answer(3, 'al', ReaderState.Offline, 3, 30));
  r.tracked(answer(4, 'al', ReaderState.Online, 3, 30));
  r.tracked(answer(2, 'zed', ReaderState.Unknown, 0, 30));
  r.tracked(answer(5, 'cy', ReaderState.Online, 99, 99));
  assert.deepEqual(lines, [
    '-- stored; al is online',
    '-- stored; al is offline: it is kept for al until al is back',
    '-- stored; nobody called zed has read here: their first reader starts after it',
  ]);
});

test('receipts: sent where every chat reads direct messages, to a name that never read there: kept for its first chat (its first chat reads them all)', () => {
  const { r, lines } = receipts();
  r.sent('zed', 'direct');
  r.sent(undefined, 'room');
  r.confirmed(1, 'room');
  r.confirmed(1, 'direct');
  r.tracked(answer(1, 'zed', ReaderState.Unknown, 0, 30));
  r.tracked(answer(2, 'zed', ReaderState.Online, 30, 31));
  assert.deepEqual(lines, ['-- stored', "-- stored; zed has not chatted here yet: it is kept for zed's first chat", '-- delivered to zed'], 'each channel confirmed on its own count');
});

test('receipts: at most 1,000 direct messages are followed; the oldest are let go', () => {
  const { r, asked } = receipts();
  for (let i = 1; i <= 1_001; i++) r.sent(`p${i}`);
  r.confirmed(1_001);
  assert.equal(r.undelivered, 1_000);
  asked.length = 0;
  r.poll();
  assert.equal(asked.length, 1_000);
  assert.ok(!asked.some(([n]) => n === 'p1'), 'the oldest is no longer followed');
});

test('receipts: settled once every line is said stored and every direct one where it is; or when the wait runs out', async () => {
  const { r } = receipts();
  await r.settled(1_000); // nothing sent: at once
  r.sent(undefined);
  r.sent('bob');
  let settled = false;
  const waiting = r.settled(5_000).then(() => (settled = true));
  r.confirmed(1);
  await new Promise((d) => setImmediate(d));
  assert.equal(settled, false, 'the direct one is not confirmed yet');
  r.confirmed(2);
  await new Promise((d) => setImmediate(d));
  assert.equal(settled, false, 'confirmed, but not yet said where bob is');
  r.tracked(answer(1, 'bob', ReaderState.Offline, 1, 3));
  await waiting;
  const { r: slow } = receipts();
  slow.sent(undefined);
  const t0 = Date.now();
  const alive = setTimeout(() => {}, 2_000); // the wait's own timer does not hold the process open
  await slow.settled(50);
  clearTimeout(alive);
  assert.ok(Date.now() - t0 < 1_000, 'given up after the wait');
});
