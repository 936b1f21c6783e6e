import { randomBytes } from 'node:crypto';

export const randomId = (): bigint => randomBytes(8).readBigUInt64BE(0);
export const randomNonce = (): number => randomBytes(4).readUInt32BE(0);
