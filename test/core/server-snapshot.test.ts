import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../../src/protocol/codec.js';
import { Role } from '../../src/protocol/constants.js';
import type { Welcome } from '../../src/protocol/packets.js';
import { CLIENT, data, helloReader, helloWriter, openWriter, OTHER, ServerHarness, T0 } from './helpers.js';

// What a monitor sees of the server: counts by role, readers and groups by lag, writers by what they stored.

const fetchFrom = (sessionId: bigint, fetchId: number, position: number) =>
  encode({ kind: 'fetch', sessionId, fetchId, position, offset: 0, waitMs: 1_000, maxDatagrams: 4 });
const host = (n: number) => ({ address: `127.0.0.${n}`, port: 40_000 + n });

async function reader(h: ServerHarness, name: string, from: { address: string; port: number }, group?: string): Promise<bigint> {
  const [w] = await h.handshake({ ...helloReader(name, 50 + from.port), ...(group && { group }) }, from, T0);
  assert.equal(w!.kind, 'welcome');
  return (w as Welcome).sessionId;
}

test('a snapshot counts sessions by role and ranks readers by lag, groups by lag, writers by messages stored', async () => {
  const seen: number[] = [];
  const h = new ServerHarness({ observe: { fetchReply: (n) => seen.push(n) } });
  const w1 = await openWriter(h, 'busy');
  const [q] = await h.handshake(helloWriter('quiet', 3, 10n), OTHER, T0);
  const w2 = (q as Welcome).sessionId;
  await h.deliver(data(w1, 1, 'a', 'b', 'c', 'd'), CLIENT, T0);
  await h.deliver(data(w2, 1, 'e'), OTHER, T0);
  const behind = await reader(h, 'behind', host(3));
  const ahead = await reader(h, 'ahead', host(4));
  await reader(h, 'm1', host(5), 'jobs');
  await h.handshake({ ...helloReader('peek', 77), role: Role.Observer }, host(6), T0);
  await h.deliver(fetchFrom(ahead, 1, 1), host(4), T0 + 1);
  await h.deliver(fetchFrom(ahead, 2, 5), host(4), T0 + 2);
  await h.deliver(fetchFrom(behind, 1, 2), host(3), T0 + 3);

  const snap = h.core.snapshot();
  assert.deepEqual(snap.sessions, { writers: 2, readers: 3, observers: 1, total: 6 });
  assert.equal(snap.logNext, 6);
  assert.deepEqual(snap.readers, [
    { name: 'm1', group: 'jobs', position: 1, lag: 5 },
    { name: 'behind', position: 2, lag: 4 },
    { name: 'ahead', position: 5, lag: 1 },
  ]);
  assert.deepEqual(snap.groups, [{ name: 'jobs', members: 1, position: 1, lag: 5 }]);
  assert.deepEqual(snap.writers, [
    { name: 'busy', stored: 4 },
    { name: 'quiet', stored: 1 },
  ]);
  assert.deepEqual(seen, [5, 1, 4], 'each fetch reply, by the messages it carries');
});

test('a snapshot names at most ten readers: the ten furthest behind', async () => {
  const h = new ServerHarness();
  const w = await openWriter(h);
  await h.deliver(data(w, 1, ...Array.from({ length: 12 }, (_, i) => String(i))), CLIENT, T0);
  for (let i = 0; i < 12; i++) {
    const sid = await reader(h, `r${String(i).padStart(2, '0')}`, host(10 + i));
    await h.deliver(fetchFrom(sid, 1, 1 + i), host(10 + i), T0 + 1);
  }
  const snap = h.core.snapshot();
  assert.equal(snap.sessions.readers, 12);
  assert.deepEqual(
    snap.readers.map((r) => `${r.name}:${r.lag}`),
    ['r00:12', 'r01:11', 'r02:10', 'r03:9', 'r04:8', 'r05:7', 'r06:6', 'r07:5', 'r08:4', 'r09:3'],
  );
});

test('a DATA datagram the server already has counts as a retransmission, and is acknowledged again', async () => {
  const h = new ServerHarness();
  const w = await openWriter(h);
  await h.deliver(data(w, 1, 'a'), CLIENT, T0);
  assert.equal(h.core.stats.retransmissions, 0);
  await h.deliver(data(w, 3, 'c'), CLIENT, T0 + 3);
  assert.equal(h.core.stats.retransmissions, 0, 'one ahead of a gap is held, not a retransmission');
  const again = await h.deliver(data(w, 1, 'a'), CLIENT, T0 + 5);
  assert.equal(h.core.stats.retransmissions, 1);
  assert.equal(h.core.stats.messagesStored, 1, 'stored once');
  assert.deepEqual(again.map((p) => p.kind), ['ack']);
});

test('a snapshot breaks ties by name, ranks groups by lag, and counts no session before it opens', async () => {
  const h = new ServerHarness();
  const w = await openWriter(h, 'ww');
  await h.deliver(data(w, 1, 'a', 'b', 'c'), CLIENT, T0);
  const [x] = await h.handshake(helloWriter('aa', 3, 10n), OTHER, T0);
  await h.deliver(data((x as Welcome).sessionId, 1, 'd', 'e', 'f'), OTHER, T0);
  for (const [i, name] of ['mo', 'zed', 'amy', 'kim', 'bo'].entries()) await reader(h, name, host(20 + i));
  const fast = await reader(h, 'fastgroup', host(31), 'fast');
  await reader(h, 'slowgroup', host(30), 'slow');
  await h.deliver(fetchFrom(fast, 1, 1), host(31), T0 + 1);
  await h.deliver(fetchFrom(fast, 2, 7), host(31), T0 + 2);
  // A writer signing on: its session waits for the store before WELCOME.
  const [retry] = await h.deliver(encode({ ...helloWriter('pending', 4, 11n), cookie: Buffer.alloc(0) }), host(40), T0);
  assert.ok(retry?.kind === 'retry');
  h.core.handleDatagram(encode({ ...helloWriter('pending', 4, 11n), cookie: retry.cookie }), host(40), T0);
  const snap = h.core.snapshot();
  assert.deepEqual(snap.writers.map((w) => w.name), ['aa', 'ww'], 'equal counts: by name');
  assert.deepEqual(snap.readers.filter((r) => !r.group).map((r) => r.name), ['amy', 'bo', 'kim', 'mo', 'zed'], 'equal lags: by name');
  assert.deepEqual(snap.groups.map((g) => `${g.name}:${g.lag}`), ['slow:6', 'fast:0']);
  assert.equal(snap.sessions.writers, 2, 'the writer still signing on is not counted');
  assert.equal(snap.sessions.total, 10, 'though it is held');
});
