import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { READER_DEFAULTS, ReaderCore, type ReaderEvent } from '../../src/core/reader/reader-core.js';
import { FromKind, MESSAGE_BYTES_MAX, Role } from '../../src/protocol/constants.js';
import { encode } from '../../src/protocol/codec.js';
import type { Batch, Fetch, HelloReader, PresenceEntry, WireMessage, Who } from '../../src/protocol/packets.js';
import { drain, SERVER, T0 } from './helpers.js';
import { MessageBudget } from '../../src/core/reader/message-budget.js';

const newReader = (over: Partial<Omit<typeof READER_DEFAULTS, 'count'>> & { group?: string; count?: number | MessageBudget } = {}) =>
  new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, ...over }, T0);

const welcome = (r: ReaderCore, now: number, position = 1) =>
  r.handleDatagram(
    encode({ kind: 'welcome', nonce: 1, sessionId: 9n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: position, missed: 0 }),
    SERVER,
    now,
  );

const msg = (id: number, text = `m${id}`): WireMessage => ({ id, ts: T0, from: 'w', text: Buffer.from(text) });

const batch = (fetchId: number, part: number, messages: WireMessage[], over: Partial<Batch> = {}): Buffer =>
  encode({
    kind: 'batch',
    sessionId: 9n,
    fetchId,
    part,
    lastPart: true,
    caughtUp: true,
    position: messages[0]?.id ?? 1,
    offset: 0,
    nextPosition: (messages[messages.length - 1]?.id ?? 0) + 1,
    nextOffset: 0,
    missed: 0,
    messages,
    ...over,
  });

const delivered = (r: ReaderCore): number[] => {
  const ids: number[] = [];
  for (let e: ReaderEvent | undefined = r.pollEvent(); e; e = r.pollEvent()) {
    if (e.type === 'messages') ids.push(...e.messages.map((m) => m.id));
  }
  return ids;
};

const allEvents = (r: ReaderCore): ReaderEvent[] => {
  const out: ReaderEvent[] = [];
  for (let e = r.pollEvent(); e; e = r.pollEvent()) out.push(e);
  return out;
};

const lastFetch = (r: ReaderCore): Fetch => drain(r).map((t) => t.packet).filter((p) => p.kind === 'fetch').pop() as Fetch;

test('long polls from its position and delivers in order', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0, 5);
  const f = lastFetch(r);
  assert.equal(f.position, 5);
  assert.equal(f.waitMs, READER_DEFAULTS.holdMs);
  r.handleDatagram(batch(f.fetchId, 0, [msg(5), msg(6)]), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [5, 6]);
  assert.equal(lastFetch(r).position, 7);
});

test('parts are taken in order; a missing part is fetched again from where the reader is', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 1, [msg(3)], { lastPart: true }), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [], 'part 1 waits for part 0');
  r.handleDatagram(batch(f.fetchId, 0, [msg(1), msg(2)], { lastPart: false, caughtUp: false }), SERVER, T0 + 2);
  assert.deepEqual(delivered(r), [1, 2, 3]);
  const g = lastFetch(r);
  r.handleDatagram(batch(g.fetchId, 0, [msg(4)], { lastPart: false, caughtUp: false }), SERVER, T0 + 3);
  assert.deepEqual(delivered(r), [4], 'with --delay 0 a part is printed as it arrives, before the reply is whole');
  r.handleTimeout(r.nextDeadline()!);
  const gap = lastFetch(r);
  assert.equal(gap.position, 5, 'part 1 never came: ask again after message 4');
  r.handleDatagram(batch(gap.fetchId, 0, [msg(5)]), SERVER, T0 + 300);
  assert.deepEqual(delivered(r), [5]);
});

test('a reply to an old fetch and a repeated part are ignored', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(1)]), SERVER, T0 + 1);
  r.handleDatagram(batch(f.fetchId, 0, [msg(1)]), SERVER, T0 + 2);
  assert.deepEqual(delivered(r), [1]);
});

test('with a delay, a poll prints what is there; what comes before the next poll waits for it', () => {
  const r = newReader({ delayMs: 3000 });
  drain(r);
  welcome(r, T0);
  let f = lastFetch(r);
  assert.equal(f.waitMs, 0);
  r.handleDatagram(batch(f.fetchId, 0, [msg(1)], { caughtUp: false }), SERVER, T0 + 1);
  // Printed before the fetch for the rest goes out: that fetch confirms position 2 to the server.
  assert.deepEqual(delivered(r), [1]);
  f = lastFetch(r);
  assert.deepEqual([f.position, f.waitMs], [2, 0]);
  r.handleDatagram(batch(f.fetchId, 0, [msg(2)]), SERVER, T0 + 2);
  assert.deepEqual(delivered(r), [2]);
  // Caught up: the next fetch confirms what was printed at once, and the server holds it until the next poll.
  f = lastFetch(r);
  assert.deepEqual([f.position, f.waitMs], [3, 3000]);
  r.handleDatagram(batch(f.fetchId, 0, [msg(3), msg(4)]), SERVER, T0 + 100);
  assert.deepEqual(delivered(r), [], 'what came early waits for the poll');
  assert.equal(lastFetch(r), undefined, 'and is not confirmed before it is printed');
  assert.equal(r.nextDeadline(), T0 + 2 + 3000);
  r.handleTimeout(T0 + 2 + 3000);
  assert.deepEqual(delivered(r), [3, 4]);
  f = lastFetch(r);
  assert.deepEqual([f.position, f.waitMs], [5, 3000]);
});

test('--count stops after N and tells the server the position after the last one printed', () => {
  const r = newReader({ count: 2 });
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(1), msg(2), msg(3)]), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [1, 2]);
  const bye = drain(r).map((t) => t.packet).find((p) => p.kind === 'bye');
  assert.equal(bye?.kind === 'bye' && bye.position, 3);
});

test('--count shared by two sessions (several topics): each message either takes counts; once spent, the other takes nothing and stays where it was', () => {
  let spent = 0;
  const budget = new MessageBudget(3, () => spent++);
  const a = newReader({ count: budget });
  const b = newReader({ count: budget });
  for (const r of [a, b]) {
    drain(r);
    welcome(r, T0);
  }
  a.handleDatagram(batch(lastFetch(a).fetchId, 0, [msg(1), msg(2)]), SERVER, T0 + 1);
  assert.deepEqual(delivered(a), [1, 2]);
  assert.equal(spent, 0);
  b.handleDatagram(batch(lastFetch(b).fetchId, 0, [msg(1), msg(2)]), SERVER, T0 + 2);
  assert.deepEqual(delivered(b), [1], 'one left for b');
  assert.equal(spent, 1);
  const byeB = drain(b).map((t) => t.packet).find((p) => p.kind === 'bye');
  assert.equal(byeB?.kind === 'bye' && byeB.position, 2);
  // a's next reply comes after the budget is spent: nothing of it is taken, and its place stays.
  a.handleDatagram(batch(lastFetch(a).fetchId, 0, [msg(3)], { position: 3 }), SERVER, T0 + 3);
  assert.deepEqual(delivered(a), []);
  const byeA = drain(a).map((t) => t.packet).find((p) => p.kind === 'bye');
  assert.equal(byeA?.kind === 'bye' && byeA.position, 3);
});

test('a message in fragments is put together before it is delivered', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0);
  let f = lastFetch(r);
  const frag = (id: number, offset: number, text: string, to?: string): WireMessage => ({ ...msg(id, text), ...(to && { to }), fragment: { total: 6, offset } });
  r.handleDatagram(batch(f.fetchId, 0, [frag(1, 0, 'abc', 'r')], { nextPosition: 1, nextOffset: 3, caughtUp: false }), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), []);
  f = lastFetch(r);
  assert.deepEqual([f.position, f.offset], [1, 3]);
  r.handleDatagram(batch(f.fetchId, 0, [frag(1, 3, 'def', 'r'), frag(2, 0, 'ghi')], { offset: 3, nextPosition: 2, nextOffset: 3, caughtUp: false }), SERVER, T0 + 2);
  f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [frag(2, 3, 'jkl')], { position: 2, offset: 3, nextPosition: 3 }), SERVER, T0 + 3);
  const got = allEvents(r).flatMap((e) => (e.type === 'messages' ? e.messages : []));
  assert.deepEqual(got, [
    { id: 1, ts: T0, from: 'w', to: 'r', text: Buffer.from('abcdef') },
    { id: 2, ts: T0, from: 'w', text: Buffer.from('ghijkl') },
  ]);
});

test('parts that arrive ahead of a lost one are kept and taken once the gap is filled', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 1, [msg(3), msg(4)], { lastPart: false, caughtUp: false }), SERVER, T0 + 1);
  r.handleDatagram(batch(f.fetchId, 2, [msg(5)]), SERVER, T0 + 2);
  assert.deepEqual(delivered(r), []);
  r.handleTimeout(r.nextDeadline()!);
  const gap = lastFetch(r);
  assert.equal(gap.position, 1, 'asks again from the gap');
  r.handleDatagram(batch(gap.fetchId, 0, [msg(1), msg(2)]), SERVER, T0 + 30);
  assert.deepEqual(delivered(r), [1, 2, 3, 4, 5]);
  assert.equal(lastFetch(r).position, 6);
});

test('a fragment claiming more than any server may hold is not reassembled', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  const huge: WireMessage = { ...msg(1, 'abc'), fragment: { total: 2 ** 40, offset: 0 } };
  r.handleDatagram(batch(f.fetchId, 0, [huge], { nextPosition: 1, nextOffset: 3, caughtUp: false }), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), []);
  assert.equal(lastFetch(r).offset, 0, 'nothing was kept of it');
});

test('with a delay, a large backlog is printed reply by reply, each before the fetch that confirms it', () => {
  const r = newReader({ delayMs: 60_000 });
  drain(r);
  welcome(r, T0);
  let id = 1;
  const pieces: number[] = [];
  for (let k = 0; k < 3; k++) {
    const f = lastFetch(r);
    assert.equal(f.position, id, 'the fetch confirms exactly what was printed');
    const msgs = Array.from({ length: 4000 }, () => msg(id++, 'x'));
    r.handleDatagram(batch(f.fetchId, 0, msgs, { caughtUp: false }), SERVER, T0 + 1 + k);
    for (let e = r.pollEvent(); e; e = r.pollEvent()) if (e.type === 'messages') pieces.push(e.messages.length);
  }
  assert.deepEqual(pieces, [4000, 4000, 4000]);
});

test('a held poll answered with pongs is a live server; silence moves the reader to the next server, at its own position', () => {
  const b = { address: '127.0.0.1', port: SERVER.port + 1 };
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER, b], nonce: 1 }, T0);
  drain(r);
  welcome(r, T0, 5);
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(5), msg(6)]), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [5, 6]);
  // The next poll is held; the reader asks again now and then, and the server says it is there.
  let t = T0 + 1;
  for (; t < T0 + 6_000; t += 100) {
    r.handleTimeout(t);
    for (const sent of drain(r)) {
      assert.equal(sent.to, SERVER);
      if (sent.packet.kind === 'fetch') r.handleDatagram(encode({ kind: 'pong', sessionId: 9n }), SERVER, t);
    }
  }
  assert.ok(!r.pollEvent(), 'nothing to report while the server answers');
  // Now nothing comes back.
  let hello;
  for (; t < T0 + 12_000 && !hello; t += 100) {
    r.handleTimeout(t);
    hello = drain(r).find((s) => s.packet.kind === 'hello');
  }
  assert.ok(hello, 'registers elsewhere');
  assert.equal(hello.to, b);
  const h = hello.packet as HelloReader;
  assert.deepEqual([h.fromKind, h.fromId], [FromKind.Id, 7]);
  const failover = [];
  for (let e = r.pollEvent(); e; e = r.pollEvent()) if (e.type === 'failover') failover.push(e);
  assert.deepEqual(failover, [{ type: 'failover', from: SERVER, to: b }]);
  // Registered there: no news of a server coming back (the next server was never away).
  r.handleDatagram(
    encode({ kind: 'welcome', nonce: h.nonce, sessionId: 10n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 7, missed: 0 }),
    b,
    t,
  );
  const after = [];
  for (let e = r.pollEvent(); e; e = r.pollEvent()) after.push(e.type);
  assert.deepEqual(after, ['registered']);
});

test("answers the server's PING (is this client still running?) with a PONG, and owes nothing for it", () => {
  const r = newReader({ delayMs: 5_000 });
  drain(r);
  welcome(r, T0);
  drain(r);
  r.handleDatagram(encode({ kind: 'ping', sessionId: 9n }), SERVER, T0 + 10);
  assert.deepEqual(drain(r).map((t) => t.packet), [{ kind: 'pong', sessionId: 9n }]);
});

test('closing: GOODBYE ends it; a server that lost the session hears HELLO at the reader\u2019s position, then BYE again', () => {
  const events = allEvents;
  const clean = newReader();
  welcome(clean, T0, 5);
  drain(clean);
  clean.close(T0 + 10);
  assert.ok(drain(clean).some((t) => t.packet.kind === 'bye'));
  events(clean);
  clean.handleDatagram(encode({ kind: 'goodbye', sessionId: 9n }), SERVER, T0 + 20);
  assert.deepEqual(events(clean), [{ type: 'closed' }]);
  assert.equal(clean.closed, true);

  // A reader at 8 (it printed 5..7) closes; the server restarted meanwhile and no longer knows it.
  const signedOnAgain = (): ReaderCore => {
    const r = newReader();
    welcome(r, T0, 5);
    const f = lastFetch(r);
    r.handleDatagram(batch(f.fetchId, 0, [msg(5), msg(6), msg(7)]), SERVER, T0 + 1);
    drain(r);
    r.close(T0 + 10);
    const bye = drain(r).map((t) => t.packet).find((p) => p.kind === 'bye');
    assert.equal(bye?.kind === 'bye' && bye.position, 8);
    events(r);
    r.handleDatagram(encode({ kind: 'unknown-session', sessionId: 9n }), SERVER, T0 + 20);
    const hello = drain(r).map((t) => t.packet).find((p) => p.kind === 'hello') as HelloReader | undefined;
    assert.ok(hello, 'signs on again');
    assert.deepEqual([hello.fromKind, hello.fromId], [FromKind.Id, 8]);
    assert.equal(r.closed, false);
    r.handleDatagram(
      encode({ kind: 'welcome', nonce: hello.nonce, sessionId: 10n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 8, missed: 0 }),
      SERVER,
      T0 + 30,
    );
    const again = drain(r).map((t) => t.packet);
    assert.deepEqual(again.map((p) => p.kind), ['bye'], 'only to say goodbye: nothing fetched');
    assert.deepEqual(again[0], { kind: 'bye', sessionId: 10n, position: 8 });
    return r;
  };
  const r = signedOnAgain();
  r.handleDatagram(encode({ kind: 'goodbye', sessionId: 10n }), SERVER, T0 + 40);
  assert.deepEqual(events(r).filter((e) => e.type === 'closed'), [{ type: 'closed' }]);
  // Lost again (a second restart): no third sign-on.
  const twice = signedOnAgain();
  twice.handleDatagram(encode({ kind: 'unknown-session', sessionId: 10n }), SERVER, T0 + 40);
  assert.deepEqual(events(twice).filter((e) => e.type === 'closed'), [{ type: 'closed', sessionLost: true }]);

  // A second loss in a row, or a group member: it stops, saying the position may not be kept.
  const member = newReader({ group: 'g' });
  welcome(member, T0, 5);
  drain(member);
  member.close(T0 + 10);
  drain(member);
  events(member);
  member.handleDatagram(encode({ kind: 'unknown-session', sessionId: 9n }), SERVER, T0 + 20);
  assert.deepEqual(events(member), [{ type: 'closed', sessionLost: true }]);
});

const presence = (requestId: number, version: number, entries: PresenceEntry[], full: boolean): Buffer =>
  encode({ kind: 'presence', sessionId: 9n, requestId, version, full, more: false, nextOffset: 0, entries });
const online = (name: string, on = true): PresenceEntry => ({ name, role: 'reader', online: on, lastSeen: T0, topic: 'main' });

test('--who: signs on as an observer, asks who is there, hands over the registry and says goodbye; reads no message', () => {
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'who' }, T0);
  const hello = drain(r)[0]!.packet as HelloReader;
  assert.equal(hello.role, Role.Observer);
  welcome(r, T0);
  const who = drain(r).map((t) => t.packet);
  assert.deepEqual(who.map((p) => p.kind), ['who']);
  const ask = who[0] as Who;
  r.handleDatagram(presence(ask.requestId + 1, 1, [online('bob')], true), SERVER, T0 + 1);
  assert.deepEqual(allEvents(r).map((e) => e.type), ['registered'], 'an answer to another request');
  r.handleDatagram(presence(ask.requestId, 1, [online('bob'), online('r')], true), SERVER, T0 + 2);
  assert.deepEqual(allEvents(r), [{ type: 'registry', entries: [online('bob'), online('r')] }]);
  assert.deepEqual(drain(r).map((t) => t.packet.kind), ['bye']);
  r.handleDatagram(encode({ kind: 'goodbye', sessionId: 9n }), SERVER, T0 + 3);
  assert.deepEqual(allEvents(r), [{ type: 'closed' }]);

  // Its server restarted before the goodbye: an observer has no position to save, so it just stops.
  const lost = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'who' }, T0);
  welcome(lost, T0);
  const q = drain(lost)[1]!.packet as Who;
  lost.handleDatagram(presence(q.requestId, 1, [online('bob')], true), SERVER, T0 + 1);
  drain(lost);
  allEvents(lost);
  lost.handleDatagram(encode({ kind: 'unknown-session', sessionId: 9n }), SERVER, T0 + 2);
  assert.deepEqual(drain(lost), [], 'no HELLO again');
  assert.deepEqual(allEvents(lost), [{ type: 'closed', sessionLost: true }]);
});

test('watching who is online: the registry first, then who comes and goes, never the reader itself', () => {
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'watch', presencePollMs: 1_000 }, T0);
  drain(r);
  welcome(r, T0);
  const first = drain(r).map((t) => t.packet);
  assert.deepEqual(first.map((p) => p.kind).sort(), ['fetch', 'who'], 'it reads messages too');
  const ask = first.find((p) => p.kind === 'who') as Who;
  r.handleDatagram(presence(ask.requestId, 1, [online('bob'), online('r')], true), SERVER, T0 + 1);
  assert.deepEqual(allEvents(r).slice(1), [{ type: 'registry', entries: [online('bob'), online('r')] }]);
  r.handleTimeout(T0 + 500);
  assert.ok(!drain(r).some((t) => t.packet.kind === 'who'), 'not asked again before a second');
  assert.ok(r.nextDeadline()! <= T0 + 1_001, 'a deadline for asking again');
  r.handleTimeout(T0 + 1_001);
  const next = drain(r).map((t) => t.packet).find((p) => p.kind === 'who') as Who;
  assert.equal(next.since, 1, 'changes since the version it has');
  r.handleDatagram(presence(next.requestId, 3, [online('carol'), online('r', false), online('bob', false)], false), SERVER, T0 + 1_002);
  assert.deepEqual(allEvents(r), [{ type: 'presence', changes: [online('carol'), online('bob', false)] }]);
  r.handleDatagram(presence(next.requestId, 3, [online('dave')], false), SERVER, T0 + 1_003);
  assert.deepEqual(allEvents(r), [], 'a repeat of an answered request');
});

test('--timeout: a server that never answers is given up, before or after registering', () => {
  const never = newReader({ timeoutMs: 3_000 } as Partial<typeof READER_DEFAULTS>);
  let now = T0;
  while (!never.closed) {
    now = never.nextDeadline()!;
    never.handleTimeout(now);
  }
  assert.equal(now, T0 + 3_000);
  assert.deepEqual(allEvents(never), [{ type: 'server-lost' }, { type: 'failed', registered: false }]);

  const later = newReader({ timeoutMs: 3_000 } as Partial<typeof READER_DEFAULTS>);
  welcome(later, T0, 5);
  const f = lastFetch(later);
  later.handleDatagram(batch(f.fetchId, 0, [msg(5), msg(6)], { lastPart: false, caughtUp: false }), SERVER, T0 + 1);
  assert.deepEqual(delivered(later), [5, 6]);
  now = T0 + 1;
  while (!later.closed) {
    now = later.nextDeadline()!;
    later.handleTimeout(now);
  }
  assert.ok(now >= T0 + 3_000 && now <= T0 + 3_001, `gave up at +${now - T0} ms`);
  const ev = allEvents(later);
  assert.deepEqual(ev, [{ type: 'server-lost' }, { type: 'failed', registered: true }]);
});

test('paused (its output is full): the next fetch waits until it is resumed, and then asks from where it stands', () => {
  const r = newReader();
  welcome(r, T0, 5);
  const f = lastFetch(r);
  r.setPaused(true, T0 + 1);
  r.handleDatagram(batch(f.fetchId, 0, [msg(5), msg(6)]), SERVER, T0 + 2);
  assert.deepEqual(delivered(r), [5, 6]);
  assert.deepEqual(drain(r), [], 'no fetch while paused');
  r.handleTimeout(T0 + 5_010);
  assert.deepEqual(drain(r).map((t) => t.packet.kind), ['ping'], 'only a heartbeat');
  r.setPaused(false, T0 + 5_011);
  assert.equal(lastFetch(r).position, 7);
});

test('when printing is awaited: the position goes to the server only once printed, in pieces for a long reply', () => {
  const r = newReader({ awaitPrinted: true } as Partial<typeof READER_DEFAULTS>);
  welcome(r, T0, 1);
  const f = lastFetch(r);
  const many = Array.from({ length: 2_500 }, (_, i) => msg(i + 1, 'x'));
  r.handleDatagram(batch(f.fetchId, 0, many), SERVER, T0 + 1);
  const ev = allEvents(r).filter((e) => e.type === 'messages');
  assert.deepEqual(ev.map((e) => e.type === 'messages' && e.upTo), [2_501]);
  assert.deepEqual(drain(r), [], 'nothing confirmed before it is printed');
  r.printed(1_000, T0 + 2);
  assert.deepEqual(drain(r), [], 'less than a thousand printed: not yet');
  r.printed(1_001, T0 + 3);
  assert.deepEqual(drain(r).map((t) => t.packet), [{ kind: 'ping', sessionId: 9n, position: 1_001 }], 'a thousand');
  r.printed(2_000, T0 + 4);
  assert.deepEqual(drain(r), []);
  r.printed(2_501, T0 + 5);
  const sent = drain(r).map((t) => t.packet);
  assert.deepEqual(sent.map((p) => p.kind), ['fetch'], 'all printed: the next fetch, which confirms it, and no PING besides');
  const next = sent[0] as Fetch;
  assert.equal(next.position, 2_501);
  r.handleDatagram(batch(next.fetchId, 0, Array.from({ length: 100 }, (_, i) => msg(2_501 + i, 'x'))), SERVER, T0 + 6);
  allEvents(r);
  r.printed(2_601, T0 + 7);
  assert.deepEqual(drain(r).map((t) => t.packet.kind), ['fetch'], 'counted from what the fetch confirmed: no PING');

  // A queue group's position is the group's: a member confirms by its fetches only.
  const member = newReader({ awaitPrinted: true, group: 'g' } as Partial<typeof READER_DEFAULTS>);
  welcome(member, T0, 1);
  member.handleDatagram(batch(lastFetch(member).fetchId, 0, many), SERVER, T0 + 1);
  member.printed(2_000, T0 + 2);
  assert.deepEqual(drain(member), []);
});

test('closing while messages are still being printed: BYE waits for them, at most 2 s; output gone, it goes at once with what was printed', () => {
  const closing = (): ReaderCore => {
    const r = newReader({ awaitPrinted: true } as Partial<typeof READER_DEFAULTS>);
    welcome(r, T0, 5);
    const f = lastFetch(r);
    r.handleDatagram(batch(f.fetchId, 0, [msg(5), msg(6), msg(7)]), SERVER, T0 + 1);
    drain(r);
    r.printed(6, T0 + 2);
    r.close(T0 + 10);
    assert.deepEqual(drain(r), [], 'BYE waits for the printing');
    return r;
  };
  const printedAll = closing();
  printedAll.printed(8, T0 + 20);
  assert.deepEqual(drain(printedAll).map((t) => t.packet), [{ kind: 'bye', sessionId: 9n, position: 8 }]);

  const stuck = closing();
  assert.equal(stuck.nextDeadline(), T0 + 2_010);
  stuck.handleTimeout(T0 + 1_000);
  assert.deepEqual(drain(stuck), [], 'not before the 2 s');
  stuck.handleTimeout(T0 + 2_010);
  assert.deepEqual(drain(stuck).map((t) => t.packet), [{ kind: 'bye', sessionId: 9n, position: 6 }], 'what was printed');

  const gone = closing();
  gone.close(T0 + 11, true);
  assert.deepEqual(drain(gone).map((t) => t.packet), [{ kind: 'bye', sessionId: 9n, position: 6 }]);
});

test('messages the log no longer kept are reported as missed, at sign-on and in a reply', () => {
  const r = newReader();
  r.handleDatagram(
    encode({ kind: 'welcome', nonce: 1, sessionId: 9n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 10, missed: 9 }),
    SERVER,
    T0,
  );
  assert.deepEqual(allEvents(r), [{ type: 'registered', again: false, position: 10, missed: 9 }]);
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(15)], { position: 10, missed: 5 }), SERVER, T0 + 1);
  const ev = allEvents(r);
  assert.deepEqual(ev[0], { type: 'missed', count: 5 });
  assert.deepEqual(ev.slice(1).map((e) => (e.type === 'messages' ? e.messages.map((m) => m.id) : e.type)), [[15], 'caught-up']);
});

test('a fragment that does not continue the message being put together (another message, offset or size) drops it; the message is asked for whole', () => {
  for (const wrong of [
    { id: 2, offset: 3, total: 6 },
    { id: 1, offset: 2, total: 6 },
    { id: 1, offset: 3, total: 7 },
  ]) {
    const r = newReader();
    welcome(r, T0);
    let f = lastFetch(r);
    r.handleDatagram(batch(f.fetchId, 0, [{ ...msg(1, 'abc'), fragment: { total: 6, offset: 0 } }], { nextPosition: 1, nextOffset: 3, caughtUp: false }), SERVER, T0 + 1);
    f = lastFetch(r);
    assert.deepEqual([f.position, f.offset], [1, 3]);
    const bad: WireMessage = { ...msg(wrong.id, 'def'), fragment: { total: wrong.total, offset: wrong.offset } };
    r.handleDatagram(batch(f.fetchId, 0, [bad], { position: 1, offset: 3, nextPosition: 1, nextOffset: 6, caughtUp: false }), SERVER, T0 + 2);
    assert.deepEqual(delivered(r), [], inspect(wrong));
    f = lastFetch(r);
    assert.deepEqual([f.position, f.offset], [1, 0], `asked whole again: ${inspect(wrong)}`);
  }
});

test('a long reply is handed on in packages of at most 10,000 messages or 4 MiB, never one message split', () => {
  const sizes = (parts: WireMessage[][]): number[] => {
    const r = newReader({ once: true });
    drain(r);
    welcome(r, T0);
    const f = lastFetch(r);
    parts.forEach((messages, part) =>
      r.handleDatagram(batch(f.fetchId, part, messages, { lastPart: part === parts.length - 1, caughtUp: true }), SERVER, T0 + 1),
    );
    const out: number[] = [];
    for (let e = r.pollEvent(); e; e = r.pollEvent()) if (e.type === 'messages') out.push(e.messages.length);
    return out;
  };
  let id = 1;
  const many = Array.from({ length: 21 }, () => Array.from({ length: 500 }, () => msg(id++, 'x')));
  assert.deepEqual(sizes(many), [10_000, 500], '10,500 short messages');
  id = 1;
  const big = Array.from({ length: 130 }, () => [msg(id++, 'y'.repeat(32 * 1024))]);
  assert.deepEqual(sizes(big), [128, 2], '130 of 32 KiB: 4 MiB is reached at the 128th');
  id = 1;
  assert.deepEqual(sizes([Array.from({ length: 3 }, () => msg(id++))]), [3], 'a short reply: one package');
});

test('with a delay longer than the heartbeat, what came early waits for the poll while the reader PINGs meanwhile', () => {
  const r = newReader({ delayMs: 20_000, heartbeatMs: 5_000 });
  drain(r);
  welcome(r, T0);
  let f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(1)]), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [1]);
  f = lastFetch(r);
  assert.equal(f.waitMs, 20_000);
  r.handleDatagram(batch(f.fetchId, 0, [msg(2)]), SERVER, T0 + 100); // early: before the next poll
  const sent: string[] = [];
  let now = T0 + 100;
  while (now < T0 + 1 + 20_000) {
    now = r.nextDeadline()!;
    r.handleTimeout(now);
    for (const t of drain(r)) sent.push(`${t.packet.kind}@${now - T0}`);
    const got = delivered(r);
    if (got.length > 0) {
      assert.deepEqual(got, [2]);
      break;
    }
  }
  assert.equal(now, T0 + 1 + 20_000, 'printed at the poll, not before');
  assert.deepEqual(sent, ['ping@5001', 'ping@10001', 'ping@15001', 'fetch@20001']);
});

test('parts beyond a second gap are kept while the first is filled, and taken when the second is', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  // Parts 0 and 2 are lost; 1 and 3 arrive.
  r.handleDatagram(batch(f.fetchId, 1, [msg(3), msg(4)], { lastPart: false, caughtUp: false }), SERVER, T0 + 1);
  r.handleDatagram(batch(f.fetchId, 3, [msg(7), msg(8)], { lastPart: true, caughtUp: true }), SERVER, T0 + 2);
  r.handleTimeout(r.nextDeadline()!);
  const first = lastFetch(r);
  assert.equal(first.position, 1);
  // The first gap's reply brings 1 and 2 and, as its last part, nothing more: 3 and 4 follow from what was kept.
  r.handleDatagram(batch(first.fetchId, 0, [msg(1), msg(2)], { lastPart: true, caughtUp: false }), SERVER, T0 + 30);
  assert.deepEqual(delivered(r), [1, 2, 3, 4]);
  const second = lastFetch(r);
  assert.equal(second?.position, 5, 'asks at once for the second gap');
  r.handleDatagram(batch(second.fetchId, 0, [msg(5), msg(6)], { lastPart: false, caughtUp: false }), SERVER, T0 + 40);
  assert.deepEqual(delivered(r), [5, 6, 7, 8], 'what was kept beyond it is taken without asking again');
  assert.equal(lastFetch(r).position, 9);
});

test('at most 128 parts are kept ahead of a missing one: those past it are asked for again', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  for (let part = 1; part <= 130; part++) {
    r.handleDatagram(batch(f.fetchId, part, [msg(part + 1)], { lastPart: part === 130, caughtUp: false }), SERVER, T0 + 1);
  }
  r.handleDatagram(batch(f.fetchId, 0, [msg(1)], { lastPart: false, caughtUp: false }), SERVER, T0 + 2);
  const got = delivered(r);
  assert.equal(got.length, 129);
  assert.equal(got.at(-1), 129);
  r.handleTimeout(r.nextDeadline()!);
  assert.equal(lastFetch(r).position, 130);
});

test('closed before the server answered: it ends at once, with no BYE (there is no session to end)', () => {
  const r = newReader();
  drain(r);
  r.close(T0 + 5);
  assert.deepEqual(drain(r), []);
  assert.deepEqual(allEvents(r), [{ type: 'closed' }]);
  assert.equal(r.nextDeadline(), undefined);
  welcome(r, T0 + 6);
  assert.deepEqual(drain(r), [], 'a late WELCOME opens nothing');
});

test('an unanswered fetch is sent again: a long poll at doubling intervals up to 1 s, an immediate fetch on the backed-off timeout', () => {
  const resends = (over: Partial<typeof READER_DEFAULTS>): number[] => {
    const r = newReader({ timeoutMs: 0, ...over } as Partial<typeof READER_DEFAULTS>);
    welcome(r, T0);
    drain(r);
    const at: number[] = [];
    while (at.length < 7) {
      const now = r.nextDeadline()!;
      r.handleTimeout(now);
      for (const t of drain(r)) if (t.packet.kind === 'fetch') at.push(now - T0);
      // The server answers its PINGs: it is alive, only the fetches' answers are lost.
      r.handleDatagram(encode({ kind: 'pong', sessionId: 9n }), SERVER, now);
    }
    return at;
  };
  const gaps = (at: number[]) => at.map((t, i) => t - (at[i - 1] ?? 0));
  assert.deepEqual(gaps(resends({})), [20, 40, 80, 160, 320, 640, 1_000], 'a long poll: from the RTO (at least 20 ms), doubling, at most 1 s');
  assert.deepEqual(gaps(resends({ once: true })), [5, 10, 10, 10, 10, 10, 10], 'an immediate fetch: the RTO (at least 5 ms here), backed off on a loss, twice at most');
});

test('a fetch asks for at least one datagram and at most 64', () => {
  for (const [asked, sent] of [[0, 1], [10, 10], [1_000, 64]] as const) {
    const r = newReader({ maxDatagrams: asked });
    welcome(r, T0);
    assert.equal(lastFetch(r).maxDatagrams, sent);
  }
});

test('--once: reads on while the server says there is more, and says goodbye once caught up', () => {
  const r = newReader({ once: true });
  welcome(r, T0);
  const f = lastFetch(r);
  assert.equal(f.waitMs, 0, 'no long poll: what is there now');
  r.handleDatagram(batch(f.fetchId, 0, [msg(1), msg(2)], { caughtUp: false }), SERVER, T0 + 1);
  const more = drain(r).map((t) => t.packet);
  assert.deepEqual(more.map((p) => p.kind), ['fetch']);
  assert.equal((more[0] as Fetch).position, 3);
  r.handleDatagram(batch((more[0] as Fetch).fetchId, 0, [msg(3)], { caughtUp: true }), SERVER, T0 + 2);
  assert.deepEqual(delivered(r), [1, 2, 3]);
  const end = drain(r).map((t) => t.packet);
  assert.deepEqual(end, [{ kind: 'bye', sessionId: 9n, position: 4 }]);
});

test('closing is done once: a second close, or one after the end, sends nothing more', () => {
  const r = newReader();
  welcome(r, T0);
  drain(r);
  r.close(T0 + 1);
  r.close(T0 + 2);
  r.close(T0 + 3, true);
  assert.deepEqual(drain(r).map((t) => t.packet.kind), ['bye']);
  r.handleDatagram(encode({ kind: 'goodbye', sessionId: 9n }), SERVER, T0 + 4);
  allEvents(r);
  r.close(T0 + 5);
  r.close(T0 + 6, true);
  assert.deepEqual(drain(r), []);
  assert.deepEqual(allEvents(r), []);
  assert.equal(r.nextDeadline(), undefined);
});

test('a reply with a part missing is asked again after an RTO, or half an RTT once its last part is in', () => {
  const r = newReader();
  drain(r);
  welcome(r, T0 + 100); // the HELLO went at T0: an RTT of 100 ms, an RTO of 300
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 1, [msg(2)], { lastPart: false, caughtUp: false }), SERVER, T0 + 110);
  assert.equal(r.nextDeadline(), T0 + 110 + 300);
  r.handleDatagram(batch(f.fetchId, 2, [msg(3)], { lastPart: true }), SERVER, T0 + 120);
  assert.equal(r.nextDeadline(), T0 + 120 + 50);
  r.handleTimeout(T0 + 170);
  assert.equal(lastFetch(r).position, 1, 'from the gap');
  // A late copy of the old reply's last part answers nothing of the new fetch: no round trip of 5 ms,
  // and the new fetch keeps its own retransmission time.
  r.handleDatagram(batch(f.fetchId, 2, [msg(3)], { lastPart: true }), SERVER, T0 + 175);
  assert.equal(r.nextDeadline(), T0 + 170 + 300);
});

test("an older fetch's reply, completed late, asks for nothing while the current fetch's reply is still coming", () => {
  const r = newReader();
  drain(r);
  welcome(r, T0 + 100); // an RTO of 300
  const f1 = lastFetch(r);
  r.handleDatagram(batch(f1.fetchId, 1, [msg(2)], { caughtUp: false }), SERVER, T0 + 110); // its part 0 (message 1) is late
  r.handleTimeout(T0 + 410);
  const f2 = lastFetch(r);
  assert.equal(f2.position, 1, 'asked again from the gap');
  // The new reply: messages 1..5 in five parts; 3 and 5 come first, 4 is lost.
  r.handleDatagram(batch(f2.fetchId, 2, [msg(3)], { lastPart: false, caughtUp: false }), SERVER, T0 + 420);
  r.handleDatagram(batch(f2.fetchId, 4, [msg(5)], { lastPart: true }), SERVER, T0 + 421);
  assert.deepEqual(drain(r), []);
  // The late part of the old reply fills the first gap: 1, 2 (the old reply's last part, kept) and 3 are taken.
  r.handleDatagram(batch(f1.fetchId, 0, [msg(1)], { lastPart: false, caughtUp: false }), SERVER, T0 + 422);
  assert.deepEqual(delivered(r), [1, 2, 3]);
  assert.deepEqual(drain(r), [], 'the gap at 4 is for the current fetch to fill, on its own timer');
});

test('resumed while signing on again (its server restarted while it was paused): the fetch waits for the new session', () => {
  const r = newReader();
  welcome(r, T0, 5);
  const f = lastFetch(r);
  r.setPaused(true, T0 + 1);
  r.handleDatagram(batch(f.fetchId, 0, [msg(5), msg(6)]), SERVER, T0 + 2);
  drain(r);
  r.handleDatagram(encode({ kind: 'unknown-session', sessionId: 9n }), SERVER, T0 + 3);
  const [hello] = drain(r).map((t) => t.packet);
  assert.ok(hello?.kind === 'hello' && hello.role === Role.Reader && hello.fromId === 7, JSON.stringify(hello?.kind));
  r.setPaused(false, T0 + 4);
  assert.deepEqual(drain(r), [], 'no fetch for a session not yet open');
  r.handleDatagram(
    encode({ kind: 'welcome', nonce: hello.nonce, sessionId: 10n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 7, missed: 0 }),
    SERVER,
    T0 + 5,
  );
  const next = drain(r).map((t) => t.packet);
  assert.deepEqual(next.map((p) => p.kind === 'fetch' && [p.sessionId, p.position]), [[10n, 7]]);
});

test('watching, after signing on again: who seems gone is held while the others sign on again too, and told once that time is up', () => {
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'watch', presencePollMs: 1_000 }, T0);
  drain(r);
  welcome(r, T0);
  const ask = drain(r).map((t) => t.packet).find((p) => p.kind === 'who') as Who;
  r.handleDatagram(presence(ask.requestId, 1, [online('bob'), online('carol'), online('r')], true), SERVER, T0 + 1);
  allEvents(r);
  // The server restarted: the reader signs on again, and asks what changed since the version it has.
  r.handleDatagram(encode({ kind: 'unknown-session', sessionId: 9n }), SERVER, T0 + 100);
  const back = T0 + 200;
  const hello = drain(r).map((t) => t.packet).find((p) => p.kind === 'hello');
  r.handleDatagram(
    encode({ kind: 'welcome', nonce: hello!.nonce, sessionId: 10n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 1, missed: 0 }),
    SERVER,
    back,
  );
  const again = drain(r).map((t) => t.packet).find((p) => p.kind === 'who') as Who;
  assert.equal(again.since, 1);
  allEvents(r);
  // Everyone looks offline until their own clients sign on again: nothing is told yet.
  const presence10 = (requestId: number, version: number, entries: PresenceEntry[]) =>
    encode({ kind: 'presence', sessionId: 10n, requestId, version, full: false, more: false, nextOffset: 0, entries });
  r.handleDatagram(presence10(again.requestId, 4, [online('bob', false), online('carol', false), online('r', false)]), SERVER, back + 1);
  assert.deepEqual(allEvents(r), []);
  r.handleTimeout(back + 1_001);
  const poll = drain(r).map((t) => t.packet).find((p) => p.kind === 'who') as Who;
  r.handleDatagram(presence10(poll.requestId, 5, [online('carol')]), SERVER, back + 1_002);
  assert.deepEqual(allEvents(r), [], 'carol is back: never told she left');
  // Settled after two heartbeats and a second (heartbeat 5 s): bob did not come back.
  const settled = back + 2 * 5_000 + 1_000;
  for (let t = back + 1_100; t < settled; t += 500) r.handleTimeout(t);
  drain(r);
  assert.deepEqual(allEvents(r).filter((e) => e.type === 'presence'), [], 'not before');
  assert.ok(r.nextDeadline()! <= settled, 'a deadline for it');
  r.handleTimeout(settled);
  assert.deepEqual(allEvents(r).filter((e) => e.type === 'presence'), [{ type: 'presence', changes: [online('bob', false)] }], 'bob, and never the reader itself');
});

test('watching: the registry as it is now can be asked for once signed on; before, nothing is sent', () => {
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'watch', presencePollMs: 60_000 }, T0);
  drain(r);
  r.refreshRegistry(T0 + 1);
  assert.deepEqual(drain(r), [], 'not signed on yet');
  welcome(r, T0 + 2);
  const ask = drain(r).map((t) => t.packet).find((p) => p.kind === 'who') as Who;
  r.handleDatagram(presence(ask.requestId, 1, [online('bob')], true), SERVER, T0 + 3);
  allEvents(r);
  r.refreshRegistry(T0 + 10);
  const now = drain(r).map((t) => t.packet).find((p) => p.kind === 'who') as Who | undefined;
  assert.ok(now, 'asked at once, not at the next poll a minute away');
  r.handleDatagram(presence(now.requestId, 2, [online('carol')], false), SERVER, T0 + 11);
  assert.deepEqual(allEvents(r).find((e) => e.type === 'registry'), { type: 'registry', entries: [online('bob'), online('carol')] });
});

test("the server's heartbeat, when shorter than the reader's own, is the one kept", () => {
  for (const [own, server, pings] of [[5_000, 2_000, [2_001, 4_001, 6_001, 8_001]], [2_000, 5_000, [2_001, 4_001, 6_001, 8_001]]] as const) {
    const r = newReader({ delayMs: 9_000, heartbeatMs: own });
    drain(r);
    r.handleDatagram(
      encode({ kind: 'welcome', nonce: 1, sessionId: 9n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: server, resume: 1, missed: 0 }),
      SERVER,
      T0,
    );
    r.handleDatagram(batch(lastFetch(r).fetchId, 0, [msg(1)]), SERVER, T0 + 1);
    r.handleDatagram(batch(lastFetch(r).fetchId, 0, [msg(2)]), SERVER, T0 + 1); // early: held for the poll
    delivered(r);
    drain(r);
    const sent: number[] = [];
    for (let now = r.nextDeadline()!; now < T0 + 9_000; now = r.nextDeadline()!) {
      r.handleTimeout(now);
      for (const t of drain(r)) if (t.packet.kind === 'ping') sent.push(now - T0);
    }
    assert.deepEqual(sent, pings, `own ${own}, server ${server}`);
  }
});

test('while signing on again, a reader sends HELLOs only: no fetch, PING or WHO of the session that is gone', () => {
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'watch', presencePollMs: 500 }, T0);
  drain(r);
  welcome(r, T0);
  drain(r); // a long poll and a WHO in flight
  r.handleDatagram(encode({ kind: 'unknown-session', sessionId: 9n }), SERVER, T0 + 10);
  const kinds = new Set<string>();
  for (let now = T0 + 10; now < T0 + 8_000; now = Math.max(now + 1, r.nextDeadline() ?? now + 100)) {
    r.handleTimeout(now);
    for (const t of drain(r)) kinds.add(t.packet.kind);
  }
  assert.deepEqual([...kinds], ['hello']);
});

test("the parts of one reply arriving out of order, fragments of one message included: taken when the gap fills, with no fetch before the reply's end", () => {
  // Whatever the order of the first three, the second comes last: all is taken then, and not before.
  for (const order of [[3, 2, 0], [0, 3, 2], [2, 0, 3]]) {
    const r = newReader();
    drain(r);
    welcome(r, T0);
    const f = lastFetch(r);
    const frag = (offset: number, text: string): WireMessage => ({ ...msg(1, text), fragment: { total: 9, offset } });
    const parts = [
      batch(f.fetchId, 0, [frag(0, 'abc')], { lastPart: false, position: 1, offset: 0, nextPosition: 1, nextOffset: 3 }),
      batch(f.fetchId, 1, [frag(3, 'def')], { lastPart: false, position: 1, offset: 3, nextPosition: 1, nextOffset: 6 }),
      batch(f.fetchId, 2, [frag(6, 'ghi'), msg(2)], { lastPart: false, position: 1, offset: 6, nextPosition: 3, nextOffset: 0 }),
      batch(f.fetchId, 3, [msg(3)], { position: 3 }),
    ];
    order.forEach((i, at) => r.handleDatagram(parts[i]!, SERVER, T0 + 1 + at));
    assert.deepEqual(drain(r), [], `${order}: a part is still to come, no fetch yet`);
    r.handleDatagram(parts[1]!, SERVER, T0 + 4);
    const got = allEvents(r).flatMap((e) => (e.type === 'messages' ? e.messages.map((m) => m.text.toString()) : []));
    assert.deepEqual(got, ['abcdefghi', 'm2', 'm3'], `${order}`);
    const next = drain(r).map((t) => t.packet);
    assert.deepEqual(next.map((p) => p.kind === 'fetch' && [p.position, p.offset]), [[4, 0]], `${order}: one fetch, from past the reply`);
  }
});

test('with --delay, a reply that comes during a poll is printed part by part, as with --delay 0', () => {
  const r = newReader({ delayMs: 1_000 });
  drain(r);
  welcome(r, T0);
  const f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(1), msg(2)], { lastPart: false, caughtUp: false }), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [1, 2], 'before the last part');
  r.handleDatagram(batch(f.fetchId, 1, [msg(3)], { position: 3 }), SERVER, T0 + 2);
  assert.deepEqual(delivered(r), [3]);
});

test('with --delay, what came early still waits for the poll when the output stalls and frees up meanwhile', () => {
  const r = newReader({ delayMs: 1_000 });
  drain(r);
  welcome(r, T0);
  r.handleDatagram(batch(lastFetch(r).fetchId, 0, [msg(1)]), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [1]);
  r.handleDatagram(batch(lastFetch(r).fetchId, 0, [msg(2)]), SERVER, T0 + 100); // early
  r.setPaused(true, T0 + 200);
  r.setPaused(false, T0 + 300);
  assert.deepEqual(delivered(r), [], 'held for the poll');
  r.handleTimeout(T0 + 1_001);
  assert.deepEqual(delivered(r), [2]);
});

test('a long poll sent again while the server holds it is no sign of loss: the retransmission timeout of immediate fetches stays', () => {
  const gapAfter = (resends: number): number => {
    const r = newReader();
    drain(r);
    welcome(r, T0);
    const poll = lastFetch(r);
    assert.ok(poll.waitMs > 0, 'a long poll');
    let now = T0;
    for (let i = 0; i < resends; i++) {
      now = r.nextDeadline()!;
      r.handleTimeout(now);
      assert.equal(lastFetch(r)?.fetchId, poll.fetchId, 'the same poll again');
    }
    r.handleDatagram(batch(poll.fetchId, 0, [msg(1)], { caughtUp: false }), SERVER, now + 1);
    const next = lastFetch(r);
    assert.equal(next.waitMs, 0, 'more waits: an immediate fetch');
    return r.nextDeadline()! - (now + 1);
  };
  assert.equal(gapAfter(3), gapAfter(0));
});

test('a server silent for 2 s is called lost at that moment, whatever else is due', () => {
  for (const over of [{}, { delayMs: 10_000 }, { holdMs: 25_000 }] as Partial<typeof READER_DEFAULTS>[]) {
    const r = newReader(over);
    drain(r);
    welcome(r, T0);
    let now = T0;
    let lostAt: number | undefined;
    while (lostAt === undefined && now < T0 + 10_000) {
      now = r.nextDeadline()!;
      r.handleTimeout(now);
      drain(r);
      if (allEvents(r).some((e) => e.type === 'server-lost')) lostAt = now;
    }
    assert.equal(lostAt, T0 + 2_000, JSON.stringify(over));
  }
});

test('a HELLO sent again before any WELCOME asks from where the user asked; after one, from where the reader stands', () => {
  const r = newReader({ fromKind: FromKind.Latest, fromId: 0 });
  const first = drain(r).map((t) => t.packet)[0] as HelloReader;
  r.handleTimeout(r.nextDeadline()!);
  const again = drain(r).map((t) => t.packet)[0] as HelloReader;
  assert.deepEqual([first.fromKind, again.fromKind, again.fromId], [FromKind.Latest, FromKind.Latest, 0]);
  welcome(r, T0 + 2_000, 7);
  r.handleDatagram(encode({ kind: 'unknown-session', sessionId: 9n }), SERVER, T0 + 2_001);
  const back = drain(r).map((t) => t.packet).find((p) => p.kind === 'hello') as HelloReader;
  assert.deepEqual([back.fromKind, back.fromId], [FromKind.Id, 7]);
});

test('watching, the answer to a WHO that comes once the reader is closing is not reported', () => {
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'watch' }, T0);
  drain(r);
  welcome(r, T0);
  const ask = drain(r).map((t) => t.packet).find((p) => p.kind === 'who') as Who;
  allEvents(r);
  r.close(T0 + 1);
  r.handleDatagram(presence(ask.requestId, 1, [online('bob')], true), SERVER, T0 + 2);
  assert.deepEqual(allEvents(r), []);
});

test('a message of the largest size a server may hold is put together; one byte more is not', () => {
  for (const [total, offset] of [[MESSAGE_BYTES_MAX, 3], [MESSAGE_BYTES_MAX + 1, 0]] as const) {
    const r = newReader();
    drain(r);
    welcome(r, T0);
    const first: WireMessage = { ...msg(1, 'abc'), fragment: { total, offset: 0 } };
    r.handleDatagram(batch(lastFetch(r).fetchId, 0, [first], { nextPosition: 1, nextOffset: 3, caughtUp: false }), SERVER, T0 + 1);
    const next = lastFetch(r);
    assert.deepEqual([next.position, next.offset], [1, offset], `${total} bytes`);
  }
});

test("round trips are measured on a reply's first part to an immediate fetch sent once; the retransmission timeout follows them", () => {
  /** A reader welcomed after 50 ms that got one reply as given, then sent an immediate fetch: how long before it goes again. */
  const rtoAfter = (reply: (r: ReaderCore, f: Fetch, sentAt: number) => number): number => {
    const r = newReader({ holdMs: 0 } as Partial<typeof READER_DEFAULTS>);
    drain(r);
    r.handleDatagram(
      encode({ kind: 'welcome', nonce: 1, sessionId: 9n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 1, missed: 0 }),
      SERVER,
      T0 + 50,
    );
    const at = reply(r, lastFetch(r), T0 + 50);
    const next = lastFetch(r);
    assert.equal(next?.waitMs, 0, 'an immediate fetch');
    return r.nextDeadline()! - at;
  };
  const answered = (after: number) => (r: ReaderCore, f: Fetch, sentAt: number) => {
    r.handleDatagram(batch(f.fetchId, 0, [msg(1)], { caughtUp: false }), SERVER, sentAt + after);
    return sentAt + after;
  };
  const fast = rtoAfter(answered(10));
  const slow = rtoAfter(answered(150));
  assert.ok(fast < slow, `answered in 10 ms: ${fast}; in 150 ms: ${slow}`);
  const twoParts = rtoAfter((r, f, sentAt) => {
    r.handleDatagram(batch(f.fetchId, 0, [msg(1)], { caughtUp: false, lastPart: false }), SERVER, sentAt + 10);
    r.handleDatagram(batch(f.fetchId, 1, [msg(2)], { caughtUp: false }), SERVER, sentAt + 150);
    return sentAt + 150;
  });
  assert.equal(twoParts, fast, 'the second part, 140 ms later, is no sample');
  let first = 0;
  const resent = rtoAfter((r, f, sentAt) => {
    first = r.nextDeadline()! - sentAt;
    r.handleTimeout(sentAt + first); // unanswered: sent again, the timeout doubled
    r.handleDatagram(batch(f.fetchId, 0, [msg(1)], { caughtUp: false }), SERVER, sentAt + first + 10);
    return sentAt + first + 10;
  });
  assert.equal(resent, 2 * first, 'a reply to a fetch sent twice could answer either: no sample, the doubled timeout stays');
});

test('a reader that does not watch presence ignores a request for the registry', () => {
  const r = newReader();
  welcome(r, T0);
  drain(r);
  r.refreshRegistry(T0 + 1);
  assert.deepEqual(drain(r), []);
});

test('--who sends only its WHO (again every 300 ms) until the registry is in: no PING however short the heartbeat, and no deadline armed that nothing fires', () => {
  const r = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, presence: 'who', heartbeatMs: 100 }, T0);
  drain(r);
  welcome(r, T0);
  const kinds: string[] = [];
  for (let now = T0; now <= T0 + 1_000; now += 50) {
    r.handleTimeout(now);
    kinds.push(...drain(r).map((t) => t.packet.kind));
    // A deadline still due after its timeout would wake the process again at once, forever.
    assert.ok(r.nextDeadline()! > now, `at +${now - T0}: ${inspect(r.armedTimers())}`);
  }
  assert.deepEqual(kinds, ['who', 'who', 'who', 'who']);
});

test('with --delay, a poll that came while the output was full is over: once it frees up, a reply is printed at once', () => {
  const r = newReader({ delayMs: 1_000 });
  drain(r);
  welcome(r, T0);
  r.handleDatagram(batch(lastFetch(r).fetchId, 0, [msg(1)]), SERVER, T0 + 1);
  assert.deepEqual(delivered(r), [1]);
  r.handleDatagram(batch(lastFetch(r).fetchId, 0, [msg(2)]), SERVER, T0 + 100); // early: waits for the poll at +1,001
  r.setPaused(true, T0 + 200);
  r.handleTimeout(T0 + 1_001);
  assert.deepEqual(delivered(r), [2], 'printed at the poll');
  assert.deepEqual(drain(r), [], 'the next fetch waits while the output is full');
  // Still full when the heartbeat is due: a PING, and the poll time stays where it was.
  r.handleTimeout(T0 + 5_001);
  assert.deepEqual(drain(r).map((t) => t.packet.kind), ['ping']);
  r.setPaused(false, T0 + 5_500);
  const f = lastFetch(r);
  assert.equal(f.position, 3);
  r.handleDatagram(batch(f.fetchId, 0, [msg(3)]), SERVER, T0 + 5_600);
  assert.deepEqual(delivered(r), [3], 'the poll is past: printed at once');
});

test('says once, after registering, when a reply reached the end of the log: what waited for it has come', () => {
  const r = newReader({ delayMs: 0 });
  drain(r);
  welcome(r, T0, 1);
  const kinds = () => allEvents(r).map((e) => e.type);
  assert.deepEqual(kinds(), ['registered']);
  let f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(1), msg(2)], { caughtUp: false }), SERVER, T0 + 1);
  assert.deepEqual(kinds(), ['messages'], 'not at the end yet');
  f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(3)]), SERVER, T0 + 2);
  assert.deepEqual(kinds(), ['messages', 'caught-up']);
  f = lastFetch(r);
  r.handleDatagram(batch(f.fetchId, 0, [msg(4)]), SERVER, T0 + 3);
  assert.deepEqual(kinds(), ['messages'], 'once');
});

test('track: asks where a name\'s reader is, once open; the answer is an event; answers of another session are ignored', () => {
  const r = newReader();
  r.track('bob', 1, T0);
  assert.deepEqual(drain(r).map((t) => t.packet.kind), ['hello'], 'nothing is asked before the session is open');
  welcome(r, T0);
  drain(r);
  allEvents(r);
  r.track('bob', 1, T0 + 1);
  r.track('carol', 2, T0 + 2);
  const asked = drain(r).map((t) => t.packet);
  assert.deepEqual(asked, [
    { kind: 'track', sessionId: 9n, requestId: 1, name: 'bob' },
    { kind: 'track', sessionId: 9n, requestId: 2, name: 'carol' },
  ]);
  r.handleDatagram(encode({ kind: 'tracked', sessionId: 8n, requestId: 1, name: 'bob', state: 2, position: 7, logNext: 9 }), SERVER, T0 + 3);
  assert.deepEqual(allEvents(r), []);
  r.handleDatagram(encode({ kind: 'tracked', sessionId: 9n, requestId: 1, name: 'bob', state: 2, position: 7, logNext: 9 }), SERVER, T0 + 3);
  assert.deepEqual(allEvents(r), [{ type: 'tracked', requestId: 1, name: 'bob', state: 2, position: 7, logNext: 9 }]);
});

test('a path reset (a TCP connection dropped) asks again at once: the same fetch, or from the gap when parts came', () => {
  const r = newReader();
  drain(r);
  r.handlePathReset(T0);
  assert.deepEqual(drain(r).map((t) => t.packet.kind), [], 'before the session: nothing (the HELLO has its own timer)');
  welcome(r, T0, 5);
  const f = lastFetch(r);
  r.handlePathReset(T0 + 1);
  const again = lastFetch(r);
  assert.deepEqual(again, f, 'the same fetch, again, at once');
  // Part 1 of two came, then the connection dropped: asked again from after what came.
  r.handleDatagram(batch(f.fetchId, 1, [msg(5)], { lastPart: false, nextPosition: 6 }), SERVER, T0 + 2);
  r.handlePathReset(T0 + 3);
  const fromGap = lastFetch(r);
  assert.notEqual(fromGap.fetchId, f.fetchId);
  assert.equal(fromGap.position, 6);
});
