/**
 * `--count` over the sessions of a reader of several topics: every message any of them takes counts,
 * and once the last is taken none takes another (what is left stays on the server for the next run).
 */
export class MessageBudget {
  constructor(
    private left: number,
    /** Called once, when the last message is taken. */
    private readonly onSpent: () => void = () => {},
  ) {}

  get spent(): boolean {
    return this.left <= 0;
  }

  /** Takes one message; true when it was the last. */
  take(): boolean {
    if (this.left <= 0) return true;
    if (--this.left > 0) return false;
    this.onSpent();
    return true;
  }
}
