import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVER_DEFAULTS } from '../../src/core/server/server-core.js';
import { noiseCrypto } from '../../src/io/noise-crypto.js';
import { encode } from '../../src/protocol/codec.js';
import { HANDSHAKE_PAYLOAD_BYTES_MIN, PROTOCOL_VERSION, RefuseCode, Role } from '../../src/protocol/constants.js';
import { helloPrologue } from '../../src/protocol/handshake-payloads.js';
import { NkInitiator } from '../../src/protocol/noise.js';
import type { Hello, HelloReader, HelloWriter, Packet, Welcome } from '../../src/protocol/packets.js';
import { recordHead } from '../../src/protocol/records.js';
import { CLIENT, OTHER, ServerHarness, T0 } from './helpers.js';
import { ENCRYPTED, SealedClient, trusting, type HelloFields } from './sealed-client.js';

const SECRETS = new Map([
  ['alice', Buffer.from('alice-secret')],
  ['bob', Buffer.from('bob-secret')],
]);
const USERS = { has: (n: string) => SECRETS.has(n), verify: (n: string, s: Buffer) => SECRETS.get(n)?.equals(s) === true };
const AUTH = { ...ENCRYPTED, users: USERS };
const FAR = { address: '192.0.2.10', port: 40003 };
const ELSEWHERE = { address: '127.0.0.2', port: 40009 }; // off loopback: 1,200-byte datagrams

const writerHello = (name: string, nonce: number): Omit<HelloWriter, 'cookie'> => ({ kind: 'hello', role: Role.Writer, nonce, name, producerId: BigInt(nonce), nextSeq: 1 });
const dataOf = (sessionId: bigint, seq: number, text: string): Packet => ({ kind: 'data', sessionId, seq, entries: [{ more: false, continued: false, text: Buffer.from(text) }] });

async function opened(h: ServerHarness, name: string, nonce: number, from = CLIENT, now = T0, secret = SECRETS.get(name)) {
  const c = new SealedClient(h, writerHello(name, nonce), secret, from);
  const r = await c.signOn(now);
  assert.ok(r.welcome, `welcomed: ${JSON.stringify(r.refuse?.reason)}`);
  return { c, ...r };
}

test('authenticated mode: no secret, an unknown user and a wrong secret are each refused, with nothing kept', async () => {
  const h = new ServerHarness(AUTH);
  const none = (await new SealedClient(h, writerHello('alice', 1)).signOn()).refuse;
  assert.equal(none?.code, RefuseCode.Unauthorized);
  assert.match(none.reason, /requires a secret/);
  const unknown = (await new SealedClient(h, writerHello('mallory', 2), Buffer.from('x')).signOn()).refuse;
  assert.match(unknown?.reason ?? '', /no user mallory/);
  const wrong = (await new SealedClient(h, writerHello('alice', 3), Buffer.from('bob-secret')).signOn()).refuse;
  assert.match(wrong?.reason ?? '', /wrong secret for alice/);
  assert.equal(h.core.snapshot().sessions.total, 0);
  assert.deepEqual(await h.store.clients(), []);
});

test('the secret travels only sealed: no byte of it, nor of a message, is in any datagram either way', async () => {
  const h = new ServerHarness(AUTH);
  const sent: Buffer[] = [];
  const deliverRaw = h.deliverRaw.bind(h);
  h.deliverRaw = async (data, from, now) => {
    sent.push(data);
    const out = await deliverRaw(data, from, now);
    sent.push(...out.map((t) => t.data));
    return out;
  };
  const { c } = await opened(h, 'alice', 1);
  assert.deepEqual((await c.send(dataOf(c.sessionId, 1, 'MARKER-LINE'))).map((p) => p.kind), ['ack']);
  for (const d of sent) {
    assert.equal(d.includes(Buffer.from('alice-secret')), false);
    assert.equal(d.includes(Buffer.from('MARKER-LINE')), false);
  }
  assert.ok(sent.length >= 6);
});

test('an encrypted session: every datagram sealed both ways; plain, forged, altered, replayed or re-addressed records change nothing', async () => {
  const h = new ServerHarness(AUTH);
  const { c, authenticated } = await opened(h, 'alice', 1);
  assert.equal(authenticated, true, 'the WELCOME says the secret was checked');
  const sessionId = c.sessionId;

  // In the clear, or sealed by someone without the keys: dropped, unanswered, counted.
  assert.deepEqual(await h.deliver(encode(dataOf(sessionId, 1, 'plain')), CLIENT, T0), []);
  const stranger = await opened(h, 'bob', 2, OTHER);
  const foreign = stranger.c.seal(dataOf(stranger.c.sessionId, 1, 'x'));
  foreign.writeBigUInt64BE(sessionId, 4); // another session's keys under alice's id
  assert.deepEqual(await h.deliver(foreign, CLIENT, T0), []);
  assert.equal(h.core.stats.forged, 2);

  // Any byte of a record flipped: refused, and the genuine record still goes in after.
  const genuine = c.seal(dataOf(sessionId, 1, 'hello'));
  for (let i = 0; i < genuine.length; i++) {
    const flipped = Buffer.from(genuine);
    flipped[i] = flipped[i]! ^ 0x40;
    const answers = await h.deliver(flipped, CLIENT, T0);
    // A flipped session id names a session the server does not know, and it says so; nothing else is answered.
    const expected = i >= 4 && i < 12 ? ['unknown-session'] : [];
    assert.deepEqual(answers.map((p) => p.kind), expected, `byte ${i}`);
  }
  const acks = await h.deliverRaw(genuine, CLIENT, T0);
  assert.deepEqual(acks.map((t) => t.packet.kind), ['ack']);
  assert.ok(recordHead(acks[0]!.data), 'the ACK is sealed');
  // The same record again (a replay), or from another address: nothing new is stored or answered.
  assert.deepEqual(await h.deliver(genuine, CLIENT, T0 + 1), []);
  assert.deepEqual(await h.deliver(genuine, { address: '127.0.0.9', port: 40100 }, T0 + 1), []);
  assert.deepEqual(await h.deliver(c.seal(dataOf(sessionId, 1, 'hello')), { address: '127.0.0.9', port: 40100 }, T0 + 1), []);
  const stored = await h.store.read(1, { maxMessages: 10, maxBytes: 1000, user: 'x' });
  assert.deepEqual(stored.messages.map((m) => [m.from, m.text.toString()]), [['alice', 'hello']]);
});

test('a handshake not sealed to the server key opens nothing and is counted; a client that trusts another key refuses the server', async () => {
  const h = new ServerHarness(ENCRYPTED);
  const other = noiseCrypto.generateKeyPair();
  const fooled = new SealedClient(h, writerHello('w', 1), undefined, CLIENT, trusting(other.publicKey));
  await assert.rejects(fooled.signOn(), /not the key we trust/);
  // A HELLO whose handshake was made for another key: the server cannot read it.
  const [retry] = await h.deliver(encode({ ...writerHello('w', 2), cookie: Buffer.alloc(0) } as Hello), CLIENT, T0);
  assert.ok(retry?.kind === 'retry' && retry.serverKey?.equals(ENCRYPTED.encryption.staticKey.publicKey), 'RETRY names the server key');
  const liar = new SealedClient(h, writerHello('w', 2), undefined, CLIENT, trusting(other.publicKey));
  liar.cipher.retried(h.serverAddress, other.publicKey);
  const plain = { ...writerHello('w', 2), cookie: retry.cookie } as Hello;
  assert.deepEqual(await h.deliver(encode({ ...plain, handshake: liar.cipher.handshake(plain)! }), CLIENT, T0), []);
  assert.equal(h.core.stats.forged, 1);
  assert.equal(h.core.snapshot().sessions.total, 0);
});

test('a flood of HELLOs from spoofed addresses costs no public-key operation; a handshake costs three', async () => {
  const h = new ServerHarness(ENCRYPTED);
  for (let i = 0; i < 50_000; i++) {
    const from = { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 1024 + (i % 60_000) };
    h.core.handleDatagram(encode({ ...writerHello(`w${i % 100}`, i), cookie: Buffer.alloc(0) } as Hello), from, T0);
    while (h.core.pollTransmit());
  }
  // With cookies that are not theirs, too.
  for (let i = 0; i < 1_000; i++) {
    const hello = { ...writerHello('w', i), cookie: Buffer.alloc(16, i), handshake: Buffer.alloc(112, 1) } as Hello;
    h.core.handleDatagram(encode(hello), { address: '10.9.9.9', port: 2000 + i }, T0);
    while (h.core.pollTransmit());
  }
  assert.equal(h.core.stats.publicKeyOps, 0);
  assert.equal(h.core.stats.retries, 51_000);
  assert.equal(h.core.snapshot().sessions.total, 0);
  await opened(h, 'w', 1);
  assert.equal(h.core.stats.publicKeyOps, 3, 'es on the first message, a fresh ephemeral key and ee for the answer');
});

test('a HELLO sent again gets the same sealed WELCOME, with no public-key work; a plain-text client is refused', async () => {
  const h = new ServerHarness(ENCRYPTED);
  const { c, answers } = await opened(h, 'w', 1);
  const ops = h.core.stats.publicKeyOps;
  const again = await h.deliver(encode(c.hello!), CLIENT, T0 + 5);
  assert.deepEqual(again, answers);
  assert.equal(h.core.stats.publicKeyOps, ops);
  const plain = await h.handshake(writerHello('p', 3), OTHER, T0);
  assert.equal(plain[0]?.kind, 'refuse');
  assert.match((plain[0] as { reason: string }).reason, /encrypts every session/);
});

test('open mode, encrypted: a secret is ignored (the WELCOME says so), the session sealed all the same', async () => {
  const h = new ServerHarness(ENCRYPTED);
  const { c, authenticated } = await opened(h, 'alice', 1, CLIENT, T0, Buffer.from('whatever'));
  assert.equal(authenticated, false);
  const out = await h.deliverRaw(c.seal(dataOf(c.sessionId, 1, 'x')), CLIENT, T0);
  assert.deepEqual(out.map((t) => t.packet.kind), ['ack']);
  assert.ok(recordHead(out[0]!.data));
});

test('authenticated mode: the holder of a name may take over its own session; the old one is told, in its keys', async () => {
  const h = new ServerHarness(AUTH);
  const saves: boolean[] = [];
  const saveClient = h.store.saveClient.bind(h.store);
  h.store.saveClient = (cl) => (saves.push(cl.online), saveClient(cl));
  const first = await opened(h, 'alice', 1);
  const second = await opened(h, 'alice', 2, OTHER, T0 + 10);
  assert.deepEqual(saves, [true, true], 'never shown offline in between');
  assert.notEqual(first.c.sessionId, second.c.sessionId);
  assert.equal(h.core.snapshot().sessions.total, 1);
  assert.ok(second.answers.some((p) => p.kind === 'goodbye' && p.sessionId === first.c.sessionId), 'the old client hears at once');
  // Whatever the old client sends next is answered with a GOODBYE it can open.
  assert.deepEqual((await first.c.send({ kind: 'ping', sessionId: first.c.sessionId }, T0 + 20)).map((p) => p.kind), ['goodbye']);
  // Only the old client is told: not another address, nor a record it did not seal.
  const oldPing = first.c.seal({ kind: 'ping', sessionId: first.c.sessionId }, T0 + 21);
  assert.deepEqual(await h.deliver(oldPing, { address: '127.0.0.9', port: 40100 }, T0 + 21), [], 'another address');
  const notTheirs = second.c.seal({ kind: 'ping', sessionId: second.c.sessionId }, T0 + 21);
  notTheirs.writeBigUInt64BE(first.c.sessionId, 4);
  assert.deepEqual(await h.deliver(notTheirs, CLIENT, T0 + 21), [], 'another key');
  await h.settle(T0 + 21);
  assert.deepEqual((await h.store.clients()).map((cl) => [cl.name, cl.online]), [['alice', true]]);
  // Told for a session timeout; then the old session is forgotten like any other.
  const timeout = SERVER_DEFAULTS.sessionTimeoutMs;
  h.core.handleTimeout(T0 + 10 + timeout - 1);
  assert.deepEqual((await first.c.send({ kind: 'ping', sessionId: first.c.sessionId }, T0 + 10 + timeout - 1)).map((p) => p.kind), ['goodbye']);
  for (let t = T0 + 10 + timeout; t <= T0 + 10 + timeout + 1_000; t += 100) h.core.handleTimeout(t);
  assert.deepEqual((await first.c.send({ kind: 'ping', sessionId: first.c.sessionId }, T0 + 11 + timeout + 1_000)).map((p) => p.kind), ['unknown-session']);
  // In open mode the same attempt is refused and the holder keeps its name.
  const open = new ServerHarness(ENCRYPTED);
  await opened(open, 'alice', 1, CLIENT, T0, undefined);
  const taken = await new SealedClient(open, writerHello('alice', 2), undefined, ELSEWHERE).signOn(T0 + 10);
  assert.equal(taken.refuse?.code, RefuseCode.NameTaken);
});

test('authenticated mode: a recorded HELLO sent again from the same address opens nothing', async () => {
  const h = new ServerHarness(AUTH);
  const { c } = await opened(h, 'alice', 1);
  await c.send({ kind: 'bye', sessionId: c.sessionId, position: 0 }, T0 + 5);
  assert.equal(h.core.snapshot().sessions.total, 0);
  assert.deepEqual(await h.deliver(encode(c.hello!), CLIENT, T0 + 10), []);
  assert.equal(h.core.snapshot().sessions.total, 0);
});

test('handshakes per host are limited before any public-key work, with a refusal the client may retry after', async () => {
  const h = new ServerHarness({ ...ENCRYPTED, handshakesPerSecond: 3 });
  const answers: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await new SealedClient(h, writerHello(`w${i}`, 10 + i), undefined, { address: '127.0.0.1', port: 41000 + i }).signOn();
    answers.push(r.welcome ? 'welcome' : (r.refuse?.reason ?? '?'));
  }
  assert.deepEqual(answers.slice(0, 3), ['welcome', 'welcome', 'welcome']);
  assert.match(answers[3]!, /too many handshakes from 127\.0\.0\.1/);
  assert.equal(h.core.stats.publicKeyOps, 9, 'three handshakes, three operations each; none for the refused');
  assert.ok((await new SealedClient(h, writerHello('w9', 99), undefined, OTHER).signOn()).refuse, 'same host');
  const later = await new SealedClient(h, writerHello('w5', 50), undefined, { address: '127.0.0.1', port: 42000 }).signOn(T0 + 1_000);
  assert.ok(later.welcome, 'a second later there is room again');
});

test('a writer over its message rate has the excess dropped and is told, and is taken again after the pause', async () => {
  const h = new ServerHarness({ messagesPerSecond: 10 });
  const [w] = await h.handshake(writerHello('fast', 1), CLIENT, T0);
  const sessionId = (w as Welcome).sessionId;
  const many = (seq: number, n: number): Buffer =>
    encode({ kind: 'data', sessionId, seq, entries: Array.from({ length: n }, () => ({ more: false, continued: false, text: Buffer.from('m') })) });
  assert.deepEqual((await h.deliver(many(1, 8), CLIENT, T0)).map((p) => p.kind), ['ack']);
  assert.deepEqual((await h.deliver(many(2, 8), CLIENT, T0)).map((p) => p.kind), ['ack'], 'a bucket not empty takes a whole datagram');
  const throttled = await h.deliver(many(3, 8), CLIENT, T0);
  assert.equal(throttled.length, 1);
  const t = throttled[0]!;
  assert.ok(t.kind === 'throttle' && t.limit === 10 && t.retryAfterMs > 0 && t.retryAfterMs <= 1000);
  assert.equal(h.core.stats.throttled, 1);
  assert.deepEqual((await h.deliver(many(3, 8), CLIENT, T0 + 1_000)).map((p) => p.kind), ['ack']);
  const stored = await h.store.read(1, { maxMessages: 100, maxBytes: 10_000, user: 'x' });
  assert.equal(stored.messages.length, 24);
});

test('a group named after another user is refused: only alice reads what is sent to alice', async () => {
  const h = new ServerHarness(AUTH);
  const reader = (name: string, group: string, nonce: number): HelloFields => ({ kind: 'hello', role: Role.Reader, nonce, name, fromKind: 0, fromId: 0, group });
  const r = (await new SealedClient(h, reader('bob', 'alice', 11), SECRETS.get('bob')).signOn()).refuse;
  assert.equal(r?.code, RefuseCode.Unauthorized);
  assert.match(r.reason, /alice is a user: only alice may read what is sent to alice/);
  assert.ok((await new SealedClient(h, reader('alice', 'alice', 12), SECRETS.get('alice'), OTHER).signOn()).welcome, 'a user may read its own messages as a group');
  const other = await new SealedClient(h, reader('bob', 'jobs', 13), SECRETS.get('bob'), { address: '127.0.0.3', port: 40010 }).signOn();
  assert.ok(other.welcome, 'a group name that is nobody’s is open to every user');
});

test('rights per topic: a user limited to reading logs.> cannot write there, nor read elsewhere; it is shown only the topics it may use', async () => {
  const rights = new Map([['bob', { read: ['logs.>'], write: [] }]]);
  const h = new ServerHarness({ ...ENCRYPTED, users: { ...USERS, rights: (n: string) => rights.get(n) } });
  const hosts = Array.from({ length: 8 }, (_, i) => ({ address: `127.0.2.${i + 1}`, port: 40000 + i }));
  const as = (fields: HelloFields, user: string, i: number) => new SealedClient(h, fields, SECRETS.get(user), hosts[i]).signOn();
  const reader = (name: string, nonce: number, topic?: string, more: Partial<Omit<HelloReader, 'cookie' | 'handshake'>> = {}): HelloFields => ({
    kind: 'hello',
    role: Role.Reader,
    nonce,
    name,
    fromKind: 0,
    fromId: 0,
    ...(topic !== undefined && { topic }),
    ...more,
  });
  // alice has no rights listed: every topic, as before rights existed.
  assert.ok((await as({ ...writerHello('alice', 1), topic: 'chat.ops' }, 'alice', 0)).welcome);
  assert.ok((await as({ ...writerHello('alice', 2), topic: 'logs.web' }, 'alice', 1)).welcome);
  const write = (await as({ ...writerHello('bob', 3), topic: 'logs.web' }, 'bob', 2)).refuse;
  assert.equal(write?.code, RefuseCode.Unauthorized);
  assert.equal(write.reason, 'bob may not write to logs.web on this server');
  assert.equal((await as(reader('bob', 4, 'chat.ops'), 'bob', 3)).refuse?.reason, 'bob may not read chat.ops on this server');
  assert.equal((await as(reader('bob', 5), 'bob', 4)).refuse?.reason, 'bob may not read main on this server', 'the default topic is a topic like the others');
  assert.ok((await as(reader('bob', 6, 'logs.web'), 'bob', 5)).welcome);
  assert.ok((await as(reader('bob', 7, 'logs.db', { group: 'jobs' }), 'bob', 6)).welcome, 'a group member reads');
  // An observer reads no topic: it signs on, and its list names only what bob may use.
  const o = new SealedClient(h, reader('bob', 8, undefined, { role: Role.Observer }), SECRETS.get('bob'), hosts[7]);
  assert.ok((await o.signOn()).welcome);
  const [list] = await o.send({ kind: 'topics', sessionId: o.sessionId, requestId: 1, after: '' });
  assert.ok(list?.kind === 'topic-list');
  assert.deepEqual(list.topics.map((t) => t.topic), ['logs.db', 'logs.web']);
});

test('sealed replies still fit the datagram size of the path', async () => {
  const h = new ServerHarness(AUTH);
  const w = await opened(h, 'alice', 1);
  const text = 'x'.repeat(300);
  for (let seq = 1; seq <= 8; seq++) {
    await w.c.send({ kind: 'data', sessionId: w.c.sessionId, seq, entries: [1, 2, 3].map(() => ({ more: false, continued: false, text: Buffer.from(text) })) }, T0 + seq);
  }
  const reader = new SealedClient(h, { kind: 'hello', role: Role.Reader, nonce: 5, name: 'bob', fromKind: 1, fromId: 0 }, SECRETS.get('bob'), FAR);
  assert.ok((await reader.signOn(T0 + 10)).welcome);
  const fetch: Packet = { kind: 'fetch', sessionId: reader.sessionId, fetchId: 1, position: 1, offset: 0, waitMs: 0, maxDatagrams: 16 };
  const replies = await h.deliverRaw(reader.seal(fetch, T0 + 11), FAR, T0 + 11);
  assert.ok(replies.length >= 6, `${replies.length} datagrams`);
  for (const r of replies) {
    assert.ok(r.data.length <= 1_200, `${r.data.length} bytes`);
    assert.ok(recordHead(r.data));
  }
  const bytes = new Map<number, number>();
  for (const m of replies.flatMap((r) => (r.packet.kind === 'batch' ? r.packet.messages : []))) bytes.set(m.id, (bytes.get(m.id) ?? 0) + m.text.length);
  assert.deepEqual([...bytes.values()], Array.from({ length: 24 }, () => 300), 'every message whole, some in fragments');
});

test('a client of protocol 1 (or 2, before topics) is told, in its own version, to upgrade', async () => {
  const h = new ServerHarness(ENCRYPTED);
  const v1 = encode({ ...writerHello('old', 77), cookie: Buffer.alloc(0) } as Hello);
  v1[2] = 1;
  const out = h.core.handleDatagram(v1, CLIENT, T0);
  void out;
  const t = h.core.pollTransmit();
  assert.ok(t);
  assert.equal(t.data[2], 1, 'version 1, which the old client reads');
  assert.ok(t.data.length <= v1.length, 'no larger than the HELLO');
  const current = Buffer.from(t.data);
  current[2] = PROTOCOL_VERSION;
  const { decode } = await import('../../src/protocol/codec.js');
  const refuse = decode(current);
  assert.ok(refuse.kind === 'refuse' && refuse.nonce === 77 && refuse.code === RefuseCode.BadVersion);
  assert.match(refuse.reason, /upgrade udp-relay/);
});

test('a handshake sealed to the server key whose payload is not laid out as one opens nothing; a server in plain text refuses a HELLO that carries one', async () => {
  const h = new ServerHarness(ENCRYPTED);
  const [retry] = await h.deliver(encode({ ...writerHello('w', 4), cookie: Buffer.alloc(0) } as Hello), CLIENT, T0);
  assert.ok(retry?.kind === 'retry');
  const plain = { ...writerHello('w', 4), cookie: retry.cookie } as Hello;
  const nk = new NkInitiator(noiseCrypto, ENCRYPTED.encryption.staticKey.publicKey, helloPrologue(plain));
  const badPayload = Buffer.alloc(HANDSHAKE_PAYLOAD_BYTES_MIN, 1); // claims a secret of 1 byte, padding not zero
  assert.deepEqual(await h.deliver(encode({ ...plain, handshake: nk.writeMessage(badPayload) }), CLIENT, T0), []);
  assert.equal(h.core.stats.forged, 1);
  assert.equal(h.core.snapshot().sessions.total, 0);

  const p = new ServerHarness();
  const [r2] = await p.deliver(encode({ ...writerHello('w', 5), cookie: Buffer.alloc(0) } as Hello), CLIENT, T0);
  assert.ok(r2?.kind === 'retry' && r2.serverKey === undefined, 'no key from a server in plain text');
  const [refused] = await p.deliver(encode({ ...writerHello('w', 5), cookie: r2.cookie, handshake: Buffer.alloc(112, 1) } as Hello), CLIENT, T0);
  assert.ok(refused?.kind === 'refuse' && refused.code === RefuseCode.BadVersion && /does not encrypt/.test(refused.reason));
});

test('a HELLO that does not decode is counted and not answered; one of a newer version is not answered either', async () => {
  const h = new ServerHarness(ENCRYPTED);
  const bad = encode({ ...writerHello('w', 1), cookie: Buffer.alloc(0) } as Hello);
  bad[4] = 9; // role 9
  assert.deepEqual(await h.deliver(bad, CLIENT, T0), []);
  const newer = encode({ ...writerHello('w', 1), cookie: Buffer.alloc(0) } as Hello);
  newer[2] = PROTOCOL_VERSION + 1;
  assert.deepEqual(await h.deliver(newer, CLIENT, T0), []);
  assert.equal(h.core.stats.malformed, 2);
});
