import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { encode } from '../../src/protocol/codec.js';
import { FromKind, RefuseCode, Role } from '../../src/protocol/constants.js';
import type { Batch, HelloReader, Packet, TopicInfo, Welcome } from '../../src/protocol/packets.js';
import { DEFAULT_TOPIC } from '../../src/protocol/topics.js';
import { CLIENT, data, helloReader, helloWriter, OTHER, ServerHarness, T0 } from './helpers.js';

const HOST_3 = { address: '127.0.0.3', port: 40003 };
const HOST_4 = { address: '127.0.0.4', port: 40004 };

async function welcome(h: ServerHarness, hello: Parameters<ServerHarness['handshake']>[0], from: typeof CLIENT, now = T0): Promise<Welcome> {
  const [w] = await h.handshake(hello, from, now);
  assert.equal(w?.kind, 'welcome', inspect(w));
  return w as Welcome;
}

const texts = (out: Packet[]): string[] => out.filter((p): p is Batch => p.kind === 'batch').flatMap((b) => b.messages.map((m) => `${m.id}:${m.text.toString()}`));
const fetch = (sessionId: bigint, fetchId: number, position: number) => encode({ kind: 'fetch', sessionId, fetchId, position, offset: 0, waitMs: 0, maxDatagrams: 4 });

test('each topic is a log of its own: its own ids, its own readers; the default topic is the one of clients that name none', async () => {
  const h = new ServerHarness();
  const web = await welcome(h, { ...helloWriter('w', 1, 1n), topic: 'logs.web' }, CLIENT);
  const db = await welcome(h, { ...helloWriter('w', 1, 2n), topic: 'logs.db' }, OTHER);
  const plain = await welcome(h, helloWriter('w', 1, 3n), HOST_3);
  await h.deliver(data(web.sessionId, 1, 'web a', 'web b'), CLIENT, T0);
  await h.deliver(data(db.sessionId, 1, 'db a'), OTHER, T0);
  await h.deliver(data(plain.sessionId, 1, 'plain a', 'plain b', 'plain c'), HOST_3, T0);

  const rWeb = await welcome(h, { ...helloReader('r', 5), topic: 'logs.web' }, HOST_4);
  assert.deepEqual(texts(await h.deliver(fetch(rWeb.sessionId, 1, 1), HOST_4, T0)), ['1:web a', '2:web b']);
  // The same reader name reads another topic at once: a session each, a position each.
  const rDb = await welcome(h, { ...helloReader('r', 6), topic: 'logs.db' }, { address: '127.0.0.5', port: 40005 });
  assert.deepEqual(texts(await h.deliver(fetch(rDb.sessionId, 1, 1), { address: '127.0.0.5', port: 40005 }, T0)), ['1:db a']);
  const rMain = await welcome(h, helloReader('r', 7), { address: '127.0.0.6', port: 40006 });
  assert.deepEqual(texts(await h.deliver(fetch(rMain.sessionId, 1, 1), { address: '127.0.0.6', port: 40006 }, T0)), ['1:plain a', '2:plain b', '3:plain c']);

  assert.deepEqual((await h.store.read(1, { maxMessages: 10, maxBytes: 1e6, user: '' })).messages.map((m) => m.text.toString()), ['plain a', 'plain b', 'plain c']);
  assert.deepEqual((await (await h.stores.of('logs.web')).bounds()), { first: 1, next: 3 });
  assert.deepEqual(h.stores.topics.sort(), ['logs.db', 'logs.web', DEFAULT_TOPIC]);
});

test('a reader waiting on one topic is woken by a line in it, not by lines in another', async () => {
  const h = new ServerHarness();
  const w = await welcome(h, { ...helloWriter('w', 1, 1n), topic: 'chat.ops' }, CLIENT);
  const other = await welcome(h, { ...helloWriter('x', 1, 2n), topic: 'chat.dev' }, OTHER);
  const r = await welcome(h, { ...helloReader('r', 5), topic: 'chat.ops' }, HOST_3);
  const parked = encode({ kind: 'fetch', sessionId: r.sessionId, fetchId: 1, position: 1, offset: 0, waitMs: 5_000, maxDatagrams: 4 });
  assert.deepEqual(await h.deliver(parked, HOST_3, T0), [], 'nothing yet: the poll waits');
  const elsewhere = await h.deliverRaw(data(other.sessionId, 1, 'not for ops'), OTHER, T0 + 1);
  assert.ok(elsewhere.every((t) => t.to.address !== HOST_3.address), 'a line in chat.dev wakes nobody in chat.ops');
  const woken = await h.deliverRaw(data(w.sessionId, 1, 'for ops'), CLIENT, T0 + 2);
  assert.deepEqual(texts(woken.filter((t) => t.to.address === HOST_3.address).map((t) => t.packet)), ['1:for ops']);
});

test("positions and queue groups are kept per topic: a name's place in one topic is not its place in another", async () => {
  const h = new ServerHarness();
  const a = await welcome(h, { ...helloWriter('w', 1, 1n), topic: 'a' }, CLIENT);
  const b = await welcome(h, { ...helloWriter('w', 1, 2n), topic: 'b' }, OTHER);
  await h.deliver(data(a.sessionId, 1, 'a1', 'a2', 'a3'), CLIENT, T0);
  await h.deliver(data(b.sessionId, 1, 'b1'), OTHER, T0);
  const ra = await welcome(h, { ...helloReader('r', 5), topic: 'a' }, HOST_3);
  await h.deliver(fetch(ra.sessionId, 1, 1), HOST_3, T0);
  await h.deliver(encode({ kind: 'bye', sessionId: ra.sessionId, position: 4 }), HOST_3, T0 + 1);
  assert.equal(await (await h.stores.of('a')).cursor('r'), 4);
  assert.equal(await (await h.stores.of('b')).cursor('r'), undefined);
  assert.equal(await h.store.cursor('r'), undefined);
  // Back in b, from where it has no place: earliest, so b1; back in a: after a3.
  const rb = await welcome(h, { ...helloReader('r', 6), topic: 'b' }, HOST_4, T0 + 2);
  assert.equal(rb.resume, 1);
  const ra2 = await welcome(h, { ...helloReader('r', 7), topic: 'a' }, HOST_3, T0 + 2);
  assert.equal(ra2.resume, 4);
  // A group of the same name in two topics: two groups.
  const ga = await welcome(h, { ...helloReader('m', 8), topic: 'a', group: 'jobs' } as Omit<HelloReader, 'cookie'>, { address: '127.0.0.7', port: 1 }, T0 + 3);
  const gb = await welcome(h, { ...helloReader('m', 9), topic: 'b', group: 'jobs' } as Omit<HelloReader, 'cookie'>, { address: '127.0.0.8', port: 1 }, T0 + 3);
  assert.deepEqual(texts(await h.deliver(fetch(ga.sessionId, 1, ga.resume), { address: '127.0.0.7', port: 1 }, T0 + 3)), ['1:a1', '2:a2', '3:a3']);
  assert.deepEqual(texts(await h.deliver(fetch(gb.sessionId, 1, gb.resume), { address: '127.0.0.8', port: 1 }, T0 + 3)), ['1:b1']);
  assert.deepEqual(h.core.snapshot().groups.map((g) => `${g.topic}/${g.name}: ${g.lag}`).sort(), ['a/jobs: 3', 'b/jobs: 1'], 'each behind by its own topic');
});

test('a server serves at most topicsMax topics (the default one counts): a HELLO naming one more is refused, saying why; known ones go on', async () => {
  const h = new ServerHarness({ topicsMax: 2 });
  await welcome(h, { ...helloWriter('w', 1, 1n), topic: 'a' }, CLIENT);
  const [refused] = await h.handshake({ ...helloWriter('x', 1, 2n), topic: 'b' }, OTHER, T0);
  assert.ok(refused?.kind === 'refuse' && refused.code === RefuseCode.TooManySessions, inspect(refused));
  assert.match(refused.reason, /at most 2 topics: b is one more/);
  await welcome(h, { ...helloReader('r', 3), topic: 'a' }, HOST_3);
  await welcome(h, helloReader('r', 4), HOST_4);
  assert.deepEqual(h.stores.topics.sort(), ['a', DEFAULT_TOPIC]);
});

test('a reader reading two topics at once is online until its last session ends', async () => {
  const h = new ServerHarness();
  const web = await welcome(h, { ...helloReader('ops', 5), topic: 'logs.web' }, CLIENT);
  await welcome(h, { ...helloReader('ops', 6), topic: 'logs.db' }, OTHER);
  await h.deliver(encode({ kind: 'bye', sessionId: web.sessionId, position: 1 }), CLIENT, T0 + 1);
  assert.deepEqual((await h.store.clients()).map((c) => [c.name, c.online]), [['ops', true]], 'still reading logs.db');
  h.core.handleTimeout(T0 + 60_000);
  await h.settle(T0 + 60_000);
  assert.deepEqual((await h.store.clients()).map((c) => [c.name, c.online]), [['ops', false]], 'its last session expired');
});

test("TOPICS is answered a datagram's worth at a time, by name, each topic with its extent and last write; asked again from the last name, the rest", async () => {
  const h = new ServerHarness({ datagramBytes: 512, loopbackDatagramBytes: 512 });
  const names = Array.from({ length: 12 }, (_, i) => `logs.host${String(i).padStart(2, '0')}.${'x'.repeat(40)}`);
  for (const [i, topic] of names.entries()) {
    const w = await welcome(h, { ...helloWriter(`w${i}`, 1, BigInt(i + 1)), topic }, { address: `127.0.1.${i + 1}`, port: 1 });
    await h.deliver(data(w.sessionId, 1, ...Array.from({ length: i + 1 }, () => 'abc')), { address: `127.0.1.${i + 1}`, port: 1 }, T0 + i);
  }
  const o = await welcome(h, { kind: 'hello', role: Role.Observer, nonce: 9, name: 'lister', fromKind: FromKind.Latest, fromId: 0 } as Omit<HelloReader, 'cookie'>, HOST_3);
  const seen: TopicInfo[] = [];
  let after = '';
  for (let page = 1; ; page++) {
    const [answer] = await h.deliver(encode({ kind: 'topics', sessionId: o.sessionId, requestId: page, after }), HOST_3, T0 + 100);
    assert.ok(answer?.kind === 'topic-list' && answer.requestId === page, inspect(answer));
    assert.ok(encode(answer).length <= 512 - 36, 'a page fits one datagram, sealed');
    seen.push(...answer.topics);
    if (!answer.more) break;
    after = answer.topics.at(-1)!.topic;
    assert.ok(page < 10, 'it ends');
  }
  assert.deepEqual(seen.map((t) => t.topic), [...names, DEFAULT_TOPIC]);
  assert.deepEqual(seen[3], { topic: names[3], messages: 4, bytes: 12, first: 1, next: 5, lastWrite: T0 + 3 });
  assert.deepEqual(seen.at(-1), { topic: DEFAULT_TOPIC, messages: 0, bytes: 0, first: 1, next: 1, lastWrite: 0 });
});

test('a direct message is delivered within the topic it is written to: its reader there gets it, the same name reading another topic does not', async () => {
  const h = new ServerHarness();
  const w = await welcome(h, { ...helloWriter('carol', 1, 1n), topic: 'chat.ops' }, CLIENT);
  const direct = encode({ kind: 'data', sessionId: w.sessionId, seq: 1, entries: [{ more: false, continued: false, text: Buffer.from('for bob'), to: 'bob' }] });
  await h.deliver(direct, CLIENT, T0);
  const here = await welcome(h, { ...helloReader('bob', 5), topic: 'chat.ops' }, OTHER);
  assert.deepEqual(texts(await h.deliver(fetch(here.sessionId, 1, 1), OTHER, T0)), ['1:for bob']);
  const elsewhere = await welcome(h, { ...helloReader('bob', 6), topic: 'chat.dev' }, HOST_3);
  assert.deepEqual(texts(await h.deliver(fetch(elsewhere.sessionId, 1, 1), HOST_3, T0)), []);
  const dave = await welcome(h, { ...helloReader('dave', 7), topic: 'chat.ops' }, HOST_4);
  assert.deepEqual(texts(await h.deliver(fetch(dave.sessionId, 1, 1), HOST_4, T0)), [], 'nor anyone else in its topic');
});

test('the registry says where each client is: the topic it registered in while online, the topic of its last session to end once offline; WHO says so too', async () => {
  const h = new ServerHarness();
  const watcher = await welcome(h, { ...helloReader('watcher', 9), topic: 'chat.ops' }, HOST_4);
  const ops = await welcome(h, { ...helloReader('bob', 5), topic: 'chat.ops' }, CLIENT, T0 + 1);
  const where = async () => (await h.store.clients()).filter((c) => c.name === 'bob').map((c) => [c.online, c.topic]);
  assert.deepEqual(await where(), [[true, 'chat.ops']]);
  await h.deliver(encode({ kind: 'bye', sessionId: ops.sessionId, position: 1 }), CLIENT, T0 + 2);
  await welcome(h, { ...helloReader('bob', 6), topic: 'chat.dev' }, CLIENT, T0 + 3);
  assert.deepEqual(await where(), [[true, 'chat.dev']], 'moved: online in chat.dev');
  const [answer] = await h.deliver(encode({ kind: 'who', sessionId: watcher.sessionId, requestId: 1, since: 0, offset: 0 }), HOST_4, T0 + 4);
  assert.ok(answer?.kind === 'presence', inspect(answer));
  assert.deepEqual(answer.entries.filter((e) => e.name === 'bob').map((e) => [e.online, e.topic]), [[true, 'chat.dev']]);
  const [changes] = await h.deliver(encode({ kind: 'who', sessionId: watcher.sessionId, requestId: 2, since: answer.version - 3, offset: 0 }), HOST_4, T0 + 5);
  assert.ok(changes?.kind === 'presence' && !changes.full, inspect(changes));
  assert.deepEqual(changes.entries.map((e) => [e.name, e.online, e.topic]), [['bob', true, 'chat.ops'], ['bob', false, 'chat.ops'], ['bob', true, 'chat.dev']], 'came into ops, left it, came into dev');
});

test('an unlisted reader (the chat\'s direct messages) is not in the registry: its opening and end change nothing, and the client goes offline when its listed session ends; it still gets what is sent to its name', async () => {
  const h = new ServerHarness();
  const room = await welcome(h, { ...helloReader('bob', 5), topic: 'chat.ops' }, CLIENT);
  const direct = await welcome(h, { ...helloReader('bob', 6), topic: 'chat.direct', unlisted: true } as Omit<HelloReader, 'cookie'>, OTHER);
  await welcome(h, { ...helloWriter('bob', 1, 9n), topic: 'chat.direct', unlisted: true }, { address: '127.0.0.7', port: 40007 });
  const before = await h.store.clients();
  assert.deepEqual(before.map((c) => [c.name, c.role, c.online, c.topic]), [['bob', 'reader', true, 'chat.ops']], 'the unlisted sessions (a reader, a writer) did not move bob, nor register a writer');
  await h.deliver(encode({ kind: 'bye', sessionId: room.sessionId, position: 1 }), CLIENT, T0 + 1);
  assert.deepEqual((await h.store.clients()).map((c) => [c.name, c.online, c.topic]), [['bob', false, 'chat.ops']], 'offline: the unlisted session does not hold it online');
  const w = await welcome(h, { ...helloWriter('carol', 1, 1n), topic: 'chat.direct' }, HOST_3);
  await h.deliver(encode({ kind: 'data', sessionId: w.sessionId, seq: 1, entries: [{ more: false, continued: false, text: Buffer.from('psst'), to: 'bob' }] }), HOST_3, T0 + 2);
  assert.deepEqual(texts(await h.deliver(fetch(direct.sessionId, 1, 1), OTHER, T0 + 3)), ['1:psst']);
  await h.deliver(encode({ kind: 'bye', sessionId: direct.sessionId, position: 2 }), OTHER, T0 + 4);
  assert.deepEqual((await h.store.clients()).filter((c) => c.name === 'bob').map((c) => [c.online, c.lastSeen]), [[false, T0 + 1]], 'its end changed nothing');
});
