import { BytesReader } from './bytes-reader.js';
import {
  BatchFlag,
  DATAGRAM_BYTES_MAX,
  ENTRIES_PER_PACKET_MAX,
  EntryFlag,
  FILE_BYTES_MAX,
  FETCH_DATAGRAMS_MAX,
  HEADER_BYTES,
  MAGIC_0,
  MAGIC_1,
  MessageFlag,
  NAME_BYTES_MAX,
  PROTOCOL_VERSION,
  PacketKind,
  PresenceFlag,
  REASON_BYTES_MAX,
  ReaderState,
  SACK_RANGES_MAX,
  WAIT_MS_MAX,
} from './constants.js';
import { badField, ProtocolError } from './errors.js';
import { decodeHello, decodeRefuse, decodeRetry, decodeWelcome } from './hello-codec.js';
import { decodeMarkEntry, decodeMarks } from './marks-codec.js';
import { decodeTopicList, decodeTopics } from './topics-codec.js';
import { isValidTopic, TOPIC_BYTES_MAX } from './topics.js';
import type {
  Ack,
  Batch,
  Bye,
  Data,
  DataEntry,
  Fetch,
  Packet,
  Ping,
  Presence,
  PresenceEntry,
  Tracked,
  WireMessage,
} from './packets.js';

export { encode } from './encode.js';

const fail = badField;

const packetKinds = new Set<number>(Object.values(PacketKind));

/**
 * Decodes one datagram. Returns a valid packet or throws ProtocolError; never anything else.
 */
/** The header checked: the packet's kind, and a reader of its fields. A sealed record is not a packet (records.ts). */
function openPacket(buf: Buffer): { kind: number; r: BytesReader } {
  if (buf.length > DATAGRAM_BYTES_MAX) throw new ProtocolError('too-large', `${buf.length} bytes`);
  if (buf.length < HEADER_BYTES) throw new ProtocolError('truncated', 'shorter than the header');
  if (buf[0] !== MAGIC_0 || buf[1] !== MAGIC_1) throw new ProtocolError('bad-magic', 'not a relay datagram');
  if (buf[2] !== PROTOCOL_VERSION) throw new ProtocolError('bad-version', `version ${buf[2]}`);
  const kind = buf[3]!;
  if (!packetKinds.has(kind)) throw new ProtocolError('bad-kind', `kind ${kind}`);
  return { kind, r: new BytesReader(buf, HEADER_BYTES) };
}

/** Each packet kind's decoder: it reads the fields after the header. */
const DECODERS: Record<number, (r: BytesReader) => Packet> = {
  [PacketKind.Hello]: decodeHello,
  [PacketKind.Welcome]: decodeWelcome,
  [PacketKind.SealedWelcome]: (r) => ({ kind: 'sealed-welcome', nonce: r.u32(), sessionId: r.u64(), message: Buffer.from(r.bytes(r.remaining)) }),
  [PacketKind.Retry]: decodeRetry,
  [PacketKind.Refuse]: decodeRefuse,
  [PacketKind.Data]: decodeData,
  [PacketKind.Ack]: decodeAck,
  [PacketKind.Throttle]: (r) => ({ kind: 'throttle', sessionId: r.u64(), limit: r.u32(), retryAfterMs: r.u32() }),
  [PacketKind.Stalled]: (r) => ({ kind: 'stalled', sessionId: r.u64(), retryAfterMs: r.u32(), reason: r.str8(REASON_BYTES_MAX) }),
  [PacketKind.Recall]: (r) => ({ kind: 'recall', sessionId: r.u64(), requestId: r.u32(), from: r.u16() }),
  [PacketKind.Marks]: decodeMarks,
  [PacketKind.Fetch]: decodeFetch,
  [PacketKind.Batch]: decodeBatch,
  [PacketKind.Who]: (r) => ({ kind: 'who', sessionId: r.u64(), requestId: r.u32(), since: r.u32(), offset: r.u32() }),
  [PacketKind.Presence]: decodePresence,
  [PacketKind.Topics]: decodeTopics,
  [PacketKind.TopicList]: decodeTopicList,
  [PacketKind.Track]: (r) => ({ kind: 'track', sessionId: r.u64(), requestId: r.u32(), name: r.str8(NAME_BYTES_MAX) }),
  [PacketKind.Tracked]: decodeTracked,
  [PacketKind.Ping]: decodePing,
  [PacketKind.Pong]: (r) => ({ kind: 'pong', sessionId: r.u64() }),
  [PacketKind.Bye]: decodeBye,
  [PacketKind.Goodbye]: (r) => ({ kind: 'goodbye', sessionId: r.u64() }),
  [PacketKind.UnknownSession]: (r) => ({ kind: 'unknown-session', sessionId: r.u64() }),
};

export function decode(buf: Buffer): Packet {
  const { kind, r } = openPacket(buf);
  const packet = DECODERS[kind]!(r);
  r.end();
  return packet;
}

function decodePing(r: BytesReader): Ping {
  const ping: Ping = { kind: 'ping', sessionId: r.u64() };
  if (r.remaining > 0) ping.position = r.u64n(); // a reader confirming what it printed (20 bytes)
  return ping;
}

function decodeBye(r: BytesReader): Bye {
  const bye: Bye = { kind: 'bye', sessionId: r.u64(), position: r.u64n() };
  if (r.remaining > 0) bye.fetchId = r.u32(); // a group member's (24 bytes); 20 from older clients
  return bye;
}

function decodeTracked(r: BytesReader): Tracked {
  const sessionId = r.u64();
  const requestId = r.u32();
  const name = r.str8(NAME_BYTES_MAX);
  const state = r.u8();
  if (state !== ReaderState.Unknown && state !== ReaderState.Offline && state !== ReaderState.Online) fail(`reader state ${state}`);
  return { kind: 'tracked', sessionId, requestId, name, state: state as ReaderState, position: r.u64n(), logNext: r.u64n() };
}

function decodeData(r: BytesReader): Data {
  const sessionId = r.u64();
  const seq = r.u32();
  if (seq === 0) fail('sequence numbers start at 1');
  const count = r.u16();
  if (count === 0 || count > ENTRIES_PER_PACKET_MAX) fail(`${count} entries`);
  const entries: DataEntry[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    if (flags === EntryFlag.Mark) {
      entries.push(decodeMarkEntry(r));
      continue;
    }
    if (flags & ~(EntryFlag.More | EntryFlag.Continued | EntryFlag.To | EntryFlag.File)) fail(`entry flags ${flags}`);
    const continued = (flags & EntryFlag.Continued) !== 0;
    let to: string | undefined;
    if (flags & EntryFlag.To) {
      if (continued) fail('recipient on a continuation');
      to = r.str8(NAME_BYTES_MAX);
    }
    const file = flags & EntryFlag.File ? decodeFile(r, continued) : undefined;
    // Built once its text is read: a placeholder Buffer per entry cost the server a tenth of its CPU.
    const entry: DataEntry = { more: (flags & EntryFlag.More) !== 0, continued, text: r.bytes(r.varint()) };
    if (to !== undefined) entry.to = to;
    if (file !== undefined) entry.file = file;
    entries.push(entry);
  }
  return { kind: 'data', sessionId, seq, entries };
}

/** A file's name: 1-255 bytes of UTF-8, on a line's first entry only. */
function decodeFile(r: BytesReader, continued: boolean): string {
  if (continued) fail('file on a continuation');
  const file = r.str8(FILE_BYTES_MAX);
  if (file.length === 0) fail('empty file name');
  return file;
}

function decodeAck(r: BytesReader): Ack {
  const sessionId = r.u64();
  const received = r.u32();
  const committed = r.u32();
  if (committed > received) fail('committed beyond received');
  const n = r.u8();
  if (n > SACK_RANGES_MAX) fail(`${n} sack ranges`);
  const sacks = [];
  let floor = received + 1;
  for (let i = 0; i < n; i++) {
    const first = r.u32();
    const last = r.u32();
    if (first <= floor || last < first) fail('sack ranges out of order');
    sacks.push({ first, last });
    floor = last + 1;
  }
  return { kind: 'ack', sessionId, received, committed, sacks };
}

function decodeFetch(r: BytesReader): Fetch {
  const f: Fetch = {
    kind: 'fetch',
    sessionId: r.u64(),
    fetchId: r.u32(),
    position: r.u64n(),
    offset: r.u32(),
    waitMs: r.u32(),
    maxDatagrams: r.u8(),
  };
  if (f.waitMs > WAIT_MS_MAX) fail(`wait ${f.waitMs} ms`);
  if (f.maxDatagrams === 0 || f.maxDatagrams > FETCH_DATAGRAMS_MAX) fail(`${f.maxDatagrams} datagrams`);
  return f;
}

function decodeBatch(r: BytesReader): Batch {
  const sessionId = r.u64();
  const fetchId = r.u32();
  const part = r.u8();
  const flags = r.u8();
  if (flags & ~(BatchFlag.LastPart | BatchFlag.CaughtUp | BatchFlag.Seek)) fail(`batch flags ${flags}`);
  const position = r.u64n();
  const offset = r.u32();
  const nextPosition = r.u64n();
  const nextOffset = r.u32();
  if (nextPosition < position || (nextPosition === position && nextOffset < offset)) fail('batch ends before it starts');
  const missed = r.varint();
  const count = r.u16();
  if (count > ENTRIES_PER_PACKET_MAX) fail(`${count} messages`);
  const messages: WireMessage[] = [];
  let id = 0;
  let ts = 0;
  for (let i = 0; i < count; i++) {
    id += r.varint(); // the first absolute (from 0), the rest differences
    ts = i === 0 ? r.varint() : ts + r.svarint();
    if (ts < 0 || id > Number.MAX_SAFE_INTEGER) fail('message id or time out of range');
    if (i > 0 && messages[i - 1]!.id === id && !messages[i - 1]!.fragment) fail('repeated message id');
    const mflags = r.u8();
    if (mflags & ~(MessageFlag.To | MessageFlag.Fragment | MessageFlag.File)) fail(`message flags ${mflags}`);
    const from = r.str8(NAME_BYTES_MAX);
    const to = mflags & MessageFlag.To ? r.str8(NAME_BYTES_MAX) : undefined;
    const file = mflags & MessageFlag.File ? decodeFile(r, false) : undefined;
    const fragment = mflags & MessageFlag.Fragment ? { total: r.varint(), offset: r.varint() } : undefined;
    const text = r.bytes(r.varint());
    // Built whole, in one of few shapes: a batch may hold thousands, and most are plain.
    let m: WireMessage;
    if (fragment === undefined) m = to === undefined ? { id, ts, from, text } : { id, ts, from, to, text };
    else m = to === undefined ? { id, ts, from, fragment, text } : { id, ts, from, to, fragment, text };
    if (file !== undefined) m.file = file;
    if (m.fragment && m.fragment.offset + m.text.length > m.fragment.total) fail('fragment beyond its message');
    messages.push(m);
  }
  return {
    kind: 'batch',
    sessionId,
    fetchId,
    part,
    lastPart: (flags & BatchFlag.LastPart) !== 0,
    caughtUp: (flags & BatchFlag.CaughtUp) !== 0,
    ...((flags & BatchFlag.Seek) !== 0 && { seek: true }),
    position,
    offset,
    nextPosition,
    nextOffset,
    missed,
    messages,
  };
}

/** Encodes a packet. The caller is trusted: fields are assumed to be in range. */
const ROLES = ['writer', 'reader'] as const;

function decodePresence(r: BytesReader): Presence {
  const sessionId = r.u64();
  const requestId = r.u32();
  const version = r.u32();
  const flags = r.u8();
  if (flags & ~(PresenceFlag.Full | PresenceFlag.More)) fail(`presence flags ${flags}`);
  const nextOffset = r.u32();
  const count = r.u16();
  if (count > ENTRIES_PER_PACKET_MAX) fail(`${count} entries`);
  const entries: PresenceEntry[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.str8(NAME_BYTES_MAX);
    const role = ROLES[r.u8() - 1];
    if (!role) fail('presence role');
    const online = r.u8();
    if (online > 1) fail('presence online flag');
    const lastSeen = r.u64n();
    const topic = r.str8(TOPIC_BYTES_MAX);
    if (!isValidTopic(topic)) fail(`presence topic '${topic}'`);
    entries.push({ name, role: role!, online: online === 1, lastSeen, topic });
  }
  return {
    kind: 'presence',
    sessionId,
    requestId,
    version,
    full: (flags & PresenceFlag.Full) !== 0,
    more: (flags & PresenceFlag.More) !== 0,
    nextOffset,
    entries,
  };
}
