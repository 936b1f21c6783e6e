import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueueGroup } from '../../src/core/server/queue-group.js';

test('leases go out in log order, one stretch each; acknowledged ones are done', () => {
  const g = new QueueGroup<string>('g', 1);
  const span = g.nextSpan(200)!;
  assert.deepEqual(span, { start: 1, offset: 0, end: Number.MAX_SAFE_INTEGER });
  g.grant('a', span, 65, 7, 1);
  const next = g.nextSpan(200)!;
  assert.equal(next.start, 65, 'the next member starts after the first one’s lease');
  g.grant('b', next, 129, 3, 1);
  assert.equal(g.lowWater, 1);
  assert.equal(g.advance('a', 30, 0, 8), 'partial');
  assert.equal(g.lowWater, 30);
  assert.equal(g.advance('a', 65, 0, 9), 'done');
  assert.equal(g.lowWater, 65);
  assert.equal(g.nextSpan(129), undefined, 'nothing left to lease');
});

test('a fetch from outside its lease leaves it unacknowledged (the reply has not been taken)', () => {
  const g = new QueueGroup<string>('g', 100);
  g.grant('a', g.nextSpan(200)!, 164, 1, 40);
  assert.equal(g.advance('a', 40, 0, 2), 'unchanged');
  assert.equal(g.lease('a')!.fetchId, 2, 'the repeat is answered under its own id');
  assert.equal(g.advance('a', 100, 0, 3), 'unchanged', 'its start is not progress');
  assert.equal(g.advance('a', 100, 10, 4), 'partial', 'but part of its first message is');
});

test('what a departed member did not acknowledge is leased again first, and only that', () => {
  const g = new QueueGroup<string>('g', 1);
  g.members.add('a').add('b');
  g.grant('a', g.nextSpan(300)!, 65, 1, 1);
  g.grant('b', g.nextSpan(300)!, 129, 1, 1);
  g.advance('a', 20, 0, 2);
  g.leave('a', 0, 0); // killed: its last known progress stands
  assert.equal(g.lowWater, 20);
  const redo = g.nextSpan(300)!;
  assert.deepEqual(redo, { start: 20, offset: 0, end: 65 });
  // b finishes its own lease, then is leased the stretch a left, below where b stands.
  assert.equal(g.advance('b', 129, 0, 2), 'done');
  g.grant('b', redo, 65, 3, 129);
  assert.equal(g.nextSpan(300)!.start, 129, 'then on with the log');
  // b leaves cleanly at the position it was leased at: it took nothing of the lease, all goes back.
  g.leave('b', 129, 0);
  assert.deepEqual(g.nextSpan(300), { start: 20, offset: 0, end: 65 });
});

test('a member leaving with --count 1 gives back the rest of its lease', () => {
  const g = new QueueGroup<string>('g', 1);
  g.grant('a', g.nextSpan(10)!, 10, 1, 1);
  g.leave('a', 2, 0);
  assert.deepEqual(g.nextSpan(10), { start: 2, offset: 0, end: 10 });
  g.grant('b', g.nextSpan(10)!, 10, 1, 1);
  assert.equal(g.nextSpan(10), undefined);
});

test('a member that took a lease behind its own position, whole, and said BYE there, is done with it', () => {
  // The lease [3, 4) goes to a member standing at 4: its BYE at 4 says "took it all" or "saw nothing",
  // and only the fetch id it names tells which.
  const g = new QueueGroup<string>('g', 3);
  g.members.add('a').add('b');
  g.grant('a', g.nextSpan(4)!, 4, 1, 3);
  g.leave('a', 3, 0, 1); // took nothing of it
  const redo = g.nextSpan(4)!;
  assert.deepEqual(redo, { start: 3, offset: 0, end: 4 });
  g.grant('b', redo, 4, 9, 4);
  g.leave('b', 4, 0, 9);
  assert.equal(g.nextSpan(4), undefined, 'message 3 is done: nothing to hand out again');
  assert.equal(g.lowWater, 4);
});

test('a member that says BYE before its lease reply reached it gives the whole lease back', () => {
  const g = new QueueGroup<string>('g', 4);
  g.members.add('a');
  g.grant('a', { start: 3, offset: 0, end: 4 }, 4, 9, 4);
  g.leave('a', 4, 0, 8); // its position comes from an earlier reply
  assert.deepEqual(g.nextSpan(4), { start: 3, offset: 0, end: 4 });
});

test('a member that leaves in the middle of a long message gives it back whole', () => {
  const g = new QueueGroup<string>('g', 1);
  g.members.add('a');
  g.grant('a', g.nextSpan(10)!, 10, 1, 1);
  assert.equal(g.advance('a', 4, 1684, 2), 'partial', 'the first 1,684 bytes of message 4 taken');
  g.leave('a', 0, 0);
  assert.deepEqual(g.nextSpan(10), { start: 4, offset: 0, end: 10 }, 'the next member gets message 4 from its start');
});

test('a member that asks again from the start of a long message it had begun gets the message from its start', () => {
  const g = new QueueGroup<string>('g', 1);
  g.grant('a', g.nextSpan(10)!, 10, 1, 1);
  assert.equal(g.advance('a', 4, 1684, 2), 'partial');
  assert.equal(g.advance('a', 4, 0, 3), 'partial', 'the start of message 4 again, not "unchanged"');
  assert.deepEqual([g.lease('a')!.start, g.lease('a')!.offset], [4, 0]);
});

test('part of a stretch given back is leased as what it is, and the rest waits for the next member', () => {
  const g = new QueueGroup<string>('g', 1);
  g.members.add('a').add('b');
  g.grant('a', g.nextSpan(20)!, 20, 1, 1);
  g.leave('a', 0, 0);
  const redo = g.nextSpan(20)!;
  const lease = g.grant('b', redo, 8, 5, 20);
  assert.deepEqual([lease.start, lease.end], [1, 8], 'the lease holds ids 1 to 7, not nothing');
  assert.deepEqual(g.nextSpan(20), { start: 8, offset: 0, end: 20 });
  assert.equal(g.advance('b', 8, 0, 6), 'done');
});

test('there is work while a stretch waits to be leased again or the log has messages not leased yet', () => {
  const g = new QueueGroup<string>('g', 10);
  assert.equal(g.hasWork(10), false, 'all of the log leased');
  assert.equal(g.hasWork(11), true);
  g.grant('a', g.nextSpan(20)!, 20, 1, 10);
  assert.equal(g.hasWork(20), false);
  g.leave('a', 0, 0);
  assert.equal(g.hasWork(20), true, 'a stretch given back');
});

test('stretches given back are leased again oldest first, whatever order their members left in', () => {
  const g = new QueueGroup<string>('g', 1);
  for (const [m, end] of [['a', 11], ['b', 21], ['c', 31], ['d', 41]] as const) g.grant(m, g.nextSpan(100)!, end, 1, 1);
  for (const m of ['c', 'a', 'd', 'b']) g.leave(m, 0, 0);
  const order: number[] = [];
  for (let span = g.nextSpan(41); span; span = g.nextSpan(41)) {
    order.push(span.start);
    g.skip(span, span.end);
  }
  assert.deepEqual(order, [1, 11, 21, 31]);
});

test('a read of the log that ends while a member gives a stretch back moves only the log position on', () => {
  const g = new QueueGroup<string>('g', 1);
  g.grant('a', g.nextSpan(100)!, 11, 1, 1);
  const span = g.nextSpan(100)!; // read from 11 on
  g.leave('a', 0, 0); // meanwhile: [1, 11) comes back
  g.skip(span, 50); // the read found nothing for the group up to 50
  assert.deepEqual(g.nextSpan(100), { start: 1, offset: 0, end: 11 }, 'the stretch given back is whole');
  g.skip(g.nextSpan(100)!, 11);
  assert.equal(g.nextSpan(100)!.start, 50);
});

test('a fetch from a member with no lease has nothing to acknowledge; one from before or past its lease changes nothing', () => {
  const g = new QueueGroup<string>('g', 65);
  assert.equal(g.advance('nobody', 10, 0, 1), 'done');
  g.grant('a', g.nextSpan(200)!, 129, 1, 65);
  assert.equal(g.advance('a', 10, 5, 2), 'unchanged', 'before the lease, whatever the offset');
  assert.equal(g.advance('a', 130, 0, 3), 'unchanged', 'past its end');
  assert.deepEqual(g.lease('a'), { start: 65, offset: 0, end: 129, fetchId: 3, firstFetchId: 1, from: 65, toldBefore: 0 });
});

test('an older client (no fetch id) that leaves where it was leased from gives the whole lease back; one that moved on, the rest', () => {
  const g = new QueueGroup<string>('g', 1);
  g.grant('a', g.nextSpan(100)!, 11, 1, 5);
  g.leave('a', 5, 0);
  assert.deepEqual(g.nextSpan(100), { start: 1, offset: 0, end: 11 });
  g.grant('b', g.nextSpan(100)!, 11, 1, 1);
  g.leave('b', 6, 0);
  assert.deepEqual(g.nextSpan(100), { start: 6, offset: 0, end: 11 });
});

test('what retention removed before the group took it is told once; a read that found nothing removed counts nothing', () => {
  const g = new QueueGroup<string>('jobs', 1);
  g.missed(-2); // read from 3 with the log starting at 1: nothing removed
  g.missed(0);
  g.missed(5);
  g.missed(2);
  assert.equal(g.takeMissed(), 7);
  assert.equal(g.takeMissed(), 0);
});

test('what a member is told it missed is told again to the same fetch (its reply was lost), never to a later one; a member that leaves without having taken it hands it back', () => {
  const g = new QueueGroup<string>('jobs', 1);
  g.missed(5);
  assert.equal(g.tellMissed('a', 1), 5);
  assert.equal(g.tellMissed('a', 1), 5, 'fetch 1 again: its reply was lost');
  g.missed(2);
  assert.equal(g.tellMissed('a', 1), 7, 'and what was missed since');
  assert.equal(g.tellMissed('a', 2), 0, 'a later fetch: the reply that told it was taken');
  g.missed(3);
  assert.equal(g.tellMissed('b', 9), 3);
  g.leave('b', 40, 0, 8); // its goodbye names a fetch before the one told: it never had that reply
  assert.equal(g.tellMissed('a', 3), 3, 'the next member is told');
  g.missed(4);
  assert.equal(g.tellMissed('c', 5), 4);
  g.leave('c', 40, 0, 5); // it took that reply
  assert.equal(g.tellMissed('a', 4), 0);
  g.missed(6);
  assert.equal(g.tellMissed('d', 2), 6);
  g.leave('d', 40, 0); // gone without a word: told again, rather twice than never
  assert.equal(g.tellMissed('a', 5), 6);
});

test('a lease keeps what its first part told of the group missed before it, until the member has taken that part', () => {
  const g = new QueueGroup<string>('jobs', 10);
  const lease = g.grant('a', g.nextSpan(100)!, 40, 1, 10, 9);
  assert.equal(lease.toldBefore, 9);
  assert.equal(g.advance('a', 10, 0, 2), 'unchanged', 'asking from where it stood: it took nothing');
  assert.equal(g.lease('a')!.toldBefore, 9);
  assert.equal(g.advance('a', 20, 0, 3), 'partial');
  assert.equal(g.lease('a')!.toldBefore, 0, 'it took the first part, and what it told');
});
