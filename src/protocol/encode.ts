import { DEFAULT_TOPIC } from './topics.js';
import { BytesWriter } from './bytes-writer.js';
import { BATCH_HEADER_BYTES, DATA_HEADER_BYTES, dataEntryBytes } from './sizes.js';
import { MARKS_HEADER_BYTES, encodeMarks, markEntryBytes, marksItemBytes, writeMarkEntry } from './marks-codec.js';
import { encodeTopicList, encodeTopics, topicListBytes } from './topics-codec.js';
import {
  BatchFlag,
  EntryFlag,
  HELLO_BYTES_MIN,
  MAGIC_0,
  MAGIC_1,
  MessageFlag,
  PROTOCOL_VERSION,
  PacketKind,
  PresenceFlag,
  HelloFlag,
  REASON_BYTES_MAX,
  Role,
} from './constants.js';
import type { Batch, Data, Hello, Marks, Packet, Presence, Recall, Retry, Track, Tracked, WireMessage } from './packets.js';

const header = (w: BytesWriter, kind: number): BytesWriter =>
  w.u8(MAGIC_0).u8(MAGIC_1).u8(PROTOCOL_VERSION).u8(kind);

/** Encodes one packet into a datagram (the reverse of decode in codec.ts). */
export function encode(p: Packet): Buffer {
  switch (p.kind) {
    case 'hello':
      return encodeHello(p);
    case 'retry':
      return encodeRetry(p);
    case 'sealed-welcome':
      return header(new BytesWriter(128), PacketKind.SealedWelcome).u32(p.nonce).u64(p.sessionId).bytes(p.message).finish();
    case 'welcome':
      return header(new BytesWriter(48), PacketKind.Welcome)
        .u32(p.nonce)
        .u64(p.sessionId)
        .u32(p.maxMessageBytes)
        .u16(p.maxDatagramBytes)
        .u32(p.heartbeatMs)
        .u64n(p.resume)
        .u64n(p.missed)
        .finish();
    case 'refuse':
      return header(new BytesWriter(64), PacketKind.Refuse).u32(p.nonce).u8(p.code).str8(truncateUtf8(p.reason, REASON_BYTES_MAX)).finish();
    case 'data':
      return encodeData(p);
    case 'ack': {
      const w = header(new BytesWriter(32), PacketKind.Ack)
        .u64(p.sessionId)
        .u32(p.received)
        .u32(p.committed)
        .u8(p.sacks.length);
      for (const s of p.sacks) w.u32(s.first).u32(s.last);
      return w.finish();
    }
    case 'throttle':
      return header(new BytesWriter(20), PacketKind.Throttle).u64(p.sessionId).u32(p.limit).u32(p.retryAfterMs).finish();
    case 'stalled':
      return header(new BytesWriter(64), PacketKind.Stalled)
        .u64(p.sessionId)
        .u32(p.retryAfterMs)
        .str8(truncateUtf8(p.reason, REASON_BYTES_MAX))
        .finish();
    case 'recall':
    case 'marks':
      return encodeRecallOrMarks(p);
    case 'fetch':
      return header(new BytesWriter(40), PacketKind.Fetch)
        .u64(p.sessionId)
        .u32(p.fetchId)
        .u64n(p.position)
        .u32(p.offset)
        .u32(p.waitMs)
        .u8(p.maxDatagrams)
        .finish();
    case 'batch':
      return encodeBatch(p);
    case 'who':
      return header(new BytesWriter(24), PacketKind.Who).u64(p.sessionId).u32(p.requestId).u32(p.since).u32(p.offset).finish();
    case 'presence':
      return encodePresence(p);
    case 'topics':
      return encodeTopics(header(new BytesWriter(16 + Buffer.byteLength(p.after)), PacketKind.Topics), p);
    case 'topic-list':
      return encodeTopicList(header(new BytesWriter(topicListBytes(p)), PacketKind.TopicList), p);
    case 'track':
    case 'tracked':
      return encodeTracking(p);
    case 'ping':
      if (p.position === undefined) return header(new BytesWriter(12), PacketKind.Ping).u64(p.sessionId).finish();
      return header(new BytesWriter(20), PacketKind.Ping).u64(p.sessionId).u64n(p.position).finish();
    case 'pong':
      return header(new BytesWriter(12), PacketKind.Pong).u64(p.sessionId).finish();
    case 'bye':
      if (p.fetchId === undefined) return header(new BytesWriter(20), PacketKind.Bye).u64(p.sessionId).u64n(p.position).finish();
      return header(new BytesWriter(24), PacketKind.Bye).u64(p.sessionId).u64n(p.position).u32(p.fetchId).finish();
    case 'goodbye':
      return header(new BytesWriter(12), PacketKind.Goodbye).u64(p.sessionId).finish();
    case 'unknown-session':
      return header(new BytesWriter(12), PacketKind.UnknownSession).u64(p.sessionId).finish();
  }
}

function encodeData(p: Data): Buffer {
  // Sized exactly: a full datagram would otherwise be copied as its buffer doubles from a guess.
  let size = DATA_HEADER_BYTES;
  for (const e of p.entries) size += e.mark ? markEntryBytes(e.mark.length, e.text.length) : dataEntryBytes(e.text.length, e.to, e.file);
  const w = header(new BytesWriter(size), PacketKind.Data).u64(p.sessionId).u32(p.seq).u16(p.entries.length);
  for (const e of p.entries) {
    if (e.mark) {
      writeMarkEntry(w, { ...e, mark: e.mark });
      continue;
    }
    const flags =
      (e.more ? EntryFlag.More : 0) |
      (e.continued ? EntryFlag.Continued : 0) |
      (e.to !== undefined ? EntryFlag.To : 0) |
      (e.file !== undefined ? EntryFlag.File : 0);
    w.u8(flags);
    if (e.to !== undefined) w.str8(e.to);
    if (e.file !== undefined) w.str8(e.file);
    w.varint(e.text.length).bytes(e.text);
  }
  return w.finish();
}

function encodeRecallOrMarks(p: Recall | Marks): Buffer {
  if (p.kind === 'recall') return header(new BytesWriter(18), PacketKind.Recall).u64(p.sessionId).u32(p.requestId).u16(p.from).finish();
  return encodeMarks(header(new BytesWriter(MARKS_HEADER_BYTES + p.marks.reduce((n, m) => n + marksItemBytes(m), 0)), PacketKind.Marks), p);
}

function encodeBatch(p: Batch): Buffer {
  const flags = (p.lastPart ? BatchFlag.LastPart : 0) | (p.caughtUp ? BatchFlag.CaughtUp : 0) | (p.seek ? BatchFlag.Seek : 0);
  // Sized for the usual message (small differences of id and time): seldom grown, never far too big.
  let size = BATCH_HEADER_BYTES;
  // Stryker disable next-line ArithmeticOperator: a guess of the capacity; the writer grows when it is short.
  for (const m of p.messages) size += m.text.length + m.from.length + (m.to?.length ?? 0) + (m.file?.length ?? 0) + 8;
  const w = header(new BytesWriter(size), PacketKind.Batch)
    .u64(p.sessionId)
    .u32(p.fetchId)
    .u8(p.part)
    .u8(flags)
    .u64n(p.position)
    .u32(p.offset)
    .u64n(p.nextPosition)
    .u32(p.nextOffset)
    .varint(p.missed)
    .u16(p.messages.length);
  let prev: WireMessage | undefined;
  for (const m of p.messages) {
    if (prev) w.varint(m.id - prev.id).svarint(m.ts - prev.ts);
    else w.varint(m.id).varint(m.ts);
    w.u8((m.to !== undefined ? MessageFlag.To : 0) | (m.fragment ? MessageFlag.Fragment : 0) | (m.file !== undefined ? MessageFlag.File : 0)).str8(m.from);
    if (m.to !== undefined) w.str8(m.to);
    if (m.file !== undefined) w.str8(m.file);
    if (m.fragment) w.varint(m.fragment.total).varint(m.fragment.offset);
    w.varint(m.text.length).bytes(m.text);
    prev = m;
  }
  return w.finish();
}

function encodePresence(p: Presence): Buffer {
  const flags = (p.full ? PresenceFlag.Full : 0) | (p.more ? PresenceFlag.More : 0);
  const w = header(new BytesWriter(1200), PacketKind.Presence)
    .u64(p.sessionId)
    .u32(p.requestId)
    .u32(p.version)
    .u8(flags)
    .u32(p.nextOffset)
    .u16(p.entries.length);
  for (const e of p.entries) w.str8(e.name).u8(e.role === 'writer' ? 1 : 2).u8(e.online ? 1 : 0).u64n(e.lastSeen).str8(e.topic);
  return w.finish();
}

function truncateUtf8(s: string, maxBytes: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= maxBytes) return s;
  return b.subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}

/** TRACK (where is a name's reader?) and its answer, TRACKED. */
function encodeTracking(p: Track | Tracked): Buffer {
  const w = header(new BytesWriter(34 + Buffer.byteLength(p.name)), p.kind === 'track' ? PacketKind.Track : PacketKind.Tracked)
    .u64(p.sessionId)
    .u32(p.requestId)
    .str8(p.name);
  if (p.kind === 'tracked') w.u8(p.state).u64n(p.position).u64n(p.logNext);
  return w.finish();
}

function encodeRetry(p: Retry): Buffer {
  const key = p.serverKey ?? Buffer.alloc(0);
  return header(new BytesWriter(64), PacketKind.Retry).u32(p.nonce).u8(p.cookie.length).bytes(p.cookie).u8(key.length).bytes(key).finish();
}

function encodeHello(p: Hello): Buffer {
  const w = header(new BytesWriter(HELLO_BYTES_MIN), PacketKind.Hello).u8(p.role).u32(p.nonce).str8(p.name).str8(p.topic ?? DEFAULT_TOPIC);
  if (p.role === Role.Writer) w.u64(p.producerId).u32(p.nextSeq);
  else w.u8(p.fromKind).u64n(p.fromId);
  w.u8(p.cookie.length).bytes(p.cookie).u16(p.handshake?.length ?? 0).bytes(p.handshake ?? Buffer.alloc(0));
  if (p.role !== Role.Writer) w.str8(p.group ?? '');
  w.u8(p.unlisted ? HelloFlag.Unlisted : 0);
  // Stryker disable next-line EqualityOperator,ConditionalExpression: padding a hello of exactly 64 bytes adds nothing.
  if (w.length < HELLO_BYTES_MIN) w.bytes(Buffer.alloc(HELLO_BYTES_MIN - w.length));
  return w.finish();
}
