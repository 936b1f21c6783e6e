import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keyPairOf, noiseCrypto as c } from '../../src/io/noise-crypto.js';
import { NkInitiator, NkResponder } from '../../src/protocol/noise.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// The published cacophony test vector for Noise_NK_25519_ChaChaPoly_SHA256 (the vector set that Noise
// libraries check themselves against): two handshake messages, then four transport messages.
const VECTOR = {
  prologue: '4a6f686e2047616c74',
  initEphemeral: '893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a',
  respStatic: '4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893',
  respStaticPublic: '31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62',
  respEphemeral: 'bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b',
  handshakeHash: '2efa38a9c7c93ac98f3a097af25c2f58b9e7673787717bc27e98827118c2c1a5',
  messages: [
    ['4c756477696720766f6e204d69736573', 'ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79448134d00711fdb390a0d178fa008f6d47d2891e5ea18ae136c3b4c23ac384efb0'],
    ['4d757272617920526f746862617264', '95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088438ea16e3701bc0d77744f117bee22451c9afa7f4cdbbcff00c04a8ee0913c88'],
    ['462e20412e20486179656b', 'a62de29ce27cb80245d440d986ed816c156e9d757d7008df2198b0'],
    ['4361726c204d656e676572', '174a35f11c689f4530d7208618e0564ae12f2f50ba8eb4df5382ff'],
    ['4a65616e2d426170746973746520536179', '337e475ebb8eae60f91974c4e455a5af38d1d8628d1803b160d60442874b0a1777'],
    ['457567656e2042f6686d20766f6e2042617765726b', '047e80e060b7bb08b53c5a23dfe9920cae135b9d1dc6302fc475003062723700366346ac9d'],
  ],
} as const;

function handshake(prologue = Buffer.from('udp-relay test')) {
  const server = c.generateKeyPair();
  const client = new NkInitiator(c, server.publicKey, prologue);
  const responder = new NkResponder(c, server, prologue);
  return { server, client, responder };
}

describe('Noise NK handshake', () => {
  test('matches the published test vector byte for byte: both handshake messages, the handshake hash, and transport messages with explicit nonces', () => {
    const prologue = hex(VECTOR.prologue);
    const serverKeys = keyPairOf(hex(VECTOR.respStatic));
    assert.equal(serverKeys.publicKey.toString('hex'), VECTOR.respStaticPublic);
    const client = new NkInitiator(c, serverKeys.publicKey, prologue, keyPairOf(hex(VECTOR.initEphemeral)));
    const server = new NkResponder(c, serverKeys, prologue);
    const [m1, m2, ...transport] = VECTOR.messages;
    const first = client.writeMessage(hex(m1[0]));
    assert.equal(first.toString('hex'), m1[1]);
    assert.equal(server.readMessage(first)?.toString('hex'), m1[0]);
    const answer = server.writeMessage(hex(m2[0]), keyPairOf(hex(VECTOR.respEphemeral)));
    assert.equal(answer.message.toString('hex'), m2[1]);
    const done = client.readMessage(answer.message);
    assert.ok(done);
    assert.equal(done.payload.toString('hex'), m2[0]);
    assert.equal(done.keys.handshakeHash.toString('hex'), VECTOR.handshakeHash);
    assert.deepEqual(done.keys, answer.keys);
    // Transport messages alternate, initiator first, each direction counting its nonces from 0.
    transport.forEach(([payload, ciphertext], i) => {
      const key = i % 2 === 0 ? done.keys.toResponder : done.keys.toInitiator;
      const nonce = BigInt(Math.floor(i / 2));
      assert.equal(c.seal(key, nonce, Buffer.alloc(0), hex(payload)).toString('hex'), ciphertext);
      assert.equal(c.open(key, nonce, Buffer.alloc(0), hex(ciphertext))?.toString('hex'), payload);
    });
  });

  test('both sides end with the same fresh keys, one per direction; another handshake gives other keys', () => {
    const a = handshake();
    const ra = a.client.writeMessage(Buffer.from('hello'));
    assert.equal(a.responder.readMessage(ra)?.toString(), 'hello');
    const sa = a.responder.writeMessage(Buffer.from('welcome'));
    const ca = a.client.readMessage(sa.message)!;
    assert.equal(ca.payload.toString(), 'welcome');
    assert.deepEqual(ca.keys, sa.keys);
    assert.notDeepEqual(ca.keys.toResponder, ca.keys.toInitiator);
    const b = handshake();
    b.responder.readMessage(b.client.writeMessage(Buffer.alloc(0)));
    assert.notDeepEqual(b.responder.writeMessage(Buffer.alloc(0)).keys.toResponder, ca.keys.toResponder);
    // The payloads are not on the wire in the clear.
    assert.equal(ra.includes(Buffer.from('hello')), false);
    assert.equal(sa.message.includes(Buffer.from('welcome')), false);
  });

  test('a first message sealed to another key, or under another prologue, is refused by the server', () => {
    const { server, responder } = handshake();
    const stranger = c.generateKeyPair();
    assert.equal(responder.readMessage(new NkInitiator(c, stranger.publicKey, Buffer.from('udp-relay test')).writeMessage(Buffer.from('x'))), undefined);
    const other = new NkResponder(c, server, Buffer.from('udp-relay test'));
    assert.equal(other.readMessage(new NkInitiator(c, server.publicKey, Buffer.from('another prologue')).writeMessage(Buffer.from('x'))), undefined);
  });

  test('any byte flipped in either message is refused; a forged answer does not spoil the genuine one behind it', () => {
    const { server, client, responder } = handshake();
    const first = client.writeMessage(Buffer.from('payload'));
    for (let i = 0; i < first.length; i++) {
      const bad = Buffer.from(first);
      bad[i]! ^= 0x01;
      assert.equal(new NkResponder(c, server, Buffer.from('udp-relay test')).readMessage(bad), undefined, `byte ${i} of the first`);
    }
    assert.ok(responder.readMessage(first));
    const answer = responder.writeMessage(Buffer.from('answer')).message;
    for (let i = 0; i < answer.length; i++) {
      const bad = Buffer.from(answer);
      bad[i]! ^= 0x80;
      assert.equal(client.readMessage(bad), undefined, `byte ${i} of the answer`);
    }
    assert.equal(client.readMessage(answer.subarray(0, 40)), undefined, 'too short');
    assert.equal(client.readMessage(answer)?.payload.toString(), 'answer');
    assert.equal(client.readMessage(answer), undefined, 'a handshake finishes once');
  });

  test('a key of low order (all zeros) is refused, not thrown on; messages are used in their order only', () => {
    const { server, client, responder } = handshake();
    assert.equal(responder.readMessage(Buffer.alloc(64)), undefined);
    assert.throws(() => new NkResponder(c, server, Buffer.alloc(0)).writeMessage(Buffer.alloc(0)), /after a genuine first message/);
    assert.throws(() => new NkInitiator(c, Buffer.alloc(31), Buffer.alloc(0)), /32 bytes/);
    const first = client.writeMessage(Buffer.alloc(0));
    assert.throws(() => client.writeMessage(Buffer.alloc(0)), /written once/);
    const fresh = new NkResponder(c, server, Buffer.from('udp-relay test'));
    assert.ok(fresh.readMessage(first));
    assert.throws(() => fresh.readMessage(first), /reads one first message/);
    const low = Buffer.concat([Buffer.alloc(32), fresh.writeMessage(Buffer.alloc(0)).message.subarray(32)]);
    assert.throws(() => fresh.readMessage(first), /reads one first message/);
    assert.throws(() => fresh.writeMessage(Buffer.alloc(0)), /after a genuine first message/);
    // A first message that was not genuine leaves nothing to answer.
    const bad = Buffer.from(first);
    bad[40]! ^= 1;
    const refused = new NkResponder(c, server, Buffer.from('udp-relay test'));
    assert.equal(refused.readMessage(bad), undefined);
    assert.throws(() => refused.writeMessage(Buffer.alloc(0)), /after a genuine first message/);
    assert.equal(client.readMessage(low), undefined);
  });
});
