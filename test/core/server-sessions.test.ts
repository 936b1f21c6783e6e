import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../../src/protocol/codec.js';
import { Role } from '../../src/protocol/constants.js';
import type { Batch, Welcome } from '../../src/protocol/packets.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { CLIENT, data, drain, helloReader, helloWriter, openWriter, ServerHarness, T0 } from './helpers.js';

const OTHER = { address: '127.0.0.1', port: 40002 };

const fetchFrom = (sessionId: bigint, fetchId: number, position: number, waitMs = 1_000) =>
  encode({ kind: 'fetch', sessionId, fetchId, position, offset: 0, waitMs, maxDatagrams: 4 });

test('a HELLO repeated after its WELCOME was lost gets the same WELCOME, and no second session', async () => {
  const h = new ServerHarness();
  const [retry] = await h.deliver(encode({ ...helloWriter('w'), cookie: Buffer.alloc(0) }), CLIENT, T0);
  assert.ok(retry?.kind === 'retry');
  const hello = encode({ ...helloWriter('w'), cookie: retry.cookie });
  const first = await h.deliverRaw(hello, CLIENT, T0);
  const again = await h.deliverRaw(hello, CLIENT, T0 + 300);
  assert.equal(first.length, 1);
  assert.deepEqual(again.map((t) => t.data), first.map((t) => t.data));
  assert.equal(h.core.sessionCount, 1);
  assert.equal(h.core.stats.sessionsOpened, 1);
});

test('shutdown ends every session and saves the positions not yet flushed; the store work shows until done', async () => {
  const h = new ServerHarness({ cursorFlushMs: 60_000 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  const replies = await h.deliver(fetchFrom(rsid, 1, 1), OTHER, T0 + 1);
  assert.equal(replies.filter((p) => p.kind === 'batch').length, 1);
  // Printed all three: the next fetch says so, and the flush is a minute away.
  await h.deliver(fetchFrom(rsid, 2, 4), OTHER, T0 + 2);
  assert.equal(await h.store.cursor('r'), undefined, 'not saved yet');
  for (let e = h.core.pollEvent(); e; e = h.core.pollEvent());
  h.core.shutdown(T0 + 3);
  assert.ok(h.core.pendingStoreWork > 0);
  const closed = [];
  for (let e = h.core.pollEvent(); e; e = h.core.pollEvent()) closed.push(e);
  assert.deepEqual(closed, [
    { type: 'session-closed', role: 'writer', name: 'w', reason: 'bye' },
    { type: 'session-closed', role: 'reader', name: 'r', reason: 'bye' },
  ]);
  assert.equal(h.core.sessionCount, 0);
  await h.settle(T0 + 3);
  assert.equal(h.core.pendingStoreWork, 0);
  assert.equal(await h.store.cursor('r'), 4);
  assert.deepEqual((await h.store.clients()).map((c) => [c.name, c.online]).sort(), [['r', false], ['w', false]]);
});

test('another server appended: a waiting poll is answered when told the log grew, not when told of what it has', async () => {
  const store = new MemoryStore();
  let ids = 1_000n;
  const a = new ServerHarness({}, store);
  const b = new ServerHarness({ randomId: () => ids++ }, store);
  const [w] = await a.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  assert.deepEqual(await a.deliver(fetchFrom(rsid, 1, 1, 5_000), OTHER, T0), [], 'nothing yet: the poll waits');
  const wsid = await openWriter(b);
  await b.deliver(data(wsid, 1, 'from b'), CLIENT, T0 + 10);
  a.core.handleLogAdvanced(1, T0 + 11);
  await a.settle(T0 + 11);
  assert.deepEqual(drain(a.core), [], 'a log ending before 1 is old news');
  a.core.handleLogAdvanced(2, T0 + 12);
  await a.settle(T0 + 12);
  const batch = drain(a.core).map((t) => t.packet).find((p): p is Batch => p.kind === 'batch');
  assert.deepEqual(batch?.messages.map((m) => m.text.toString()), ['from b']);
});

test('packets only a server sends are counted as malformed and answered with nothing', async () => {
  const h = new ServerHarness();
  const sid = await openWriter(h);
  const before = h.core.stats.malformed;
  const out = await h.deliver(encode({ kind: 'ack', sessionId: sid, received: 1, committed: 1, sacks: [] }), CLIENT, T0 + 1);
  assert.deepEqual(out, []);
  assert.equal(h.core.stats.malformed, before + 1);
  await h.deliver(encode({ kind: 'goodbye', sessionId: sid }), CLIENT, T0 + 2);
  assert.equal(h.core.stats.malformed, before + 2);
});

test('WHO, PONG and PING naming a session the server does not have are told it is unknown', async () => {
  const h = new ServerHarness();
  for (const p of [
    { kind: 'who', sessionId: 31n, requestId: 1, since: 0, offset: 0 } as const,
    { kind: 'pong', sessionId: 32n } as const,
    { kind: 'ping', sessionId: 33n } as const,
  ]) {
    assert.deepEqual(await h.deliver(encode(p), CLIENT, T0), [{ kind: 'unknown-session', sessionId: p.sessionId }]);
  }
});

test('a timeout handled leaves no deadline at or before it (a process would spin on its timer)', async () => {
  const h = new ServerHarness({ cursorFlushMs: 50 });
  const wsid = await openWriter(h);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  h.storeDown = true;
  await h.deliver(data(wsid, 1, 'a'), CLIENT, T0 + 1); // an append fails: retried in a second
  h.storeDown = false;
  await h.deliver(fetchFrom(rsid, 1, 1, 300), OTHER, T0 + 2); // a poll held 300 ms
  await h.deliver(encode({ kind: 'ping', sessionId: rsid, position: 1 }), OTHER, T0 + 3);
  // The writer leaves while its lines wait for the retry.
  await h.deliver(encode({ kind: 'bye', sessionId: wsid, position: 0 }), CLIENT, T0 + 4);
  let now = T0 + 4;
  for (let i = 0; i < 200 && h.core.nextDeadline() !== undefined; i++) {
    now = h.core.nextDeadline()!;
    h.core.handleTimeout(now);
    await h.settle(now);
    drain(h.core);
    const next = h.core.nextDeadline();
    assert.ok(next === undefined || next > now, `after the timeout at +${now - T0} ms, the next is at +${next! - T0} ms`);
  }
  assert.ok(now - T0 > 30_000, 'ran until the sessions expired');
  assert.equal(h.core.sessionCount, 0);
  assert.equal(h.core.nextDeadline(), undefined, 'nothing left to wait for');
});

test('an observer (run-reader --who) holds no name: two may watch from one host, and a reader may take any name', async () => {
  const h = new ServerHarness();
  const observer = (nonce: number) => ({ ...helloReader('watch', nonce), role: Role.Observer });
  const [one] = await h.handshake(observer(5), CLIENT, T0);
  const [two] = await h.handshake(observer(6), OTHER, T0);
  const [reader] = await h.handshake(helloReader('watch', 7), { address: '127.0.0.3', port: 1 }, T0);
  assert.deepEqual([one?.kind, two?.kind, reader?.kind], ['welcome', 'welcome', 'welcome']);
  assert.deepEqual((await h.store.clients()).map((c) => c.name), ['watch']);
});
