import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helloProof, isTagged, seal, sessionKeys, TAG_BYTES, verify, type SessionKeys } from '../../src/protocol/auth.js';
import { encode } from '../../src/protocol/codec.js';
import { RefuseCode, Role } from '../../src/protocol/constants.js';
import type { Hello, HelloWriter, Packet, Refuse, Welcome } from '../../src/protocol/packets.js';
import { CLIENT, hmac, ServerHarness, T0 } from './helpers.js';
import { SERVER_DEFAULTS } from '../../src/core/server/server-core.js';

const USERS = new Map([
  ['alice', Buffer.from('alice-secret')],
  ['bob', Buffer.from('bob-secret')],
]);
const OTHER = { address: '127.0.0.2', port: 40009 };

const writerHello = (name: string, nonce: number): HelloWriter => ({
  kind: 'hello',
  role: Role.Writer,
  nonce,
  name,
  cookie: Buffer.alloc(0),
  producerId: BigInt(nonce),
  nextSeq: 1,
});

/** HELLO, RETRY, HELLO with cookie and (if a secret is given) its proof: the raw answers, and the keys. */
async function login(h: ServerHarness, hello: Hello, secret: Buffer | undefined, from = CLIENT, now = T0) {
  const [retry] = await h.deliver(encode(hello), from, now);
  assert.equal(retry!.kind, 'retry');
  const cookie = retry!.kind === 'retry' ? retry!.cookie : Buffer.alloc(0);
  const ctx = { role: hello.role, name: hello.name, nonce: hello.nonce, cookie };
  const second: Hello = { ...hello, cookie, ...(secret && { proof: helloProof(hmac, secret, ctx) }) };
  const out = await h.deliverRaw(encode(second), from, now);
  return { out, keys: secret ? sessionKeys(hmac, secret, ctx) : undefined, hello: second };
}

const refusal = (out: { packet: Packet }[]): Refuse => {
  assert.equal(out.length, 1);
  assert.equal(out[0]!.packet.kind, 'refuse');
  return out[0]!.packet as Refuse;
};

const dataPacket = (sessionId: bigint, seq: number, text: string): Buffer =>
  encode({ kind: 'data', sessionId, seq, entries: [{ more: false, continued: false, text: Buffer.from(text) }] });

async function opened(h: ServerHarness, name: string, secret: Buffer, nonce: number, from = CLIENT, now = T0) {
  const { out, keys } = await login(h, writerHello(name, nonce), secret, from, now);
  const welcome = out.find((t) => t.packet.kind === 'welcome' && t.to === from);
  assert.ok(welcome, 'welcomed');
  return { sessionId: (welcome.packet as Welcome).sessionId, keys: keys!, welcome: welcome.data, out };
}

test('authenticated mode: no secret, an unknown user and a wrong secret are each refused, with nothing kept', async () => {
  const h = new ServerHarness({ users: USERS });
  const none = refusal((await login(h, writerHello('alice', 1), undefined)).out);
  assert.equal(none.code, RefuseCode.Unauthorized);
  assert.match(none.reason, /requires a secret/);
  const unknown = refusal((await login(h, writerHello('mallory', 2), Buffer.from('x'))).out);
  assert.match(unknown.reason, /no user mallory/);
  const wrong = refusal((await login(h, writerHello('alice', 3), Buffer.from('bob-secret'))).out);
  assert.match(wrong.reason, /wrong secret for alice/);
  assert.equal(h.core.snapshot().sessions.total, 0);
  assert.deepEqual(await h.store.clients(), []);
});

test('authenticated mode: the right secret opens a session whose every datagram is tagged both ways', async () => {
  const h = new ServerHarness({ users: USERS });
  const { sessionId, keys, welcome } = await opened(h, 'alice', USERS.get('alice')!, 1);
  assert.ok(verify(welcome, keys.toClient, hmac), 'the WELCOME proves the server knows the secret');

  // Untagged, tagged with the wrong key, or altered after tagging: dropped, unanswered.
  assert.deepEqual(await h.deliver(dataPacket(sessionId, 1, 'plain'), CLIENT, T0), []);
  assert.deepEqual(await h.deliver(seal(dataPacket(sessionId, 1, 'forged'), keys.toClient, hmac), CLIENT, T0), []);
  const altered = seal(dataPacket(sessionId, 1, 'hello'), keys.toServer, hmac);
  const at = altered.length - TAG_BYTES - 1;
  altered[at] = altered[at]! ^ 1;
  assert.deepEqual(await h.deliver(altered, CLIENT, T0), []);
  assert.equal(h.core.stats.forged, 3);

  const acks = await h.deliverRaw(seal(dataPacket(sessionId, 1, 'hello'), keys.toServer, hmac), CLIENT, T0);
  assert.deepEqual(acks.map((t) => t.packet.kind), ['ack']);
  assert.ok(verify(acks[0]!.data, keys.toClient, hmac));
  const stored = await h.store.read(1, { maxMessages: 10, maxBytes: 1000, user: 'x' });
  assert.deepEqual(stored.messages.map((m) => [m.from, m.text.toString()]), [['alice', 'hello']]);
});

test('open mode ignores a proof and never tags; tagged datagrams are not accepted there', async () => {
  const h = new ServerHarness();
  const { out } = await login(h, writerHello('alice', 1), Buffer.from('whatever'));
  assert.equal(out[0]!.packet.kind, 'welcome');
  assert.equal(isTagged(out[0]!.data), false);
  const sessionId = (out[0]!.packet as Welcome).sessionId;
  assert.deepEqual(await h.deliver(seal(dataPacket(sessionId, 1, 'x'), Buffer.alloc(32), hmac), CLIENT, T0), []);
  assert.equal(h.core.stats.forged, 1);
});

test('authenticated mode: the holder of a name may take over its own session; the old one is told, in its keys', async () => {
  const h = new ServerHarness({ users: USERS });
  const saves: boolean[] = [];
  const saveClient = h.store.saveClient.bind(h.store);
  h.store.saveClient = (c) => (saves.push(c.online), saveClient(c));
  const first = await opened(h, 'alice', USERS.get('alice')!, 1);
  const second = await opened(h, 'alice', USERS.get('alice')!, 2, OTHER, T0 + 10);
  assert.deepEqual(saves, [true, true], 'never shown offline in between');
  assert.notEqual(first.sessionId, second.sessionId);
  assert.equal(h.core.snapshot().sessions.total, 1);
  const told = second.out.find((t) => t.to === CLIENT);
  assert.equal(told?.packet.kind, 'goodbye', 'the old client hears at once');
  assert.ok(verify(told.data, first.keys.toClient, hmac));
  // Whatever the old client sends next is answered with a GOODBYE it can verify.
  const out = await h.deliverRaw(seal(encode({ kind: 'ping', sessionId: first.sessionId }), first.keys.toServer, hmac), CLIENT, T0 + 20);
  assert.deepEqual(out.map((t) => t.packet.kind), ['goodbye']);
  assert.ok(verify(out[0]!.data, first.keys.toClient, hmac));
  // Only the old client is told: not another address, nor a datagram without its tag.
  const oldPing = seal(encode({ kind: 'ping', sessionId: first.sessionId }), first.keys.toServer, hmac);
  assert.deepEqual(await h.deliver(oldPing, { address: '127.0.0.9', port: 40100 }, T0 + 21), [], 'another address');
  assert.deepEqual(await h.deliver(seal(encode({ kind: 'ping', sessionId: first.sessionId }), second.keys.toServer, hmac), CLIENT, T0 + 21), [], 'another key');
  // The registry shows the name online: the take-over is no sign-off.
  await h.settle(T0 + 21);
  assert.deepEqual((await h.store.clients()).map((c) => [c.name, c.online]), [['alice', true]]);
  // Still told after a few sweeps.
  for (let t = T0 + 100; t <= T0 + 5_000; t += 100) h.core.handleTimeout(t);
  assert.deepEqual((await h.deliver(oldPing, CLIENT, T0 + 5_000)).map((p) => p.kind), ['goodbye'], 'told for a session timeout');
  // For a session timeout; then the old session is forgotten like any other.
  const timeout = SERVER_DEFAULTS.sessionTimeoutMs;
  const ping = seal(encode({ kind: 'ping', sessionId: first.sessionId }), first.keys.toServer, hmac);
  h.core.handleTimeout(T0 + 10 + timeout - 1);
  assert.deepEqual((await h.deliver(ping, CLIENT, T0 + 10 + timeout - 1)).map((p) => p.kind), ['goodbye'], 'told until then');
  for (let t = T0 + 10 + timeout; t <= T0 + 10 + timeout + 1_000; t += 100) h.core.handleTimeout(t);
  assert.deepEqual((await h.deliver(ping, CLIENT, T0 + 11 + timeout + 1_000)).map((p) => p.kind), ['unknown-session']);
  // In open mode the same attempt is refused and the holder keeps its name.
  const open = new ServerHarness();
  await login(open, writerHello('alice', 1), undefined);
  const taken = refusal((await login(open, writerHello('alice', 2), undefined, OTHER, T0 + 10)).out);
  assert.equal(taken.code, RefuseCode.NameTaken);
});

test('authenticated mode: a recorded HELLO sent again from the same address opens nothing', async () => {
  const h = new ServerHarness({ users: USERS });
  const { hello, out } = await login(h, writerHello('alice', 1), USERS.get('alice')!);
  const sessionId = (out[0]!.packet as Welcome).sessionId;
  // The client signs off, then someone replays its HELLO (cookie and proof included) within the cookie's life.
  await h.deliver(seal(encode({ kind: 'bye', sessionId, position: 0 }), sessionKeysOf(hello).toServer, hmac), CLIENT, T0 + 5);
  assert.equal(h.core.snapshot().sessions.total, 0);
  assert.deepEqual(await h.deliver(encode(hello), CLIENT, T0 + 10), []);
  assert.equal(h.core.snapshot().sessions.total, 0);
});

const sessionKeysOf = (hello: Hello): SessionKeys =>
  sessionKeys(hmac, USERS.get(hello.name)!, { role: hello.role, name: hello.name, nonce: hello.nonce, cookie: hello.cookie });

test('handshakes per host are limited, with a refusal the client may retry after; other hosts are unaffected', async () => {
  const h = new ServerHarness({ handshakesPerSecond: 3 });
  const answers: Packet[] = [];
  for (let i = 0; i < 5; i++) {
    const { out } = await login(h, writerHello(`w${i}`, 10 + i), undefined, { address: '127.0.0.1', port: 41000 + i });
    answers.push(out[0]!.packet);
  }
  assert.deepEqual(answers.map((p) => p.kind), ['welcome', 'welcome', 'welcome', 'refuse', 'refuse']);
  const limited = answers[3] as Refuse;
  assert.equal(limited.code, RefuseCode.RateLimited);
  assert.match(limited.reason, /too many handshakes from 127\.0\.0\.1/);
  const { out } = await login(h, writerHello('w9', 99), undefined, OTHER);
  assert.equal(out[0]!.packet.kind, 'welcome');
  const later = await login(h, writerHello('w5', 50), undefined, { address: '127.0.0.1', port: 42000 }, T0 + 1_000);
  assert.equal(later.out[0]!.packet.kind, 'welcome', 'a second later there is room again');
});

test('a writer over its message rate has the excess dropped and is told, and is taken again after the pause', async () => {
  const h = new ServerHarness({ messagesPerSecond: 10 });
  const { out } = await login(h, writerHello('fast', 1), undefined);
  const sessionId = (out[0]!.packet as Welcome).sessionId;
  const many = (seq: number, n: number): Buffer =>
    encode({ kind: 'data', sessionId, seq, entries: Array.from({ length: n }, () => ({ more: false, continued: false, text: Buffer.from('m') })) });
  assert.deepEqual((await h.deliver(many(1, 8), CLIENT, T0)).map((p) => p.kind), ['ack']);
  assert.deepEqual((await h.deliver(many(2, 8), CLIENT, T0)).map((p) => p.kind), ['ack'], 'a bucket not empty takes a whole datagram');
  const throttled = await h.deliver(many(3, 8), CLIENT, T0);
  assert.equal(throttled.length, 1);
  const t = throttled[0]!;
  assert.ok(t.kind === 'throttle' && t.limit === 10 && t.retryAfterMs > 0 && t.retryAfterMs <= 1000, JSON.stringify(t, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  assert.equal(h.core.stats.throttled, 1);
  assert.deepEqual((await h.deliver(many(3, 8), CLIENT, T0 + 1_000)).map((p) => p.kind), ['ack']);
  const stored = await h.store.read(1, { maxMessages: 100, maxBytes: 10_000, user: 'x' });
  assert.equal(stored.messages.length, 24);
});

test('a group named after another user is refused: only alice reads what is sent to alice', async () => {
  const h = new ServerHarness({ users: USERS });
  const reader = (name: string, group: string, nonce: number): Hello => ({
    kind: 'hello',
    role: Role.Reader,
    nonce,
    name,
    cookie: Buffer.alloc(0),
    fromKind: 0,
    fromId: 0,
    group,
  });
  const { out } = await login(h, reader('bob', 'alice', 11), USERS.get('bob'));
  const r = refusal(out);
  assert.equal(r.code, RefuseCode.Unauthorized);
  assert.match(r.reason, /alice is a user: only alice may read what is sent to alice/);
  const own = await login(h, reader('alice', 'alice', 12), USERS.get('alice'), OTHER);
  assert.equal(own.out[0]!.packet.kind, 'welcome', 'a user may read its own messages as a group');
  const other = await login(h, reader('bob', 'jobs', 13), USERS.get('bob'), { address: '127.0.0.3', port: 40010 });
  assert.equal(other.out[0]!.packet.kind, 'welcome', 'a group name that is nobody’s is open to every user');
});

test('authenticated mode: replies with their tags still fit the datagram size of the path', async () => {
  const h = new ServerHarness({ users: USERS });
  const FAR = { address: '192.0.2.10', port: 40003 }; // off loopback: 1,200-byte datagrams
  const w = await opened(h, 'alice', USERS.get('alice')!, 1);
  const text = 'x'.repeat(300);
  for (let seq = 1; seq <= 8; seq++) {
    const d = encode({ kind: 'data', sessionId: w.sessionId, seq, entries: [1, 2, 3].map(() => ({ more: false, continued: false, text: Buffer.from(text) })) });
    await h.deliver(seal(d, w.keys.toServer, hmac), CLIENT, T0 + seq);
  }
  const { out, keys } = await login(h, { kind: 'hello', role: Role.Reader, nonce: 5, name: 'bob', cookie: Buffer.alloc(0), fromKind: 1, fromId: 0 }, USERS.get('bob')!, FAR, T0 + 10);
  const sessionId = (out.find((t) => t.packet.kind === 'welcome')!.packet as Welcome).sessionId;
  const fetch = encode({ kind: 'fetch', sessionId, fetchId: 1, position: 1, offset: 0, waitMs: 0, maxDatagrams: 16 });
  const replies = await h.deliverRaw(seal(fetch, keys!.toServer, hmac), FAR, T0 + 11);
  assert.ok(replies.length >= 6, `${replies.length} datagrams`);
  for (const r of replies) {
    assert.ok(r.data.length <= 1_200, `${r.data.length} bytes`);
    assert.ok(verify(r.data, keys!.toClient, hmac));
  }
  const bytes = new Map<number, number>();
  for (const m of replies.flatMap((r) => (r.packet.kind === 'batch' ? r.packet.messages : []))) bytes.set(m.id, (bytes.get(m.id) ?? 0) + m.text.length);
  assert.deepEqual([...bytes.values()], Array.from({ length: 24 }, () => 300), 'every message whole, some in fragments');
});
