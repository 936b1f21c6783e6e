/**
 * Messages stored together are one record (as Kafka stores record batches): they share a time and a
 * sender, and their texts and recipients are packed into one blob.
 * Blob: per message, varint recipient length (0: none) + recipient UTF-8 + varint text length + text.
 * Lines read from a file (`run-writer --follow`) share it too: the record's sender field is then the
 * sender, a NUL (never in a name) and the file's name.
 */
import type { NewMessage, StoredMessage } from './store.js';

/** A record holds at most this many messages or bytes; bigger groups are split. */
const RECORD_MESSAGES_MAX = 512;
const RECORD_BYTES_MAX = 64 * 1024;

export interface PackedMessage {
  to?: string;
  file?: string;
  text: Buffer;
}

/** A record's sender field: the sender, and the file its lines were read from, if any. */
export const senderField = (m: { from: string; file?: string }): string => (m.file === undefined ? m.from : `${m.from}\0${m.file}`);

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
export function unpackRecord(blob: Buffer, count: number, first: number, ts: number, sender: string): StoredMessage[] {
  const out: StoredMessage[] = new Array<StoredMessage>(count);
  const nul = sender.indexOf('\0');
  const from = nul === -1 ? sender : sender.slice(0, nul);
  const file = nul === -1 ? undefined : sender.slice(nul + 1);
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
    const m: StoredMessage = to === undefined ? { id: first + i, ts, from, text } : { id: first + i, ts, from, to, text };
    if (file !== undefined) m.file = file;
    out[i] = m;
  }
  return out;
}

/** Where the record starting at `start` ends: same time, sender and file, within the size bounds. */
export function recordEnd(messages: readonly NewMessage[], start: number): number {
  const { ts, from, file } = messages[start]!;
  let bytes = 0;
  let end = start;
  while (end < messages.length && end - start < RECORD_MESSAGES_MAX) {
    const m = messages[end]!;
    if (m.ts !== ts || m.from !== from || m.file !== file) break;
    if (end > start && bytes + m.text.length > RECORD_BYTES_MAX) break;
    bytes += m.text.length;
    end++;
  }
  return end;
}

/** A message of a record as stored: its id, the record's time, sender and file, its own recipient and text. */
export function storedMessage(id: number, ts: number, from: string, m: PackedMessage): StoredMessage {
  const s: StoredMessage = m.to === undefined ? { id, ts, from, text: m.text } : { id, ts, from, to: m.to, text: m.text };
  if (m.file !== undefined) s.file = m.file;
  return s;
}
