import type { Marks, Recall, WriterMark } from '../../protocol/packets.js';

/** An unanswered RECALL goes again after this long. */
const RESEND_MS = 300;

/**
 * A resuming writer's questions for the marks its name has in the store (RECALL), page by page, until it
 * has them all. Answers to an earlier question (a resent one, or another session's) are ignored.
 */
export class MarkRecall {
  private requestId = 0;
  private marks: WriterMark[] = [];
  private sentAt: number | undefined;

  /** When the question goes again; undefined when none is out. */
  get deadline(): number | undefined {
    return this.sentAt === undefined ? undefined : this.sentAt + RESEND_MS;
  }

  /** Starts over (a new session): the first page. */
  begin(sessionId: bigint, now: number): Recall {
    this.requestId++;
    this.marks = [];
    return this.ask(sessionId, now);
  }

  /** The question again, as it was. */
  again(sessionId: bigint, now: number): Recall {
    return this.ask(sessionId, now);
  }

  /** An answer: the next question, all the marks, or nothing (not an answer to the question out). */
  answered(p: Marks, now: number): { next: Recall } | { done: WriterMark[] } | undefined {
    if (this.sentAt === undefined || p.requestId !== this.requestId || p.from !== this.marks.length) return undefined;
    for (const m of p.marks) this.marks.push({ key: Buffer.from(m.key), value: Buffer.from(m.value) });
    if (this.marks.length < p.total && p.marks.length > 0) return { next: this.ask(p.sessionId, now, true) };
    this.sentAt = undefined;
    return { done: this.marks };
  }

  private ask(sessionId: bigint, now: number, next = false): Recall {
    if (next) this.requestId++;
    this.sentAt = now;
    return { kind: 'recall', sessionId, requestId: this.requestId, from: this.marks.length };
  }
}
