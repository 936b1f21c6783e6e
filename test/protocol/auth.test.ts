import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { equalBytes, helloProof, isTagged, seal, sessionKeys, TAG_BYTES, verify } from '../../src/protocol/auth.js';
import { decode, encode } from '../../src/protocol/codec.js';
import { Role } from '../../src/protocol/constants.js';
import { ProtocolError } from '../../src/protocol/errors.js';

const mac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const ctx = { role: Role.Writer, name: 'alice', nonce: 7, cookie: Buffer.alloc(16, 3) };
const secret = Buffer.from('s3cret');

test('a proof depends on the secret and on every part of the exchange', () => {
  const proof = helloProof(mac, secret, ctx);
  assert.equal(proof.length, 16);
  assert.ok(equalBytes(proof, helloProof(mac, Buffer.from('s3cret'), { ...ctx })));
  for (const other of [
    helloProof(mac, Buffer.from('s3cre7'), ctx),
    helloProof(mac, secret, { ...ctx, name: 'alicf' }),
    helloProof(mac, secret, { ...ctx, nonce: 8 }),
    helloProof(mac, secret, { ...ctx, role: Role.Reader }),
    helloProof(mac, secret, { ...ctx, cookie: Buffer.alloc(16, 4) }),
  ]) {
    assert.ok(!equalBytes(proof, other));
  }
  const keys = sessionKeys(mac, secret, ctx);
  assert.ok(!equalBytes(keys.toServer, keys.toClient), 'one key per direction');
  assert.ok(!equalBytes(keys.toServer.subarray(0, 16), proof), 'the proof on the wire says nothing of the keys');
});

test('a sealed datagram decodes as before, verifies under its key only, and any altered bit fails', () => {
  const plain = encode({ kind: 'ack', sessionId: 9n, received: 5, committed: 4, sacks: [{ first: 7, last: 8 }] });
  const key = Buffer.alloc(32, 1);
  const sealed = seal(plain, key, mac);
  assert.equal(sealed.length, plain.length + TAG_BYTES);
  assert.ok(isTagged(sealed) && !isTagged(plain));
  assert.deepEqual(decode(sealed), decode(plain));
  assert.ok(verify(sealed, key, mac));
  assert.ok(!verify(sealed, Buffer.alloc(32, 2), mac));
  assert.ok(!verify(plain, key, mac), 'untagged never verifies');
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    const b = Buffer.from(sealed);
    b[bit >> 3] = b[bit >> 3]! ^ (1 << (bit & 7));
    assert.ok(!verify(b, key, mac), `bit ${bit}`);
  }
});

test('HELLO, RETRY and REFUSE are never tagged; a tagged datagram shorter than its tag is rejected', () => {
  const hello = encode({ kind: 'hello', role: Role.Reader, nonce: 1, name: 'r', cookie: Buffer.alloc(0), fromKind: 0, fromId: 0 });
  assert.throws(() => decode(seal(hello, Buffer.alloc(32), mac)), ProtocolError);
  assert.throws(() => decode(Buffer.from('55520190' + '00'.repeat(8), 'hex')), ProtocolError);
});
