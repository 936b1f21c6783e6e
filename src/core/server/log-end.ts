/** The end of the log as this server knows it: from its own appends, reads, and other servers' notices. */
export class LogEnd {
  /** The id the next message appended will have (0: not known yet). */
  next = 0;

  /** Learns that the log reaches at least `next`; true when that is news. */
  advance(next: number): boolean {
    if (next <= this.next) return false;
    this.next = next;
    return true;
  }
}
