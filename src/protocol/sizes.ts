import { varintBytes } from './bytes-writer.js';
import { HEADER_BYTES } from './constants.js';

/** Byte budgets, so that senders can fill a datagram without encoding it twice. */

export const DATA_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 2;

export const dataEntryBytes = (textBytes: number, to?: string): number =>
  1 + (to === undefined ? 0 : 1 + Buffer.byteLength(to)) + varintBytes(textBytes) + textBytes;

/** Header plus the widest `missed` varint. */
export const BATCH_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 1 + 1 + 8 + 4 + 8 + 4 + 8 + 2;

/** Upper bound of one message's bytes in a BATCH, excluding its text; `nameBytes` covers from and to. */
export const batchMessageOverheadBytes = (nameBytes: number, hasTo: boolean, textBytes: number): number =>
  8 + 8 + 1 + 1 + nameBytes + (hasTo ? 1 : 0) + 16 + varintBytes(textBytes);

export const PRESENCE_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 4 + 1 + 4 + 2;

export const presenceEntryBytes = (e: { name: string }): number => 1 + Buffer.byteLength(e.name) + 1 + 1 + 8;
