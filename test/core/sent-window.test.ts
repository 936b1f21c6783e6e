import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SentWindow, type Datagram } from '../../src/core/writer/sent-window.js';

const dgram = (seq: number): Datagram => ({ seq, data: Buffer.alloc(0), linesEnded: 1, state: 'unsent', sentAt: 0, sends: 0 });
const ack = (received: number, committed: number, sacks: { first: number; last: number }[] = []) =>
  ({ kind: 'ack', sessionId: 1n, received, committed, sacks }) as const;

function sentFrom(first: number, n: number, at = 0): SentWindow {
  const w = new SentWindow();
  for (let seq = first; seq < first + n; seq++) {
    const d = dgram(seq);
    w.push(d);
    w.sent(d, at);
  }
  return w;
}

test('an ACK marks what arrived (contiguous and selectively), takes out what is stored, and names an RTT sample sent once', () => {
  const w = sentFrom(1, 6);
  const a = w.acknowledge(ack(2, 1, [{ first: 5, last: 5 }]), 7);
  assert.deepEqual(a.confirmed.map((d) => d.seq), [1]);
  assert.equal(a.newlyReceived, 3);
  assert.equal(a.sample?.seq, 5, 'the newest that went once');
  assert.equal(a.highestSacked, 5);
  assert.equal(w.outstanding, 3, '3, 4 and 6 in flight');
  assert.deepEqual(w.datagrams.map((d) => [d.seq, d.state]), [[2, 'received'], [3, 'sent'], [4, 'sent'], [5, 'received'], [6, 'sent']]);
  const again = w.acknowledge(ack(2, 1, [{ first: 5, last: 5 }]), 7);
  assert.deepEqual([again.newlyReceived, again.confirmed.length, again.sample], [0, 0, undefined], 'a repeat changes nothing');
});

test('a datagram sent again gives no RTT sample; three behind one that arrived and older than the age is lost', () => {
  const w = sentFrom(1, 5, 0);
  w.datagrams[4]!.sends = 2;
  const a = w.acknowledge(ack(0, 0, [{ first: 5, last: 5 }]), 6);
  assert.equal(a.sample, undefined);
  assert.equal(w.lostBehind(5, 10, 20), false, 'younger than the age');
  assert.equal(w.lostBehind(5, 20, 20), true);
  assert.deepEqual(w.datagrams.map((d) => d.state), ['unsent', 'unsent', 'sent', 'sent', 'received']);
  assert.equal(w.outstanding, 2);
});

test('all lost (a timeout) and a new session: everything not stored goes again, nothing in flight', () => {
  const w = sentFrom(1, 3);
  w.acknowledge(ack(1, 0), 4);
  w.allLost();
  assert.deepEqual([w.outstanding, w.datagrams.map((d) => d.state)], [0, ['received', 'unsent', 'unsent']]);
  w.restart();
  assert.deepEqual(w.datagrams.map((d) => d.state), ['unsent', 'unsent', 'unsent']);
  assert.deepEqual(w.confirmBefore(3).map((d) => d.seq), [1, 2]);
  assert.equal(w.oldest?.seq, 3);
});
