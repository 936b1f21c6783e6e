import { createHash } from 'node:crypto';
import type { WriterMark } from '../../protocol/packets.js';

/**
 * What a writer following files keeps in the store for each file (a mark, docs/PROTOCOL.md): which file
 * (its device and inode: the key) and how far its lines were sent, with a fingerprint of its first bytes
 * so that a file reusing an inode is not taken for the one before.
 */

/** Bytes of a file's start that its fingerprint covers (fewer while the file is shorter). */
export const FINGERPRINT_BYTES = 64;
const KEY_BYTES = 16;
const VALUE_BYTES = 8 + 1 + 8;

export interface FileId {
  dev: bigint;
  ino: bigint;
}

export interface FilePlace {
  /** Where the next line starts: every line before it has been sent. */
  offset: number;
  /** How many of the file's first bytes the fingerprint covers. */
  fpBytes: number;
  fp: Buffer;
}

export const idKey = (id: FileId): string => `${id.dev}:${id.ino}`;

export const fingerprint = (start: Buffer): Buffer => createHash('sha256').update(start).digest().subarray(0, 8);

export function encodeMark(id: FileId, place: FilePlace): WriterMark {
  return { key: encodeKey(id), value: encodeValue(place) };
}

export function encodeKey(id: FileId): Buffer {
  const key = Buffer.alloc(KEY_BYTES);
  key.writeBigUInt64BE(BigInt.asUintN(64, id.dev), 0);
  key.writeBigUInt64BE(BigInt.asUintN(64, id.ino), 8);
  return key;
}

/** A mark that removes the file's entry: it is no longer followed. */
export function forgetMark(id: FileId): WriterMark {
  return { key: encodeKey(id), value: Buffer.alloc(0) };
}

/** Made for every line read (from the shared pool: most are dropped for a later one before being sent). */
export function encodeValue(place: FilePlace): Buffer {
  const value = Buffer.allocUnsafe(VALUE_BYTES);
  value.writeUIntBE(Math.floor(place.offset / 2 ** 32), 0, 4);
  value.writeUInt32BE(place.offset % 2 ** 32, 4);
  value[8] = place.fpBytes;
  place.fp.copy(value, 9, 0, 8);
  return value;
}

/** A mark read back from the store; undefined for one this writer did not make. */
export function decodeMark(m: WriterMark): { id: FileId; place: FilePlace } | undefined {
  if (m.key.length !== KEY_BYTES || m.value.length !== VALUE_BYTES) return undefined;
  const offset = m.value.readBigUInt64BE(0);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER) || m.value[8]! > FINGERPRINT_BYTES) return undefined;
  return {
    id: { dev: m.key.readBigUInt64BE(0), ino: m.key.readBigUInt64BE(8) },
    place: { offset: Number(offset), fpBytes: m.value[8]!, fp: Buffer.from(m.value.subarray(9)) },
  };
}

/** The producer id of a writer that resumes by name: the same in every run, so the server's sequence check spans runs. */
export function resumingProducerId(name: string): bigint {
  return createHash('sha256').update(`udp-relay resuming writer\0${name}`).digest().readBigUInt64BE(0);
}
