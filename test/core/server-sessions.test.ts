import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode } from '../../src/protocol/codec.js';
import { FromKind, RefuseCode, Role } from '../../src/protocol/constants.js';
import type { Batch, Hello, Packet, Welcome } from '../../src/protocol/packets.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { runStoreRequest } from '../../src/store/store-request.js';
import { CLIENT, data, drain, helloReader, helloWriter, nextRequest, openWriter, OTHER, ServerHarness, T0, threeLinesAndReader } from './helpers.js';


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
  assert.equal(h.core.snapshot().sessions.total, 1);
  assert.equal(h.core.stats.sessionsOpened, 1);
});

test('shutdown ends every session and saves the positions not yet flushed; the store work shows until done', async () => {
  const { h, rsid } = await threeLinesAndReader({ cursorFlushMs: 60_000 });
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
  assert.equal(h.core.snapshot().sessions.total, 0);
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
  assert.equal(h.core.snapshot().sessions.total, 0);
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

const OTHER_HOST = { address: '127.0.0.2', port: 40003 };

/** HELLO, RETRY and HELLO with the cookie, the second left unsettled: its store requests wait. */
async function helloUnsettled(h: ServerHarness, hello: Omit<Hello, 'cookie'>, from = CLIENT, now = T0): Promise<void> {
  const [retry] = await h.deliver(encode({ ...hello, cookie: Buffer.alloc(0) } as Hello), from, now);
  assert.ok(retry?.kind === 'retry');
  h.core.handleDatagram(encode({ ...hello, cookie: retry.cookie } as Hello), from, now);
}

test('a HELLO of the same name and nonce from another host is not a repeat: it gets no WELCOME of the holder', async () => {
  const h = new ServerHarness();
  await openWriter(h, 'w', CLIENT);
  const [answer] = await h.handshake(helloWriter('w'), OTHER_HOST, T0 + 1);
  assert.ok(answer?.kind === 'refuse' && answer.code === RefuseCode.NameTaken, answer?.kind);
  assert.match(answer.reason, /silent for 30 s/);
});

test('a client started again on the same address (a new nonce) gets a new session at once', async () => {
  const h = new ServerHarness();
  const first = await openWriter(h, 'w', CLIENT);
  const [again] = await h.handshake(helloWriter('w', 7, 10n), CLIENT, T0 + 1);
  assert.equal(again?.kind, 'welcome');
  assert.notEqual((again as Welcome).sessionId, first);
  assert.equal(h.core.snapshot().sessions.total, 1);
});

test('a writer process signing on under a new name ends its old session', async () => {
  const h = new ServerHarness();
  await openWriter(h, 'a', CLIENT);
  for (let e = h.core.pollEvent(); e; e = h.core.pollEvent());
  const [w] = await h.handshake(helloWriter('b'), OTHER, T0 + 1); // the same producer id
  assert.equal(w?.kind, 'welcome');
  assert.deepEqual(h.core.pollEvent(), { type: 'session-closed', role: 'writer', name: 'a', reason: 'replaced' });
  assert.equal(h.core.snapshot().sessions.total, 1);
});

test('a session is ready only once its WELCOME goes: what it sends before is not taken', async () => {
  const h = new ServerHarness();
  await helloUnsettled(h, helloWriter('w'));
  const [retry] = drain(h.core).map((t) => t.packet);
  assert.equal(retry, undefined, 'no answer before the store does');
  // Its id is not known yet to its client; any id is tried here.
  for (let id = 1n; id <= 20n; id++) h.core.handleDatagram(data(id, 1, 'too early'), CLIENT, T0);
  await h.settle(T0);
  const out = drain(h.core).map((t) => t.packet.kind);
  assert.deepEqual(out.filter((k) => k !== 'unknown-session'), ['welcome']);
  assert.equal(out.length, 20, 'the session it has not welcomed yet is not answered at all');
  assert.equal(h.core.stats.messagesStored, 0);
});

test('a session ended while its start-up reads were in flight is never welcomed', async () => {
  for (const hello of [helloWriter('w'), helloReader('r'), { ...helloReader('m'), group: 'g' }]) {
    // Ended before its name is claimed, or after (while its position or sequence is read).
    for (const answeredFirst of [0, 1]) {
      const h = new ServerHarness();
      await helloUnsettled(h, hello);
      for (let i = 0; i < answeredFirst; i++) {
        const r = h.core.pollStoreRequest()!;
        h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), T0);
      }
      h.core.shutdown(T0 + 1);
      await h.settle(T0 + 1);
      assert.deepEqual(drain(h.core).map((t) => t.packet.kind), [], hello.name);
      assert.equal(h.core.pollEvent(), undefined, hello.name);
    }
  }
});

test('start-up reads that fail are reported, and the HELLO sent again opens the session: writer, reader, group member', async () => {
  for (const hello of [helloWriter('w'), helloReader('r'), { ...helloReader('m'), group: 'g' }]) {
    const h = new ServerHarness();
    h.storeDown = true;
    await helloUnsettled(h, hello);
    await h.settle(T0);
    assert.deepEqual(drain(h.core), []);
    const e = h.core.pollEvent();
    assert.ok(e?.type === 'store-error', `${hello.name}: ${e?.type}`);
    h.storeDown = false;
    const [w] = await h.handshake(hello, CLIENT, T0 + 300);
    assert.equal(w?.kind === 'welcome' && w.resume, 1, hello.name);
  }
});

test("a reader's PING without a position leaves its position alone; positions are saved only at the flush", async () => {
  const { h, rsid } = await threeLinesAndReader({ cursorFlushMs: 60_000 });
  await h.deliver(fetchFrom(rsid, 1, 1, 0), OTHER, T0 + 1);
  await h.deliver(fetchFrom(rsid, 2, 4, 500), OTHER, T0 + 2); // printed 1..3; a poll held 500 ms
  await h.deliver(encode({ kind: 'ping', sessionId: rsid }), OTHER, T0 + 3);
  h.core.handleTimeout(T0 + 502); // the poll's deadline: not the flush's
  await h.settle(T0 + 502);
  assert.equal(await h.store.cursor('r'), undefined, 'not before the flush');
  h.core.shutdown(T0 + 600);
  await h.settle(T0 + 600);
  assert.equal(await h.store.cursor('r'), 4);
});

test('told late that the log ends earlier than it knows (an old notice), a server does not move back its end', async () => {
  const h = new ServerHarness({ cursorFlushMs: 0 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  h.core.handleLogAdvanced(2, T0 + 1);
  await h.deliver(encode({ kind: 'bye', sessionId: (w as Welcome).sessionId, position: 4 }), OTHER, T0 + 2);
  assert.equal(await h.store.cursor('r'), 4);
});

test('every datagram handed out is counted once', async () => {
  const h = new ServerHarness();
  let handed = 0;
  const sid = await openWriter(h);
  handed += 2; // RETRY and WELCOME
  for (let seq = 1; seq <= 3; seq++) handed += (await h.deliver(data(sid, seq, `m${seq}`), CLIENT, T0 + seq)).length;
  for (let i = 0; i < 5; i++) assert.equal(h.core.pollTransmit(), undefined);
  assert.equal(h.core.stats.datagramsOut, handed);
});

test('a failed append is tried again a second later, not at the next sweep', async () => {
  const h = new ServerHarness();
  const sid = await openWriter(h); // the sweep runs once a second from T0
  h.storeDown = true;
  await h.deliver(data(sid, 1, 'a'), CLIENT, T0 + 400);
  h.storeDown = false;
  let now = T0 + 400;
  while (h.core.stats.messagesStored === 0 && now < T0 + 5_000) {
    now = h.core.nextDeadline()!;
    h.core.handleTimeout(now);
    await h.settle(now);
  }
  assert.equal(now, T0 + 1_400);
});

test('acknowledgements may wait behind the replies to readers that the same commit woke; nothing else waits', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  await h.deliver(fetchFrom((w as Welcome).sessionId, 1, 1, 5_000), OTHER, T0);
  const sid = await openWriter(h);
  h.core.handleDatagram(data(sid, 1, 'news'), CLIENT, T0 + 1);
  await h.settle(T0 + 1);
  const out: { kind: string; deferrable: boolean }[] = [];
  for (let t = h.core.pollTransmit(); t; t = h.core.pollTransmit()) {
    out.push({ kind: decode(t.data).kind, deferrable: t.deferrable === true });
  }
  // The sending side puts what may wait behind the rest (see UdpDriver).
  assert.deepEqual(out.sort((a, b) => a.kind.localeCompare(b.kind)), [
    { kind: 'ack', deferrable: true },
    { kind: 'batch', deferrable: false },
  ]);
});

test('a fetch repeated while held is answered with a PONG (alive, still holding); an observer fetches nothing', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  assert.deepEqual(await h.deliver(fetchFrom(rsid, 1, 1, 5_000), OTHER, T0), []);
  assert.deepEqual(await h.deliver(fetchFrom(rsid, 1, 1, 5_000), OTHER, T0 + 300), [{ kind: 'pong', sessionId: rsid }]);
  const [o] = await h.handshake({ ...helloReader('watch', 5), role: Role.Observer }, OTHER_HOST, T0);
  const osid = (o as Welcome).sessionId;
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'x'), CLIENT, T0 + 400);
  assert.deepEqual(await h.deliver(fetchFrom(osid, 1, 1, 0), OTHER_HOST, T0 + 500), []);
});

test("a group member's PING position is not a position of its own: the group keeps the place", async () => {
  const h = new ServerHarness({ cursorFlushMs: 0 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const member = { ...helloReader('m1'), group: 'jobs' };
  const [w] = await h.handshake(member, OTHER, T0);
  const sid = (w as Welcome).sessionId;
  await h.deliver(fetchFrom(sid, 1, 1, 0), OTHER, T0 + 1);
  await h.deliver(encode({ kind: 'ping', sessionId: sid, position: 3 }), OTHER, T0 + 2);
  h.core.handleTimeout(T0 + 3);
  await h.settle(T0 + 3);
  assert.equal(await h.store.cursor('m1'), undefined);
});

test('a BYE repeated while its position is not yet saved gets nothing; once saved, GOODBYE, for a session timeout', async () => {
  const h = new ServerHarness({ cursorFlushMs: 50 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const bye = encode({ kind: 'bye', sessionId: (w as Welcome).sessionId, position: 2 });
  h.storeDown = true;
  assert.deepEqual(await h.deliver(bye, OTHER, T0 + 1), [], 'the save failed: no GOODBYE');
  assert.deepEqual(await h.deliver(bye, OTHER, T0 + 2), [], 'nor to the BYE again');
  h.storeDown = false;
  const next = h.core.nextDeadline()!;
  h.core.handleTimeout(next);
  await h.settle(next);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), ['goodbye'], 'saved at the next flush: GOODBYE');
  // Answered again after a sweep or two, within the session timeout.
  for (let t = T0 + 100; t <= T0 + 3_000; t += 100) h.core.handleTimeout(t);
  assert.deepEqual((await h.deliver(bye, OTHER, T0 + 3_001)).map((p) => p.kind), ['goodbye']);
  assert.equal(await h.store.cursor('r'), 2);
});

test('the registry: a session opened is reported in its role; one that expired was last seen when it last spoke', async () => {
  const h = new ServerHarness({ sessionTimeoutMs: 3_000 });
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  assert.deepEqual(h.core.pollEvent(), { type: 'session-opened', role: 'reader', name: 'r', addr: OTHER });
  await h.deliver(encode({ kind: 'ping', sessionId: (w as Welcome).sessionId }), OTHER, T0 + 500);
  for (let t = T0 + 1_000; t <= T0 + 6_000; t += 1_000) h.core.handleTimeout(t);
  await h.settle(T0 + 6_000);
  assert.deepEqual(await h.store.clients(), [{ name: 'r', role: 'reader', online: false, lastSeen: T0 + 500, topic: 'main' }]);
});

test('a message rate of 0 is no limit', async () => {
  const h = new ServerHarness({ messagesPerSecond: 0 });
  const sid = await openWriter(h);
  const texts = Array.from({ length: 2_000 }, (_, i) => `m${i}`);
  const out = await h.deliver(data(sid, 1, ...texts), CLIENT, T0 + 1);
  assert.deepEqual(out.map((p) => p.kind), ['ack']);
  assert.equal(h.core.stats.throttled, 0);
  assert.equal(h.core.stats.messagesStored, 2_000);
});

test('over the rate: THROTTLE at most once per 100 ms, however many datagrams are dropped', async () => {
  const h = new ServerHarness({ messagesPerSecond: 10 });
  const sid = await openWriter(h);
  const kinds: string[] = [];
  for (let seq = 1; seq <= 30; seq++) {
    for (const p of await h.deliver(data(sid, seq, 'a', 'b', 'c', 'd', 'e'), CLIENT, T0 + 1 + seq * 10)) kinds.push(`${p.kind}@${seq * 10 + 1}`);
  }
  const throttles = kinds.filter((k) => k.startsWith('throttle'));
  assert.deepEqual(throttles, ['throttle@41', 'throttle@141', 'throttle@241'], 'the first drop, then 100 ms on');
});

test('DATA the writer could not have sent (far past its window) is counted as malformed and dropped', async () => {
  const h = new ServerHarness({ windowMax: 16 });
  const sid = await openWriter(h);
  assert.deepEqual(await h.deliver(data(sid, 1_000, 'far'), CLIENT, T0 + 1), []);
  assert.equal(h.core.stats.malformed, 1);
  assert.equal(h.core.stats.messagesStored, 0);
});

test('a backlog is shared out: each member of a group is leased its share of what waits', async () => {
  const h = new ServerHarness();
  const members: bigint[] = [];
  for (const [i, from] of [OTHER, OTHER_HOST].entries()) {
    const member = { ...helloReader(`m${i}`, 10 + i), group: 'jobs' };
    const [w] = await h.handshake(member, from, T0);
    members.push((w as Welcome).sessionId);
  }
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, ...Array.from({ length: 10 }, (_, i) => `job ${i + 1}`)), CLIENT, T0 + 1);
  const leased = async (sid: bigint, from: typeof OTHER, fetchId: number) =>
    (await h.deliver(fetchFrom(sid, fetchId, 1, 0), from, T0 + 2)).flatMap((p) => (p.kind === 'batch' ? p.messages.map((m) => m.id) : []));
  assert.deepEqual(await leased(members[0]!, OTHER, 1), [1, 2, 3, 4, 5]);
  assert.deepEqual(await leased(members[1]!, OTHER_HOST, 1), [6, 7, 8], 'half of the five still waiting, rounded up');
});

test("a member whose reply was lost asks again from where it stood: it gets its lease again, then the next once it moves past it", async () => {
  const h = new ServerHarness();
  const member = { ...helloReader('m', 10), group: 'jobs' };
  const [w] = await h.handshake(member, OTHER, T0);
  const sid = (w as Welcome).sessionId;
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0 + 1);
  const ids = (out: Packet[]) => out.flatMap((p) => (p.kind === 'batch' ? p.messages.map((m) => m.id) : []));
  assert.deepEqual(ids(await h.deliver(fetchFrom(sid, 1, 1, 0), OTHER, T0 + 2)), [1, 2, 3]);
  // Lost: the member has nothing and asks again with a new fetch, from where it stood.
  assert.deepEqual(ids(await h.deliver(fetchFrom(sid, 2, 1, 0), OTHER, T0 + 3)), [1, 2, 3], 'the same lease');
  await h.deliver(data(wsid, 2, 'd'), CLIENT, T0 + 4);
  assert.deepEqual(ids(await h.deliver(fetchFrom(sid, 3, 4, 0), OTHER, T0 + 5)), [4], 'past it: the next');
});

test('over the rate: a datagram again that was already taken is acknowledged, not charged; a message in parts counts once', async () => {
  const h = new ServerHarness({ messagesPerSecond: 4 });
  const sid = await openWriter(h);
  assert.deepEqual((await h.deliver(data(sid, 1, 'a', 'b', 'c'), CLIENT, T0 + 1)).map((p) => p.kind), ['ack']);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual((await h.deliver(data(sid, 1, 'a', 'b', 'c'), CLIENT, T0 + 2)).map((p) => p.kind), ['ack'], 'a repeat');
  }
  // One message in three parts, one per datagram: one of the tokens left, not three.
  const part = (seq: number, text: string, more: boolean, continued: boolean) =>
    encode({ kind: 'data', sessionId: sid, seq, entries: [{ more, continued, text: Buffer.from(text) }] });
  for (const [seq, text, more, continued] of [[2, 'long ', true, false], [3, 'message ', true, true], [4, 'in parts', false, true]] as const) {
    assert.deepEqual((await h.deliver(part(seq, text, more, continued), CLIENT, T0 + 3)).map((p) => p.kind), ['ack'], text);
  }
  assert.equal(h.core.stats.throttled, 0);
  assert.equal(h.core.stats.messagesStored, 4);
});

test("a writer's BYE carries no position: nothing is saved under its name", async () => {
  const h = new ServerHarness({ cursorFlushMs: 0 });
  const sid = await openWriter(h);
  await h.deliver(data(sid, 1, 'a', 'b'), CLIENT, T0 + 1);
  const out = await h.deliver(encode({ kind: 'bye', sessionId: sid, position: 3 }), CLIENT, T0 + 2);
  assert.deepEqual(out.map((p) => p.kind), ['goodbye']);
  h.core.handleTimeout(T0 + 100);
  await h.settle(T0 + 100);
  assert.equal(await h.store.cursor('w'), undefined);
});

test('a reader BYE with no position (it printed nothing) is answered at once, with nothing to save', async () => {
  const { h, rsid } = await threeLinesAndReader({ cursorFlushMs: 60_000 });
  h.core.handleDatagram(encode({ kind: 'bye', sessionId: rsid, position: 0 }), OTHER, T0 + 1);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), ['goodbye'], 'before any store work');
  const ops = [];
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) ops.push(r.req.op);
  assert.ok(!ops.includes('saveCursors'), ops.join());
});

test("a reader's newer fetch, arriving while the older one is read, is read and answered alone, one read at a time", async () => {
  const { h, rsid } = await threeLinesAndReader({});
  h.core.handleDatagram(fetchFrom(rsid, 1, 1, 0), OTHER, T0 + 1);
  h.core.handleDatagram(fetchFrom(rsid, 2, 2, 0), OTHER, T0 + 2);
  const first = nextRequest(h, 'read');
  assert.equal(h.core.pollStoreRequest(), undefined, 'one read at a time for a session');
  h.core.handleStoreResult(first.id, true, await runStoreRequest(h.stores, first.req), T0 + 3);
  await h.settle(T0 + 3);
  const out = drain(h.core).map((t) => t.packet);
  assert.deepEqual(out.map((p) => p.kind === 'batch' && [p.fetchId, p.messages.map((m) => m.text.toString())]), [[2, ['b', 'c']]]);
});

test('a reader gone while its fetch is read is sent nothing', async () => {
  const { h, rsid } = await threeLinesAndReader({});
  h.core.handleDatagram(fetchFrom(rsid, 1, 1, 0), OTHER, T0 + 1);
  const read = nextRequest(h, 'read');
  h.core.shutdown(T0 + 2);
  h.core.handleStoreResult(read.id, true, await runStoreRequest(h.stores, read.req), T0 + 2);
  await h.settle(T0 + 2);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), []);
});

test('lines committed while a poll was being read at the end: the poll reads again and is answered, not held', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  const wsid = await openWriter(h);
  h.core.handleDatagram(fetchFrom(rsid, 1, 1, 10_000), OTHER, T0 + 1);
  const read = nextRequest(h, 'read');
  const emptyLog = await runStoreRequest(h.stores, read.req); // the read saw the log before the lines went in
  h.core.handleDatagram(data(wsid, 1, 'news'), CLIENT, T0 + 2);
  const append = nextRequest(h, 'append');
  h.core.handleStoreResult(append.id, true, await runStoreRequest(h.stores, append.req), T0 + 3);
  h.core.handleStoreResult(read.id, true, emptyLog, T0 + 4);
  await h.settle(T0 + 4);
  const batch = drain(h.core).find((t) => t.packet.kind === 'batch')?.packet;
  assert.deepEqual(batch?.kind === 'batch' && batch.messages.map((m) => m.text.toString()), ['news']);
});

test('a writer whose lines another server stored meanwhile (it moved and this session is stale) is ended, to sign on again', async () => {
  const store = new MemoryStore();
  let ids = 1_000n;
  const a = new ServerHarness({}, store);
  const b = new ServerHarness({ randomId: () => ids++ }, store);
  const onA = await openWriter(a);
  await a.deliver(data(onA, 1, 'one'), CLIENT, T0);
  // The writer moved to b (a took too long to answer), and b stored its next line.
  const [w] = await b.handshake(helloWriter('w', 2, 9n, 2), OTHER, T0 + 10);
  assert.equal(w?.kind === 'welcome' && w.resume, 2);
  await b.deliver(data((w as Welcome).sessionId, 2, 'two'), OTHER, T0 + 11);
  for (let e = a.core.pollEvent(); e; e = a.core.pollEvent());
  // Its old datagram reaches a late: a's view of the writer is stale.
  assert.deepEqual(await a.deliver(data(onA, 2, 'two'), CLIENT, T0 + 12), [], 'not acknowledged by a');
  assert.deepEqual(a.core.pollEvent(), { type: 'session-closed', role: 'writer', name: 'w', reason: 'superseded' });
  assert.equal(a.core.snapshot().sessions.total, 0);
  assert.deepEqual((await store.read(1, { maxMessages: 10, maxBytes: 1_000, user: 'x' })).messages.map((m) => m.text.toString()), ['one', 'two']);
});

test('a writer gone while its lines were being committed: they are stored, and nothing is sent to the session that is gone', async () => {
  const h = new ServerHarness();
  const sid = await openWriter(h);
  h.core.handleDatagram(data(sid, 1, 'last'), CLIENT, T0 + 1);
  const append = nextRequest(h, 'append');
  h.core.shutdown(T0 + 2);
  h.core.handleStoreResult(append.id, true, await runStoreRequest(h.stores, append.req), T0 + 2);
  await h.settle(T0 + 2);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), []);
  assert.equal(h.core.stats.messagesStored, 1);
});

test('a reader behind what the log still keeps, with nothing there for it, is told at once how many it missed: its poll is not held', async () => {
  const h = new ServerHarness({}, new MemoryStore({ messages: 2, bytes: 0, ageMs: 0 }));
  const toOthers = (text: string) => ({ ts: T0, from: 'w', to: 'someone-else', text: Buffer.from(text) });
  await h.store.append([{ producerId: 1n, lastSeq: 1, messages: ['a', 'b', 'c', 'd'].map(toOthers) }]);
  h.core.handleLogAdvanced(5, T0);
  const [w] = await h.handshake(helloReader('r', 2, FromKind.Id, 1), OTHER, T0);
  const out = await h.deliver(fetchFrom((w as Welcome).sessionId, 1, 1, 10_000), OTHER, T0 + 1);
  const b = out.find((p) => p.kind === 'batch');
  assert.ok(b?.kind === 'batch', 'answered at once');
  assert.deepEqual([b.missed, b.messages.length], [2, 0]);
});

test('a writer gone while its append failed is not told to wait, and its lines are not kept for it', async () => {
  const h = new ServerHarness();
  const sid = await openWriter(h);
  h.core.handleDatagram(data(sid, 1, 'lost with the session'), CLIENT, T0 + 1);
  const append = nextRequest(h, 'append');
  h.core.shutdown(T0 + 2);
  h.core.handleStoreResult(append.id, false, new Error('store unreachable'), T0 + 2);
  await h.settle(T0 + 2);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), [], 'no STALLED to a session that is gone');
  for (let t = T0 + 100; t <= T0 + 5_000; t += 100) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  assert.equal(h.core.stats.messagesStored, 0);
  assert.equal(h.core.pendingStoreWork, 0);
});

test('a reply never takes more datagrams than the fetch asked for, even when senders\' names make it longer than read', async () => {
  const h = new ServerHarness({ datagramBytes: 1_200, loopbackDatagramBytes: 1_200 });
  const names = ['a'.repeat(30), 'b'.repeat(30)];
  await h.store.append([{ producerId: 1n, lastSeq: 1, messages: Array.from({ length: 100 }, (_, i) => ({ ts: T0, from: names[i % 2]!, text: Buffer.alloc(20, 120) })) }]);
  h.core.handleLogAdvanced(101, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  for (const maxDatagrams of [1, 2]) {
    const out = await h.deliver(encode({ kind: 'fetch', sessionId: rsid, fetchId: maxDatagrams, position: 1, offset: 0, waitMs: 0, maxDatagrams }), OTHER, T0 + maxDatagrams);
    const parts = out.filter((p) => p.kind === 'batch');
    assert.ok(parts.length >= 1 && parts.length <= maxDatagrams, `${parts.length} datagrams for ${maxDatagrams}`);
    assert.ok(parts.at(-1)?.kind === 'batch' && !parts.at(-1)!.caughtUp, 'more waits');
  }
});

test('a reader that signs on to a restarted server at the end of the log and leaves at once keeps that place', async () => {
  const store = new MemoryStore();
  const before = new ServerHarness({}, store);
  const wsid = await openWriter(before);
  await before.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const after = new ServerHarness({}, store); // knows the log's end only from what the store tells it
  const [w] = await after.handshake(helloReader('r', 2, FromKind.Latest), OTHER, T0 + 1);
  assert.equal((w as Welcome).resume, 4);
  const out = await after.deliver(encode({ kind: 'bye', sessionId: (w as Welcome).sessionId, position: 4 }), OTHER, T0 + 2);
  assert.deepEqual(out.map((p) => p.kind), ['goodbye']);
  assert.equal(await store.cursor('r'), 4);
});

test('at shutdown each client is saved as last seen then: it was online until the server stopped', async () => {
  const h = new ServerHarness();
  await openWriter(h);
  await h.handshake(helloReader('r'), OTHER, T0 + 10);
  h.core.shutdown(T0 + 5_000);
  await h.settle(T0 + 5_000);
  const seen = (await h.store.clients()).map((c) => [c.name, c.online, c.lastSeen]);
  assert.deepEqual(seen, [['w', false, T0 + 5_000], ['r', false, T0 + 5_000]]);
});
