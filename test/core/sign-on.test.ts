import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { ClientAuth } from '../../src/core/client-auth.js';
import { RttEstimator } from '../../src/core/rtt-estimator.js';
import { ByeTimer, HelloTimer } from '../../src/core/sign-on.js';
import { helloProof, seal, sessionKeys, TAG_BYTES } from '../../src/protocol/auth.js';
import { encode } from '../../src/protocol/codec.js';
import { RefuseCode, Role } from '../../src/protocol/constants.js';
import type { Welcome } from '../../src/protocol/packets.js';

const mac = (k: Buffer, d: Buffer): Buffer => createHmac('sha256', k).update(d).digest();
const secret = Buffer.from('s3cret');
const ctx = { role: Role.Writer, name: 'w' } as const;
const welcome: Welcome = { kind: 'welcome', nonce: 5, sessionId: 9n, maxMessageBytes: 1024, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 0, missed: 0 };
const ping = encode({ kind: 'ping', sessionId: 9n });

describe('HELLO timer', () => {
  test('HELLO again after 250 ms, doubling to 1 s; due from its deadline on', () => {
    const t = new HelloTimer(5);
    assert.equal(t.deadline, undefined);
    assert.equal(t.due(1e9), false, 'nothing sent, nothing due');
    const gaps: number[] = [];
    let now = 1_000;
    for (let i = 0; i < 5; i++) {
      t.sent(now);
      gaps.push(t.deadline! - now);
      assert.equal(t.due(t.deadline! - 1), false);
      assert.equal(t.due(t.deadline!), true);
      now = t.deadline!;
      t.backOff();
    }
    assert.deepEqual(gaps, [250, 500, 1_000, 1_000, 1_000]);
    t.stop();
    assert.equal(t.deadline, undefined);
    assert.equal(t.due(now + 10_000), false);
  });

  test('a RETRY: its cookie kept, HELLO again at once with the short wait; an RTT sample when HELLO went once', () => {
    const t = new HelloTimer(5);
    const rtt = new RttEstimator();
    t.sent(1_000);
    t.backOff();
    const cookie = Buffer.alloc(16, 3);
    assert.equal(t.answered({ kind: 'retry', nonce: 5, cookie }, Buffer.alloc(0), ctx, 1_040, rtt, new ClientAuth(undefined, undefined)), 'again');
    assert.deepEqual(t.cookie, cookie);
    assert.equal(rtt.smoothedMs, 40);
    t.sent(1_040);
    assert.equal(t.deadline, 1_040 + 250, 'the wait starts short again');
  });

  test('Karn: no RTT sample from an answer to a HELLO sent twice', () => {
    const t = new HelloTimer(5);
    const rtt = new RttEstimator();
    t.sent(1_000);
    t.sent(1_250);
    t.answered({ kind: 'retry', nonce: 5, cookie: Buffer.alloc(16) }, Buffer.alloc(0), ctx, 1_300, rtt, new ClientAuth(undefined, undefined));
    assert.equal(rtt.smoothedMs, 200, 'still the initial guess');
    // The count starts over: the next HELLO, answered, is a sample from when it went.
    t.sent(2_000);
    t.answered(welcome, encode(welcome), ctx, 2_030, rtt, new ClientAuth(undefined, undefined));
    assert.equal(rtt.smoothedMs, 30);
  });

  test('a REFUSE: later when rate limited, else refused', () => {
    const t = new HelloTimer(5);
    const auth = new ClientAuth(undefined, undefined);
    const rtt = new RttEstimator();
    assert.equal(t.answered({ kind: 'refuse', nonce: 5, code: RefuseCode.RateLimited, reason: '' }, Buffer.alloc(0), ctx, 0, rtt, auth), 'later');
    assert.equal(t.answered({ kind: 'refuse', nonce: 5, code: RefuseCode.NameTaken, reason: '' }, Buffer.alloc(0), ctx, 0, rtt, auth), 'refused');
  });

  test('a WELCOME ends the timer; a forged one is ignored and the timer runs on', () => {
    const t = new HelloTimer(5);
    const rtt = new RttEstimator();
    t.sent(0);
    const forged = seal(encode(welcome), Buffer.alloc(32), mac);
    assert.equal(t.answered(welcome, forged, ctx, 10, rtt, new ClientAuth(undefined, undefined)), 'ignore');
    assert.equal(t.deadline, 250);
    assert.equal(rtt.smoothedMs, 200, 'no sample from a forgery');
    assert.equal(t.answered(welcome, encode(welcome), ctx, 20, rtt, new ClientAuth(undefined, undefined)), 'accepted');
    assert.equal(t.deadline, undefined);
    assert.equal(rtt.smoothedMs, 20);
  });

  test('with a secret: a WELCOME tagged with the keys of this nonce and cookie is accepted; an untagged one means an open server', () => {
    const t = new HelloTimer(5);
    t.answered({ kind: 'retry', nonce: 5, cookie: Buffer.alloc(16, 1) }, Buffer.alloc(0), ctx, 0, new RttEstimator(), new ClientAuth(secret, mac));
    const keys = sessionKeys(mac, secret, { ...ctx, nonce: 5, cookie: Buffer.alloc(16, 1) });
    const auth = new ClientAuth(secret, mac);
    assert.equal(t.answered(welcome, seal(encode(welcome), keys.toClient, mac), ctx, 0, new RttEstimator(), auth), 'accepted');
    assert.equal(auth.active, true);
    const other = sessionKeys(mac, secret, { ...ctx, nonce: 6, cookie: Buffer.alloc(16, 1) });
    assert.equal(t.answered(welcome, seal(encode(welcome), other.toClient, mac), ctx, 0, new RttEstimator(), new ClientAuth(secret, mac)), 'ignore');
    assert.equal(t.answered(welcome, encode(welcome), ctx, 0, new RttEstimator(), new ClientAuth(secret, mac)), 'open');
  });

  test('a new registration: the next nonce (wrapping at 2^32), no cookie, the short wait', () => {
    const t = new HelloTimer(2 ** 32 - 1);
    assert.equal(t.nonce, 2 ** 32 - 1);
    t.answered({ kind: 'retry', nonce: 0, cookie: Buffer.alloc(16, 1) }, Buffer.alloc(0), ctx, 0, new RttEstimator(), new ClientAuth(undefined, undefined));
    t.backOff();
    t.renew();
    assert.equal(t.nonce, 0);
    assert.equal(t.cookie.length, 0);
    t.sent(100);
    assert.equal(t.deadline, 350);
    assert.equal(new HelloTimer(-1).nonce, 2 ** 32 - 1, 'nonces are u32');
    const n = new HelloTimer(7);
    n.renew();
    assert.equal(n.nonce, 8);
  });
});

describe('BYE timer', () => {
  test('BYE every 200 ms until answered or the tries run out', () => {
    const b = new ByeTimer(3);
    assert.equal(b.deadline, undefined);
    assert.equal(b.due(1e9), false);
    assert.equal(b.exhausted, false);
    b.sent(1_000);
    assert.equal(b.deadline, 1_200);
    assert.equal(b.due(1_199), false);
    assert.equal(b.due(1_200), true);
    b.sent(1_200);
    assert.equal(b.exhausted, false);
    b.sent(1_400);
    assert.equal(b.exhausted, true, 'three sent, three tries');
    b.stop();
    assert.equal(b.deadline, undefined);
    assert.equal(b.due(1e9), false);
    assert.equal(new ByeTimer(0).exhausted, true);
  });
});

describe('client authentication', () => {
  const h = { ...ctx, nonce: 5, cookie: Buffer.alloc(16, 1) };
  test('a secret needs a MAC', () => {
    assert.throws(() => new ClientAuth(secret, undefined), /a secret needs a MAC/);
    assert.doesNotThrow(() => new ClientAuth(undefined, undefined));
  });
  test('a proof only with a secret and a cookie', () => {
    assert.equal(new ClientAuth(undefined, undefined).proof(h), undefined);
    assert.equal(new ClientAuth(secret, mac).proof({ ...h, cookie: Buffer.alloc(0) }), undefined);
    assert.deepEqual(new ClientAuth(secret, mac).proof(h), helloProof(mac, secret, h));
  });
  test('open mode: nothing tagged is accepted, nothing is sealed', () => {
    const a = new ClientAuth(undefined, undefined);
    assert.equal(a.welcome(encode(welcome), h), 'accepted');
    assert.equal(a.active, false);
    assert.equal(a.overhead, 0);
    assert.equal(a.accepts(ping), true);
    assert.equal(a.accepts(seal(ping, Buffer.alloc(32), mac)), false);
    assert.equal(a.seal(ping), ping);
    assert.equal(a.welcome(seal(encode(welcome), Buffer.alloc(32), mac), h), 'forged');
  });
  test('authenticated: keys from the WELCOME; sealed out, verified in; forgotten on demand', () => {
    const keys = sessionKeys(mac, secret, h);
    const a = new ClientAuth(secret, mac);
    assert.equal(a.welcome(seal(encode(welcome), keys.toServer, mac), h), 'forged', 'the server seals with the to-client key');
    assert.equal(a.active, false);
    assert.equal(a.welcome(seal(encode(welcome), keys.toClient, mac), h), 'accepted');
    assert.equal(a.active, true);
    assert.equal(a.overhead, TAG_BYTES);
    assert.deepEqual(a.seal(ping), seal(ping, keys.toServer, mac));
    assert.equal(a.accepts(seal(ping, keys.toClient, mac)), true);
    assert.equal(a.accepts(seal(ping, keys.toServer, mac)), false);
    assert.equal(a.accepts(ping), false, 'untagged, in an authenticated session');
    // A later WELCOME that is not genuine drops the keys of the earlier one.
    assert.equal(a.welcome(seal(encode(welcome), Buffer.alloc(32), mac), h), 'forged');
    assert.equal(a.active, false);
    a.welcome(seal(encode(welcome), keys.toClient, mac), h);
    a.forget();
    assert.equal(a.active, false);
    assert.equal(a.seal(ping), ping);
  });
});
