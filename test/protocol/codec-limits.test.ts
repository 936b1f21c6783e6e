import { DEFAULT_TOPIC, TOPIC_BYTES_MAX } from '../../src/protocol/topics.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { decode, encode } from '../../src/protocol/codec.js';
import { varintBytes } from '../../src/protocol/bytes-writer.js';
import {
  DATAGRAM_BYTES_MAX,
  ENTRIES_PER_PACKET_MAX,
  EntryFlag,
  FETCH_DATAGRAMS_MAX,
  FILE_BYTES_MAX,
  FromKind,
  HANDSHAKE_BYTES_MAX,
  HANDSHAKE_BYTES_MIN,
  HELLO_BYTES_MIN,
  MARK_KEY_BYTES_MAX,
  MARK_VALUE_BYTES_MAX,
  MESSAGE_BYTES_DEFAULT,
  MESSAGE_BYTES_MAX,
  NAME_BYTES_MAX,
  REASON_BYTES_MAX,
  Role,
  roleName,
  SACK_RANGES_MAX,
  WAIT_MS_MAX,
} from '../../src/protocol/constants.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import type { Ack, Batch, Data, Hello, Marks, Packet, Presence, WireMessage } from '../../src/protocol/packets.js';
import { MARKS_HEADER_BYTES, markEntryBytes, marksItemBytes } from '../../src/protocol/marks-codec.js';
import {
  BATCH_HEADER_BYTES,
  batchMessageOverheadBytes,
  DATA_HEADER_BYTES,
  dataEntryBytes,
  PRESENCE_HEADER_BYTES,
  presenceEntryBytes,
  svarintBytes,
} from '../../src/protocol/sizes.js';

// Every limit of the wire format, tested at its edge: the last value accepted and the first refused.

const rejects = (buf: Buffer, code: ProtocolError['code'], detail?: RegExp): void => {
  assert.throws(
    () => decode(buf),
    (e: unknown) => e instanceof ProtocolError && e.code === code && (detail === undefined || detail.test(e.message)),
    `expected ${code}${detail ? ` ${detail}` : ''}`,
  );
};
const roundTrips = (p: Packet): void => assert.deepEqual(decode(encode(p)), p);

const data = (entries: Data['entries'], seq = 1): Data => ({ kind: 'data', sessionId: 9n, seq, entries });
const line = (text: string | Buffer, extra: Partial<Data['entries'][number]> = {}): Data['entries'][number] => ({
  more: false,
  continued: false,
  text: Buffer.isBuffer(text) ? text : Buffer.from(text),
  ...extra,
});
const batch = (messages: WireMessage[], extra: Partial<Batch> = {}): Batch => ({
  kind: 'batch',
  sessionId: 3n,
  fetchId: 1,
  part: 0,
  lastPart: true,
  caughtUp: false,
  position: messages[0]?.id ?? 1,
  offset: 0,
  nextPosition: (messages.at(-1)?.id ?? 0) + 1,
  nextOffset: 0,
  missed: 0,
  messages,
  ...extra,
});
const msg = (id: number, text: string, extra: Partial<WireMessage> = {}): WireMessage => ({ id, ts: 1000 + id, from: 'w', text: Buffer.from(text), ...extra });
const ack = (received: number, committed: number, sacks: Ack['sacks']): Ack => ({ kind: 'ack', sessionId: 2n, received, committed, sacks });
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
/** A packet's bytes with some rewritten: `at` is the offset in the datagram. */
const patched = (p: Packet, at: number, bytes: number[]): Buffer => {
  const b = Buffer.from(encode(p));
  b.set(bytes, at);
  return b;
};

describe('datagram size', () => {
  // DATA: header, then one entry of flags, a 3-byte varint length and the text.
  const dataOf = (total: number): Buffer => encode(data([line(Buffer.alloc(total - DATA_HEADER_BYTES - 1 - 3, 0x61))]));
  test(`a datagram of ${DATAGRAM_BYTES_MAX} bytes decodes; one byte more is too large`, () => {
    assert.equal(dataOf(DATAGRAM_BYTES_MAX).length, DATAGRAM_BYTES_MAX);
    assert.equal(decode(dataOf(DATAGRAM_BYTES_MAX)).kind, 'data');
    rejects(dataOf(DATAGRAM_BYTES_MAX + 1), 'too-large');
  });
});

describe('hello', () => {
  const writer: Hello = { kind: 'hello', role: Role.Writer, nonce: 1, name: 'w', cookie: Buffer.alloc(0), producerId: 1n, nextSeq: 1 };
  const reader: Hello = { kind: 'hello', role: Role.Reader, nonce: 1, name: 'r', cookie: Buffer.alloc(0), fromKind: FromKind.Earliest, fromId: 0 };
  test('sequence numbers start at 1', () => {
    rejects(patched(writer, 4 + 1 + 4 + 2 + 5 + 8, [0, 0, 0, 0]), 'bad-field', /start at 1/);
  });
  test('a hello names its topic: the default one is left out of the packet, others kept; a bad name is refused', () => {
    roundTrips({ ...writer, topic: 'logs.web1' } as Hello);
    roundTrips({ ...reader, topic: 'chat.ops', group: 'g' } as Hello);
    assert.equal((decode(encode({ ...writer, topic: DEFAULT_TOPIC } as Hello)) as Hello).topic, undefined);
    for (const bad of ['logs.*', 'logs..web', 'a b', 'x'.repeat(TOPIC_BYTES_MAX + 1)]) {
      rejects(encode({ ...writer, topic: bad } as Hello), 'bad-field', /topic|over 64/);
    }
  });
  test('an observer says hello as a reader does, and is told apart', () => {
    const observer = { ...reader, role: Role.Observer } as Hello;
    roundTrips(observer);
    roundTrips({ ...reader, group: 'g' } as Hello);
  });
  test('roles 1 to 3 only; from kinds 0 to 2 only', () => {
    rejects(patched(reader, 4, [4]), 'bad-field', /role 4/);
    rejects(patched(reader, 4, [0]), 'bad-field', /role 0/);
    for (const k of [FromKind.Latest, FromKind.Earliest, FromKind.Id]) roundTrips({ ...reader, fromKind: k } as Hello);
    rejects(patched(reader, 4 + 1 + 4 + 2 + 5, [3]), 'bad-field', /from kind 3/);
  });
  test('a hello of more than 64 bytes carries its group (a reader) and its flags to the end: one encoding per hello', () => {
    const long = { ...reader, name: 'r'.repeat(NAME_BYTES_MAX), cookie: Buffer.alloc(16, 1), group: 'g' } as Hello;
    const full = encode(long);
    assert.ok(full.length > HELLO_BYTES_MIN);
    assert.deepEqual(decode(full), long);
    rejects(full.subarray(0, full.length - 1), 'truncated', /need 1 bytes/);
    rejects(full.subarray(0, full.length - 3), 'truncated', /need/);
    const flagged = Buffer.from(full);
    flagged[flagged.length - 1] = 0x02;
    rejects(flagged, 'bad-field', /hello flags 2/);
  });
  test('a hello is padded to 64 bytes and no further', () => {
    const long = { ...writer, name: 'w'.repeat(NAME_BYTES_MAX), cookie: Buffer.alloc(16, 1), handshake: Buffer.alloc(HANDSHAKE_BYTES_MIN, 2) } as Hello;
    // header, role, nonce, name, topic, producer, sequence, cookie, handshake message, flags: no group for a writer, no padding.
    assert.equal(encode(long).length, 4 + 1 + 4 + 1 + NAME_BYTES_MAX + 1 + 4 + 8 + 4 + 1 + 16 + 2 + HANDSHAKE_BYTES_MIN + 1);
    assert.equal(encode(writer).length, HELLO_BYTES_MIN);
    roundTrips(long);
  });
  test(`a handshake message is ${HANDSHAKE_BYTES_MIN} to ${HANDSHAKE_BYTES_MAX} bytes, or none`, () => {
    const lengthAt = 4 + 1 + 4 + 2 + 5 + 8 + 4 + 1;
    rejects(patched(writer, lengthAt, [0, 5]), 'bad-field', /handshake message of 5 bytes/);
    for (const n of [HANDSHAKE_BYTES_MIN, HANDSHAKE_BYTES_MAX]) roundTrips({ ...writer, cookie: Buffer.alloc(0), handshake: Buffer.alloc(n, 1) } as Hello);
    rejects(encode({ ...writer, handshake: Buffer.alloc(HANDSHAKE_BYTES_MIN - 1, 1) } as Hello), 'bad-field', /handshake message of 111 bytes/);
    rejects(encode({ ...writer, handshake: Buffer.alloc(HANDSHAKE_BYTES_MAX + 1, 1) } as Hello), 'bad-field', /handshake message of 305 bytes/);
  });
  test('a RETRY names a server key of 32 bytes, or none', () => {
    const retry = encode({ kind: 'retry', nonce: 1, cookie: Buffer.alloc(16), serverKey: Buffer.alloc(32, 1) });
    const short = Buffer.concat([retry.subarray(0, 25), Buffer.from([31]), retry.subarray(26, retry.length - 1)]);
    rejects(short, 'bad-field', /server key of 31 bytes/);
  });
  test(`names of up to ${NAME_BYTES_MAX} bytes`, () => {
    roundTrips({ ...writer, name: 'n'.repeat(NAME_BYTES_MAX) } as Hello);
    const over = Buffer.from(encode({ ...writer, name: 'n'.repeat(NAME_BYTES_MAX) } as Hello));
    over[9] = NAME_BYTES_MAX + 1;
    rejects(over, 'bad-field', /string of 33 bytes over 32/);
  });
});

describe('refuse and stalled reasons', () => {
  const reasonOf = (reason: string): string => {
    const p = decode(encode({ kind: 'refuse', nonce: 1, code: 2, reason }));
    assert.equal(p.kind, 'refuse');
    return p.reason;
  };
  test(`a reason is cut to ${REASON_BYTES_MAX} bytes, never inside a character`, () => {
    assert.equal(reasonOf('a'.repeat(250)), 'a'.repeat(REASON_BYTES_MAX));
    assert.equal(reasonOf('é'.repeat(150)), 'é'.repeat(100));
    assert.equal(reasonOf('a' + 'é'.repeat(100)), 'a' + 'é'.repeat(99));
    // Only the half character at the cut goes, not a replacement character the reason itself holds.
    assert.equal(reasonOf('\uFFFD' + 'a'.repeat(196) + 'é'), '\uFFFD' + 'a'.repeat(196));
  });
  test('a reason that fits is kept whole, even one ending in a replacement character', () => {
    assert.equal(reasonOf('bad \uFFFD'), 'bad \uFFFD');
    const edge = 'a'.repeat(REASON_BYTES_MAX - 3) + '\uFFFD';
    assert.equal(reasonOf(edge), edge);
  });
  test('an unknown refuse code is refused', () => {
    rejects(patched({ kind: 'refuse', nonce: 1, code: 2, reason: '' }, 8, [99]), 'bad-field', /refuse code 99/);
  });
  test('a stalled packet carries a reason of 200 bytes', () => {
    roundTrips({ kind: 'stalled', sessionId: 1n, retryAfterMs: 5, reason: 'x'.repeat(REASON_BYTES_MAX) });
  });
});

describe('data', () => {
  test(`1 to ${ENTRIES_PER_PACKET_MAX} entries`, () => {
    const most = data(Array.from({ length: ENTRIES_PER_PACKET_MAX }, () => line('')));
    roundTrips(most);
    const over = Buffer.concat([encode(most), hex('0000')]);
    over.writeUInt16BE(ENTRIES_PER_PACKET_MAX + 1, 16);
    rejects(over, 'bad-field', /4097 entries/);
  });
  test('a recipient never rides on a continuation', () => {
    roundTrips(data([line('a', { to: 'bob', more: true }), line('b', { continued: true })]));
    rejects(hex('55520410' + '0000000000000001' + '00000001' + '0001' + '06' + '0162' + '01' + '61'), 'bad-field', /continuation/);
  });
  test('the header and entry sizes are what the encoder writes', () => {
    for (const [text, to] of [['', undefined], ['a'.repeat(127), undefined], ['a'.repeat(128), 'bob'], ['a'.repeat(20_000), 'b'.repeat(32)]] as const) {
      const one = encode(data([line(text, to === undefined ? {} : { to })]));
      assert.equal(one.length, DATA_HEADER_BYTES + dataEntryBytes(text.length, to));
    }
  });
});

describe('ack', () => {
  test('committed never beyond received', () => {
    roundTrips(ack(5, 5, []));
    const over = encode(ack(5, 5, []));
    over.writeUInt32BE(6, 16);
    rejects(over, 'bad-field', /committed beyond received/);
  });
  test(`up to ${SACK_RANGES_MAX} selective ranges`, () => {
    const ranges = (n: number) => Array.from({ length: n }, (_, i) => ({ first: 10 + 3 * i, last: 11 + 3 * i }));
    roundTrips(ack(5, 5, ranges(SACK_RANGES_MAX)));
    rejects(encode(ack(5, 5, ranges(SACK_RANGES_MAX + 1))), 'bad-field', /17 sack ranges/);
  });
  test('ranges lie beyond what was received, in order, each with a gap before it', () => {
    roundTrips(ack(3, 3, [{ first: 5, last: 6 }, { first: 8, last: 8 }]));
    rejects(encode(ack(3, 3, [{ first: 4, last: 6 }])), 'bad-field', /out of order/);
    rejects(encode(ack(3, 3, [{ first: 5, last: 6 }, { first: 7, last: 9 }])), 'bad-field', /out of order/);
    rejects(encode(ack(3, 3, [{ first: 6, last: 5 }])), 'bad-field', /out of order/);
  });
});

describe('fetch', () => {
  const fetch = { kind: 'fetch', sessionId: 1n, fetchId: 1, position: 1, offset: 0, waitMs: WAIT_MS_MAX, maxDatagrams: FETCH_DATAGRAMS_MAX } as const;
  test(`a wait of up to ${WAIT_MS_MAX} ms, up to ${FETCH_DATAGRAMS_MAX} datagrams`, () => {
    roundTrips(fetch);
    rejects(encode({ ...fetch, waitMs: WAIT_MS_MAX + 1 }), 'bad-field', /wait 60001 ms/);
    rejects(encode({ ...fetch, maxDatagrams: FETCH_DATAGRAMS_MAX + 1 }), 'bad-field', /65 datagrams/);
  });
});

describe('batch', () => {
  test('flags: last part, caught up, seek; nothing else', () => {
    roundTrips(batch([msg(1, 'a')], { lastPart: true, caughtUp: true, seek: true }));
    roundTrips(batch([msg(1, 'a')], { lastPart: false, caughtUp: false }));
    const p = decode(encode(batch([msg(1, 'a')])));
    assert.ok(p.kind === 'batch' && !('seek' in p), 'no seek key unless the flag is set');
    const flagsAt = 4 + 8 + 4 + 1;
    rejects(patched(batch([msg(1, 'a')]), flagsAt, [0x08]), 'bad-field', /batch flags 8/);
  });
  test('a batch never ends before it starts', () => {
    roundTrips(batch([], { position: 5, offset: 7, nextPosition: 5, nextOffset: 7 }));
    rejects(encode(batch([], { position: 5, offset: 7, nextPosition: 5, nextOffset: 6 })), 'bad-field', /ends before/);
    rejects(encode(batch([], { position: 5, offset: 0, nextPosition: 4, nextOffset: 9 })), 'bad-field', /ends before/);
    roundTrips(batch([], { position: 5, offset: 7, nextPosition: 6, nextOffset: 0 }));
  });
  test(`up to ${ENTRIES_PER_PACKET_MAX} messages`, () => {
    const most = batch(Array.from({ length: ENTRIES_PER_PACKET_MAX }, (_, i) => msg(i + 1, '')));
    roundTrips(most);
    const b = Buffer.from(encode(batch([])));
    b.writeUInt16BE(ENTRIES_PER_PACKET_MAX + 1, b.length - 2);
    rejects(b, 'bad-field', /4097 messages/);
  });
  test('ids rise; a repeated id is the next fragment of the same message, or refused', () => {
    const frag = (offset: number, text: string) => msg(7, text, { fragment: { total: 4, offset } });
    roundTrips(batch([frag(0, 'ab'), frag(2, 'cd')]));
    rejects(encode(batch([msg(7, 'a'), msg(7, 'b')])), 'bad-field', /repeated message id/);
  });
  test('times never before 0; ids within 2^53', () => {
    rejects(encode(batch([msg(1, 'a', { ts: 5 }), msg(2, 'b', { ts: -1 })])), 'bad-field', /out of range/);
    roundTrips(batch([msg(1, 'a', { ts: 5 }), msg(2, 'b', { ts: 0 })]));
    const top = Number.MAX_SAFE_INTEGER;
    roundTrips(batch([msg(top - 1, 'a', { ts: 5 }), msg(top, 'b', { ts: 5 })], { nextPosition: top }));
    // The second id as a difference past 2^53 - 1.
    rejects(encode(batch([msg(top - 1, 'a', { ts: 5 }), msg(top + 1, 'b', { ts: 5 })], { nextPosition: top })), 'bad-field', /out of range/);
  });
  test('a fragment lies within its message', () => {
    roundTrips(batch([msg(1, 'abcd', { fragment: { total: 6, offset: 2 } })]));
    rejects(encode(batch([msg(1, 'abcde', { fragment: { total: 6, offset: 2 } })])), 'bad-field', /beyond its message/);
  });
  test('message flags: to, fragment and file; nothing else', () => {
    roundTrips(batch([msg(1, 'x', { to: 'bob' }), msg(2, 'y', { to: 'bob', fragment: { total: 1, offset: 0 } }), msg(3, 'z', { file: 'app.log' })]));
    const b = Buffer.from(encode(batch([msg(1, 'x')])));
    // The header with a one-byte missed count, then the id and the time.
    const flagsAt = BATCH_HEADER_BYTES - varintBytes(Number.MAX_SAFE_INTEGER) + 1 + varintBytes(1) + varintBytes(1001);
    b[flagsAt] = 0x08;
    rejects(b, 'bad-field', /message flags 8/);
  });

  test(`a file's name is 1-${FILE_BYTES_MAX} bytes, on a line's first entry and on a message`, () => {
    const long = 'f'.repeat(FILE_BYTES_MAX);
    roundTrips(batch([msg(1, 'x', { file: long })]));
    const line = (file: string, continued = false): Buffer =>
      encode({ kind: 'data', sessionId: 1n, seq: 1, entries: [{ more: false, continued, file, text: Buffer.from('x') }] });
    assert.equal((decode(line(long)) as Data).entries[0]!.file, long);
    assert.equal(encode(decode(line(long))).length, DATA_HEADER_BYTES + dataEntryBytes(1, undefined, long));
    rejects(line(''), 'bad-field', /empty file name/);
    rejects(line('x', true), 'bad-field', /file on a continuation/);
    rejects(encode(batch([msg(1, 'x', { file: '' })])), 'bad-field', /empty file name/);
  });
  test('the header budget holds the widest missed count; each message costs what the budget says', () => {
    const empty = encode(batch([], { missed: Number.MAX_SAFE_INTEGER }));
    assert.equal(empty.length, BATCH_HEADER_BYTES);
    const cases: WireMessage[][] = [
      [msg(1, 'a')],
      [msg(200, 'hello', { to: 'bob' }), msg(201, '', { ts: 1000 })],
      [msg(250, 'from a file', { to: 'bob', file: '/var/log/app.log' }), msg(251, 'again', { file: 'é.log' })],
      [msg(300, 'x', { fragment: { total: 300, offset: 0 } }), msg(300, 'y'.repeat(299), { fragment: { total: 300, offset: 1 }, ts: 900 })],
      [msg(2 ** 40, 'z'.repeat(200), { ts: 2 ** 41 }), msg(2 ** 40 + 5000, 'q', { ts: 2 ** 41 - 70_000, from: 'someone' })],
    ];
    for (const messages of cases) {
      const b = batch(messages, { missed: Number.MAX_SAFE_INTEGER });
      let expected = BATCH_HEADER_BYTES;
      messages.forEach((m, i) => {
        const nameBytes = Buffer.byteLength(m.from) + Buffer.byteLength(m.to ?? '') + (m.file === undefined ? 0 : 1 + Buffer.byteLength(m.file));
        expected += batchMessageOverheadBytes(m, messages[i - 1], nameBytes, m.to !== undefined, m.fragment, m.text.length) + m.text.length;
      });
      assert.equal(encode(b).length, expected);
    }
  });
  test('signed varints: zig-zag sizes', () => {
    for (const [v, n] of [[0, 1], [-1, 1], [63, 1], [-64, 1], [64, 2], [-65, 2], [8191, 2], [8192, 3], [-8193, 3]] as const) {
      assert.equal(svarintBytes(v), n, `svarint ${v}`);
    }
  });
});

describe('presence', () => {
  const presence = (n: number): Presence => ({
    kind: 'presence',
    sessionId: 1n,
    requestId: 2,
    version: 3,
    full: true,
    more: false,
    nextOffset: 0,
    entries: Array.from({ length: n }, (_, i) => ({ name: `p${i}`, role: i % 2 ? 'writer' : 'reader', online: i % 3 === 0, lastSeen: i, topic: i % 2 ? 'main' : `room.${i}` })),
  });
  test('the header and each entry cost what the budget says', () => {
    assert.equal(encode(presence(0)).length, PRESENCE_HEADER_BYTES);
    const p = presence(300);
    assert.equal(encode(p).length, PRESENCE_HEADER_BYTES + p.entries.reduce((n, e) => n + presenceEntryBytes(e), 0));
    roundTrips(p);
  });
  test(`up to ${ENTRIES_PER_PACKET_MAX} entries`, () => {
    // Short names and topics, so that the most entries fit the largest datagram.
    roundTrips({ ...presence(0), entries: Array.from({ length: ENTRIES_PER_PACKET_MAX }, (_, i) => ({ name: 'p', role: 'reader' as const, online: i % 2 === 0, lastSeen: i, topic: 'a' })) });
    const b = Buffer.from(encode(presence(0)));
    b.writeUInt16BE(ENTRIES_PER_PACKET_MAX + 1, b.length - 2);
    rejects(b, 'bad-field', /4097 entries/);
  });
});

describe('fields', () => {
  test('u64 up to 2^53 - 1', () => {
    roundTrips({ kind: 'ping', sessionId: 1n, position: Number.MAX_SAFE_INTEGER });
    rejects(hex('55520430' + '0000000000000001' + '0020000000000000'), 'bad-field', /above 2\^53/);
  });
  test('varints: at most 8 bytes, at most 2^53 - 1', () => {
    const ofVarint = (v: string) => hex('55520421' + '0000000000000003' + '00000001' + '00' + '01' + '0000000000000001' + '00000000' + '0000000000000001' + '00000000' + v + '0000');
    assert.equal((decode(ofVarint('ffffffffffffff0f')) as Batch).missed, Number.MAX_SAFE_INTEGER);
    rejects(ofVarint('8080808080808010'), 'bad-field', /varint above 2\^53/);
    rejects(ofVarint('8080808080808080' + '01'), 'bad-field', /longer than 8 bytes/);
  });
  test('varint sizes', () => {
    for (const [v, n] of [[0, 1], [127, 1], [128, 2], [16_383, 2], [16_384, 3], [Number.MAX_SAFE_INTEGER, 8]] as const) {
      assert.equal(varintBytes(v), n, `varint ${v}`);
    }
  });
  test('names decoded one after another, of the same length, stay apart', () => {
    // 'a\u0002' then 'ac': the second name's first byte and its length byte match the first name.
    const names = ['ab', 'ac', 'ab', 'cd', 'a\u0002', 'ac', '', 'x'];
    const p = decode(encode(batch(names.map((from, i) => msg(i + 1, 't', { from })))));
    assert.deepEqual((p as Batch).messages.map((m) => m.from), names);
  });
  test('role names', () => {
    assert.deepEqual([Role.Writer, Role.Reader, Role.Observer].map(roleName), ['writer', 'reader', 'observer']);
  });
});

describe('the limits the documents state are the code\u2019s', () => {
  const doc = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
  test('message sizes (README, docs/SECURITY.md) and entries per packet (docs/PROTOCOL.md)', () => {
    assert.ok(doc('README.md').includes(`[--max-message-bytes ${MESSAGE_BYTES_DEFAULT}]`), 'the README shows the default message size');
    assert.ok(doc('docs/SECURITY.md').includes(`a reader reassembles at most ${MESSAGE_BYTES_MAX / 2 ** 20} MiB`));
    assert.ok(doc('docs/SECURITY.md').includes(`| message size | ${MESSAGE_BYTES_DEFAULT / 2 ** 20} MiB |`));
    assert.ok(doc('docs/PROTOCOL.md').includes(`number of entries, 1–${ENTRIES_PER_PACKET_MAX}`));
  });
});

describe('marks', () => {
  const dataWithMark = (keyBytes: number, valueBytes: number): Buffer =>
    encode({ kind: 'data', sessionId: 1n, seq: 1, entries: [{ more: false, continued: false, mark: Buffer.alloc(keyBytes, 1), text: Buffer.alloc(valueBytes, 2) }] });
  const marks = (total: number, from: number, n: number, valueBytes = 1): Buffer =>
    encode({ kind: 'marks', sessionId: 1n, requestId: 1, total, from, marks: Array.from({ length: n }, () => ({ key: Buffer.from('k'), value: Buffer.alloc(valueBytes) })) });

  test(`a mark's key is 1-${MARK_KEY_BYTES_MAX} bytes and its value at most ${MARK_VALUE_BYTES_MAX}, in DATA and in MARKS`, () => {
    const d = decode(dataWithMark(MARK_KEY_BYTES_MAX, MARK_VALUE_BYTES_MAX)) as Data;
    assert.equal(d.entries[0]!.mark!.length, MARK_KEY_BYTES_MAX);
    assert.equal(d.entries[0]!.text.length, MARK_VALUE_BYTES_MAX);
    assert.equal(d.entries[0]!.more, false);
    assert.equal(d.entries[0]!.continued, false);
    assert.equal(encode(d).length, DATA_HEADER_BYTES + markEntryBytes(MARK_KEY_BYTES_MAX, MARK_VALUE_BYTES_MAX));
    rejects(dataWithMark(0, 1), 'bad-field', /mark key of 0/);
    rejects(dataWithMark(MARK_KEY_BYTES_MAX + 1, 1), 'bad-field', /mark key of 33/);
    rejects(dataWithMark(1, MARK_VALUE_BYTES_MAX + 1), 'bad-field', /mark value of 65/);
    assert.equal((decode(marks(1, 0, 1, MARK_VALUE_BYTES_MAX)) as Marks).marks[0]!.value.length, MARK_VALUE_BYTES_MAX);
    rejects(marks(1, 0, 1, MARK_VALUE_BYTES_MAX + 1), 'bad-field', /mark value of 65/);
  });

  test('a mark entry has the MARK flag alone; MARKS never go past their total', () => {
    const buf = dataWithMark(1, 1);
    const flagsAt = DATA_HEADER_BYTES;
    for (const extra of [EntryFlag.More, EntryFlag.Continued, EntryFlag.To]) {
      const bad = Buffer.from(buf);
      bad[flagsAt] = EntryFlag.Mark | extra;
      rejects(bad, 'bad-field', /entry flags/);
    }
    assert.equal((decode(marks(3, 1, 2)) as Marks).marks.length, 2);
    assert.equal((decode(marks(0, 0, 0)) as Marks).total, 0);
    rejects(marks(3, 2, 2), 'bad-field', /marks 2\+2 of 3/);
  });

  test('a MARKS packet is its header and its marks, byte for byte (what the server pages answers by)', () => {
    for (const [n, valueBytes] of [[0, 0], [1, 17], [5, MARK_VALUE_BYTES_MAX]] as const) {
      const p: Marks = { kind: 'marks', sessionId: 1n, requestId: 1, total: n, from: 0, marks: Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`key${i}`), value: Buffer.alloc(valueBytes) })) };
      assert.equal(encode(p).length, MARKS_HEADER_BYTES + p.marks.reduce((sum, m) => sum + marksItemBytes(m), 0));
    }
  });
});

describe('topics', () => {
  const info = (topic: string) => ({ topic, messages: 1, bytes: 2, first: 1, next: 2, lastWrite: 3 });
  const list = (topics: string[], more = false) => ({ kind: 'topic-list', sessionId: 1n, requestId: 1, more, topics: topics.map(info) }) as Packet;
  test('a list names valid topics, each once, in order; TOPICS asks from after a valid topic or from the start', () => {
    roundTrips(list(['a', 'b.c', 'b.d'], true));
    roundTrips({ kind: 'topics', sessionId: 1n, requestId: 2, after: '' } as Packet);
    rejects(encode(list(['b', 'a'])), 'bad-field', /out of order/);
    rejects(encode(list(['a', 'a'])), 'bad-field', /out of order/);
    rejects(encode(list(['a.*'])), 'bad-field', /topic/);
    rejects(encode({ kind: 'topics', sessionId: 1n, requestId: 2, after: 'no spaces' } as Packet), 'bad-field', /topic/);
    rejects(patched(list(['a']), 4 + 8 + 4, [0x02]), 'bad-field', /flags/);
  });
});
