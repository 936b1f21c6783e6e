/**
 * How many datagrams a writer may have in flight (NewReno-like): one more per datagram acknowledged
 * up to the threshold, then one more per window; on loss, halved, at most once per window of data; on a
 * timeout, a quarter.
 */
export class CongestionWindow {
  private cwnd: number;
  private ssthresh: number;
  /** The newest sequence number sent when the window last shrank: losses up to it are the same event. */
  private recoverySeq = 0;

  constructor(
    initial: number,
    private readonly max: number,
  ) {
    this.cwnd = initial;
    this.ssthresh = max;
  }

  /** Whether one more datagram may go out with `outstanding` in flight. */
  allows(outstanding: number): boolean {
    return outstanding < this.cwnd;
  }

  get size(): number {
    return Math.floor(this.cwnd);
  }

  acked(count: number): void {
    for (let i = 0; i < count; i++) this.cwnd += this.cwnd < this.ssthresh ? 1 : 1 / this.cwnd;
    this.cwnd = Math.min(this.cwnd, this.max);
  }

  /** A loss among what was sent: `oldest` unconfirmed and `newest` sent so far. */
  lost(timeout: boolean, oldest: number, newest: number): void {
    if (!timeout && this.recoverySeq >= oldest) return;
    this.recoverySeq = newest;
    this.ssthresh = Math.max(this.cwnd / 2, 2);
    this.cwnd = timeout ? Math.max(2, this.cwnd / 4) : this.ssthresh;
  }
}
