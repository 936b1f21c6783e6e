import { HEADER_BYTES, Role } from './constants.js';

/**
 * Authenticated sessions (docs/PROTOCOL.md, "Authentication"). The secret never crosses the wire:
 * the HELLO carries a proof keyed by it over the server's cookie, and both sides derive one key per
 * direction from it. Every datagram of the session then ends in a tag, and its kind byte says so.
 */
export const TAG_BYTES = 16;
export const PROOF_BYTES = 16;
export const TAGGED_FLAG = 0x80;

/** A keyed MAC (HMAC-SHA256 in production), injected so that this module stays pure. */
export type Mac = (key: Buffer, data: Buffer) => Buffer;

export interface SessionKeys {
  toServer: Buffer;
  toClient: Buffer;
}

export interface HelloContext {
  role: Role;
  name: string;
  nonce: number;
  cookie: Buffer;
}

const context = (label: string, h: HelloContext): Buffer => {
  const head = Buffer.alloc(5);
  head.writeUInt8(h.role, 0);
  head.writeUInt32BE(h.nonce >>> 0, 1);
  return Buffer.concat([Buffer.from(`udp-relay/1 ${label}\0`), head, h.cookie, Buffer.from(h.name, 'utf8')]);
};

/** What a client with `secret` puts in its HELLO: proof that it knows the secret, bound to this exchange. */
export const helloProof = (mac: Mac, secret: Buffer, h: HelloContext): Buffer =>
  mac(secret, context('proof', h)).subarray(0, PROOF_BYTES);

export const sessionKeys = (mac: Mac, secret: Buffer, h: HelloContext): SessionKeys => ({
  toServer: mac(secret, context('to-server', h)),
  toClient: mac(secret, context('to-client', h)),
});

export const isTagged = (datagram: Buffer): boolean =>
  datagram.length >= HEADER_BYTES + TAG_BYTES && (datagram[3]! & TAGGED_FLAG) !== 0;

/** The datagram marked as tagged, with the tag over everything before it appended. */
export function seal(datagram: Buffer, key: Buffer, mac: Mac): Buffer {
  const n = datagram.length;
  const out = Buffer.allocUnsafe(n + TAG_BYTES);
  datagram.copy(out);
  out[3] = out[3]! | TAGGED_FLAG;
  mac(key, out.subarray(0, n)).copy(out, n, 0, TAG_BYTES);
  return out;
}

/** True when the datagram is tagged and its tag is right for `key`. */
export function verify(datagram: Buffer, key: Buffer, mac: Mac): boolean {
  if (!isTagged(datagram)) return false;
  const n = datagram.length - TAG_BYTES;
  return equalBytes(mac(key, datagram.subarray(0, n)).subarray(0, TAG_BYTES), datagram.subarray(n));
}

/** Compares without stopping at the first difference, so timing does not say how much of a guess was right. */
export function equalBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  // Stryker disable next-line EqualityOperator: one index past the end XORs undefined with undefined, 0.
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
