import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { encode } from '../../src/protocol/codec.js';
import { FromKind, RefuseCode, Role } from '../../src/protocol/constants.js';
import type { Batch, Packet, Welcome } from '../../src/protocol/packets.js';
import { ClaimingStore, CLIENT, data, drain, helloReader, helloWriter, openWriter, OTHER, ServerHarness, T0, threeLinesAndReader } from './helpers.js';
import { SERVER_DEFAULTS } from '../../src/core/server/server-core.js';
import { MemoryStore } from '../../src/store/memory-store.js';

const OTHER_HOST = { address: '127.0.0.2', port: 40002 };

test('a hello is confirmed with a session, and the client is registered online', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloWriter('alice'), CLIENT, T0);
  assert.equal(w!.kind, 'welcome');
  assert.equal((w as Welcome).resume, 1);
  assert.deepEqual(await h.store.clients(), [{ name: 'alice', role: 'writer', online: true, lastSeen: T0, topic: 'main' }]);
});

test('a bad name is refused', async () => {
  const h = new ServerHarness();
  const [r] = await h.handshake(helloWriter('no spaces'), CLIENT, T0);
  assert.equal(r!.kind, 'refuse');
  assert.equal(r!.kind === 'refuse' && r!.code, RefuseCode.BadName);
});

test('a name held by a live session is refused at once to another host; the holder keeps it', async () => {
  const h = new ServerHarness();
  await h.handshake(helloReader('alice'), CLIENT, T0);
  const out = await h.deliverRaw(encode({ ...helloReader('alice', 3), cookie: Buffer.alloc(0) }), OTHER_HOST, T0 + 1);
  const [r] = await h.handshake(helloReader('alice', 3), OTHER_HOST, T0 + 1);
  assert.equal(r!.kind === 'refuse' && r!.code, RefuseCode.NameTaken);
  assert.equal(out.length, 1, 'the holder is not asked');
  assert.equal(h.core.snapshot().sessions.total, 1);
});

/** A HELLO with a good cookie from `from`, sent at each of `times`: what the server sends, to anyone, each time. */
async function helloAt(h: ServerHarness, hello: ReturnType<typeof helloWriter>, from: typeof CLIENT, times: number[]) {
  const [retry] = await h.deliver(encode({ ...hello, cookie: Buffer.alloc(0) }), from, times[0]!);
  assert.equal(retry!.kind, 'retry');
  const cookie = retry!.kind === 'retry' ? retry!.cookie : Buffer.alloc(0);
  const out = [];
  for (const t of times) out.push(await h.deliverRaw(encode({ ...hello, cookie }), from, t));
  return out;
}

test("from the holder's own host, the holder is asked first: one that answers keeps its name", async () => {
  const h = new ServerHarness();
  const id = await openWriter(h, 'w', CLIENT);
  const [first] = await helloAt(h, helloWriter('w', 5, 10n), OTHER, [T0 + 100]);
  assert.deepEqual(first!.map((t) => [t.to, t.packet.kind]), [[CLIENT, 'ping']], 'the holder is asked; the newcomer waits');
  await h.deliver(encode({ kind: 'pong', sessionId: id }), CLIENT, T0 + 101);
  const [later] = await helloAt(h, helloWriter('w', 5, 10n), OTHER, [T0 + 1_500]);
  assert.equal(later![0]!.packet.kind === 'refuse' && later![0]!.packet.code, RefuseCode.NameTaken);
  assert.equal(h.core.snapshot().sessions.total, 1);
  assert.equal(h.core.stats.namesReclaimed, 0);
});

test("from the holder's own host, a holder that does not answer within 1 s is gone: the newcomer gets the name", async () => {
  const h = new ServerHarness();
  const id = await openWriter(h, 'w', CLIENT);
  const [asked, early, late] = await helloAt(h, helloWriter('w', 5, 10n), OTHER, [T0 + 100, T0 + 600, T0 + 1_100]);
  assert.deepEqual(asked!.map((t) => t.packet.kind), ['ping']);
  assert.deepEqual(early!.map((t) => [t.to, t.packet.kind]), [[CLIENT, 'ping']], 'still in time to answer: asked again');
  assert.deepEqual(late!.map((t) => [t.to, t.packet.kind]), [[OTHER, 'welcome']]);
  assert.equal(h.core.snapshot().sessions.total, 1);
  assert.equal(h.core.stats.namesReclaimed, 1);
  const [gone] = await h.deliver(data(id, 1, 'from the old process'), CLIENT, T0 + 1_200);
  assert.equal(gone!.kind, 'unknown-session');
});

test('a datagram the killed holder sent before it died, arriving late, does not keep its name', async () => {
  const h = new ServerHarness();
  const id = await openWriter(h, 'w', CLIENT);
  await helloAt(h, helloWriter('w', 5, 10n), OTHER, [T0 + 100]);
  await h.deliver(data(id, 1, 'sent just before kill -9'), CLIENT, T0 + 150);
  const [later] = await helloAt(h, helloWriter('w', 5, 10n), OTHER, [T0 + 1_200]);
  assert.deepEqual(later!.map((t) => [t.to, t.packet.kind]), [[OTHER, 'welcome']]);
});

test('data is stored once however often it arrives, in order, and acknowledged when stored', async () => {
  const h = new ServerHarness();
  const sid = await openWriter(h);
  const acks: Packet[] = [];
  acks.push(...(await h.deliver(data(sid, 2, 'c'), CLIENT, T0)));
  acks.push(...(await h.deliver(data(sid, 1, 'a', 'b'), CLIENT, T0)));
  acks.push(...(await h.deliver(data(sid, 1, 'a', 'b'), CLIENT, T0)));
  acks.push(...(await h.deliver(data(sid, 2, 'c'), CLIENT, T0)));
  const stored = (await h.store.read(1, { maxMessages: 100, maxBytes: 1e6, user: 'x' })).messages;
  assert.deepEqual(stored.map((m) => m.text.toString()), ['a', 'b', 'c']);
  const last = acks[acks.length - 1]!;
  assert.equal(last.kind === 'ack' && last.committed, 2);
  const first = acks[0]!;
  assert.deepEqual(first.kind === 'ack' && first.sacks, [{ first: 2, last: 2 }]);
});

test('a session is answered only at its own address; an unknown one is told so', async () => {
  const h = new ServerHarness();
  const sid = await openWriter(h);
  assert.deepEqual(await h.deliver(data(sid, 1, 'spoofed'), OTHER, T0), []);
  assert.equal((await h.store.bounds()).next, 1);
  const [u] = await h.deliver(data(12345n, 1, 'x'), OTHER, T0);
  assert.equal(u!.kind, 'unknown-session');
});

test('garbage is counted and dropped', async () => {
  const h = new ServerHarness();
  assert.deepEqual(await h.deliver(Buffer.from('hello?'), CLIENT, T0), []);
  assert.equal(h.core.stats.malformed, 1);
});

test('a long poll is held until a message arrives, then answered', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  const fetch = encode({ kind: 'fetch', sessionId: rsid, fetchId: 1, position: 1, offset: 0, waitMs: 1000, maxDatagrams: 4 });
  assert.deepEqual(await h.deliver(fetch, OTHER, T0), [], 'nothing to say yet');
  const wsid = await openWriter(h);
  const out = await h.deliver(data(wsid, 1, 'news'), CLIENT, T0 + 10);
  const batch = out.find((p) => p.kind === 'batch') as Batch;
  assert.deepEqual(batch.messages.map((m) => m.text.toString()), ['news']);
  assert.equal(batch.nextPosition, 2);
  assert.ok(batch.caughtUp && batch.lastPart);
});

test('an unanswered long poll is answered empty at its deadline', async () => {
  const h = new ServerHarness({ cursorFlushMs: 60_000 });
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  await h.deliver(encode({ kind: 'fetch', sessionId: rsid, fetchId: 1, position: 1, offset: 0, waitMs: 500, maxDatagrams: 4 }), OTHER, T0);
  assert.equal(h.core.nextDeadline(), T0 + 500);
  h.core.handleTimeout(T0 + 500);
  const [b] = await h.deliver(Buffer.alloc(0), CLIENT, T0 + 500);
  assert.equal(b!.kind === 'batch' && b!.messages.length, 0);
});

test('of several long polls, each is answered empty at its own deadline: the soonest first, the others held', async () => {
  const h = new ServerHarness({ cursorFlushMs: 60_000 });
  const waits = [5_000, 1_000, 3_000];
  const readers: { sid: bigint; from: { address: string; port: number } }[] = [];
  for (const [i, waitMs] of waits.entries()) {
    const from = { address: '127.0.0.1', port: 41_000 + i };
    const [w] = await h.handshake(helloReader(`r${i}`, 20 + i), from, T0);
    const sid = (w as Welcome).sessionId;
    readers.push({ sid, from });
    await h.deliver(encode({ kind: 'fetch', sessionId: sid, fetchId: 1, position: 1, offset: 0, waitMs, maxDatagrams: 4 }), from, T0);
  }
  const answered = async (at: number): Promise<string[]> => {
    assert.ok(h.core.nextDeadline()! <= at, 'a wake-up no later than the poll due');
    h.core.handleTimeout(at - 1);
    assert.deepEqual(drain(h.core), [], 'not yet');
    h.core.handleTimeout(at);
    return drain(h.core).map((t) => `${t.to.port}:${t.packet.kind}`);
  };
  assert.deepEqual(await answered(T0 + 1_000), ['41001:batch'], 'only the poll that is due');
  assert.deepEqual(await answered(T0 + 3_000), ['41002:batch']);
  assert.deepEqual(await answered(T0 + 5_000), ['41000:batch']);
});

test("a reader's position is kept: a returning name resumes, a new one starts at the latest", async () => {
  const { h, rsid } = await threeLinesAndReader({ cursorFlushMs: 0 });
  await h.deliver(encode({ kind: 'bye', sessionId: rsid, position: 3 }), OTHER, T0);
  assert.equal(await h.store.cursor('r'), 3);
  const [again] = await h.handshake(helloReader('r', 5, FromKind.Latest), OTHER, T0 + 1);
  assert.equal((again as Welcome).resume, 3);
  const [fresh] = await h.handshake(helloReader('q', 6, FromKind.Latest), { address: '127.0.0.1', port: 40003 }, T0 + 1);
  assert.equal((fresh as Welcome).resume, 4);
});

test("a reader's BYE cannot move its kept position past the end of the log, nor back", async () => {
  const h = new ServerHarness({ cursorFlushMs: 0 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  await h.deliver(encode({ kind: 'bye', sessionId: (w as Welcome).sessionId, position: 1_000 }), OTHER, T0);
  assert.equal(await h.store.cursor('r'), 4, 'clamped to the next id to be written');
  const [again] = await h.handshake(helloReader('r', 5, FromKind.Latest), OTHER, T0 + 1);
  await h.deliver(data(wsid, 2, 'd'), CLIENT, T0 + 2);
  assert.equal((again as Welcome).resume, 4, 'the next message written is the next one read');
  await h.deliver(encode({ kind: 'bye', sessionId: (again as Welcome).sessionId, position: 2 }), OTHER, T0 + 3);
  assert.equal(await h.store.cursor('r'), 4, 'a BYE behind what was kept does not move it back');
});

test("a group member's BYE is answered once the group's place is saved, not at the next flush", async () => {
  const h = new ServerHarness({ cursorFlushMs: 60_000 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const member = { ...helloReader('m1', 2, FromKind.Earliest), group: 'jobs' };
  const [w] = await h.handshake(member, OTHER, T0);
  const sid = (w as Welcome).sessionId;
  const replies = await h.deliver(encode({ kind: 'fetch', sessionId: sid, fetchId: 1, position: 1, offset: 0, waitMs: 0, maxDatagrams: 4 }), OTHER, T0 + 1);
  const taken = replies.filter((p): p is Batch => p.kind === 'batch').flatMap((b) => b.messages.map((m) => m.id));
  assert.deepEqual(taken, [1, 2, 3]);
  const bye = await h.deliver(encode({ kind: 'bye', sessionId: sid, position: 4, fetchId: 2 }), OTHER, T0 + 2);
  assert.deepEqual(bye.map((p) => p.kind), ['goodbye']);
  assert.equal(await h.store.cursor('group/jobs'), 4, 'saved before the goodbye (a crash now hands out nothing again)');
});

test('GOODBYE means the position is saved: a BYE repeated gets it again; a BYE this server never saw is told the session is unknown', async () => {
  const { h, rsid } = await threeLinesAndReader({ cursorFlushMs: 0 });
  const bye = encode({ kind: 'bye', sessionId: rsid, position: 3 });
  assert.deepEqual((await h.deliver(bye, OTHER, T0)).map((p) => p.kind), ['goodbye']);
  assert.equal(await h.store.cursor('r'), 3);
  // Its GOODBYE was lost: the same BYE again, from the same address, is answered the same.
  assert.deepEqual((await h.deliver(bye, OTHER, T0 + 200)).map((p) => p.kind), ['goodbye']);
  assert.deepEqual(await h.deliver(bye, { address: '127.0.0.1', port: 40009 }, T0 + 300), [], 'not from another address');
  // A BYE naming a session this server does not have (it restarted): nothing was saved, and it says so.
  const unknown = await h.deliver(encode({ kind: 'bye', sessionId: 777n, position: 3 }), OTHER, T0 + 400);
  assert.deepEqual(unknown.map((p) => p.kind), ['unknown-session']);
  // Remembered for a session timeout, then forgotten like any other.
  h.core.handleTimeout(T0 + SERVER_DEFAULTS.sessionTimeoutMs + 2_000);
  assert.deepEqual((await h.deliver(bye, OTHER, T0 + SERVER_DEFAULTS.sessionTimeoutMs + 2_100)).map((p) => p.kind), ['unknown-session']);
});

test('a session that falls silent expires and is marked offline', async () => {
  const h = new ServerHarness({ sessionTimeoutMs: 3000 });
  await openWriter(h, 'gone');
  let now = T0;
  while (h.core.snapshot().sessions.total > 0 && now < T0 + 10_000) {
    now = h.core.nextDeadline()!;
    h.core.handleTimeout(now);
  }
  await h.settle(now);
  assert.ok(now - T0 > 3000 && now - T0 <= 5000);
  assert.equal((await h.store.clients())[0]!.online, false);
});

test('a hello from an address not yet proven gets a cookie, no session, and no more bytes than it sent', async () => {
  const h = new ServerHarness();
  const hello = encode({ ...helloWriter('alice'), cookie: Buffer.alloc(0) });
  h.core.handleDatagram(hello, CLIENT, T0);
  await h.settle(T0);
  const out = drain(h.core);
  assert.deepEqual(out.map((t) => t.packet.kind), ['retry']);
  assert.ok(out[0]!.data.length <= hello.length);
  assert.equal(h.core.snapshot().sessions.total, 0);
  assert.deepEqual(await h.store.clients(), []);
});

test("a cookie is good only for its own address and nonce, and only for a while", async () => {
  const h = new ServerHarness();
  const [retry] = await h.deliver(encode({ ...helloWriter('alice'), cookie: Buffer.alloc(0) }), CLIENT, T0);
  const cookie = retry!.kind === 'retry' ? retry!.cookie : Buffer.alloc(0);
  const elsewhere = await h.deliver(encode({ ...helloWriter('alice'), cookie }), OTHER, T0);
  assert.deepEqual(elsewhere.map((p) => p.kind), ['retry'], 'another address must prove itself');
  const otherNonce = await h.deliver(encode({ ...helloWriter('alice', 99), cookie }), CLIENT, T0);
  assert.deepEqual(otherNonce.map((p) => p.kind), ['retry']);
  const late = await h.deliver(encode({ ...helloWriter('alice'), cookie }), CLIENT, T0 + 120_000);
  assert.deepEqual(late.map((p) => p.kind), ['retry'], 'expired');
  const fine = await h.deliver(encode({ ...helloWriter('alice'), cookie }), CLIENT, T0 + 1_000);
  assert.deepEqual(fine.map((p) => p.kind), ['welcome']);
});

test('a long poll moves past a long run of messages addressed to others instead of waiting on them', async () => {
  const h = new ServerHarness({ cursorFlushMs: 60_000 });
  const others = Array.from({ length: 60_000 }, () => ({ ts: T0, from: 'w', to: 'someone-else', text: Buffer.from('x') }));
  await h.store.append([{ producerId: 1n, lastSeq: 1, messages: others }]);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  const out = await h.deliver(
    encode({ kind: 'fetch', sessionId: rsid, fetchId: 1, position: 1, offset: 0, waitMs: 1000, maxDatagrams: 4 }),
    OTHER,
    T0,
  );
  const b = out.find((p) => p.kind === 'batch') as Batch | undefined;
  assert.ok(b, 'answered at once');
  assert.equal(b.messages.length, 0);
  assert.ok(b.nextPosition > 1 && !b.caughtUp, `goes on from ${b.nextPosition}`);
});

test('a fetch whose read failed (the store was away) is read again when the reader sends it again', async () => {
  const h = new ServerHarness();
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'kept'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  const fetch = encode({ kind: 'fetch', sessionId: rsid, fetchId: 1, position: 1, offset: 0, waitMs: 0, maxDatagrams: 4 });
  h.storeDown = true;
  assert.deepEqual(await h.deliver(fetch, OTHER, T0 + 1), [], 'nothing to answer with');
  const events = [];
  for (let e = h.core.pollEvent(); e; e = h.core.pollEvent()) events.push(e.type);
  assert.ok(events.includes('store-error'), 'the failure is reported');
  h.storeDown = false;
  const [batch] = await h.deliver(fetch, OTHER, T0 + 2);
  assert.deepEqual(batch?.kind === 'batch' && batch.messages.map((m) => m.text.toString()), ['kept']);
});

test('a hello whose start-up read failed is answered when the client sends it again', async () => {
  const h = new ServerHarness();
  const [retry] = await h.deliver(encode({ ...helloReader('r'), cookie: Buffer.alloc(0) }), OTHER, T0);
  assert.equal(retry!.kind, 'retry');
  const hello = encode({ ...helloReader('r'), cookie: retry!.kind === 'retry' ? retry!.cookie : Buffer.alloc(0) });
  h.storeDown = true;
  assert.deepEqual(await h.deliver(hello, OTHER, T0 + 1), []);
  h.storeDown = false;
  const [w] = await h.deliver(hello, OTHER, T0 + 2);
  assert.equal(w!.kind, 'welcome');
});

test("readers' positions that failed to save are saved at a later flush", async () => {
  const h = new ServerHarness();
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  const rsid = (w as Welcome).sessionId;
  await h.deliver(encode({ kind: 'fetch', sessionId: rsid, fetchId: 1, position: 3, offset: 0, waitMs: 0, maxDatagrams: 4 }), OTHER, T0 + 1);
  h.storeDown = true;
  for (let t = T0 + 1; t < T0 + 10_000; t += 100) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  assert.equal(await h.store.cursor('r'), undefined, 'not saved while the store is away');
  h.storeDown = false;
  for (let t = T0 + 10_000; t < T0 + 20_000; t += 100) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  assert.equal(await h.store.cursor('r'), 3);
});

test('WHO: the registry in pages that each fit a datagram, in name order, then only the changes since a version, also in pages', async () => {
  const h = new ServerHarness();
  const FAR = { address: '192.0.2.10', port: 40003 }; // off loopback: 1,200-byte datagrams
  const names = Array.from({ length: 150 }, (_, i) => `client-${String((i * 37) % 150).padStart(3, '0')}${'x'.repeat(i % 20)}`);
  for (const name of names) {
    for (const role of ['writer', 'reader'] as const) await h.store.saveClient({ name, role, online: false, lastSeen: T0, topic: 'main' });
  }
  const [welcome] = await h.handshake(helloReader('watcher'), FAR, T0);
  const sessionId = (welcome as Welcome).sessionId;
  const who = async (requestId: number, since: number, offset: number) => {
    const out = await h.deliverRaw(encode({ kind: 'who', sessionId, requestId, since, offset }), FAR, T0 + 1);
    assert.equal(out.length, 1);
    assert.ok(out[0]!.data.length <= 1_200, `${out[0]!.data.length} bytes`);
    const p = out[0]!.packet;
    assert.ok(p.kind === 'presence' && p.requestId === requestId);
    return p;
  };
  const pages = [];
  for (let offset = 0, more = true, id = 1; more; id++) {
    const p = await who(id, 0, offset);
    assert.ok(p.full);
    pages.push(p);
    more = p.more;
    offset = p.nextOffset;
  }
  assert.ok(pages.length >= 5 && pages.length <= 12, `${pages.length} pages: each as full as a datagram allows`);
  const listed = pages.flatMap((p) => p.entries.map((e) => `${e.name}/${e.role}`));
  const expected = (await h.store.clients()).map((c) => `${c.name}/${c.role}`).sort();
  assert.deepEqual(listed, expected, 'every client once, by name, then role');
  assert.equal(new Set(pages.map((p) => p.version)).size, 1, 'all pages are of one version');
  const version = pages[0]!.version;
  assert.equal(pages.at(-1)!.nextOffset, expected.length);

  // Nothing happened since: an empty answer at the same version.
  const none = await who(100, version, 0);
  assert.deepEqual([none.full, none.more, none.entries, none.version], [false, false, [], version]);
  // 120 writers sign on: their changes come in pages too, each page's version the one to ask from next.
  for (let i = 0; i < 120; i++) await h.handshake(helloWriter(`nw-${String(i).padStart(3, '0')}-${'y'.repeat(20)}`, 1, BigInt(100 + i)), { address: `10.1.0.${i + 1}`, port: 41000 }, T0 + 2);
  const changed: string[] = [];
  let since = version;
  let changePages = 0;
  for (let more = true, id = 200; more; id++, changePages++) {
    const p = await who(id, since, 0);
    assert.ok(!p.full);
    assert.ok(p.version > since, 'each page moves the version on');
    changed.push(...p.entries.map((e) => `${e.name}/${e.role}/${e.online}`));
    more = p.more;
    since = p.version;
  }
  assert.equal(changed.length, 120);
  assert.ok(changePages >= 3 && changePages <= 6, `${changePages} pages of changes: each as full as a datagram allows`);
  assert.deepEqual(changed, Array.from({ length: 120 }, (_, i) => `nw-${String(i).padStart(3, '0')}-${'y'.repeat(20)}/writer/true`));
});

test('what the server tells its operator: counters, and events for sessions opened, refused and closed; an observer is neither', async () => {
  const h = new ServerHarness({ sessionTimeoutMs: 3_000 });
  const events = () => {
    const out = [];
    for (let e = h.core.pollEvent(); e; e = h.core.pollEvent()) out.push(e);
    return out;
  };
  const sid = await openWriter(h, 'alice');
  assert.deepEqual(events(), [{ type: 'session-opened', role: 'writer', name: 'alice', addr: CLIENT }]);
  await h.handshake(helloWriter('bad name'), OTHER, T0);
  const refused = events();
  assert.equal(refused.length, 1);
  assert.ok(refused[0]!.type === 'refused' && refused[0]!.name === 'bad name' && /bad name/.test(refused[0]!.reason));
  await h.handshake({ ...helloReader('peek', 5), role: Role.Observer }, OTHER_HOST, T0);
  assert.deepEqual(events(), [], 'an observer (run-reader --who) is not a client of the registry');
  assert.deepEqual(await h.store.clients(), [{ name: 'alice', role: 'writer', online: true, lastSeen: T0, topic: 'main' }]);
  await h.deliver(data(sid, 1, 'a', 'b'), CLIENT, T0 + 1);
  await h.deliver(data(sid, 2, 'c'), CLIENT, T0 + 2);
  await h.deliver(Buffer.from('not a packet'), CLIENT, T0 + 3);
  const s = h.core.stats;
  assert.deepEqual(
    { opened: s.sessionsOpened, refused: s.refused, retries: s.retries, stored: s.messagesStored, malformed: s.malformed, in: s.datagramsIn },
    { opened: 2, refused: 1, retries: 3, stored: 3, malformed: 1, in: 9 },
  );
  assert.ok(s.appends >= 1 && s.appends <= 2);
  assert.ok(s.datagramsOut >= 8, `${s.datagramsOut} out`);
  // The writer falls silent; the observer too.
  let now = T0 + 3;
  while (h.core.snapshot().sessions.total > 0 && now < T0 + 10_000) {
    now = h.core.nextDeadline()!;
    h.core.handleTimeout(now);
  }
  assert.equal(h.core.stats.sessionsExpired, 2);
  assert.deepEqual(events(), [{ type: 'session-closed', role: 'writer', name: 'alice', reason: 'expired' }]);
});

test('a store that cannot take the lines: the writer is told why (once a second at most), nothing is acknowledged, and they go in later, recipients kept', async () => {
  const h = new ServerHarness();
  const sid = await openWriter(h, 'w');
  const direct = (seq: number, to: string, text: string) =>
    encode({ kind: 'data', sessionId: sid, seq, entries: [{ more: false, continued: false, to, text: Buffer.from(text) }] });
  h.core.pollEvent(); // session-opened
  h.storeDown = true;
  const first = await h.deliver(direct(1, 'bob', 'for bob'), CLIENT, T0 + 1);
  assert.deepEqual(first, [{ kind: 'stalled', sessionId: sid, retryAfterMs: 1_000, reason: 'store unreachable' }]);
  const ev = h.core.pollEvent();
  assert.ok(ev?.type === 'store-error' && ev.op === 'append');
  // More lines meanwhile wait for the retry: nothing is acknowledged, nothing said again.
  assert.deepEqual(await h.deliver(data(sid, 2, 'to all'), CLIENT, T0 + 2), []);
  assert.equal(h.core.pollEvent(), undefined, 'the store is not tried again before its second');
  assert.ok(h.core.nextDeadline()! <= T0 + 1_001);
  h.core.handleTimeout(T0 + 1_001);
  const again = await h.settle(T0 + 1_001).then(() => drain(h.core).map((t) => t.packet));
  assert.deepEqual(again, [{ kind: 'stalled', sessionId: sid, retryAfterMs: 1_000, reason: 'store unreachable' }], 'still failing a second later: said again');
  h.storeDown = false;
  h.core.handleTimeout(T0 + 2_001);
  await h.settle(T0 + 2_001);
  const acks = drain(h.core).map((t) => t.packet).filter((p) => p.kind === 'ack');
  assert.equal(acks.at(-1)?.kind === 'ack' && acks.at(-1)!.committed, 2);
  const stored = (await h.store.read(1, { maxMessages: 10, maxBytes: 1 << 20, user: 'bob' })).messages;
  assert.deepEqual(stored.map((m) => [m.to, m.text.toString()]), [['bob', 'for bob'], [undefined, 'to all']]);
});

test('sign-on limits: a bad group name is refused, and so is any session past --max-sessions', async () => {
  const h = new ServerHarness({ sessionsMax: 2 });
  const grouped = { ...helloReader('r'), group: 'no spaces' };
  const [bad] = await h.handshake(grouped, CLIENT, T0);
  assert.ok(bad?.kind === "refuse" && bad.code === RefuseCode.BadName && /bad group name/.test(bad.reason), inspect(bad));
  await openWriter(h, 'one');
  const [second] = await h.handshake(helloWriter('two', 2, 10n), OTHER, T0);
  assert.equal(second?.kind, 'welcome');
  const [third] = await h.handshake(helloWriter('three', 3, 11n), OTHER_HOST, T0);
  assert.ok(third?.kind === "refuse" && third.code === RefuseCode.TooManySessions, inspect(third));
});

test('a datagram size for the path: up to 16 KiB on loopback, 1,200 bytes elsewhere', async () => {
  const h = new ServerHarness();
  const [near] = await h.handshake(helloWriter('near'), CLIENT, T0);
  const [far] = await h.handshake(helloWriter('far', 2, 10n), { address: '192.0.2.10', port: 40003 }, T0);
  assert.equal((near as Welcome).maxDatagramBytes, 16 * 1024);
  assert.equal((far as Welcome).maxDatagramBytes, 1_200);
});

test('a reader asking from before what the log still keeps starts at its first message and is told how many it missed', async () => {
  const h = new ServerHarness({}, new MemoryStore({ messages: 3, bytes: 0, ageMs: 0 }));
  const sid = await openWriter(h);
  for (let seq = 1; seq <= 8; seq++) await h.deliver(data(sid, seq, `m${seq}`), CLIENT, T0 + seq);
  const [w] = await h.handshake(helloReader('late', 2, FromKind.Id, 2), OTHER, T0 + 10);
  assert.deepEqual([(w as Welcome).resume, (w as Welcome).missed], [6, 4]);
  const [e] = await h.handshake(helloReader('early', 3, FromKind.Earliest), OTHER_HOST, T0 + 10);
  assert.deepEqual([(e as Welcome).resume, (e as Welcome).missed], [6, 0]);
  const [beyond] = await h.handshake(helloReader('beyond', 4, FromKind.Id, 50), { address: '127.0.0.3', port: 1 }, T0 + 10);
  assert.deepEqual([(beyond as Welcome).resume, (beyond as Welcome).missed], [9, 0], 'past the end: the end');
});

test("a reader's PING with a position keeps it (a long reply printed in pieces), never past the log nor back; a writer's is no position", async () => {
  const h = new ServerHarness();
  const wid = await openWriter(h);
  for (let seq = 1; seq <= 5; seq++) await h.deliver(data(wid, seq, `m${seq}`), CLIENT, T0 + seq);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0 + 10);
  const rid = (w as Welcome).sessionId;
  const ping = async (sessionId: bigint, position: number, from: typeof CLIENT, at: number) => {
    const out = await h.deliver(encode({ kind: 'ping', sessionId, position }), from, at);
    assert.deepEqual(out, [{ kind: 'pong', sessionId }]);
    h.core.handleTimeout(at + SERVER_DEFAULTS.cursorFlushMs);
    await h.settle(at + SERVER_DEFAULTS.cursorFlushMs);
  };
  await ping(rid, 4, OTHER, T0 + 20);
  assert.equal(await h.store.cursor('r'), 4);
  // A late fetch from before it (reordered on the way) does not take it back.
  const fetch = (fetchId: number, position: number, offset = 0) => encode({ kind: 'fetch', sessionId: rid, fetchId, position, offset, waitMs: 0, maxDatagrams: 4 });
  await h.deliver(fetch(1, 2), OTHER, T0 + 30);
  h.core.handleTimeout(T0 + 30 + SERVER_DEFAULTS.cursorFlushMs);
  await h.settle(T0 + 30 + SERVER_DEFAULTS.cursorFlushMs);
  assert.equal(await h.store.cursor('r'), 4);
  await ping(rid, 6, OTHER, T0 + 50);
  assert.equal(await h.store.cursor('r'), 6, 'everything printed: the end of the log');
  await ping(rid, 99, OTHER, T0 + 100);
  await ping(rid, 2, OTHER, T0 + 200);
  assert.equal(await h.store.cursor('r'), 6);
  // A fetch from past the end is read from the end, from a message's start.
  const [past] = await h.deliver(fetch(2, 99, 5), OTHER, T0 + 250);
  assert.ok(past?.kind === 'batch', past?.kind);
  assert.deepEqual([past.position, past.offset, past.messages.length], [6, 0, 0]);
  await ping(wid, 5, CLIENT, T0 + 300);
  assert.equal(await h.store.cursor('w'), undefined);
});

test('two servers on one store: a name held on one is refused on the other to another host, given to the same client moving over; the first then lets it go', async () => {
  const store = new ClaimingStore();
  let ids = 1_000n;
  const a = new ServerHarness({}, store);
  const b = new ServerHarness({ randomId: () => ids++ }, store);
  const sid = await openWriter(a, 'alice');
  const [taken] = await b.handshake(helloWriter('alice', 2, 10n), OTHER_HOST, T0);
  assert.ok(taken?.kind === 'refuse' && taken.code === RefuseCode.NameTaken && /in use by a live writer on another server/.test(taken.reason), inspect(taken));
  // alice's client moves to b (a stopped answering it): same address, its name goes with it.
  const [moved] = await b.handshake(helloWriter('alice', 3), CLIENT, T0 + 100);
  assert.equal(moved?.kind, 'welcome');
  a.core.pollEvent();
  // a still has alice's old session, kept alive; at a's next renewal it learns the name is held elsewhere.
  let now = T0;
  for (; now < T0 + 12_000; now += 1_000) {
    store.now = now;
    await a.deliver(encode({ kind: 'ping', sessionId: sid }), CLIENT, now);
    a.core.handleTimeout(now);
    await a.settle(now);
  }
  assert.deepEqual(a.core.pollEvent(), { type: 'session-closed', role: 'writer', name: 'alice', reason: 'replaced' });
  assert.equal(a.core.snapshot().sessions.total, 0);
  // Gone from b too (it exits): the claim is given back, and another host may have the name at once.
  const bye = await b.deliver(encode({ kind: 'bye', sessionId: (moved as Welcome).sessionId, position: 0 }), CLIENT, now);
  assert.deepEqual(bye.map((p) => p.kind), ['goodbye']);
  const [other] = await b.handshake(helloWriter('alice', 4, 11n), OTHER_HOST, now + 1);
  assert.equal(other?.kind, 'welcome');
});
