import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodePreamble,
  encodeFrame,
  encodePreamble,
  FRAME_BYTES_MAX,
  FrameDecoder,
  FramingError,
  LINK_ID_BYTES,
  PREAMBLE_BYTES,
} from '../../src/protocol/stream-framing.js';

const link = Buffer.alloc(LINK_ID_BYTES, 0xab);

test('stream framing: the preamble and a frame, byte by byte', () => {
  assert.equal(encodePreamble(link).toString('hex'), `524c595301${'ab'.repeat(16)}`);
  assert.equal(PREAMBLE_BYTES, 21);
  assert.equal(encodeFrame(Buffer.from('hi')).toString('hex'), '00026869');
  assert.equal(encodeFrame(Buffer.alloc(FRAME_BYTES_MAX)).readUInt16BE(0), 0xffff);
  assert.throws(() => encodeFrame(Buffer.alloc(0)), RangeError);
  assert.throws(() => encodeFrame(Buffer.alloc(FRAME_BYTES_MAX + 1)), /a frame holds 1 to 65535 bytes, not 65536/);
  assert.throws(() => encodePreamble(Buffer.alloc(8)), RangeError);
});

test('stream framing: a preamble that is not ours is named', () => {
  assert.deepEqual(decodePreamble(encodePreamble(link)), { linkId: link });
  assert.deepEqual(decodePreamble(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), { error: 'not a relay stream' });
  const v2 = encodePreamble(link);
  v2[4] = 2;
  assert.deepEqual(decodePreamble(v2), { error: 'stream framing version 2 (this server speaks 1)' });
  assert.deepEqual(decodePreamble(Buffer.alloc(5)), { error: 'short preamble' });
});

/** Packets of many sizes, the stream they make, and the packets back from it cut at every `step` bytes. */
function mirror(step: number): void {
  const packets = [1, 2, 3, 100, 1200, 16_384, FRAME_BYTES_MAX].map((n, i) => Buffer.alloc(n, i + 1));
  const stream = Buffer.concat([encodePreamble(link), ...packets.map(encodeFrame)]);
  const got: Buffer[] = [];
  const links: Buffer[] = [];
  const d = new FrameDecoder((p) => got.push(Buffer.from(p)), { preamble: (id) => links.push(id) });
  for (let at = 0; at < stream.length; at += step) {
    d.push(stream.subarray(at, at + step));
    assert.ok(d.heldBytes <= PREAMBLE_BYTES + FRAME_BYTES_MAX + 1, 'holds at most one unfinished frame');
  }
  assert.deepEqual(links, [link]);
  assert.deepEqual(got, packets, `cut every ${step} bytes`);
  assert.equal(d.heldBytes, 0);
}

test('stream framing: packets come back whole and in order, however the stream is cut', () => {
  for (const step of [1, 2, 7, 21, 22, 1000, 65_537, 1 << 20]) mirror(step);
});

test('stream framing: an empty or oversize frame, or a bad preamble, breaks the stream', () => {
  const d = new FrameDecoder(() => {}, { frameBytesMax: 100 });
  assert.throws(() => d.push(Buffer.from([0, 101])), new FramingError('a frame of 101 bytes (at most 100)'));
  assert.throws(() => new FrameDecoder(() => {}).push(Buffer.from([0, 0])), new FramingError('an empty frame'));
  const withPreamble = new FrameDecoder(() => {}, { preamble: () => {} });
  const links: Buffer[] = [];
  const exact = new FrameDecoder(() => {}, { preamble: (id) => links.push(id) });
  exact.push(encodePreamble(link));
  assert.deepEqual(links, [link], 'a preamble that arrives alone is taken at once');
  withPreamble.push(Buffer.from('GET / HTTP/1.1\r\n'));
  assert.equal(withPreamble.heldBytes, 16, 'short of a preamble: held');
  assert.throws(() => withPreamble.push(Buffer.from('Host: example\r\n')), new FramingError('not a relay stream'));
  // A frame limit of 100 holds back no more than 100 bytes of a frame plus its header.
  const bounded = new FrameDecoder(() => {}, { frameBytesMax: 100 });
  bounded.push(Buffer.from([0, 100, ...Buffer.alloc(99)]));
  assert.equal(bounded.heldBytes, 101);
});

test('stream framing: random bytes never crash the decoder other than with a FramingError, nor make it hold more than a frame', () => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  for (let run = 0; run < 300; run++) {
    const d = new FrameDecoder(() => {}, { frameBytesMax: 2000, ...(run % 2 === 0 && { preamble: () => {} }) });
    try {
      for (let chunk = 0; chunk < 20; chunk++) {
        const bytes = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
        if (run % 3 === 0 && chunk === 0) bytes[0] = 0; // small lengths, so that frames complete
        d.push(bytes);
        assert.ok(d.heldBytes <= 2002 + PREAMBLE_BYTES);
      }
    } catch (err) {
      assert.ok(err instanceof FramingError, String(err));
    }
  }
});
