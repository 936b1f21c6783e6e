import { COOKIE_BYTES } from '../../protocol/constants.js';

/** A cookie is good in the time slot it was made and the next one; secrets change every few minutes. */
const SLOT_MS = 30_000;
const KEY_MS = 10 * 60_000;

/**
 * Stateless proof that an address receives (QUIC's Retry idea): a cookie is a MAC over the address,
 * the client's nonce and a coarse time, so checking one needs no memory of having made it.
 */
export class AddressCookies {
  private keys: [Buffer, Buffer];
  private rotateAt: number | undefined;

  constructor(
    private readonly randomKey: () => Buffer,
    private readonly mac: (key: Buffer, data: Buffer) => Buffer,
  ) {
    const key = randomKey();
    this.keys = [key, key];
  }

  make(addrKey: string, nonce: number, now: number): Buffer {
    this.rotate(now);
    return this.compute(0, addrKey, nonce, Math.floor(now / SLOT_MS));
  }

  valid(cookie: Buffer, addrKey: string, nonce: number, now: number): boolean {
    this.rotate(now);
    if (cookie.length !== COOKIE_BYTES) return false;
    const slot = Math.floor(now / SLOT_MS);
    for (const k of [0, 1] as const) {
      for (const s of [slot, slot - 1]) if (this.compute(k, addrKey, nonce, s).equals(cookie)) return true;
    }
    return false;
  }

  private rotate(now: number): void {
    this.rotateAt ??= now + KEY_MS;
    if (now < this.rotateAt) return;
    this.keys = [this.randomKey(), this.keys[0]];
    this.rotateAt = now + KEY_MS;
  }

  private compute(keyIndex: 0 | 1, addrKey: string, nonce: number, slot: number): Buffer {
    return this.mac(this.keys[keyIndex], Buffer.from(`${addrKey}|${nonce}|${slot}`)).subarray(0, COOKIE_BYTES);
  }
}
