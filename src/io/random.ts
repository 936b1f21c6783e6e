import { createHmac, randomBytes } from 'node:crypto';

export const randomId = (): bigint => randomBytes(8).readBigUInt64BE(0);
export const randomNonce = (): number => randomBytes(4).readUInt32BE(0);
export const randomKey = (): Buffer => randomBytes(32);
export const hmacSha256 = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();
