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

/** Messages of any length up to 2,000 bytes, spread evenly (so that replies take several parts). */
const sized = fc.record({
  gap: fc.integer({ min: 1, max: 3 }),
  tsStep: fc.integer({ min: -5_000, max: 5_000 }),
  from: name,
  to: fc.option(name, { nil: undefined }),
  text: fc.tuple(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 255 })).map(([n, b]) => new Uint8Array(n).fill(b)),
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

  test('parts chain position to position, say what was missed once, and end where the reader must ask next', () => {
    fc.assert(
      fc.property(
        fc.array(sized, { minLength: 0, maxLength: 40, size: 'max' }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 4_000 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(512, 1200, 1472),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        (specs, behind, startOffset, maxDatagrams, datagramBytes, atEnd, beyond) => {
          const messages = storedLog(specs);
          const firstId = messages[0]?.id ?? 1_000_001;
          // The reader asks from `behind` ids before the oldest kept, or from the first message at an offset.
          const position = behind > 0 ? firstId - behind : firstId;
          // With nothing to read, the reader may still be inside a message that retention removed.
          const offset = behind > 0 ? 0 : startOffset;
          const readNext = (messages.at(-1)?.id ?? firstId - 1) + 1 + beyond;
          const read: ReadResult = { messages, next: readNext, first: firstId, atEnd };
          const parts = buildReply({ sessionId: 7n, fetchId: 3, position, offset, maxDatagrams, datagramBytes }, read);
          assert.ok(parts.length >= 1 && parts.length <= maxDatagrams, `${parts.length} parts of at most ${maxDatagrams}`);
          // Walk the read from where the reader asked; every message carried must be the next piece of it.
          let idx = 0;
          let cur = messages.length > 0 && offset <= messages[0]!.text.length ? offset : 0;
          let pos = position;
          let off = offset;
          parts.forEach((p, i) => {
            assert.equal(p.part, i);
            assert.equal(p.sessionId, 7n);
            assert.equal(p.fetchId, 3);
            assert.equal(p.position, pos, `part ${i} starts where the last ended`);
            assert.equal(p.offset, off);
            assert.equal(p.missed, i === 0 ? Math.max(0, firstId - position) : 0);
            assert.equal(p.lastPart, i === parts.length - 1);
            if (i < parts.length - 1) assert.equal(p.caughtUp, false, 'only the last part may say caught up');
            assert.ok(encode(p).length <= datagramBytes);
            for (const m of p.messages) {
              const want = messages[idx]!;
              assert.equal(m.id, want.id, 'in order, none skipped');
              assert.equal(m.from, want.from);
              assert.equal(m.to, want.to);
              if (m.fragment) assert.deepEqual(m.fragment, { total: want.text.length, offset: cur });
              else assert.equal(cur, 0, 'a message without a fragment is whole');
              assert.deepEqual(m.text, want.text.subarray(cur, cur + m.text.length));
              cur += m.text.length;
              if (cur === want.text.length) {
                idx++;
                cur = 0;
              }
            }
            pos = p.nextPosition;
            off = p.nextOffset;
          });
          const last = parts.at(-1)!;
          if (messages.length === 0 && offset > 0) {
            // Nothing read: stay inside that message, never carry the offset to another one.
            assert.deepEqual([last.nextPosition, last.nextOffset], [position, offset]);
          } else if (idx === messages.length) {
            assert.equal(last.caughtUp, atEnd, 'caught up when the read reached the end and all of it went');
            assert.equal(last.nextPosition, readNext, 'the next read starts where the store said');
            assert.equal(last.nextOffset, 0);
          } else {
            assert.equal(last.caughtUp, false);
            assert.equal(parts.length, maxDatagrams, 'stopped short only when out of datagrams');
            const stop = messages[idx]!;
            if (cur > 0) assert.deepEqual([last.nextPosition, last.nextOffset], [stop.id, cur]);
            else assert.ok(last.nextOffset === 0 && last.nextPosition <= stop.id && last.nextPosition > (messages[idx - 1]?.id ?? position - 1));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  test('a reader resuming inside a message gets the rest of it from its offset; an offset past the end starts over', () => {
    const messages = storedLog([{ gap: 1, tsStep: 0, from: 'w', text: Buffer.from('abcdefghij') }, { gap: 1, tsStep: 0, from: 'w', text: Buffer.from('k') }]);
    const read: ReadResult = { messages, next: messages[1]!.id + 1, first: messages[0]!.id, atEnd: true };
    const resumed = buildReply({ ...request(1200, messages[0]!.id), offset: 4 }, read);
    assert.deepEqual(resumed[0]!.messages[0]!.fragment, { total: 10, offset: 4 });
    assert.equal(resumed[0]!.messages[0]!.text.toString(), 'efghij');
    assert.equal(resumed[0]!.messages[1]!.text.toString(), 'k');
    assert.equal(resumed[0]!.messages[1]!.fragment, undefined);
    assert.equal(resumed[0]!.offset, 4);
    const past = buildReply({ ...request(1200, messages[0]!.id), offset: 11 }, read);
    assert.equal(past[0]!.messages[0]!.text.toString(), 'abcdefghij');
    assert.equal(past[0]!.messages[0]!.fragment, undefined);
    const atEnd = buildReply({ ...request(1200, messages[0]!.id), offset: 10 }, read);
    assert.deepEqual(atEnd[0]!.messages[0]!.fragment, { total: 10, offset: 10 }, 'an offset at the very end: an empty last fragment');
  });

  test('a message too big for a part is cut to fill each part; a part with room for less than 64 bytes closes first', () => {
    const big = Buffer.alloc(3_000, 0x61);
    const small = Buffer.alloc(1_000, 0x62);
    const messages = storedLog([{ gap: 1, tsStep: 0, from: 'w', text: small }, { gap: 1, tsStep: 0, from: 'w', text: big }]);
    const read: ReadResult = { messages, next: messages[1]!.id + 1, first: messages[0]!.id, atEnd: true };
    const parts = buildReply(request(1200, messages[0]!.id), read);
    // The first part: the small message whole, then the first fragment of the big one filling the part.
    assert.equal(parts[0]!.messages.length, 2);
    // Filled but for the slack of the widest `missed` count (7 bytes) and a length's varint (1 byte).
    for (const p of parts.slice(0, -1)) assert.ok(encode(p).length >= 1200 - 8, `${encode(p).length} bytes`);
    const tight = storedLog([{ gap: 1, tsStep: 0, from: 'w', text: Buffer.alloc(1200 - 52 - 16 - 40, 0x62) }, { gap: 1, tsStep: 0, from: 'w', text: big }]);
    const tparts = buildReply(request(1200, tight[0]!.id), { messages: tight, next: tight[1]!.id + 1, first: tight[0]!.id, atEnd: true });
    assert.equal(tparts[0]!.messages.length, 1, 'fewer than 64 bytes left: the big message starts in the next part');
    assert.deepEqual(tparts[1]!.messages[0]!.fragment, { total: 3_000, offset: 0 });
  });

  test('a reader inside a message that retention removed goes on from the first message kept, at its start (never carrying its offset to another message)', () => {
    // Left where it stood, it would ask from there again and again, told each time of the same missed messages.
    const parts = buildReply({ ...request(1200, 50), offset: 7 }, { messages: [], next: 53, first: 53, atEnd: true });
    assert.deepEqual([parts[0]!.position, parts[0]!.offset, parts[0]!.nextPosition, parts[0]!.nextOffset, parts[0]!.missed], [50, 7, 53, 0, 3]);
    const more = storedLog([{ gap: 1, tsStep: 0, from: 'w', text: Buffer.from('kept') }]);
    const after = buildReply({ ...request(1200, 50), offset: 7 }, { messages: more, next: more[0]!.id + 1, first: more[0]!.id, atEnd: true });
    assert.deepEqual(after[0]!.messages.map((m) => [m.id, m.text.toString(), m.fragment]), [[more[0]!.id, 'kept', undefined]]);
    assert.deepEqual([after[0]!.nextPosition, after[0]!.nextOffset], [more[0]!.id + 1, 0]);
    // A queue group's lease read whose kept part starts past the lease: the member goes to the lease's end.
    const lease = buildReply({ ...request(1200, 50), offset: 7 }, { messages: [], next: 60, first: 70, atEnd: false }, 10);
    assert.deepEqual([lease[0]!.nextPosition, lease[0]!.nextOffset, lease[0]!.missed], [60, 0, 10]);
    const none = buildReply(request(1200, 50), { messages: [], next: 53, first: 53, atEnd: true });
    assert.deepEqual([none[0]!.nextPosition, none[0]!.nextOffset, none[0]!.caughtUp], [53, 0, true]);
  });

  test('out of datagrams at a full count of entries: the reply stops there, and says where to go on', () => {
    const messages = storedLog(Array.from({ length: 5_000 }, () => ({ gap: 1, tsStep: 0, from: 'w', text: new Uint8Array(0) })));
    const parts = buildReply(request(65_000, messages[0]!.id, 1), { messages, next: messages.at(-1)!.id + 1, first: 1, atEnd: true });
    assert.equal(parts.length, 1);
    assert.equal(parts[0]!.messages.length, ENTRIES_PER_PACKET_MAX);
    assert.equal(parts[0]!.caughtUp, false);
    assert.equal(parts[0]!.nextPosition, messages[ENTRIES_PER_PACKET_MAX]!.id);
  });

  test('a message that fits to the byte goes whole; a resumed message counts only what is left of it', () => {
    const first = 1_000_001;
    // One message of exactly the budget: header budget, then id, time, flags, name, length and text.
    const budget = 1200 - 52;
    const fixed = (n: number) => 3 + 6 + 1 + 1 + 1 + (n < 128 ? 1 : 2) + n; // id (3), ts (6), flags, from length, 'w', length
    const n = budget - 14;
    assert.equal(fixed(n), budget);
    const exact = [{ id: first, ts: 1_796_000_000_000, from: 'w', text: Buffer.alloc(n, 0x61) }];
    const whole = buildReply(request(1200, first), { messages: exact, next: first + 1, first, atEnd: true });
    assert.equal(whole[0]!.messages[0]!.fragment, undefined, 'whole, not cut');
    // Resumed 2,900 bytes into a 3,000-byte message: its last 100 bytes and the short lines after share a part.
    const long = storedLog([{ gap: 1, tsStep: 0, from: 'w', text: Buffer.alloc(3_000, 0x62) }, ...Array.from({ length: 5 }, () => ({ gap: 1, tsStep: 0, from: 'w', text: Buffer.from('short') }))]);
    const resumed = buildReply({ ...request(1200, long[0]!.id), offset: 2_900 }, { messages: long, next: long.at(-1)!.id + 1, first: long[0]!.id, atEnd: true });
    assert.equal(resumed.length, 1);
    assert.equal(resumed[0]!.messages.length, 6);
    assert.deepEqual(resumed[0]!.messages[0], { id: long[0]!.id, ts: long[0]!.ts, from: 'w', fragment: { total: 3_000, offset: 2_900 }, text: Buffer.alloc(100, 0x62) });
  });

  test('with the widest missed count, a part cut to fill its datagram still fits it', () => {
    const base = 2 ** 50;
    const messages = [{ id: base, ts: 5, from: 'w', text: Buffer.alloc(5_000, 0x63) }];
    const parts = buildReply(request(1200, 1, 8), { messages, next: base + 1, first: base, atEnd: true });
    assert.equal(parts[0]!.missed, base - 1);
    for (const p of parts) assert.ok(encode(p).length <= 1200, `${encode(p).length} bytes`);
    assert.ok(encode(parts[0]!).length >= 1200 - 2, 'and fills it');
  });
});

