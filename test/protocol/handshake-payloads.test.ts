import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from '../../src/protocol/codec.js';
import { HANDSHAKE_PAYLOAD_BYTES_MIN, HELLO_BYTES_MIN, PROTOCOL_VERSION, RefuseCode, Role, SECRET_BYTES_MAX } from '../../src/protocol/constants.js';
import { decode } from '../../src/protocol/codec.js';
import { helloPrologue, payloadSecret, payloadWelcome, secretPayload, welcomePayload } from '../../src/protocol/handshake-payloads.js';
import { refuseOldVersion } from '../../src/protocol/old-versions.js';
import type { Hello, Welcome } from '../../src/protocol/packets.js';

const hello: Hello = { kind: 'hello', role: Role.Writer, nonce: 9, name: 'w', cookie: Buffer.alloc(16, 1), producerId: 3n, nextSeq: 1 };
const welcome: Welcome = { kind: 'welcome', nonce: 9, sessionId: 5n, maxMessageBytes: 1024, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 1, missed: 0 };

describe('handshake payloads', () => {
  test('the prologue is the HELLO without its cookie and handshake message: the same for any cookie, another for any other field', () => {
    const p = helloPrologue(hello);
    assert.deepEqual(p, encode({ ...hello, cookie: Buffer.alloc(0) }));
    assert.deepEqual(helloPrologue({ ...hello, cookie: Buffer.alloc(0), handshake: Buffer.alloc(112, 7) }), p);
    assert.notDeepEqual(helloPrologue({ ...hello, name: 'x' }), p);
    assert.notDeepEqual(helloPrologue({ ...hello, nonce: 10 }), p);
  });

  test('a secret in the first payload: its length, itself, zeros up to 64 bytes; read back exactly', () => {
    assert.deepEqual(secretPayload(undefined), Buffer.alloc(HANDSHAKE_PAYLOAD_BYTES_MIN));
    const s = secretPayload(Buffer.from('abc'));
    assert.equal(s.length, HANDSHAKE_PAYLOAD_BYTES_MIN);
    assert.deepEqual([...s.subarray(0, 4)], [3, 97, 98, 99]);
    assert.equal(payloadSecret(s)?.toString(), 'abc');
    assert.equal(payloadSecret(secretPayload(undefined)), undefined, 'none');
    const long = Buffer.alloc(SECRET_BYTES_MAX, 0x61);
    const sl = secretPayload(long);
    assert.equal(sl.length, 1 + SECRET_BYTES_MAX);
    assert.deepEqual(payloadSecret(sl), long);
    assert.throws(() => secretPayload(Buffer.alloc(SECRET_BYTES_MAX + 1)), /at most 255 bytes/);
    const edge = Buffer.alloc(HANDSHAKE_PAYLOAD_BYTES_MIN - 1, 0x62);
    assert.equal(secretPayload(edge).length, HANDSHAKE_PAYLOAD_BYTES_MIN, 'a 63-byte secret fills it exactly');
    assert.deepEqual(payloadSecret(secretPayload(edge)), edge);
  });

  test('a first payload not laid out so is bad: empty, the wrong length for its secret, padding that is not zero', () => {
    assert.equal(payloadSecret(Buffer.alloc(0)), 'bad');
    assert.equal(payloadSecret(Buffer.alloc(HANDSHAKE_PAYLOAD_BYTES_MIN - 1)), 'bad', 'short');
    assert.equal(payloadSecret(Buffer.alloc(HANDSHAKE_PAYLOAD_BYTES_MIN + 1)), 'bad', 'long');
    const claims = secretPayload(Buffer.from('abc'));
    claims[0] = 100;
    assert.equal(payloadSecret(claims), 'bad', 'a length beyond the payload');
    for (const at of [4, HANDSHAKE_PAYLOAD_BYTES_MIN - 1]) {
      const dirty = secretPayload(Buffer.from('abc'));
      dirty[at] = 1;
      assert.equal(payloadSecret(dirty), 'bad', `padding byte ${at}`);
    }
  });

  test('the second payload: flags, then the WELCOME; anything else is none', () => {
    assert.deepEqual(payloadWelcome(welcomePayload(welcome, true)), { welcome, authenticated: true });
    assert.deepEqual(payloadWelcome(welcomePayload(welcome, false)), { welcome, authenticated: false });
    assert.equal(welcomePayload(welcome, true)[0], 1);
    assert.equal(welcomePayload(welcome, false)[0], 0);
    assert.equal(payloadWelcome(Buffer.alloc(0)), undefined, 'empty');
    const other = welcomePayload(welcome, true);
    other[0] = 2;
    assert.equal(payloadWelcome(other), undefined, 'an unknown flag');
    assert.equal(payloadWelcome(Buffer.concat([Buffer.from([0]), encode({ kind: 'pong', sessionId: 5n })])), undefined, 'not a WELCOME');
    assert.equal(payloadWelcome(Buffer.from([0, 1, 2, 3])), undefined, 'not a packet');
  });
});

describe('older clients', () => {
  const v1 = (h: Hello = hello): Buffer => {
    const b = encode(h);
    b[2] = 1;
    return b;
  };

  test('a version 1, 2 or 3 HELLO gets a REFUSE of its version, with its nonce, no larger than the HELLO', () => {
    for (const version of [1, 2, 3]) {
      const old = v1();
      old[2] = version;
      const r = refuseOldVersion(old)!;
      assert.equal(r[2], version);
      assert.ok(r.length <= HELLO_BYTES_MIN);
      r[2] = PROTOCOL_VERSION;
      const p = decode(r);
      assert.ok(p.kind === 'refuse' && p.nonce === 9 && p.code === RefuseCode.BadVersion && /speaks protocol 4: upgrade udp-relay/.test(p.reason));
    }
  });

  test('nothing for what is not an older HELLO: short, another magic, version 0, ours or newer, another kind', () => {
    assert.equal(refuseOldVersion(v1().subarray(0, HELLO_BYTES_MIN - 1)), undefined);
    for (const [at, value] of [[0, 0x56], [1, 0x53], [2, 0], [2, PROTOCOL_VERSION], [2, PROTOCOL_VERSION + 1], [3, 0x10]] as const) {
      const b = v1();
      b[at] = value;
      assert.equal(refuseOldVersion(b), undefined, `byte ${at} = ${value}`);
    }
    assert.ok(refuseOldVersion(v1()), 'and the real thing is answered');
  });
});
