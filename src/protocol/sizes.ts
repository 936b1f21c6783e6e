import { varintBytes } from './bytes-writer.js';
import { HEADER_BYTES } from './constants.js';

/** Byte budgets, so that senders can fill a datagram without encoding it twice. */

export const DATA_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 2;
/** Where a DATA datagram's sequence number is (after the header and the session id). */
export const DATA_SEQ_OFFSET = HEADER_BYTES + 8;

export const dataEntryBytes = (textBytes: number, to?: string, file?: string): number =>
  1 + (to === undefined ? 0 : 1 + Buffer.byteLength(to)) + (file === undefined ? 0 : 1 + Buffer.byteLength(file)) + varintBytes(textBytes) + textBytes;

/** Header plus the widest `missed` varint. */
export const BATCH_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 1 + 1 + 8 + 4 + 8 + 4 + 8 + 2;

export const svarintBytes = (v: number): number => varintBytes(v >= 0 ? v * 2 : -v * 2 - 1);

/**
 * Exact bytes of one message in a BATCH, excluding its text: the id and ts (absolute for a part's first
 * message, else differences to `prev`), flags, from, to, fragment fields and the text's length.
 * `nameBytes` covers from and to, and a file's name with its length byte.
 */
export function batchMessageOverheadBytes(
  m: { id: number; ts: number },
  prev: { id: number; ts: number } | undefined,
  nameBytes: number,
  hasTo: boolean,
  fragment: { total: number; offset: number } | undefined,
  textBytes: number,
): number {
  const idTs = prev ? varintBytes(m.id - prev.id) + svarintBytes(m.ts - prev.ts) : varintBytes(m.id) + varintBytes(m.ts);
  const frag = fragment ? varintBytes(fragment.total) + varintBytes(fragment.offset) : 0;
  return idTs + 1 + 1 + nameBytes + (hasTo ? 1 : 0) + frag + varintBytes(textBytes);
}

/** What a message costs in a BATCH beyond its text and its sender's name, as reads estimate it. */
export const BATCH_MESSAGE_FRAMING_BYTES = 5;

export const PRESENCE_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 4 + 1 + 4 + 2;

export const presenceEntryBytes = (e: { name: string; topic: string }): number => 1 + Buffer.byteLength(e.name) + 1 + 1 + 8 + 1 + Buffer.byteLength(e.topic);
