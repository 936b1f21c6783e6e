/**
 * Which record counters of one direction of a session have been accepted: each is accepted once, and one
 * far older than the newest is refused (RFC 6479's sliding window, as IPsec and WireGuard keep it).
 * Records arrive out of order over UDP, so a counter below the newest is fine while it is in the window.
 * `fresh` is asked before the record is opened, `accept` only after its tag checked out: a forged record
 * moves nothing.
 */
const WORD_BITS = 32;

export class ReplayWindow {
  private readonly words: Uint32Array;
  private newest = -1;

  constructor(readonly size = 4096) {
    if (size % WORD_BITS !== 0 || size < 2 * WORD_BITS) throw new Error(`a replay window is a multiple of ${WORD_BITS} bits, at least ${2 * WORD_BITS}`);
    this.words = new Uint32Array(size / WORD_BITS);
  }

  /** How far behind the newest a counter can be told apart: the ring but the word being refilled. */
  private get span(): number {
    return (this.words.length - 1) * WORD_BITS;
  }

  /** True when `n` was not accepted yet and is not too old to tell. */
  fresh(n: number): boolean {
    if (!Number.isSafeInteger(n) || n < 0) return false;
    if (n > this.newest) return true;
    if (this.newest - n >= this.span) return false;
    return (this.words[this.word(n)]! & this.bit(n)) === 0;
  }

  /** Records `n` as accepted (after `fresh(n)` and the record's tag checked out). */
  accept(n: number): void {
    if (!this.fresh(n)) return;
    if (n > this.newest) {
      // Words passed over by the jump are cleared: what they held is out of the window now.
      const from = Math.floor(this.newest / WORD_BITS) + 1; // 0 while nothing was accepted (newest -1)
      const to = Math.floor(n / WORD_BITS);
      for (let w = from; w <= to && w - from < this.words.length; w++) this.words[w % this.words.length] = 0;
      this.newest = n;
    }
    this.words[this.word(n)]! |= this.bit(n);
  }

  private word(n: number): number {
    return Math.floor(n / WORD_BITS) % this.words.length;
  }

  private bit(n: number): number {
    return (1 << (n % WORD_BITS)) >>> 0;
  }
}
