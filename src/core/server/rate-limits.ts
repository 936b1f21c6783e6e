/**
 * A token bucket that may go into debt: a datagram carrying more messages than one second's allowance
 * still passes when the bucket is not empty, and the next ones wait until the debt is paid.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = perSecond;
    this.at = now;
  }

  /** Takes `n` tokens if any are left; false when the caller must wait. */
  take(n: number, now: number): boolean {
    this.refill(now);
    if (this.tokens <= 0) return false;
    this.tokens -= n;
    return true;
  }

  /** How long until `take` can succeed again. */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens > 0 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  /** True when the bucket is full again: its state says nothing a fresh one would not. */
  idle(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.perSecond;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.at) / 1000) * this.perSecond);
      this.at = now;
    }
  }
}

/**
 * Handshakes per source host per second. Only hosts that proved they receive (a valid cookie) get a
 * bucket, so spoofed floods cannot grow the table; full buckets are dropped by `sweep`.
 */
export class HandshakeLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly perSecond: number) {}

  allow(host: string, now: number): boolean {
    if (this.perSecond <= 0) return true;
    let b = this.buckets.get(host);
    if (!b) {
      b = new TokenBucket(this.perSecond, now);
      this.buckets.set(host, b);
    }
    return b.take(1, now);
  }

  sweep(now: number): void {
    for (const [host, b] of this.buckets) if (b.idle(now)) this.buckets.delete(host);
  }

  get size(): number {
    return this.buckets.size;
  }
}
