import { HEADER_BYTES, MAGIC_0, MAGIC_1 } from './constants.js';
import { AEAD_TAG_BYTES, type NoiseCrypto } from './noise.js';

/**
 * A sealed record: one packet of an encrypted session, confidential and authenticated. The header, the
 * session id, the key epoch and the counter travel in the clear (the receiver needs them to find the key
 * and the nonce) and are bound to the sealed bytes as associated data; the packet, its own header
 * included, is the ciphertext.
 *
 * | 0 | magic `UR` | 2 | version 2 | 3 | kind `0x40` | 4 | session id u64 | 12 | epoch u32 | 16 | counter u32 |
 * | 20 | ChaCha20-Poly1305 of the packet, nonce = epoch·2^32 + counter, 16-byte tag |
 */
export const SEALED_VERSION = 2;
export const SEALED_KIND = 0x40;
export const RECORD_HEADER_BYTES = HEADER_BYTES + 8 + 4 + 4;
/** What sealing adds to a packet. */
export const RECORD_OVERHEAD = RECORD_HEADER_BYTES + AEAD_TAG_BYTES;

export interface RecordHead {
  sessionId: bigint;
  epoch: number;
  counter: number;
}

const nonceOf = (epoch: number, counter: number): bigint => (BigInt(epoch) << 32n) | BigInt(counter);

export function sealRecord(c: NoiseCrypto, key: Buffer, head: RecordHead, packet: Buffer): Buffer {
  const ad = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  ad[0] = MAGIC_0;
  ad[1] = MAGIC_1;
  ad[2] = SEALED_VERSION;
  ad[3] = SEALED_KIND;
  ad.writeBigUInt64BE(head.sessionId, 4);
  ad.writeUInt32BE(head.epoch, 12);
  ad.writeUInt32BE(head.counter, 16);
  return Buffer.concat([ad, c.seal(key, nonceOf(head.epoch, head.counter), ad, packet)]);
}

/** The clear part of a sealed record, or undefined when the datagram is not one. */
export function recordHead(datagram: Buffer): RecordHead | undefined {
  if (datagram.length < RECORD_OVERHEAD || datagram[0] !== MAGIC_0 || datagram[1] !== MAGIC_1) return undefined;
  if (datagram[2] !== SEALED_VERSION || datagram[3] !== SEALED_KIND) return undefined;
  return { sessionId: datagram.readBigUInt64BE(4), epoch: datagram.readUInt32BE(12), counter: datagram.readUInt32BE(16) };
}

/** The packet inside the sealed record `datagram` (whose clear part is `head`), or undefined when it was not sealed with `key` as it stands. */
export function openRecord(c: NoiseCrypto, key: Buffer, head: RecordHead, datagram: Buffer): Buffer | undefined {
  return c.open(key, nonceOf(head.epoch, head.counter), datagram.subarray(0, RECORD_HEADER_BYTES), datagram.subarray(RECORD_HEADER_BYTES));
}

/** Noise's REKEY: the next key of a direction, from which the one before cannot be found. */
export function nextKey(c: NoiseCrypto, key: Buffer): Buffer {
  return c.seal(key, 0xffff_ffff_ffff_ffffn, Buffer.alloc(0), Buffer.alloc(32)).subarray(0, 32);
}
