import assert from 'node:assert/strict';
import { DEFAULT_TOPIC, inTopic } from '../../src/protocol/topics.js';
import { test } from 'node:test';
import type { Address } from '../../src/core/address.js';
import { encode } from '../../src/protocol/codec.js';
import { ENTRIES_PER_PACKET_MAX, FETCH_DATAGRAMS_MAX, FromKind } from '../../src/protocol/constants.js';
import type { Batch, Packet, Welcome } from '../../src/protocol/packets.js';
import { BATCH_HEADER_BYTES } from '../../src/protocol/sizes.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { runStoreRequest } from '../../src/store/store-request.js';
import { CLIENT, data, drain, helloReader, helloWriter, nextRequest, openWriter, OTHER, ServerHarness, T0 } from './helpers.js';

// Queue groups in the server: one lease read at a time per group, and what happens when a member's fetch,
// its session or the store changes while a read is in flight. Store requests are answered one at a time
// here where the order matters.

const HOSTS: Address[] = [
  { address: '127.0.0.2', port: 40010 },
  { address: '127.0.0.3', port: 40011 },
  { address: '127.0.0.4', port: 40012 },
];

interface Member {
  sid: bigint;
  from: Address;
}

/** `n` members of the group 'jobs', each from its own host. */
async function members(h: ServerHarness, n: number, now = T0, first = 0): Promise<Member[]> {
  const out = [];
  for (let i = first; i < first + n; i++) {
    const from = HOSTS[i]!;
    const hello = { ...helloReader(`m${i}`, 10 + i), group: 'jobs' };
    const [w] = await h.handshake(hello, from, now);
    assert.equal(w?.kind, 'welcome', `m${i}`);
    out.push({ sid: (w as Welcome).sessionId, from });
  }
  return out;
}

/** A server with `lines` in its log (ids from 1) and `n` members of 'jobs'. */
async function groupWithLog(n: number, lines: string[], config = {}): Promise<{ h: ServerHarness; m: Member[] }> {
  const h = new ServerHarness(config);
  const m = await members(h, n);
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, ...lines), CLIENT, T0);
  return { h, m };
}

const fetch = (m: Member, fetchId: number, position: number, waitMs = 0, maxDatagrams = 4) =>
  encode({ kind: 'fetch', sessionId: m.sid, fetchId, position, offset: 0, waitMs, maxDatagrams });
const bye = (m: Member, position: number, fetchId?: number) =>
  encode({ kind: 'bye', sessionId: m.sid, position, ...(fetchId === undefined ? {} : { fetchId }) });

const batches = (out: { to: Address; packet: Packet }[], m: Member): Batch[] =>
  out.filter((t) => t.to === m.from || (t.to.address === m.from.address && t.to.port === m.from.port)).flatMap((t) => (t.packet.kind === 'batch' ? [t.packet] : []));
const texts = (bs: Batch[]) => bs.flatMap((b) => b.messages.map((x) => x.text.toString()));

/** Answers the oldest store request waiting: with the store's answer, or a failure. */
async function answerOne(h: ServerHarness, now: number, ok = true): Promise<string> {
  const r = h.core.pollStoreRequest();
  assert.ok(r, 'a store request waits');
  if (ok) h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), now);
  else h.core.handleStoreResult(r.id, false, new Error('store unreachable'), now);
  return r.req.op;
}

function storeErrors(h: ServerHarness): string[] {
  const ops = [];
  for (let e = h.core.pollEvent(); e; e = h.core.pollEvent()) if (e.type === 'store-error') ops.push(e.op);
  return ops;
}

const jobs = (n: number) => Array.from({ length: n }, (_, i) => `job ${i + 1}`);

test('members asking at once: one lease read at a time, and the member that waited gets the next stretch', async () => {
  const { h, m } = await groupWithLog(2, jobs(10));
  h.core.handleDatagram(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1);
  h.core.handleDatagram(fetch(m[1]!, 1, 1), m[1]!.from, T0 + 1);
  assert.equal(await answerOne(h, T0 + 1), 'read');
  assert.equal(h.core.pollStoreRequest()?.req.op, 'read', "the second member's read goes only once the first is answered");
  const h2 = await groupWithLog(2, jobs(10));
  h2.h.core.handleDatagram(fetch(h2.m[0]!, 1, 1), h2.m[0]!.from, T0 + 1);
  h2.h.core.handleDatagram(fetch(h2.m[1]!, 1, 1), h2.m[1]!.from, T0 + 1);
  await h2.h.settle(T0 + 1);
  const out = drain(h2.h.core);
  const [first, second] = [batches(out, h2.m[0]!), batches(out, h2.m[1]!)];
  assert.deepEqual(texts(first), jobs(5));
  assert.deepEqual(texts(second), jobs(8).slice(5));
  assert.equal(first.at(-1)!.caughtUp, false, 'more waits to be leased');
  assert.equal(second.at(-1)!.caughtUp, false, 'more waits to be leased');
  h2.h.core.handleDatagram(fetch(h2.m[0]!, 2, 6), h2.m[0]!.from, T0 + 2);
  await h2.h.settle(T0 + 2);
  const last = batches(drain(h2.h.core), h2.m[0]!);
  assert.deepEqual(texts(last), ['job 9'], 'half of the two still waiting');
  h2.h.core.handleDatagram(fetch(h2.m[0]!, 3, 10), h2.m[0]!.from, T0 + 3);
  await h2.h.settle(T0 + 3);
  const end = batches(drain(h2.h.core), h2.m[0]!);
  assert.deepEqual(texts(end), ['job 10']);
  assert.equal(end.at(-1)!.caughtUp, true, 'nothing left to lease');
});

test("a member's newer fetch, arriving while its lease is read, is the one answered", async () => {
  const { h, m } = await groupWithLog(1, jobs(3));
  h.core.handleDatagram(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1);
  h.core.handleDatagram(fetch(m[0]!, 2, 1), m[0]!.from, T0 + 2);
  await h.settle(T0 + 2);
  const out = batches(drain(h.core), m[0]!);
  assert.deepEqual(texts(out), jobs(3));
  assert.deepEqual([...new Set(out.map((b) => b.fetchId))], [2]);
});

test('a member gone while its lease is read is leased nothing: another member gets those messages', async () => {
  const { h, m } = await groupWithLog(2, jobs(3));
  h.core.handleDatagram(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1);
  h.core.handleDatagram(bye(m[0]!, 1), m[0]!.from, T0 + 2);
  await h.settle(T0 + 2);
  const out = drain(h.core);
  assert.deepEqual(batches(out, m[0]!), [], 'nothing sent after its BYE');
  assert.deepEqual(await h.deliver(fetch(m[1]!, 1, 1), m[1]!.from, T0 + 3).then((p) => texts(p.filter((x): x is Batch => x.kind === 'batch'))), jobs(3));
});

test('a lease read that fails is reported; the member waiting behind it is still served, and the fetch sent again is read again', async () => {
  const { h, m } = await groupWithLog(2, jobs(4));
  storeErrors(h);
  h.core.handleDatagram(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1);
  h.core.handleDatagram(fetch(m[1]!, 1, 1), m[1]!.from, T0 + 1);
  assert.equal(await answerOne(h, T0 + 1, false), 'read');
  assert.deepEqual(storeErrors(h), ['read']);
  await h.settle(T0 + 1);
  assert.deepEqual(texts(batches(drain(h.core), m[1]!)), ['job 1', 'job 2'], 'the waiting member, its share');
  h.core.handleDatagram(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 300); // its retransmission
  await h.settle(T0 + 300);
  const again = batches(drain(h.core), m[0]!);
  assert.deepEqual(texts(again), ['job 3'], 'read again (its share of the two left), not taken for a repeat of a fetch in hand');
});

/** One member that took 'job 1'..'job 3' and lost the reply: the same fetch position again, a new fetch id. */
async function leaseToReadAgain(): Promise<{ h: ServerHarness; m: Member[] }> {
  const { h, m } = await groupWithLog(1, jobs(3));
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), jobs(3));
  h.core.handleDatagram(fetch(m[0]!, 2, 1), m[0]!.from, T0 + 2);
  return { h, m };
}

test('a lease sent again is read again from the store; a failed read is reported and tried again on the next fetch', async () => {
  const { h, m } = await leaseToReadAgain();
  storeErrors(h);
  assert.equal(await answerOne(h, T0 + 2, false), 'read');
  assert.deepEqual(storeErrors(h), ['read']);
  assert.deepEqual(drain(h.core), []);
  const again = batches(await h.deliverRaw(fetch(m[0]!, 2, 1), m[0]!.from, T0 + 300), m[0]!);
  assert.deepEqual(texts(again), jobs(3));
  assert.equal(again.at(-1)!.caughtUp, true);
});

test('a lease being read again for one fetch, when a newer fetch comes, is answered to the newer only', async () => {
  const { h, m } = await leaseToReadAgain();
  h.core.handleDatagram(fetch(m[0]!, 3, 1), m[0]!.from, T0 + 3);
  await h.settle(T0 + 3);
  const out = batches(drain(h.core), m[0]!);
  assert.deepEqual(texts(out), jobs(3));
  assert.deepEqual([...new Set(out.map((b) => b.fetchId))], [3]);
});

test('a lease read again keeps the messages sent to the group by name', async () => {
  const h = new ServerHarness();
  const m = await members(h, 1);
  await h.store.append([{ producerId: 1n, lastSeq: 1, messages: [
    { ts: T0, from: 'w', to: 'jobs', text: Buffer.from('for the group') },
    { ts: T0, from: 'w', text: Buffer.from('for all') },
  ] }]);
  h.core.handleLogAdvanced(3, T0);
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), ['for the group', 'for all']);
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 2, 1), m[0]!.from, T0 + 2), m[0]!)), ['for the group', 'for all'], 'sent again whole');
});

test('a stretch of messages all for others is passed over: the first reply holds the next message for the group', async () => {
  const h = new ServerHarness();
  const m = await members(h, 1);
  const others = Array.from({ length: 60_000 }, () => ({ ts: T0, from: 'w', to: 'someone-else', text: Buffer.from('x') }));
  await h.store.append([{ producerId: 1n, lastSeq: 1, messages: [...others, { ts: T0, from: 'w', text: Buffer.from('for all') }] }]);
  h.core.handleLogAdvanced(60_002, T0);
  const out = batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!);
  assert.deepEqual(texts(out), ['for all']);
  assert.equal(out[0]!.messages[0]!.id, 60_001);
});

test('a member with nothing to lease and no wait is answered at once; with a wait, at its deadline', async () => {
  const h = new ServerHarness();
  const m = await members(h, 1);
  const now = batches(await h.deliverRaw(fetch(m[0]!, 1, 1, 0), m[0]!.from, T0 + 1), m[0]!);
  assert.deepEqual(now.map((b) => [b.messages.length, b.caughtUp]), [[0, true]]);
  assert.deepEqual(await h.deliver(fetch(m[0]!, 2, 1, 500), m[0]!.from, T0 + 2), [], 'held');
  h.core.handleTimeout(T0 + 501);
  assert.deepEqual(drain(h.core), [], 'not before its deadline');
  h.core.handleTimeout(T0 + 502);
  assert.deepEqual(batches(drain(h.core), m[0]!).map((b) => [b.fetchId, b.messages.length]), [[2, 0]]);
});

test('what a leaving member gives back goes at once to a member whose poll waits', async () => {
  const { h, m } = await groupWithLog(1, jobs(3));
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), jobs(3));
  m.push(...(await members(h, 1, T0 + 1, 1)));
  assert.deepEqual(await h.deliver(fetch(m[1]!, 1, 1, 10_000), m[1]!.from, T0 + 2), [], 'nothing to lease: held');
  // m0 printed job 1 only, and leaves: jobs 2 and 3 go to m1 now, not at the end of its poll.
  const out = await h.deliverRaw(bye(m[0]!, 2, 2), m[0]!.from, T0 + 3);
  assert.deepEqual(texts(batches(out, m[1]!)), ['job 2', 'job 3']);
});

test("the group's place is saved at the flush interval as its members move on, not only when they leave", async () => {
  const { h, m } = await groupWithLog(1, jobs(3), { cursorFlushMs: 1_000 });
  await h.deliver(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1);
  await h.deliver(fetch(m[0]!, 2, 4, 10_000), m[0]!.from, T0 + 2); // took all three; waits for more
  h.core.handleTimeout(T0 + 999);
  await h.settle(T0 + 999);
  assert.equal(await h.store.cursor('group/jobs'), 1, 'where it started, saved when it was made; not moved before the interval');
  h.core.handleTimeout(T0 + 1_002);
  await h.settle(T0 + 1_002);
  assert.equal(await h.store.cursor('group/jobs'), 4);
});

test('one save of positions at a time: what changes while one is in flight is saved by a second, after it', async () => {
  const h = new ServerHarness({ cursorFlushMs: 100 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), HOSTS[0]!, T0);
  const r: Member = { sid: (w as Welcome).sessionId, from: HOSTS[0]! };
  await h.deliver(fetch(r, 1, 1), r.from, T0 + 1);
  await h.deliver(fetch(r, 2, 3, 10_000), r.from, T0 + 2); // printed 'a' and 'b'
  h.core.handleTimeout(T0 + 200);
  const save = nextRequest(h, 'saveCursors');
  h.core.handleDatagram(encode({ kind: 'ping', sessionId: r.sid, position: 4 }), r.from, T0 + 250);
  for (let t = T0 + 300; t <= T0 + 1_000; t += 100) {
    h.core.handleTimeout(t);
    assert.equal(h.core.pollStoreRequest(), undefined, `no second save while the first is in flight (at +${t - T0})`);
  }
  h.core.handleStoreResult(save.id, true, await runStoreRequest(h.stores, save.req), T0 + 1_000);
  assert.equal(await h.store.cursor('r'), 3);
  const second = h.core.pollStoreRequest();
  assert.ok(second?.req.op === 'saveCursors', 'the newer position, as soon as the first is done');
  assert.deepEqual([...second.req.cursors], [[inTopic(DEFAULT_TOPIC, 'r'), 4]]);
});

test('nothing to save, nothing asked of the store: a shutdown with every position saved saves none', async () => {
  const h = new ServerHarness();
  await openWriter(h);
  h.core.shutdown(T0 + 1);
  const ops = [];
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) ops.push(r.req.op);
  assert.deepEqual(ops, ['releaseName', 'saveClient']);
});

test('a save of positions that failed is tried again after the flush interval, not at every turn', async () => {
  const h = new ServerHarness({ cursorFlushMs: 1_000 });
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), HOSTS[0]!, T0);
  const r: Member = { sid: (w as Welcome).sessionId, from: HOSTS[0]! };
  await h.deliver(fetch(r, 1, 2), r.from, T0 + 1);
  storeErrors(h);
  h.storeDown = true;
  for (let t = T0 + 1; t <= T0 + 10_000; t += 50) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  const tries = storeErrors(h).filter((op) => op === 'saveCursors').length;
  assert.ok(tries >= 9 && tries <= 10, `${tries} tries in 10 s`);
});

test("a member that left while the store was away longer than its session is remembered still hears GOODBYE once its group's place is saved", async () => {
  const { h, m } = await groupWithLog(1, jobs(2), { cursorFlushMs: 1_000 });
  await h.deliver(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1);
  h.storeDown = true;
  assert.deepEqual(await h.deliver(bye(m[0]!, 3, 2), m[0]!.from, T0 + 2), [], 'not saved: no GOODBYE yet');
  for (let t = T0 + 2; t <= T0 + 40_000; t += 500) {
    h.core.handleTimeout(t);
    await h.settle(t);
  }
  drain(h.core);
  h.storeDown = false;
  h.core.handleTimeout(T0 + 41_000);
  await h.settle(T0 + 41_000);
  assert.deepEqual(drain(h.core).map((t) => [t.to, t.packet.kind]), [[m[0]!.from, 'goodbye']]);
  assert.equal(await h.store.cursor('group/jobs'), 3);
});

test('the registry updates that fail are reported: a client going offline, a name let go', async () => {
  const h = new ServerHarness();
  await openWriter(h);
  storeErrors(h);
  h.storeDown = true;
  h.core.shutdown(T0 + 1);
  await h.settle(T0 + 1);
  assert.deepEqual(storeErrors(h).sort(), ['releaseName', 'saveClient']);
});

test('a session id is never 0 nor one in use', async () => {
  const ids = [1n, 2n, 0n, 7n, 7n, 0n, 8n];
  const h = new ServerHarness({ randomId: () => ids.shift() ?? 99n });
  const [a] = await h.handshake(helloReader('a'), HOSTS[0]!, T0);
  const [b] = await h.handshake(helloReader('b'), HOSTS[1]!, T0);
  assert.deepEqual([(a as Welcome).sessionId, (b as Welcome).sessionId], [7n, 8n]);
});

test('a read asks the store for no more than the reply can carry: the datagrams asked for, each of the path size', async () => {
  const h = new ServerHarness({ datagramBytes: 1_200, loopbackDatagramBytes: 1_200 });
  const [m] = await members(h, 1);
  const [w] = await h.handshake(helloReader('r'), HOSTS[1]!, T0);
  const r: Member = { sid: (w as Welcome).sessionId, from: HOSTS[1]! };
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a'), CLIENT, T0);
  for (const [who, maxDatagrams, fetchId] of [[m!, 3, 1], [r, 3, 1], [m!, FETCH_DATAGRAMS_MAX, 2], [r, FETCH_DATAGRAMS_MAX, 2]] as const) {
    h.core.handleDatagram(fetch(who, fetchId, 1, 0, maxDatagrams), who.from, T0 + fetchId);
    const read = h.core.pollStoreRequest();
    assert.ok(read?.req.op === 'read', `${who === r ? 'reader' : 'member'} ${fetchId}: ${read?.req.op}`);
    assert.equal(read.req.limits.maxBytes, maxDatagrams * (1_200 - BATCH_HEADER_BYTES), `${who === r ? 'reader' : 'member'}, ${maxDatagrams}`);
    if (who === r) assert.equal(read.req.limits.maxMessages, maxDatagrams * ENTRIES_PER_PACKET_MAX);
    h.core.handleStoreResult(read.id, true, await runStoreRequest(h.stores, read.req), T0 + fetchId);
    await h.settle(T0 + fetchId);
    drain(h.core);
  }
});

test('a new group starts where its first member asks (the oldest kept, an id, or the end), is saved so before the WELCOME, and later members join it where it stands', async () => {
  for (const [fromKind, fromId, first] of [[FromKind.Earliest, 0, 1], [FromKind.Id, 2, 2], [FromKind.Latest, 0, 4]] as const) {
    const h = new ServerHarness();
    const wsid = await openWriter(h);
    await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
    const hello = { ...helloReader('m0', 10, fromKind, fromId), group: 'jobs' };
    const [retry] = await h.deliver(encode({ ...hello, cookie: Buffer.alloc(0) }), HOSTS[0]!, T0);
    assert.ok(retry?.kind === 'retry');
    h.core.handleDatagram(encode({ ...hello, cookie: retry.cookie }), HOSTS[0]!, T0);
    const ops = [];
    for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) {
      ops.push(r.req.op);
      if (r.req.op === 'saveCursors') {
        assert.deepEqual([...r.req.cursors], [[inTopic(DEFAULT_TOPIC, 'group/jobs'), first]]);
        assert.deepEqual(drain(h.core).map((t) => t.packet.kind), [], 'no WELCOME before the group is saved');
      }
      h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), T0);
    }
    assert.ok(ops.includes('saveCursors'), ops.join());
    const [w] = drain(h.core).map((t) => t.packet);
    assert.equal(w?.kind, 'welcome');
    const m0: Member = { sid: (w as Welcome).sessionId, from: HOSTS[0]! };
    // A second member asking for the oldest joins the group where it stands.
    const late = { ...helloReader('m1', 11, FromKind.Earliest), group: 'jobs' };
    const [w1] = await h.handshake(late, HOSTS[1]!, T0 + 1);
    const m1: Member = { sid: (w1 as Welcome).sessionId, from: HOSTS[1]! };
    await h.deliver(data(wsid, 2, 'd'), CLIENT, T0 + 2);
    const got = [...batches(await h.deliverRaw(fetch(m0, 1, first), m0.from, T0 + 3), m0), ...batches(await h.deliverRaw(fetch(m1, 1, first), m1.from, T0 + 3), m1)];
    // Between them, the run from where the group started, in order, with nothing before it.
    const run = texts(got);
    assert.ok(run.length > 0, `from ${fromKind}`);
    assert.deepEqual(run, ['a', 'b', 'c', 'd'].slice(first - 1, first - 1 + run.length), `from ${fromKind}`);
  }
});

test('a group that is known to the store starts where it was saved, and is not saved again', async () => {
  const h = new ServerHarness();
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  await h.store.saveCursors(new Map([['group/jobs', 3]]));
  const [m0] = await members(h, 1, T0 + 1);
  const hello = { ...helloReader('m1', 11), group: 'other' };
  await h.handshake(hello, HOSTS[1]!, T0 + 1);
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m0!, 1, 1), m0!.from, T0 + 2), m0!)), ['c']);
  // Saving it again would do no harm here; a restarted server must not move a group back, though.
  await h.store.saveCursors(new Map([['group/jobs', 4]]));
  const ops: string[] = [];
  const again = new ServerHarness({}, h.store);
  const [retry] = await again.deliver(encode({ ...helloReader('m2', 12), group: 'jobs', cookie: Buffer.alloc(0) }), HOSTS[2]!, T0 + 3);
  assert.ok(retry?.kind === 'retry');
  again.core.handleDatagram(encode({ ...helloReader('m2', 12), group: 'jobs', cookie: retry.cookie }), HOSTS[2]!, T0 + 3);
  for (let r = again.core.pollStoreRequest(); r; r = again.core.pollStoreRequest()) {
    ops.push(r.req.op);
    again.core.handleStoreResult(r.id, true, await runStoreRequest(again.stores, r.req), T0 + 3);
  }
  assert.ok(!ops.includes('saveCursors'), ops.join());
  assert.equal(drain(again.core)[0]?.packet.kind, 'welcome');
});

test("a new group whose first save fails is reported, and its member's HELLO sent again opens it; a member gone meanwhile is not welcomed", async () => {
  const hello = { ...helloReader('m0', 10), group: 'jobs' };
  const start = async (h: ServerHarness) => {
    const [retry] = await h.deliver(encode({ ...hello, cookie: Buffer.alloc(0) }), HOSTS[0]!, T0);
    assert.ok(retry?.kind === 'retry');
    h.core.handleDatagram(encode({ ...hello, cookie: retry.cookie }), HOSTS[0]!, T0);
    for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) {
      if (r.req.op === 'saveCursors') return r;
      h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), T0);
    }
    assert.fail('no save of the new group');
  };
  const h = new ServerHarness();
  const save = await start(h);
  storeErrors(h);
  h.core.handleStoreResult(save.id, false, new Error('store unreachable'), T0);
  assert.deepEqual(storeErrors(h), ['saveCursors']);
  assert.deepEqual(drain(h.core), []);
  const [w] = await h.handshake(hello, HOSTS[0]!, T0 + 300);
  assert.equal(w?.kind, 'welcome');
  const gone = new ServerHarness();
  const pending = await start(gone);
  gone.core.shutdown(T0 + 1);
  gone.core.handleStoreResult(pending.id, true, await runStoreRequest(gone.stores, pending.req), T0 + 1);
  await gone.settle(T0 + 1);
  assert.deepEqual(drain(gone.core).map((t) => t.packet.kind), []);
});

test('a member asking from inside a message (what it held before a restart) is told to seek to where its lease starts: the message whole', async () => {
  const { h, m } = await groupWithLog(1, ['a long message', 'b']);
  const out = batches(await h.deliverRaw(encode({ kind: 'fetch', sessionId: m[0]!.sid, fetchId: 1, position: 1, offset: 5, waitMs: 0, maxDatagrams: 4 }), m[0]!.from, T0 + 1), m[0]!);
  assert.deepEqual([out[0]!.seek, out[0]!.position, out[0]!.offset], [true, 1, 0]);
  assert.deepEqual(texts(out), ['a long message', 'b']);
});

test("a member that falls silent past the session timeout is gone from its group: what it held goes to another member", async () => {
  const { h, m } = await groupWithLog(2, jobs(3));
  const held = texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!));
  assert.deepEqual(held, ['job 1', 'job 2'], 'a fair share of the backlog');
  // m1 keeps its session alive; m0 (killed) says nothing more.
  let now = T0 + 1;
  while (now < T0 + 31_000) {
    now += 5_000;
    await h.deliver(encode({ kind: 'ping', sessionId: m[1]!.sid }), m[1]!.from, now);
  }
  h.core.handleTimeout(now);
  await h.settle(now);
  assert.equal(h.core.snapshot().sessions.total, 1, 'm0 (and the writer, silent too) expired; m1 remains');
  const out = await h.deliverRaw(fetch(m[1]!, 1, 1), m[1]!.from, now + 1);
  assert.deepEqual(texts(batches(out, m[1]!)), held, "m0's share, handed out again");
});

test('a lease read that finds nothing where the log should go on (the store behind what the server was told) waits for the poll: no read again at once', async () => {
  const { h, m } = await groupWithLog(1, jobs(2));
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), jobs(2));
  h.core.handleLogAdvanced(10, T0 + 2); // told the log ends before 10; the store has 2
  h.core.handleDatagram(fetch(m[0]!, 2, 3, 5_000), m[0]!.from, T0 + 3);
  assert.equal(await answerOne(h, T0 + 3), 'read');
  assert.equal(h.core.pollStoreRequest(), undefined, 'parked until the poll ends, not read again and again');
  assert.deepEqual(batches(drain(h.core), m[0]!), []);
});

test('a lease read again for a member that expired meanwhile is sent to nobody', async () => {
  const { h } = await leaseToReadAgain();
  h.core.handleTimeout(T0 + 31_001);
  const ops = [];
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) {
    ops.push(r.req.op);
    h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), T0 + 31_002);
  }
  assert.ok(ops.includes('read'), 'the read was still out');
  assert.deepEqual(drain(h.core).filter((t) => t.packet.kind === 'batch'), []);
  h.check();
});

test("a member leaving a group whose place is saved already hears GOODBYE at once: nothing is saved again", async () => {
  const { h, m } = await groupWithLog(1, jobs(2));
  const m0 = m[0]!;
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m0, 1, 1), m0.from, T0 + 1), m0)), jobs(2));
  await h.deliver(fetch(m0, 2, 3, 5_000), m0.from, T0 + 2); // took both: the group is at 3
  h.core.handleTimeout(T0 + 2_000);
  await h.settle(T0 + 2_000);
  assert.equal(await h.store.cursor('group/jobs'), 3);
  h.core.handleDatagram(bye(m0, 3, 2), m0.from, T0 + 2_100);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), ['goodbye']);
  const ops = [];
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) ops.push(r.req.op);
  assert.ok(!ops.includes('saveCursors'), ops.join());
});

test("a member leaving while the group's place is being saved hears GOODBYE once the place it leaves at is saved", async () => {
  const { h, m } = await groupWithLog(1, jobs(2));
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), jobs(2));
  h.core.handleDatagram(fetch(m[0]!, 2, 3, 5_000), m[0]!.from, T0 + 2); // took both: the group is at 3
  h.core.handleTimeout(T0 + 2_000);
  const saving = nextRequest(h, 'saveCursors');
  h.core.handleDatagram(bye(m[0]!, 3, 2), m[0]!.from, T0 + 2_001);
  assert.deepEqual(drain(h.core).filter((t) => t.packet.kind === 'goodbye'), [], 'not before the save');
  h.core.handleStoreResult(saving.id, true, await runStoreRequest(h.stores, saving.req), T0 + 2_002);
  await h.settle(T0 + 2_002);
  assert.deepEqual(drain(h.core).map((t) => t.packet.kind), ['goodbye']);
  assert.equal(await h.store.cursor('group/jobs'), 3);
});

test('a group is told of messages retention removed before it took them: once, with the lease that follows', async () => {
  const h = new ServerHarness({}, new MemoryStore({ messages: 5, bytes: 0, ageMs: 0 }));
  const [m0] = await members(h, 1);
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, ...jobs(10)), CLIENT, T0);
  const first = batches(await h.deliverRaw(fetch(m0!, 1, 1), m0!.from, T0 + 1), m0!);
  assert.deepEqual([first[0]!.missed, texts(first)], [5, jobs(10).slice(5)]);
  await h.deliver(data(wsid, 2, 'job 11'), CLIENT, T0 + 2);
  const next = batches(await h.deliverRaw(fetch(m0!, 2, 11), m0!.from, T0 + 3), m0!);
  assert.deepEqual([next[0]!.missed, texts(next)], [0, ['job 11']]);
});

test('messages retention removed with nothing after them for the group are told with the next reply, even an empty one', async () => {
  const h = new ServerHarness({}, new MemoryStore({ messages: 3, bytes: 0, ageMs: 0 }));
  const [m0] = await members(h, 1);
  const wsid = await openWriter(h);
  const toBob = encode({ kind: 'data', sessionId: wsid, seq: 1, entries: jobs(10).map((t) => ({ more: false, continued: false, to: 'bob', text: Buffer.from(t) })) });
  await h.deliver(toBob, CLIENT, T0);
  const out = batches(await h.deliverRaw(fetch(m0!, 1, 1), m0!.from, T0 + 1), m0!);
  assert.deepEqual([out[0]!.missed, texts(out)], [7, []], 'ids 1..7 removed; 8..10 are for bob');
  const again = batches(await h.deliverRaw(fetch(m0!, 2, out.at(-1)!.nextPosition), m0!.from, T0 + 2), m0!);
  assert.equal(again[0]!.missed, 0);
});

test('a member bringing a group back after retention removed what the group had not taken is told so at sign-on', async () => {
  const store = new MemoryStore({ messages: 5, bytes: 0, ageMs: 0 });
  const before = new ServerHarness({}, store);
  await members(before, 1); // the new group is saved at 1
  const wsid = await openWriter(before);
  await before.deliver(data(wsid, 1, ...jobs(10)), CLIENT, T0);
  const after = new ServerHarness({}, store);
  const member = (name: string, nonce: number) => ({ ...helloReader(name, nonce), group: 'jobs' });
  const [w] = await after.handshake(member('m0', 20), HOSTS[0]!, T0 + 1);
  assert.deepEqual([(w as Welcome).resume, (w as Welcome).missed], [6, 5]);
  const [next] = await after.handshake(member('m1', 21), HOSTS[1]!, T0 + 2);
  assert.equal((next as Welcome).missed, 0, 'told once, to the member that brought the group back');
});

test('a lease read that fails after its member ended is reported all the same', async () => {
  const { h } = await leaseToReadAgain();
  h.core.handleTimeout(T0 + 31_001);
  storeErrors(h);
  const ops = [];
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) {
    ops.push(r.req.op);
    if (r.req.op === 'read') h.core.handleStoreResult(r.id, false, new Error('store unreachable'), T0 + 31_002);
    else h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), T0 + 31_002);
  }
  assert.ok(ops.includes('read'), 'the read was still out');
  assert.deepEqual(storeErrors(h), ['read']);
  h.check();
});

test('a lease given back, and what follows it, removed by retention before another member took them: told once, each message once', async () => {
  const h = new ServerHarness({}, new MemoryStore({ messages: 4, bytes: 0, ageMs: 0 }));
  const m = await members(h, 2);
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, ...jobs(4)), CLIENT, T0);
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), jobs(2), 'its share');
  await h.deliver(bye(m[0]!, 1, 1), m[0]!.from, T0 + 2); // left with none of it done: 1..2 go back
  await h.deliver(data(wsid, 2, ...jobs(10).slice(4)), CLIENT, T0 + 3); // the log keeps 7..10
  const out = batches(await h.deliverRaw(fetch(m[1]!, 1, 1), m[1]!.from, T0 + 4), m[1]!);
  const told = out.reduce((n, b) => n + b.missed, 0);
  const next = batches(await h.deliverRaw(fetch(m[1]!, 2, out.at(-1)!.nextPosition), m[1]!.from, T0 + 5), m[1]!);
  assert.deepEqual([told + next.reduce((n, b) => n + b.missed, 0), [...texts(out), ...texts(next)]], [6, jobs(10).slice(6)]);
});

test('a member joining a group on a restarted server is leased the log at its first fetch', async () => {
  const store = new MemoryStore();
  const before = new ServerHarness({}, store);
  const wsid = await openWriter(before);
  await before.deliver(data(wsid, 1, ...jobs(3)), CLIENT, T0);
  const after = new ServerHarness({}, store); // knows the log's end only from what the store tells it
  const [m0] = await members(after, 1, T0 + 1);
  assert.deepEqual(texts(batches(await after.deliverRaw(fetch(m0!, 1, 1), m0!.from, T0 + 2), m0!)), jobs(3));
});

test("a member leaving while the group's place it moved is waiting to be saved hears GOODBYE once the place it leaves at is saved, not an older one", async () => {
  const { h, m } = await groupWithLog(1, jobs(2));
  const m0 = m[0]!;
  const wsid = (await h.handshake(helloWriter('w2', 9, 10n), OTHER, T0)).map((p) => (p as Welcome).sessionId)[0]!;
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m0, 1, 1), m0.from, T0 + 1), m0)), jobs(2));
  await h.deliver(data(wsid, 1, 'job 3', 'job 4'), OTHER, T0 + 2);
  // Took 1..2 and is leased 3..4: the group's place (3) waits for the flush.
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m0, 2, 3), m0.from, T0 + 3), m0)), ['job 3', 'job 4']);
  h.core.handleDatagram(bye(m0, 5, 2), m0.from, T0 + 4); // took 3..4 as well, and leaves
  // The store answers one request at a time: when GOODBYE goes out, the place saved is where m0 left.
  let heard = false;
  for (let r = h.core.pollStoreRequest(); r && !heard; r = h.core.pollStoreRequest()) {
    h.core.handleStoreResult(r.id, true, await runStoreRequest(h.stores, r.req), T0 + 5);
    heard = drain(h.core).some((t) => t.packet.kind === 'goodbye');
    if (heard) assert.equal(await h.store.cursor('group/jobs'), 5, 'saved before GOODBYE');
  }
  assert.ok(heard);
});

/** The store requests waiting, by op and name (for readerStart). */
function asked(h: ServerHarness): string[] {
  const ops = [];
  for (let r = h.core.pollStoreRequest(); r; r = h.core.pollStoreRequest()) ops.push(r.req.op === 'readerStart' ? `readerStart ${r.req.name}` : r.req.op);
  return ops;
}

test('a group whose last member left with its place saved is forgotten at the next sweep: the next member finds its place in the store', async () => {
  const { h, m } = await groupWithLog(1, jobs(3));
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), jobs(3));
  await h.deliver(bye(m[0]!, 4, 1), m[0]!.from, T0 + 2);
  h.core.handleTimeout(T0 + 2_000);
  await h.settle(T0 + 2_000);
  h.core.handleDatagram(encode({ ...helloReader('m1', 30), group: 'jobs', cookie: Buffer.alloc(0) }), HOSTS[1]!, T0 + 2_001);
  const [retry] = drain(h.core);
  assert.ok(retry?.packet.kind === 'retry');
  h.core.handleDatagram(encode({ ...helloReader('m1', 30), group: 'jobs', cookie: retry.packet.cookie }), HOSTS[1]!, T0 + 2_002);
  const claim = nextRequest(h, 'claimName');
  h.core.handleStoreResult(claim.id, true, { ok: true }, T0 + 2_002);
  assert.deepEqual(asked(h), ['readerStart group/jobs']);
});

test('a group with a lease given back is kept while it has no members: the next member is handed that lease, and only that', async () => {
  const { h, m } = await groupWithLog(2, jobs(6));
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[0]!, 1, 1), m[0]!.from, T0 + 1), m[0]!)), jobs(3), 'its share');
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m[1]!, 1, 1), m[1]!.from, T0 + 1), m[1]!)), ['job 4', 'job 5']);
  await h.deliver(bye(m[1]!, 6, 1), m[1]!.from, T0 + 2); // done with 4..5
  await h.deliver(bye(m[0]!, 1, 1), m[0]!.from, T0 + 2); // did none of 1..3: they go back
  h.core.handleTimeout(T0 + 2_000);
  await h.settle(T0 + 2_000);
  const [m2] = await members(h, 1, T0 + 2_001, 2);
  assert.deepEqual(texts(batches(await h.deliverRaw(fetch(m2!, 1, 1, 0, 8), m2!.from, T0 + 2_002), m2!)), jobs(3));
});

test('a lease sent again (its reply lost) tells the member what retention removed of it since: from where the member stands', async () => {
  const h = new ServerHarness({}, new MemoryStore({ messages: 5, bytes: 0, ageMs: 0 }));
  const [m0] = await members(h, 1);
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, ...jobs(3)), CLIENT, T0);
  await h.deliverRaw(fetch(m0!, 1, 1), m0!.from, T0 + 1); // leased 1..3; the reply is lost
  await h.deliver(data(wsid, 2, ...jobs(13).slice(3)), CLIENT, T0 + 2); // the log keeps 9..13
  const again = batches(await h.deliverRaw(fetch(m0!, 2, 1), m0!.from, T0 + 3), m0!);
  assert.deepEqual([again[0]!.missed, texts(again)], [3, []]);
  const next = batches(await h.deliverRaw(fetch(m0!, 3, again.at(-1)!.nextPosition), m0!.from, T0 + 4), m0!);
  assert.deepEqual([next[0]!.missed, texts(next)], [5, jobs(13).slice(8)], 'then 4..8, removed before the group took them');
});

test('a fetch older than one already taken (a resend overtaken on the way) is not answered: the lease goes out under the newest fetch alone', async () => {
  const all = ['a', 'b', 'c', 'd', 'e', 'f'];
  const { h, m } = await groupWithLog(2, all);
  const [m0, m1] = m as [Member, Member];
  const first = texts(batches(await h.deliverRaw(fetch(m0, 1, 1, 0, 1), m0.from, T0 + 1), m0));
  assert.ok(first.length > 0 && first.length < 5, `${first.length} in the first lease`);
  // Fetch 2, from the first lease's end: the next lease.
  const second = texts(batches(await h.deliverRaw(fetch(m0, 2, first.length + 1), m0.from, T0 + 3), m0));
  assert.equal(second[0], all[first.length]);
  // Fetch 1 again, late: no reply (answered, it would carry the second lease under id 1, and a BYE naming
  // fetch 1 would not count as taken from that lease: its messages would go to another member too).
  assert.deepEqual(await h.deliver(fetch(m0, 1, 1), m0.from, T0 + 4), []);
  // m0 takes one message of the second lease and leaves: that one is not handed to m1.
  await h.deliver(bye(m0, first.length + 2, 2), m0.from, T0 + 5);
  const rest = texts(batches(await h.deliverRaw(fetch(m1, 1, 1), m1.from, T0 + 6), m1));
  assert.equal(rest[0], all[first.length + 1], rest.join());
});
