/**
 * Retransmission timeout per RFC 6298, with a floor suited to a LAN rather than the Internet's 1 s.
 * Callers must not feed samples from retransmitted packets (Karn's rule).
 */
export class RttEstimator {
  private srttMs: number | undefined;
  private rttVarMs = 0;
  private backoff = 1;

  constructor(
    private readonly rtoMsMin = 15,
    private readonly rtoMsMax = 2_000,
    private readonly rtoMsInitial = 200,
    private readonly backoffMax = 8,
  ) {}

  sample(rttMs: number): void {
    const r = Math.max(0, rttMs);
    if (this.srttMs === undefined) {
      this.srttMs = r;
      this.rttVarMs = r / 2;
    } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - r);
      this.srttMs = 0.875 * this.srttMs + 0.125 * r;
    }
    this.backoff = 1;
  }

  /**
   * A retransmission timer fired: back off exponentially until a fresh sample arrives. Capped at 8x:
   * on a LAN, loss is mostly random rather than congestion, and a long backoff only stalls the stream.
   */
  timedOut(): void {
    this.backoff = Math.min(this.backoff * 2, this.backoffMax);
  }

  get smoothedMs(): number {
    return this.srttMs ?? this.rtoMsInitial;
  }

  get rtoMs(): number {
    const base = this.srttMs === undefined ? this.rtoMsInitial : this.srttMs + Math.max(1, 4 * this.rttVarMs);
    return Math.min(this.rtoMsMax, Math.max(this.rtoMsMin, base) * this.backoff);
  }
}
