import type { Packet } from '../../src/protocol/packets.js';

/** HELLOs name their topic after the user (the default topic is 'main', left out of the typed packet); they end with the cookie, the handshake message (u16 length), a reader's group, then zeros up to 64 bytes. */
const padded = (hex: string): string => hex.padEnd(128, '0');
import { FromKind, RefuseCode, Role } from '../../src/protocol/constants.js';

/** Each packet kind with the exact bytes it must encode to (docs/PROTOCOL.md). */
export const FIXTURES: { name: string; packet: Packet; hex: string }[] = [
  {
    name: 'hello (writer)',
    packet: { kind: 'hello', role: Role.Writer, nonce: 7, name: 'ab', cookie: Buffer.alloc(0), producerId: 0x0102030405060708n, nextSeq: 1 },
    hex: padded('55520401' + '01' + '00000007' + '02' + '6162' + '04' + Buffer.from('main').toString('hex') + '0102030405060708' + '00000001' + '00' + '0000'),
  },
  {
    name: 'hello (reader)',
    packet: { kind: 'hello', role: Role.Reader, nonce: 1, name: 'r', topic: 'logs.web', cookie: Buffer.alloc(16, 0xab), fromKind: FromKind.Id, fromId: 300 },
    hex: padded('55520401' + '02' + '00000001' + '01' + '72' + '08' + Buffer.from('logs.web').toString('hex') + '02' + '000000000000012c' + '10' + 'ab'.repeat(16) + '0000' + '00'),
  },
  {
    name: 'hello (reader, unlisted: left out of the registry)',
    packet: { kind: 'hello', role: Role.Reader, nonce: 1, name: 'r', topic: 'chat.direct', cookie: Buffer.alloc(0), fromKind: FromKind.Latest, fromId: 0, unlisted: true },
    hex: padded('55520401' + '02' + '00000001' + '01' + '72' + '0b' + Buffer.from('chat.direct').toString('hex') + '00' + '0000000000000000' + '00' + '0000' + '00' + '01'),
  },
  {
    name: 'hello (writer, unlisted)',
    packet: { kind: 'hello', role: Role.Writer, nonce: 3, name: 'w', topic: 'chat.direct', cookie: Buffer.alloc(0), producerId: 7n, nextSeq: 1, unlisted: true },
    hex: padded('55520401' + '01' + '00000003' + '01' + '77' + '0b' + Buffer.from('chat.direct').toString('hex') + '0000000000000007' + '00000001' + '00' + '0000' + '01'),
  },
  {
    name: 'hello (writer, with its handshake message)',
    packet: {
      kind: 'hello',
      role: Role.Writer,
      nonce: 2,
      name: 'ab',
      cookie: Buffer.alloc(16, 0x11),
      handshake: Buffer.alloc(112, 0x22),
      producerId: 1n,
      nextSeq: 3,
    },
    hex: '55520401' + '01' + '00000002' + '02' + '6162' + '04' + Buffer.from('main').toString('hex') + '0000000000000001' + '00000003' + '10' + '11'.repeat(16) + '0070' + '22'.repeat(112) + '00',
  },
  {
    name: 'throttle',
    packet: { kind: 'throttle', sessionId: 5n, limit: 1000, retryAfterMs: 250 },
    hex: '55520412' + '0000000000000005' + '000003e8' + '000000fa',
  },
  {
    name: 'retry',
    packet: { kind: 'retry', nonce: 1, cookie: Buffer.alloc(16, 0xcd) },
    hex: '55520404' + '00000001' + '10' + 'cd'.repeat(16) + '00',
  },
  {
    name: 'retry (with the server key)',
    packet: { kind: 'retry', nonce: 1, cookie: Buffer.alloc(16, 0xcd), serverKey: Buffer.alloc(32, 0xee) },
    hex: '55520404' + '00000001' + '10' + 'cd'.repeat(16) + '20' + 'ee'.repeat(32),
  },
  {
    name: 'sealed welcome',
    packet: { kind: 'sealed-welcome', nonce: 3, sessionId: 0xffn, message: Buffer.alloc(5, 0x77) },
    hex: '55520405' + '00000003' + '00000000000000ff' + '77'.repeat(5),
  },
  {
    name: 'welcome',
    packet: {
      kind: 'welcome',
      nonce: 1,
      sessionId: 0xffn,
      maxMessageBytes: 1048576,
      maxDatagramBytes: 1200,
      heartbeatMs: 5000,
      resume: 2,
      missed: 0,
    },
    hex:
      '55520402' + '00000001' + '00000000000000ff' + '00100000' + '04b0' + '00001388' + '0000000000000002' + '0000000000000000',
  },
  {
    name: 'refuse',
    packet: { kind: 'refuse', nonce: 9, code: RefuseCode.NameTaken, reason: 'no' },
    hex: '55520403' + '00000009' + '02' + '02' + '6e6f',
  },
  {
    name: 'data: a line, an empty line, a direct line',
    packet: {
      kind: 'data',
      sessionId: 1n,
      seq: 5,
      entries: [
        { more: false, continued: false, text: Buffer.from('hi') },
        { more: false, continued: false, text: Buffer.alloc(0) },
        { more: false, continued: false, to: 'b', text: Buffer.from('x') },
      ],
    },
    hex: '55520410' + '0000000000000001' + '00000005' + '0003' + '00' + '02' + '6869' + '00' + '00' + '04' + '01' + '62' + '01' + '78',
  },
  {
    name: 'data: a first fragment',
    packet: { kind: 'data', sessionId: 1n, seq: 6, entries: [{ more: true, continued: false, text: Buffer.from('ab') }] },
    hex: '55520410' + '0000000000000001' + '00000006' + '0001' + '01' + '02' + '6162',
  },
  {
    name: 'data: a line, then a mark (key "f", value 0x0102)',
    packet: {
      kind: 'data',
      sessionId: 1n,
      seq: 7,
      entries: [
        { more: false, continued: false, text: Buffer.from('hi') },
        { more: false, continued: false, mark: Buffer.from('f'), text: Buffer.from([1, 2]) },
      ],
    },
    hex: '55520410' + '0000000000000001' + '00000007' + '0002' + '00' + '02' + '6869' + '08' + '01' + '66' + '02' + '0102',
  },
  {
    name: 'data: a direct line read from a file',
    packet: { kind: 'data', sessionId: 1n, seq: 8, entries: [{ more: false, continued: false, to: 'b', file: 'f.log', text: Buffer.from('x') }] },
    hex: '55520410' + '0000000000000001' + '00000008' + '0001' + '14' + '01' + '62' + '05' + Buffer.from('f.log').toString('hex') + '01' + '78',
  },
  {
    name: 'recall (marks from the third on)',
    packet: { kind: 'recall', sessionId: 1n, requestId: 5, from: 2 },
    hex: '55520414' + '0000000000000001' + '00000005' + '0002',
  },
  {
    name: 'marks (the third of three)',
    packet: { kind: 'marks', sessionId: 1n, requestId: 5, total: 3, from: 2, marks: [{ key: Buffer.from('f'), value: Buffer.from([9]) }] },
    hex: '55520415' + '0000000000000001' + '00000005' + '0003' + '0002' + '01' + '01' + '66' + '01' + '09',
  },
  {
    name: 'ack with a selective range',
    packet: { kind: 'ack', sessionId: 2n, received: 10, committed: 9, sacks: [{ first: 12, last: 13 }] },
    hex: '55520411' + '0000000000000002' + '0000000a' + '00000009' + '01' + '0000000c' + '0000000d',
  },
  {
    name: 'fetch',
    packet: { kind: 'fetch', sessionId: 3n, fetchId: 1, position: 1, offset: 0, waitMs: 1500, maxDatagrams: 32 },
    hex: '55520420' + '0000000000000003' + '00000001' + '0000000000000001' + '00000000' + '000005dc' + '20',
  },
  {
    name: 'batch of two messages, one direct',
    packet: {
      kind: 'batch',
      sessionId: 3n,
      fetchId: 1,
      part: 0,
      lastPart: true,
      caughtUp: true,
      position: 1,
      offset: 0,
      nextPosition: 3,
      nextOffset: 0,
      missed: 0,
      messages: [
        { id: 1, ts: 1000, from: 'a', text: Buffer.from('x') },
        { id: 2, ts: 999, from: 'a', to: 'b', text: Buffer.from('') },
      ],
    },
    hex:
      '55520421' + '0000000000000003' + '00000001' + '00' + '03' + '0000000000000001' + '00000000' + '0000000000000003' + '00000000' + '00' + '0002' +
      '01' + 'e807' + '00' + '0161' + '01' + '78' +
      '01' + '01' + '01' + '0161' + '0162' + '00',
  },
  {
    name: 'batch: a line read from a file',
    packet: {
      kind: 'batch',
      sessionId: 3n,
      fetchId: 2,
      part: 0,
      lastPart: true,
      caughtUp: false,
      position: 5,
      offset: 0,
      nextPosition: 6,
      nextOffset: 0,
      missed: 0,
      messages: [{ id: 5, ts: 1000, from: 'a', file: 'f.log', text: Buffer.from('x') }],
    },
    hex:
      '55520421' + '0000000000000003' + '00000002' + '00' + '01' + '0000000000000005' + '00000000' + '0000000000000006' + '00000000' + '00' + '0001' +
      '05' + 'e807' + '04' + '0161' + '05' + Buffer.from('f.log').toString('hex') + '01' + '78',
  },
  {
    name: 'stalled',
    packet: { kind: 'stalled', sessionId: 4n, retryAfterMs: 1000, reason: 'disk full' },
    hex: '55520413' + '0000000000000004' + '000003e8' + '09' + Buffer.from('disk full').toString('hex'),
  },
  {
    name: 'topics',
    packet: { kind: 'topics', sessionId: 4n, requestId: 2, after: 'logs.db' },
    hex: '55520426' + '0000000000000004' + '00000002' + '07' + Buffer.from('logs.db').toString('hex'),
  },
  {
    name: 'topic list',
    packet: {
      kind: 'topic-list',
      sessionId: 4n,
      requestId: 2,
      more: true,
      topics: [
        { topic: 'a', messages: 3, bytes: 10, first: 1, next: 4, lastWrite: 1000 },
        { topic: 'b.c', messages: 0, bytes: 0, first: 1, next: 1, lastWrite: 0 },
      ],
    },
    hex:
      '55520427' + '0000000000000004' + '00000002' + '01' + '02' +
      '01' + '61' + '0000000000000003' + '000000000000000a' + '0000000000000001' + '0000000000000004' + '00000000000003e8' +
      '03' + Buffer.from('b.c').toString('hex') + '0000000000000000'.repeat(2) + '0000000000000001'.repeat(2) + '0000000000000000',
  },
  {
    name: 'track',
    packet: { kind: 'track', sessionId: 4n, requestId: 3, name: 'bob' },
    hex: '55520424' + '0000000000000004' + '00000003' + '03' + Buffer.from('bob').toString('hex'),
  },
  {
    name: 'tracked (an online reader at position 42 of a log at 50)',
    packet: { kind: 'tracked', sessionId: 4n, requestId: 3, name: 'bob', state: 2, position: 42, logNext: 50 },
    hex: '55520425' + '0000000000000004' + '00000003' + '03' + Buffer.from('bob').toString('hex') + '02' + '000000000000002a' + '0000000000000032',
  },
  {
    name: 'who',
    packet: { kind: 'who', sessionId: 4n, requestId: 1, since: 2, offset: 0 },
    hex: '55520422' + '0000000000000004' + '00000001' + '00000002' + '00000000',
  },
  {
    name: 'presence (the whole registry, one page)',
    packet: {
      kind: 'presence',
      sessionId: 4n,
      requestId: 1,
      version: 3,
      full: true,
      more: false,
      nextOffset: 0,
      entries: [
        { name: 'a', role: 'reader', online: true, lastSeen: 1000, topic: 'main' },
        { name: 'bc', role: 'writer', online: false, lastSeen: 2, topic: 'chat.ops' },
      ],
    },
    hex:
      '55520423' + '0000000000000004' + '00000001' + '00000003' + '01' + '00000000' + '0002' +
      '0161' + '02' + '01' + '00000000000003e8' + '046d61696e' +
      '026263' + '01' + '00' + '0000000000000002' + '08636861742e6f7073',
  },
  {
    name: 'presence (changes, more to come)',
    packet: { kind: 'presence', sessionId: 4n, requestId: 2, version: 9, full: false, more: true, nextOffset: 0, entries: [] },
    hex: '55520423' + '0000000000000004' + '00000002' + '00000009' + '02' + '00000000' + '0000',
  },
  { name: 'ping', packet: { kind: 'ping', sessionId: 4n }, hex: '55520430' + '0000000000000004' },
  { name: 'ping with a position', packet: { kind: 'ping', sessionId: 4n, position: 9 }, hex: '55520430' + '0000000000000004' + '0000000000000009' },
  { name: 'pong', packet: { kind: 'pong', sessionId: 4n }, hex: '55520431' + '0000000000000004' },
  { name: 'bye', packet: { kind: 'bye', sessionId: 4n, position: 7 }, hex: '55520432' + '0000000000000004' + '0000000000000007' },
  { name: 'bye of a group member', packet: { kind: 'bye', sessionId: 4n, position: 7, fetchId: 3 }, hex: '55520432' + '0000000000000004' + '0000000000000007' + '00000003' },
  { name: 'goodbye', packet: { kind: 'goodbye', sessionId: 4n }, hex: '55520433' + '0000000000000004' },
  { name: 'unknown session', packet: { kind: 'unknown-session', sessionId: 4n }, hex: '5552043f' + '0000000000000004' },
];
