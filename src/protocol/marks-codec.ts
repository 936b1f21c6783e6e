import type { BytesReader } from './bytes-reader.js';
import { varintBytes, type BytesWriter } from './bytes-writer.js';
import { EntryFlag, HEADER_BYTES, MARK_KEY_BYTES_MAX, MARK_VALUE_BYTES_MAX } from './constants.js';
import { ProtocolError } from './errors.js';
import type { DataEntry, Marks, WriterMark } from './packets.js';

/** Writers' marks on the wire: the MARK entry of DATA, and MARKS. Layouts: docs/PROTOCOL.md. */

const fail = (detail: string): never => {
  throw new ProtocolError('bad-field', detail);
};

/** Bytes of a MARK entry in DATA: flags, key (u8 length), value (varint length). */
export const markEntryBytes = (keyBytes: number, valueBytes: number): number =>
  1 + 1 + keyBytes + varintBytes(valueBytes) + valueBytes;

/** Bytes of one mark in MARKS. */
export const marksItemBytes = (m: WriterMark): number => 2 + m.key.length + m.value.length;

export const MARKS_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 2 + 2 + 1;

/** After the flags byte of a MARK entry: the key and the value. */
export function decodeMarkEntry(r: BytesReader): DataEntry {
  const key = readKey(r);
  const length = r.varint();
  if (length > MARK_VALUE_BYTES_MAX) fail(`mark value of ${length} bytes`);
  return { more: false, continued: false, mark: key, text: r.bytes(length) };
}

export function writeMarkEntry(w: BytesWriter, e: DataEntry & { mark: Buffer }): void {
  w.u8(EntryFlag.Mark).u8(e.mark.length).bytes(e.mark).varint(e.text.length).bytes(e.text);
}

export function decodeMarks(r: BytesReader): Marks {
  const sessionId = r.u64();
  const requestId = r.u32();
  const total = r.u16();
  const from = r.u16();
  const count = r.u8();
  if (from + count > total) fail(`marks ${from}+${count} of ${total}`);
  const marks: WriterMark[] = [];
  for (let i = 0; i < count; i++) {
    const key = readKey(r);
    const n = r.u8();
    if (n > MARK_VALUE_BYTES_MAX) fail(`mark value of ${n} bytes`);
    marks.push({ key, value: r.bytes(n) });
  }
  return { kind: 'marks', sessionId, requestId, total, from, marks };
}

export function encodeMarks(w: BytesWriter, p: Marks): Buffer {
  w.u64(p.sessionId).u32(p.requestId).u16(p.total).u16(p.from).u8(p.marks.length);
  for (const m of p.marks) w.u8(m.key.length).bytes(m.key).u8(m.value.length).bytes(m.value);
  return w.finish();
}

function readKey(r: BytesReader): Buffer {
  const n = r.u8();
  if (n === 0 || n > MARK_KEY_BYTES_MAX) fail(`mark key of ${n} bytes`);
  return r.bytes(n);
}
