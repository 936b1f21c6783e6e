import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, type Address } from '../../src/core/address.js';
import { Handshake, type Admission } from '../../src/core/server/handshake.js';
import { SERVER_DEFAULTS } from '../../src/core/server/server-config.js';
import type { Session } from '../../src/core/server/sessions.js';
import { RefuseCode, Role } from '../../src/protocol/constants.js';
import type { Hello } from '../../src/protocol/packets.js';
import { ClientCipher } from '../../src/core/client/client-cipher.js';
import { noiseCrypto } from '../../src/io/noise-crypto.js';
import { ENCRYPTED, SERVER_KEYS, trusting } from './sealed-client.js';
import { helloReader, hmac, T0 } from './helpers.js';

// The admission of a HELLO, decided before any session exists: what the server core then does.

const HOST: Address = { address: '127.0.0.5', port: 40100 };
const SAME_HOST: Address = { address: '127.0.0.5', port: 40101 };
const OTHER_HOST: Address = { address: '127.0.0.6', port: 40102 };
const config = (secrets?: Map<string, Buffer>) => ({
  ...SERVER_DEFAULTS,
  randomId: () => 1n,
  randomKey: () => Buffer.alloc(32, 3),
  mac: hmac,
  ...(secrets && { ...ENCRYPTED, users: { has: (n: string) => secrets.has(n), verify: (n: string, s: Buffer) => secrets.get(n)?.equals(s) === true } }),
});

/** A HELLO with the cookie the handshake gave this address (as the client sends it after RETRY). */
function withCookie(hs: Handshake, h: Omit<Hello, 'cookie'>, from: Address, now = T0): Hello {
  const first = hs.admit({ ...h, cookie: Buffer.alloc(0) } as Hello, from, undefined, now);
  assert.equal(first.verdict, 'retry');
  return { ...h, cookie: (first as Extract<Admission, { verdict: 'retry' }>).cookie } as Hello;
}

const holder = (from: Address, lastSeen: number, extra: Partial<Session> = {}): Session =>
  ({ id: 7n, name: 'r', nameKey: `${Role.Reader}:r`, addr: from, addrKey: addressKey(from), lastSeen, ready: true, helloNonce: 1, datagramBytes: 1200, role: Role.Reader, position: 0, fetchDeadline: 0, reading: false, ...extra }) as Session;

test('no cookie, or one made for another address: a RETRY with a cookie, nothing kept', () => {
  const hs = new Handshake(config());
  const h = withCookie(hs, helloReader('r'), HOST);
  assert.equal(hs.admit(h, OTHER_HOST, undefined, T0).verdict, 'retry');
  assert.equal(hs.admit(h, HOST, undefined, T0).verdict, 'admit');
  assert.equal(hs.waiting, 1, 'a rate bucket for the host that proved its address');
});

test('the HELLO of a session made already (its WELCOME lost): the same session again', () => {
  const hs = new Handshake(config());
  const h = withCookie(hs, helloReader('r', 1), HOST);
  const s = holder(HOST, T0);
  assert.deepEqual(hs.admit(h, HOST, s, T0), { verdict: 'again', session: s });
});

test('bad names, bad group names and too many handshakes are refused, with the reason', () => {
  const hs = new Handshake({ ...config(), handshakesPerSecond: 2 });
  const bad = (h: Omit<Hello, 'cookie'>): Admission => hs.admit(withCookie(hs, h, HOST), HOST, undefined, T0);
  assert.deepEqual(pick(bad(helloReader('no spaces'))), ['refuse', RefuseCode.BadName]);
  assert.deepEqual(pick(bad({ ...helloReader('ok'), group: 'a/b' } as Omit<Hello, 'cookie'>)), ['refuse', RefuseCode.BadName]);
  assert.deepEqual(pick(bad(helloReader('ok'))), ['refuse', RefuseCode.RateLimited], 'the third handshake this second');
});

test("a name held by a live session elsewhere is refused; silent past the timeout, or from the holder's own address, it is replaced", () => {
  const hs = new Handshake(config());
  const h = withCookie(hs, helloReader('r', 2), OTHER_HOST);
  assert.deepEqual(pick(hs.admit(h, OTHER_HOST, holder(HOST, T0), T0 + 1)), ['refuse', RefuseCode.NameTaken]);
  const silent = holder(HOST, T0 - 30_001);
  assert.deepEqual(hs.admit(h, OTHER_HOST, silent, T0), { verdict: 'admit', proven: false, responder: undefined, ends: { holder: silent, reason: 'replaced', reclaimed: false } });
  const own = withCookie(hs, helloReader('r', 3), HOST);
  const mine = holder(HOST, T0);
  assert.deepEqual(hs.admit(own, HOST, mine, T0), { verdict: 'admit', proven: false, responder: undefined, ends: { holder: mine, reason: 'replaced', reclaimed: false } });
});

test("from the holder's host (its client started again?): the holder is asked first, and its name given over only if it stays silent", () => {
  const hs = new Handshake(config());
  const h = withCookie(hs, helloReader('r', 2), SAME_HOST);
  const live = holder(HOST, T0);
  assert.deepEqual(hs.admit(h, SAME_HOST, live, T0), { verdict: 'ping', holder: live });
  assert.equal(hs.admit(h, SAME_HOST, live, T0 + 500).verdict, 'ping', 'asked again at each try');
  const after = hs.admit(h, SAME_HOST, live, T0 + 1_001);
  assert.deepEqual(after, { verdict: 'admit', proven: false, responder: undefined, ends: { holder: live, reason: 'replaced', reclaimed: true } });
  const answering = holder(HOST, T0, { answeredAt: T0 + 300 });
  const hs2 = new Handshake(config());
  const h2 = withCookie(hs2, helloReader('r', 2), SAME_HOST);
  hs2.admit(h2, SAME_HOST, answering, T0);
  assert.deepEqual(pick(hs2.admit(h2, SAME_HOST, answering, T0 + 1_001)), ['refuse', RefuseCode.NameTaken], 'it answered: it runs');
});

test('authenticated mode: a proven login takes over its own live session; a recorded HELLO sent again is ignored', () => {
  const secret = Buffer.from('s3cret');
  const hs = new Handshake(config(new Map([['r', secret]])));
  const base = withCookie(hs, helloReader('r', 4), OTHER_HOST);
  const sealedWith = (secret: Buffer | undefined): Hello => {
    const cipher = new ClientCipher({ crypto: noiseCrypto, serverKeys: trusting() }, secret);
    cipher.retried(OTHER_HOST, SERVER_KEYS.publicKey);
    return { ...base, handshake: cipher.handshake(base)! };
  };
  const h = sealedWith(secret);
  const live = holder(HOST, T0);
  const taken = hs.admit(h, OTHER_HOST, live, T0);
  assert.ok(taken.verdict === 'admit' && taken.proven && taken.responder !== undefined && taken.ends?.reason === 'taken-over' && taken.ends.holder === live);
  assert.deepEqual(hs.admit(h, OTHER_HOST, undefined, T0 + 1), { verdict: 'ignore' });
  assert.deepEqual(pick(hs.admit(sealedWith(undefined), OTHER_HOST, undefined, T0 + 2)), ['refuse', RefuseCode.Unauthorized], 'no secret');
  assert.deepEqual(pick(hs.admit(base, OTHER_HOST, undefined, T0 + 3)), ['refuse', RefuseCode.BadVersion], 'no handshake: a client in plain text');
});

function pick(a: Admission): unknown[] {
  return a.verdict === 'refuse' ? [a.verdict, a.code] : [a.verdict];
}
