/** How long a holder asked "are you there?" has to answer before its name goes to the newcomer. */
export const PROBE_ANSWER_MS = 1_000;
/** A probe whose newcomer never came back is forgotten after this long. */
const PROBE_FORGET_MS = 10_000;

export type ProbeVerdict =
  /** Ask the holder now (a PING); the newcomer's HELLO goes unanswered until its next try. */
  | 'probe'
  /** Asked, not yet answered, still in time: ask again; the newcomer waits (its HELLO goes unanswered). */
  | 'wait'
  /**
   * The holder answered since it was asked: the name is in use. Only its PONG counts: a datagram it sent
   * before it was killed may still arrive after the question.
   */
  | 'held'
  /** The holder said nothing in time: its process is gone, the newcomer takes the name. */
  | 'gone';

/**
 * In open mode a name held by a live session is refused to another address. A client killed and started
 * again on the same host comes from a new port, though, and would wait out the session timeout. So for a
 * newcomer from the holder's own host, the server asks the holder first: a client that is running answers
 * at once, and keeps its name; one that does not answer within PROBE_ANSWER_MS is taken for gone.
 */
export class NameProbes {
  private readonly asked = new Map<string, number>();

  verdict(nameKey: string, holderAnsweredAt: number | undefined, now: number): ProbeVerdict {
    const askedAt = this.asked.get(nameKey);
    if (askedAt === undefined || now - askedAt > PROBE_FORGET_MS) {
      this.asked.set(nameKey, now);
      return 'probe';
    }
    if (holderAnsweredAt !== undefined && holderAnsweredAt >= askedAt) {
      this.asked.delete(nameKey);
      return 'held';
    }
    if (now - askedAt < PROBE_ANSWER_MS) return 'wait';
    this.asked.delete(nameKey);
    return 'gone';
  }

  sweep(now: number): void {
    for (const [k, at] of this.asked) if (now - at > PROBE_FORGET_MS) this.asked.delete(k);
  }

  get size(): number {
    return this.asked.size;
  }
}
