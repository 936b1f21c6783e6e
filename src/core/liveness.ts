/**
 * When a client calls its server unresponsive, the same for every role: something it sent that wants an
 * answer (HELLO, DATA, FETCH, PING, WHO, BYE) has gone unanswered for `lostAfterMs`. Idle time is no
 * evidence either way: a client that sends nothing owes no silence to the server, and its heartbeat PING
 * is what finds a server that died meanwhile (within heartbeat + lostAfterMs).
 */
export class Liveness {
  /** Since when the server owes an answer (undefined: it owes nothing). */
  private owedSince: number | undefined;
  /** The loss was reported: the next answer is news ("back"). */
  private reported = false;

  constructor(private readonly lostAfterMs: number) {}

  /** Something that wants an answer went out. */
  sent(now: number): void {
    this.owedSince ??= now;
  }

  /**
   * The server answered (call once its datagram is handled). `stillOwed`: more is due (unconfirmed
   * lines, an open fetch), timed from now. Returns true when this ends a reported loss.
   */
  heard(now: number, stillOwed: boolean): boolean {
    this.owedSince = stillOwed ? now : undefined;
    const back = this.reported;
    this.reported = false;
    return back;
  }

  /** Since when something sent has gone unanswered (undefined: nothing is owed). */
  get unansweredSince(): number | undefined {
    return this.owedSince;
  }

  /** When the server counts as lost, if nothing is heard of it; undefined once reported (it is said once). */
  get deadline(): number | undefined {
    return this.owedSince === undefined || this.reported ? undefined : this.owedSince + this.lostAfterMs;
  }

  due(now: number): boolean {
    const d = this.deadline;
    return d !== undefined && now >= d;
  }

  /** The loss is reported (or the client moved to another server): wait for an answer, say it once. */
  markReported(): void {
    this.reported = true;
  }

  /** A new server, or a new start on this one: nothing is owed yet, nothing was reported. */
  reset(): void {
    this.owedSince = undefined;
    this.reported = false;
  }

}
