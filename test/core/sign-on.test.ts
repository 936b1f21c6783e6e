import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientCipher } from '../../src/core/client/client-cipher.js';
import { RttEstimator } from '../../src/core/rtt-estimator.js';
import { SessionCipher } from '../../src/core/session-cipher.js';
import { ByeTimer, HelloTimer } from '../../src/core/sign-on.js';
import { noiseCrypto } from '../../src/io/noise-crypto.js';
import { decode, encode } from '../../src/protocol/codec.js';
import { RefuseCode, Role } from '../../src/protocol/constants.js';
import { helloPrologue, payloadSecret, welcomePayload } from '../../src/protocol/handshake-payloads.js';
import { NkResponder } from '../../src/protocol/noise.js';
import type { Hello, SealedWelcome, Welcome } from '../../src/protocol/packets.js';
import { RECORD_OVERHEAD } from '../../src/protocol/records.js';
import { SERVER_KEYS, trusting } from './sealed-client.js';

const secret = Buffer.from('s3cret');
const SERVER = { address: '127.0.0.1', port: 12345 };
const welcome: Welcome = { kind: 'welcome', nonce: 5, sessionId: 9n, maxMessageBytes: 1024, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 0, missed: 0 };
const ping = encode({ kind: 'ping', sessionId: 9n });
const plainText = (): ClientCipher => new ClientCipher(undefined, undefined);

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
    assert.deepEqual(t.answered({ kind: 'retry', nonce: 5, cookie }, SERVER, 1_040, rtt, plainText()), { kind: 'again' });
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
    t.answered({ kind: 'retry', nonce: 5, cookie: Buffer.alloc(16) }, SERVER, 1_300, rtt, plainText());
    assert.equal(rtt.smoothedMs, 200, 'still the initial guess');
    // The count starts over: the next HELLO, answered, is a sample from when it went.
    t.sent(2_000);
    t.answered(welcome, SERVER, 2_030, rtt, plainText());
    assert.equal(rtt.smoothedMs, 30);
  });

  test('a REFUSE: later when rate limited, else refused', () => {
    const t = new HelloTimer(5);
    const cipher = plainText();
    const rtt = new RttEstimator();
    assert.deepEqual(t.answered({ kind: 'refuse', nonce: 5, code: RefuseCode.RateLimited, reason: '' }, SERVER, 0, rtt, cipher), { kind: 'later' });
    assert.deepEqual(t.answered({ kind: 'refuse', nonce: 5, code: RefuseCode.NameTaken, reason: 'taken' }, SERVER, 0, rtt, cipher), { kind: 'refused', code: RefuseCode.NameTaken, reason: 'taken', byServer: true });
  });

  test('a WELCOME ends the timer; a forged one is ignored and the timer runs on', () => {
    const t = new HelloTimer(5);
    const rtt = new RttEstimator();
    t.sent(0);
    const forged: SealedWelcome = { kind: 'sealed-welcome', nonce: 5, sessionId: 9n, message: Buffer.alloc(100, 7) };
    assert.deepEqual(t.answered(forged, SERVER, 10, rtt, plainText()), { kind: 'ignore' }, 'a plain-text client takes no sealed WELCOME');
    assert.equal(t.deadline, 250);
    assert.equal(rtt.smoothedMs, 200, 'no sample from a forgery');
    assert.deepEqual(t.answered(welcome, SERVER, 20, rtt, plainText()), { kind: 'welcome', welcome, authenticated: false });
    assert.equal(t.deadline, undefined);
    assert.equal(rtt.smoothedMs, 20);
  });

  test('a RETRY whose key the client does not trust, or with none, is a refusal of ours', () => {
    const t = new HelloTimer(5);
    const cipher = new ClientCipher({ crypto: noiseCrypto, serverKeys: trusting() }, undefined);
    const other = noiseCrypto.generateKeyPair().publicKey;
    const v = t.answered({ kind: 'retry', nonce: 5, cookie: Buffer.alloc(16), serverKey: other }, SERVER, 0, new RttEstimator(), cipher);
    assert.deepEqual(v, { kind: 'refused', code: RefuseCode.Unauthorized, reason: 'not the key we trust', byServer: false });
    const none = t.answered({ kind: 'retry', nonce: 5, cookie: Buffer.alloc(16) }, SERVER, 0, new RttEstimator(), cipher);
    assert.ok(none.kind === 'refused' && !none.byServer && /does not encrypt \(it runs with --insecure-plaintext\)/.test(none.reason));
    assert.equal(t.cookie.length, 0, 'its cookie not taken');
    assert.equal(cipher.handshake({ kind: 'hello', role: Role.Writer, nonce: 5, name: 'w', cookie: Buffer.alloc(16), producerId: 1n, nextSeq: 1 }), undefined, 'no handshake with a key it refused');
  });

  test('a new registration: the next nonce (wrapping at 2^32), no cookie, the short wait', () => {
    const t = new HelloTimer(2 ** 32 - 1);
    assert.equal(t.nonce, 2 ** 32 - 1);
    t.answered({ kind: 'retry', nonce: 0, cookie: Buffer.alloc(16, 1) }, SERVER, 0, new RttEstimator(), plainText());
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

describe('client cipher', () => {
  const fields = { kind: 'hello', role: Role.Writer, nonce: 5, name: 'w', producerId: 1n, nextSeq: 1 } as const;
  const withCookie = (cookie: Buffer): Hello => ({ ...fields, cookie });

  /** The server's side of the handshake, by hand: what the client's first message carried, and a sealed WELCOME for it. */
  function answer(h: Hello, handshake: Buffer, w: Welcome = welcome) {
    const responder = new NkResponder(noiseCrypto, SERVER_KEYS, helloPrologue(h));
    const payload = responder.readMessage(handshake);
    assert.ok(payload, 'the server reads the first message');
    const { message, keys } = responder.writeMessage(welcomePayload(w, true));
    const sealed: SealedWelcome = { kind: 'sealed-welcome', nonce: w.nonce, sessionId: w.sessionId, message };
    return { secret: payloadSecret(payload), sealed, server: new SessionCipher(noiseCrypto, w.sessionId, keys.toInitiator, keys.toResponder, 0) };
  }

  test('a secret travels only in an encrypted handshake', () => {
    assert.throws(() => new ClientCipher(undefined, secret), /only in an encrypted handshake/);
  });

  test('plain text: no handshake, nothing sealed, a plain WELCOME taken, a sealed one not', () => {
    const c = plainText();
    assert.equal(c.encrypted, false);
    assert.equal(c.retried(SERVER, SERVER_KEYS.publicKey), undefined, 'a server that encrypts refuses us itself');
    assert.equal(c.handshake(withCookie(Buffer.alloc(16, 1))), undefined);
    assert.equal(c.overhead, 0);
    assert.equal(c.seal(ping, 0), ping);
    assert.equal(c.open(ping), undefined);
  });

  test('encrypted: the first message once the key is trusted and a cookie came; the same bytes for every HELLO of a nonce, whatever its cookie', () => {
    const c = new ClientCipher({ crypto: noiseCrypto, serverKeys: trusting() }, secret);
    assert.equal(c.handshake(withCookie(Buffer.alloc(16, 1))), undefined, 'no key yet');
    assert.equal(c.retried(SERVER, SERVER_KEYS.publicKey), undefined);
    assert.equal(c.handshake(withCookie(Buffer.alloc(0))), undefined, 'no cookie yet');
    const first = c.handshake(withCookie(Buffer.alloc(16, 1)))!;
    assert.deepEqual(c.handshake(withCookie(Buffer.alloc(16, 1))), first, 'a HELLO sent again carries the same message');
    c.retried(SERVER, SERVER_KEYS.publicKey);
    assert.deepEqual(c.handshake(withCookie(Buffer.alloc(16, 1))), first, 'a RETRY repeated changes nothing');
    assert.deepEqual(c.handshake(withCookie(Buffer.alloc(16, 2))), first, 'a new cookie (the old one went stale): the session the first message opened still fits');
    assert.equal(answer(withCookie(Buffer.alloc(16, 2)), first).secret!.toString(), 's3cret', 'the secret, for the server alone, whatever the cookie');
    const renewed = c.handshake({ ...withCookie(Buffer.alloc(16, 2)), nonce: 6 })!;
    assert.notDeepEqual(renewed, first, 'a new nonce (a new registration): a new handshake');
    assert.equal(first.includes(secret), false);
  });

  test('the WELCOME opened gives the session keys: sealed out, opened in, each record once; remembered only then', () => {
    const remembered: Buffer[] = [];
    const c = new ClientCipher({ crypto: noiseCrypto, serverKeys: { ...trusting(), remember: (_, k) => remembered.push(k) } }, undefined);
    c.retried(SERVER, SERVER_KEYS.publicKey);
    const h = withCookie(Buffer.alloc(16, 1));
    const { sealed, server, secret: none } = answer(h, c.handshake(h)!);
    assert.equal(none, undefined, 'no secret given');
    assert.equal(c.welcome({ ...sealed, message: Buffer.from(sealed.message).fill(1, 40, 41) }, SERVER, 0), 'forged', 'one byte changed');
    const other = new ClientCipher({ crypto: noiseCrypto, serverKeys: trusting() }, undefined);
    other.retried(SERVER, SERVER_KEYS.publicKey);
    assert.equal(c.welcome(answer(h, other.handshake(h)!).sealed, SERVER, 0), 'forged', "the answer to another client's handshake");
    assert.equal(c.welcome({ ...sealed, nonce: 6 }, SERVER, 0), 'forged', 'an answer to another HELLO of ours');
    assert.deepEqual(remembered, []);
    const h7 = { ...h, nonce: 7 };
    const lying = new ClientCipher({ crypto: noiseCrypto, serverKeys: trusting() }, undefined);
    lying.retried(SERVER, SERVER_KEYS.publicKey);
    const inner = answer(h7, lying.handshake(h7)!, welcome).sealed;
    assert.equal(lying.welcome({ ...inner, nonce: 7 }, SERVER, 0), 'forged', 'the WELCOME inside is for another nonce');
    assert.deepEqual(c.welcome(sealed, SERVER, 0), { welcome, authenticated: true });
    assert.deepEqual(remembered, [SERVER_KEYS.publicKey]);
    assert.equal(c.overhead, RECORD_OVERHEAD);
    const out = c.seal(ping, 0);
    assert.equal(out.length, ping.length + RECORD_OVERHEAD);
    assert.deepEqual(server.open(out), ping);
    const back = server.seal(encode({ kind: 'pong', sessionId: 9n }), 0);
    assert.deepEqual(decode(c.open(back)!), { kind: 'pong', sessionId: 9n });
    assert.equal(c.open(back), undefined, 'a record replayed');
    c.forget();
    assert.equal(c.open(server.seal(ping, 0)), undefined);
    assert.equal(c.seal(ping, 0), ping, 'no keys until the next handshake');
  });
});
