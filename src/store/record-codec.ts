/**
 * Messages stored together are one record (as Kafka stores record batches): they share a time and a
 * sender, and their texts and recipients are packed into one blob.
 * Blob: per message, varint recipient length (0: none) + recipient UTF-8 + varint text length + text.
 */
import type { NewMessage, StoredMessage } from './store.js';

/** A record holds at most this many messages or bytes; bigger groups are split. */
const RECORD_MESSAGES_MAX = 512;
const RECORD_BYTES_MAX = 64 * 1024;

export interface PackedMessage {
  to?: string;
  text: Buffer;
}

const varintLength = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);

function putVarint(buf: Buffer, at: number, v: number): number {
  let rest = v;
  while (rest >= 0x80) {
    buf[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  buf[at++] = rest;
  return at;
}

export function packMessages(messages: readonly PackedMessage[]): Buffer {
  let size = 0;
  const tos = messages.map((m) => (m.to === undefined ? undefined : Buffer.from(m.to, 'utf8')));
  messages.forEach((m, i) => {
    const to = tos[i];
    size += (to ? varintLength(to.length + 1) + to.length : 1) + varintLength(m.text.length) + m.text.length;
  });
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  messages.forEach((m, i) => {
    const to = tos[i];
    if (to) {
      at = putVarint(buf, at, to.length + 1);
      at += to.copy(buf, at);
    } else buf[at++] = 0;
    at = putVarint(buf, at, m.text.length);
    at += m.text.copy(buf, at);
  });
  return buf;
}

/**
 * The inverse of packMessages, as the stored messages of a record with ids from `first`: made here in
 * one step, since a reader far behind the head decodes every record it reads.
 * The blob is ours (written by packMessages); a bad one is corruption.
 */
export function unpackRecord(blob: Buffer, count: number, first: number, ts: number, from: string): StoredMessage[] {
  const out: StoredMessage[] = new Array<StoredMessage>(count);
  let at = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = blob[at++];
      if (b === undefined) throw new Error('corrupt record: truncated');
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  for (let i = 0; i < count; i++) {
    const toLen = varint();
    let to: string | undefined;
    if (toLen > 0) {
      to = blob.toString('utf8', at, at + toLen - 1);
      at += toLen - 1;
    }
    const len = varint();
    if (at + len > blob.length) throw new Error('corrupt record: text beyond the blob');
    const text = blob.subarray(at, at + len);
    at += len;
    out[i] = to === undefined ? { id: first + i, ts, from, text } : { id: first + i, ts, from, to, text };
  }
  return out;
}

/** Where the record starting at `start` ends: same time and sender, within the size bounds. */
export function recordEnd(messages: readonly NewMessage[], start: number): number {
  const { ts, from } = messages[start]!;
  let bytes = 0;
  let end = start;
  while (end < messages.length && end - start < RECORD_MESSAGES_MAX) {
    const m = messages[end]!;
    if (m.ts !== ts || m.from !== from) break;
    if (end > start && bytes + m.text.length > RECORD_BYTES_MAX) break;
    bytes += m.text.length;
    end++;
  }
  return end;
}

/** A message of a record as stored: its id, the record's time and sender, its own recipient and text. */
export const storedMessage = (id: number, ts: number, from: string, m: PackedMessage): StoredMessage =>
  m.to === undefined ? { id, ts, from, text: m.text } : { id, ts, from, to: m.to, text: m.text };
