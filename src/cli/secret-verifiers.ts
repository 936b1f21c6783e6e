import { createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Users } from '../core/server/authenticator.js';
import type { TopicRights } from '../core/server/topic-rights.js';

/**
 * What a users file keeps of a secret: a salted scrypt hash in the PHC string format,
 * `$scrypt$ln=15,r=8,p=1$SALT$HASH` (base64 without padding), from which the secret cannot be read back.
 * 2^15 × 8 × 128 bytes: 32 MiB and some tens of milliseconds per check, which is what makes guessing
 * from a stolen file slow.
 */
const LOG_N = 15;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const MAXMEM = 64 * 1024 * 1024;
const VERIFIER = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export interface Verifier {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

/** A new verifier of `secret`, with a fresh salt. */
export function hashSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES);
  const hash = scryptSync(secret, salt, HASH_BYTES, { N: 2 ** LOG_N, r: R, p: P, maxmem: MAXMEM });
  return `$scrypt$ln=${LOG_N},r=${R},p=${P}$${b64(salt)}$${b64(hash)}`;
}

/** The verifier in a users file's entry, 'bad' when it starts like one and is not, undefined for a plain secret. */
export function parseVerifier(entry: string): Verifier | 'bad' | undefined {
  if (!entry.startsWith('$scrypt$')) return undefined;
  const m = VERIFIER.exec(entry);
  if (!m) return 'bad';
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16 || salt.length < 8 || hash.length < 16) return 'bad';
  return { logN, r, p, salt, hash };
}

const CACHE_MAX = 4096;
/** New scrypt checks the server makes per second, all users together: each holds its event loop. */
export const CHECKS_PER_SECOND = 4;

/**
 * The users of a users file, checked against verifiers (or plain secrets, from files of older versions).
 * A check's outcome is remembered under a keyed digest of the secret (a key of this process's), so that
 * clients signing on again, or a wrong secret tried again, cost no second scrypt. New checks are bounded
 * per second: guesses from many hosts at once cannot keep the server busy hashing (the clients beyond the
 * bound are told to try again, as over --handshake-rate).
 */
export class VerifiedUsers implements Users {
  private readonly cacheKey = randomBytes(32);
  private readonly checked = new Map<string, boolean>();
  /** Users whose topics are limited (the users file's `read` and `write`); the others may use every topic. */
  readonly topicRights = new Map<string, TopicRights>();
  private second = 0;
  private checks = 0;

  constructor(
    private readonly entries: ReadonlyMap<string, Verifier | Buffer>,
    private readonly clock: () => number = Date.now,
    private readonly checksPerSecond = CHECKS_PER_SECOND,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  rights(name: string): TopicRights | undefined {
    return this.topicRights.get(name);
  }

  verify(name: string, secret: Buffer): boolean | 'busy' {
    const entry = this.entries.get(name);
    if (!entry) return false;
    const key = `${name}\0${createHmac('sha256', this.cacheKey).update(secret).digest('base64')}`;
    const known = this.checked.get(key);
    if (known !== undefined) return known;
    if (!Buffer.isBuffer(entry) && !this.mayCheck()) return 'busy';
    const ok = Buffer.isBuffer(entry) ? sameBytes(entry, secret) : sameBytes(entry.hash, scryptSync(secret, entry.salt, entry.hash.length, { N: 2 ** entry.logN, r: entry.r, p: entry.p, maxmem: MAXMEM }));
    if (this.checked.size >= CACHE_MAX) this.checked.clear();
    this.checked.set(key, ok);
    return ok;
  }

  private mayCheck(): boolean {
    const second = Math.floor(this.clock() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.checks = 0;
    }
    return this.checks++ < this.checksPerSecond;
  }
}

const sameBytes = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);
