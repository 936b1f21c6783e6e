import assert from 'node:assert/strict';
import { DEFAULT_TOPIC, inTopic } from '../../src/protocol/topics.js';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { encode } from '../../src/protocol/codec.js';
import { Role } from '../../src/protocol/constants.js';
import type { Hello, Welcome } from '../../src/protocol/packets.js';
import type { StoreRequest } from '../../src/store/store-request.js';
import { drainSealed, ENCRYPTED, SealedClient, type HelloFields } from './sealed-client.js';
import { ClaimingStore, CLIENT, data, drain, helloReader, helloWriter, nextRequest, openWriter, OTHER, ServerHarness, T0, threeLinesAndReader } from './helpers.js';
import { runStoreRequest } from '../../src/store/store-request.js';

// What the server does with the store's answers while a client signs on: what it asks, what it makes of
// the answer, and that an answer for a session that ended meanwhile changes nothing.

const SECRET = Buffer.from('alice-secret');
const USERS = { ...ENCRYPTED, users: { has: (n: string) => n === 'alice', verify: (n: string, s: Buffer) => n === 'alice' && s.equals(SECRET) } };

/** HELLO, RETRY, then the HELLO with its cookie (and, given a secret, sealed in its handshake) handed over without the store answering. */
async function helloPending(h: ServerHarness, hello: HelloFields, secret?: Buffer, now = T0, from = CLIENT): Promise<SealedClient | undefined> {
  if (secret) {
    const c = new SealedClient(h, hello, secret, from);
    await c.helloPending(now);
    return c;
  }
  const [retry] = await h.deliver(encode({ ...hello, cookie: Buffer.alloc(0) } as Hello), from, now);
  assert.equal(retry!.kind, 'retry');
  const cookie = retry!.kind === 'retry' ? retry!.cookie : Buffer.alloc(0);
  h.core.handleDatagram(encode({ ...hello, cookie } as Hello), from, now);
  return undefined;
}

const requests = (h: ServerHarness): StoreRequest['op'][] => {
  const ops: StoreRequest['op'][] = [];
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) ops.push(r.req.op);
  return ops;
};

const group = (name: string) => ({ ...helloReader(name), group: 'jobs' });

test('a proven login claims its name by force, for every role; an open-mode client asks for it', async () => {
  for (const [hello, role] of [
    [helloWriter('alice'), 'writer'],
    [helloReader('alice'), 'reader'],
    [group('alice'), 'group member'],
  ] as const) {
    const proven = new ServerHarness(USERS);
    await helloPending(proven, hello, SECRET);
    assert.equal(nextRequest(proven, 'claimName').req.force, true, `a proven ${role}`);
    const open = new ServerHarness();
    await helloPending(open, hello);
    assert.equal(nextRequest(open, 'claimName').req.force, false, `an open-mode ${role}`);
  }
});

test("a writer resumes after the last sequence the store holds for it, or where it says if that is later", async () => {
  for (const [nextSeq, resume] of [
    [1, 6],
    [9, 9],
  ]) {
    const h = new ServerHarness();
    await h.store.append([{ producerId: 9n, lastSeq: 5, messages: [] }]);
    const [w] = await h.handshake(helloWriter('w', 1, 9n, nextSeq), CLIENT, T0);
    assert.equal((w as Welcome).resume, resume, `HELLO with next sequence ${nextSeq}`);
  }
});

test('an observer (--who) claims no name and reads no position: nothing is asked of the store for it', async () => {
  const h = new ServerHarness();
  await helloPending(h, { ...helloReader('ops'), role: Role.Observer });
  assert.deepEqual(requests(h), []);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), ['welcome']);
});

test("a reader's start position is saved at once when the store had none for its name", async () => {
  const h = new ServerHarness();
  await h.store.append([{ producerId: 1n, lastSeq: 1, messages: ['a', 'b', 'c'].map((t) => ({ ts: T0, from: 'w', text: Buffer.from(t) })) }]);
  await h.handshake(helloReader('r', 2), CLIENT, T0);
  h.core.handleTimeout(T0 + 50);
  await h.settle(T0 + 50);
  assert.equal(await h.store.cursor('r'), 1, 'killed now, it would start again here, not at the end');
});

test('a store answer that comes after its session ended (silent past the timeout) opens nothing', async () => {
  const expireAll = (h: ServerHarness): void => h.core.handleTimeout(T0 + 31_001);
  const cases: [string, HelloFields, StoreRequest['op'][]][] = [
    ['a writer, its name claimed late', helloWriter('w'), []],
    ['a writer, its sequence read late', helloWriter('w'), ['claimName']],
    ['a reader, its position read late', helloReader('r'), ['claimName']],
    ['a group member, the group read late', group('r'), ['claimName']],
  ];
  for (const [what, hello, answeredFirst] of cases) {
    const h = new ServerHarness();
    await helloPending(h, hello);
    for (const op of answeredFirst) {
      const { id } = nextRequest(h, op);
      h.core.handleStoreResult(id, true, { ok: true }, T0);
    }
    const pending = h.core.pollStoreRequest()!;
    expireAll(h);
    requests(h); // what ending the session asked for
    drain(h.core);
    const answer = pending.req.op === 'claimName' ? { ok: true } : pending.req.op === 'producerSeq' ? 3 : { cursor: undefined, first: 1, next: 1 };
    h.core.handleStoreResult(pending.id, true, answer, T0 + 31_002);
    assert.deepEqual(drain(h.core).map((t) => t.packet.kind), [], `${what}: no WELCOME`);
    assert.deepEqual(requests(h), [], `${what}: nothing more asked`);
    assert.equal(h.core.snapshot().sessions.total, 0);
  }
});

const events = (h: ServerHarness) => {
  const out = [];
  for (let e = h.core.pollEvent(); e; e = h.core.pollEvent()) out.push(e);
  return out;
};

test('a name another server holds is refused with how long until it is free (the session timeout)', async () => {
  const h = new ServerHarness();
  await helloPending(h, helloWriter('w'));
  h.core.handleStoreResult(nextRequest(h, 'claimName').id, true, { ok: false, heldForMs: 12_000 }, T0);
  const [refuse] = drain(h.core).map((t) => t.packet);
  assert.ok(refuse?.kind === 'refuse' && /silent for 30 s\)$/.test(refuse.reason), JSON.stringify(refuse));
});

test('a claim the store failed to answer is not renewed: the session goes on with its local name only', async () => {
  const h = new ServerHarness();
  await helloPending(h, helloWriter('w'));
  h.core.handleStoreResult(nextRequest(h, 'claimName').id, false, new Error('store away'), T0);
  await h.settle(T0);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), ['welcome']);
  h.core.handleTimeout(T0 + 10_000);
  assert.deepEqual(requests(h), [], 'no renewal of a claim never made');
});

test('a renewal the store fails is reported; a proven session whose claim went elsewhere is told it was taken over', async () => {
  const h = new ServerHarness(USERS);
  const c = (await helloPending(h, helloWriter('alice'), SECRET))!;
  await h.settle(T0);
  assert.deepEqual(drainSealed(h, [c]).map((t) => t.packet.kind), ['welcome']);
  events(h);
  h.core.handleTimeout(T0 + 10_000);
  h.core.handleStoreResult(nextRequest(h, 'renewNames').id, false, new Error('store away'), T0 + 10_000);
  assert.deepEqual(events(h).map((e) => e.type === 'store-error' && e.op), ['renewNames']);
  h.core.handleTimeout(T0 + 20_000);
  const { id, req } = nextRequest(h, 'renewNames');
  h.core.handleStoreResult(id, true, req.claims.map((c) => c.key), T0 + 20_000);
  assert.deepEqual(drain(h.core, h.openers).map((t) => t.packet.kind), ['goodbye'], 'told, in its own keys, that another login has it');
  assert.equal(h.core.snapshot().sessions.total, 0);
});

test('a name is held while its holder was heard within the session timeout, to the millisecond; after that, it is free before any sweep', async () => {
  const OTHER_HOST = { address: '127.0.0.2', port: 40002 };
  for (const [after, kind] of [
    [30_000, 'refuse'],
    [30_001, 'welcome'],
  ] as const) {
    const h = new ServerHarness();
    await h.handshake(helloWriter('w'), CLIENT, T0);
    const [answer] = await h.handshake(helloWriter('w', 5, 10n), OTHER_HOST, T0 + after);
    assert.equal(answer?.kind, kind, `${after} ms after the holder was last heard`);
  }
});

test('a silent session expires whatever else the server holds at its sweeps (a retired session, a fresh handshake, a name probe)', async () => {
  const OTHER_HOST = { address: '127.0.0.2', port: 40002 };
  const SAME_HOST = { address: '127.0.0.1', port: 40003 };
  const scenarios: [string, (h: ServerHarness) => Promise<void>][] = [
    ['a session taken over by a new login of its user', async (h) => {
      const first = (await helloPending(h, helloWriter('alice'), SECRET))!;
      await h.settle(T0);
      drainSealed(h, [first]);
      const second = (await helloPending(h, helloWriter('alice', 7, 10n), SECRET, T0 + 1, OTHER_HOST))!;
      await h.settle(T0 + 1);
      assert.deepEqual(drainSealed(h, [second]).map((t) => t.packet.kind).sort(), ['goodbye', 'welcome'], 'the new login has the session');
    }],
    ['a handshake from another host just before the sweep', async (h) => {
      await h.handshake(helloWriter('w'), CLIENT, T0);
      await h.handshake(helloWriter('bad name'), OTHER_HOST, T0 + 990);
    }],
    ['a name probe under way', async (h) => {
      await h.handshake(helloWriter('w'), CLIENT, T0);
      await h.handshake(helloWriter('w', 5, 10n), SAME_HOST, T0 + 999);
    }],
  ];
  for (const [what, setUp] of scenarios) {
    const h = new ServerHarness(what.startsWith('a session taken') ? USERS : {});
    await setUp(h);
    for (let t = h.core.nextDeadline(); t !== undefined && t < T0 + 40_000; t = h.core.nextDeadline()) {
      h.core.handleTimeout(t);
      await h.settle(t);
    }
    assert.equal(h.core.snapshot().sessions.total, 0, what);
  }
});

const FAR = { address: '192.0.2.10', port: 40003 }; // off loopback: 1,200-byte datagrams
const who = (sessionId: bigint, requestId: number, since = 0, offset = 0) => encode({ kind: 'who', sessionId, requestId, since, offset });

test('WHO in an encrypted session: each page of the registry fits a datagram, sealed', async () => {
  const h = new ServerHarness(USERS);
  for (let i = 0; i < 300; i++) await h.store.saveClient({ name: `client-${String(i).padStart(3, '0')}-${'x'.repeat(i % 24)}`, role: 'reader', online: false, lastSeen: T0, topic: 'main' });
  const c = (await helloPending(h, helloReader('alice'), SECRET, T0, FAR))!;
  await h.settle(T0);
  const sessionId = (drainSealed(h, [c])[0]!.packet as Welcome).sessionId;
  h.core.handleDatagram(c.cipher.seal(who(sessionId, 1), T0 + 1), FAR, T0 + 1);
  await h.settle(T0 + 1);
  const sizes = [];
  for (let t = h.core.pollTransmit(); t; t = h.core.pollTransmit()) sizes.push(t.data.length);
  assert.equal(sizes.length, 1);
  assert.ok(sizes[0]! <= 1_200 && sizes[0]! > 1_100, `${sizes[0]} bytes: full, and within the datagram`);
});

test('WHO from version 0 is answered with the whole registry, even while the journal still holds every change', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('watcher'), FAR, T0);
  const [p] = await h.deliver(who((w as Welcome).sessionId, 1), FAR, T0 + 1);
  assert.ok(p?.kind === 'presence' && p.full, inspect(p));
});

test('WHO: a store that fails to list the clients gets no answer (the client asks again); a session gone meanwhile gets none either', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('watcher'), FAR, T0);
  const sessionId = (w as Welcome).sessionId;
  h.storeDown = true;
  assert.deepEqual(await h.deliver(who(sessionId, 1), FAR, T0 + 1), []);
  assert.deepEqual(events(h).filter((e) => e.type === 'store-error').length, 0, 'the client asks again: nothing to report');
  h.storeDown = false;
  assert.equal((await h.deliver(who(sessionId, 2), FAR, T0 + 2))[0]?.kind, 'presence');
  h.core.handleDatagram(who(sessionId, 3), FAR, T0 + 3);
  const pending = nextRequest(h, 'clients');
  h.core.handleTimeout(T0 + 31_001);
  requests(h);
  drain(h.core);
  h.core.handleStoreResult(pending.id, true, [], T0 + 31_002);
  assert.deepEqual(drain(h.core), [], 'expired meanwhile');
});

test("a reader's position that failed to save is saved again, unless it has moved on meanwhile: then the newer one is", async () => {
  const { h, rsid } = await threeLinesAndReader({ cursorFlushMs: 50 });
  const fetchAt = (fetchId: number, position: number, now: number): void =>
    h.core.handleDatagram(encode({ kind: 'fetch', sessionId: rsid, fetchId, position, offset: 0, waitMs: 0, maxDatagrams: 4 }), OTHER, now);
  /** Answers every store request but saves of positions, which are held and returned. */
  const answerAllBut = async (now: number) => {
    const held = [];
    for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) {
      if (r.req.op === 'saveCursors') held.push(r);
      else h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), now);
    }
    return held;
  };
  await h.settle(T0);
  fetchAt(1, 2, T0 + 100);
  h.core.handleTimeout(T0 + 200);
  const [save] = await answerAllBut(T0 + 200);
  assert.equal(save?.req.op === 'saveCursors' && save.req.cursors.get(inTopic(DEFAULT_TOPIC, 'r')), 2);
  fetchAt(2, 3, T0 + 300); // moved on while the save is out
  h.core.handleStoreResult(save!.id, false, new Error('store away'), T0 + 310);
  h.core.handleTimeout(T0 + 400);
  await h.settle(T0 + 400);
  assert.equal(await h.store.cursor('r'), 3);
});

test('a goodbye is remembered for the session timeout, to the millisecond: a BYE sent again later is a session unknown', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('r'), CLIENT, T0);
  const sessionId = (w as Welcome).sessionId;
  const bye = encode({ kind: 'bye', sessionId, position: 0 });
  assert.deepEqual((await h.deliver(bye, CLIENT, T0)).map((p) => p.kind), ['goodbye']);
  for (let t = h.core.nextDeadline(); t !== undefined && t <= T0 + 30_000; t = h.core.nextDeadline()) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  assert.deepEqual((await h.deliver(bye, CLIENT, T0 + 30_500)).map((p) => p.kind), ['unknown-session']);
});

test('a session taken over is told so for the session timeout, to the millisecond; after that it is a session unknown', async () => {
  const h = new ServerHarness(USERS);
  const c = (await helloPending(h, helloWriter('alice'), SECRET))!;
  await h.settle(T0);
  const sessionId = (drainSealed(h, [c])[0]!.packet as Welcome).sessionId;
  const second = (await helloPending(h, helloWriter('alice', 7, 10n), SECRET, T0, { address: '127.0.0.2', port: 40002 }))!;
  await h.settle(T0);
  drainSealed(h, [second]);
  h.core.handleDatagram(c.seal({ kind: 'ping', sessionId }, T0 + 1), CLIENT, T0 + 1);
  assert.deepEqual(drain(h.core, h.openers).map((t) => t.packet.kind), ['goodbye'], 'the old client hears GOODBYE, in its keys');
  for (let t = h.core.nextDeadline(); t !== undefined && t <= T0 + 30_000; t = h.core.nextDeadline()) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  h.core.handleDatagram(c.seal({ kind: 'ping', sessionId }, T0 + 30_500), CLIENT, T0 + 30_500);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), ['unknown-session']);
});

test('a renewal that says a claim is lost, answered after its session ended, ends nothing more', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloWriter('w'), CLIENT, T0);
  const sessionId = (w as Welcome).sessionId;
  h.core.handleTimeout(T0 + 10_000);
  const renewal = nextRequest(h, 'renewNames');
  assert.deepEqual((await h.deliver(encode({ kind: 'bye', sessionId, position: 0 }), CLIENT, T0 + 10_001)).map((p) => p.kind), ['goodbye']);
  h.core.handleStoreResult(renewal.id, true, renewal.req.claims.map((c) => c.key), T0 + 10_002);
  assert.deepEqual(drain(h.core), []);
  assert.equal(h.core.snapshot().sessions.total, 0);
});

test('a client started again from the same address replaces its session without ever showing offline', async () => {
  const h = new ServerHarness();
  const [w] = await h.handshake(helloReader('watcher'), FAR, T0);
  const watcher = (w as Welcome).sessionId;
  await h.handshake(helloWriter('w'), CLIENT, T0);
  const [full] = await h.deliver(who(watcher, 1), FAR, T0 + 1);
  const version = full!.kind === 'presence' ? full!.version : 0;
  const [again] = await h.handshake(helloWriter('w', 5, 10n), CLIENT, T0 + 2);
  assert.equal(again?.kind, 'welcome');
  const [delta] = await h.deliver(who(watcher, 2, version), FAR, T0 + 3);
  assert.ok(delta?.kind === 'presence' && !delta.entries.some((e) => !e.online), inspect(delta));
  assert.deepEqual((await h.store.clients()).find((c) => c.name === 'w'), { name: 'w', role: 'writer', online: true, lastSeen: T0 + 2, topic: 'main' });
});

test("a failed sign-on of a session already replaced lets go of nothing: the name stays with the session that replaced it", async () => {
  const store = new ClaimingStore();
  const h = new ServerHarness({}, store);
  await helloPending(h, helloReader('r', 2));
  const claim = nextRequest(h, 'claimName');
  h.core.handleStoreResult(claim.id, true, await runStoreRequest(h.stores, claim.req), T0);
  const start = nextRequest(h, 'readerStart'); // left unanswered
  await helloPending(h, helloReader('r', 3), undefined, T0 + 1); // the client started again, from the same address
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) {
    h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), T0 + 1);
  }
  assert.equal(h.core.snapshot().sessions.total, 1);
  h.core.handleStoreResult(start.id, false, new Error('store unreachable'), T0 + 2);
  assert.deepEqual(requests(h).filter((op) => op === 'releaseName'), []);
  const [taken] = await new ServerHarness({}, store).handshake(helloReader('r', 4), OTHER, T0 + 3);
  assert.equal(taken?.kind, 'refuse', 'held for the live session');
});

test("lines a session held for a failed append are not stored by it once it is replaced: the new session's resend is stored, once", async () => {
  const h = new ServerHarness();
  const wsid = await openWriter(h);
  h.core.handleDatagram(data(wsid, 1, 'a', 'b'), CLIENT, T0 + 1);
  const first = nextRequest(h, 'append');
  h.core.handleStoreResult(first.id, false, new Error('store unreachable'), T0 + 2); // held, to try again
  drain(h.core);
  // The same writer signs on again (it gave the server up for lost) and sends its lines again.
  const [w] = await h.handshake(helloWriter('w', 5), CLIENT, T0 + 3);
  const again = (w as Welcome).sessionId;
  h.core.handleTimeout(T0 + 10_000); // the failed append's retry is due
  await h.settle(T0 + 10_000);
  const out = await h.deliver(data(again, 1, 'a', 'b'), CLIENT, T0 + 10_001);
  assert.ok(out.some((p) => p.kind === 'ack' && p.committed === 1), inspect(out));
  assert.equal(h.core.snapshot().sessions.total, 1, 'the new session goes on');
  const log = await h.store.read(1, { maxMessages: 10, maxBytes: 1 << 20, framingBytes: 0, user: '' });
  assert.deepEqual(log.messages.map((m) => m.text.toString()), ['a', 'b']);
});
