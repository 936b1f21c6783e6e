import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildReply, type ReplyRequest } from '../../src/core/server/reply-builder.js';
import { decode, encode } from '../../src/protocol/codec.js';
import { ENTRIES_PER_PACKET_MAX } from '../../src/protocol/constants.js';
import type { Batch } from '../../src/protocol/packets.js';
import type { ReadResult, StoredMessage } from '../../src/store/store.js';

const name = fc.stringMatching(/^[a-z][a-z0-9_.@-]{0,19}$/);
const message = fc.record({
  gap: fc.integer({ min: 1, max: 3 }),
  // Times go back as well as forward: clocks of different writers differ.
  tsStep: fc.integer({ min: -5_000, max: 5_000 }),
  from: name,
  to: fc.option(name, { nil: undefined }),
  text: fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ maxLength: 3_000 })),
});

function storedLog(specs: { gap: number; tsStep: number; from: string; to?: string | undefined; text: Uint8Array }[]): StoredMessage[] {
  let id = 1_000_000;
  let ts = 1_796_000_000_000;
  return specs.map((s) => {
    id += s.gap;
    ts = Math.max(0, ts + s.tsStep);
    const text = Buffer.from(s.text);
    return s.to === undefined ? { id, ts, from: s.from, text } : { id, ts, from: s.from, to: s.to, text };
  });
}

const request = (datagramBytes: number, position: number, maxDatagrams = 32): ReplyRequest => ({
  sessionId: 7n,
  fetchId: 3,
  position,
  offset: 0,
  maxDatagrams,
  datagramBytes,
});

describe('reply builder', () => {
  test('every part fits its datagram exactly as encoded, and the parts carry the read in order', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 300 }), fc.constantFrom(1200, 1472, 9000, 16_384), (specs, datagramBytes) => {
        const messages = storedLog(specs);
        const read: ReadResult = { messages, next: messages.at(-1)!.id + 1, first: 1, atEnd: true };
        const parts = buildReply(request(datagramBytes, messages[0]!.id, 64), read);
        let at = 0;
        let offset = 0;
        for (const p of parts) {
          const bytes = encode(p);
          assert.ok(bytes.length <= datagramBytes, `a part of ${bytes.length} bytes in ${datagramBytes}`);
          const back = decode(bytes) as Batch;
          assert.equal(back.messages.length, p.messages.length);
          for (const m of back.messages) {
            const want = messages[at]!;
            assert.equal(m.id, want.id);
            assert.equal(m.ts, want.ts);
            assert.equal(m.from, want.from);
            assert.equal(m.to, want.to);
            assert.equal(m.fragment?.offset ?? 0, offset);
            assert.deepEqual(m.text, want.text.subarray(offset, offset + m.text.length));
            offset += m.text.length;
            if (offset === want.text.length) {
              at++;
              offset = 0;
            }
          }
        }
        // Sixty-four parts of at least 1,200 bytes carry 300 messages of at most 3,000 bytes.
        assert.equal(at, messages.length);
      }),
      { numRuns: 300 },
    );
  });

  test('short lines fill the datagram: a part is at most a few bytes short of the limit', () => {
    const messages = storedLog(Array.from({ length: 20_000 }, () => ({ gap: 1, tsStep: 0, from: 'bench-w', text: Buffer.from('123456') })));
    const read: ReadResult = { messages, next: messages.at(-1)!.id + 1, first: 1, atEnd: true };
    const parts = buildReply(request(16_384, messages[0]!.id), read);
    for (const p of parts.slice(0, -1)) {
      const size = encode(p).length;
      // Each of these messages takes 6 + 2 + 8 + 1 = 17 bytes; the header's `missed` is counted at its widest.
      assert.ok(size > 16_384 - 17 - 8 && size <= 16_384, `part of ${size} bytes`);
    }
  });

  test('a part holds at most the entries a BATCH may count', () => {
    const messages = storedLog(Array.from({ length: 10_000 }, () => ({ gap: 1, tsStep: 0, from: 'w', text: new Uint8Array(0) })));
    const read: ReadResult = { messages, next: messages.at(-1)!.id + 1, first: 1, atEnd: true };
    const parts = buildReply(request(65_000, messages[0]!.id), read);
    assert.ok(parts.every((p) => p.messages.length <= ENTRIES_PER_PACKET_MAX));
    assert.equal(parts[0]!.messages.length, ENTRIES_PER_PACKET_MAX);
    for (const p of parts) decode(encode(p));
  });
});
