import type { Message, ReaderEvent } from './reader-types.js';
import { MessageBudget } from './message-budget.js';

/** A package larger than this is handed on in pieces: memory stays bounded however long the delay. */
const PACKAGE_MESSAGES_MAX = 10_000;
const PACKAGE_BYTES_MAX = 4 * 1024 * 1024;
/**
 * While a reply is printed, the position is confirmed (PING with a position) once this many messages
 * are printed: a reader killed mid-reply prints again about this many at most, not the whole reply.
 */
const CONFIRM_MESSAGES_MIN = 1_000;

/**
 * What a reader hands on: messages gathered into packages (event 'messages'), and how far what was handed
 * on is printed and confirmed to the server. A position is confirmed only once all before it is printed.
 */
export class Delivery {
  private pkg: Message[] = [];
  private pkgBytes = 0;
  /** The position after the last message handed on, and after the last one printed. */
  private emittedTo = 0;
  private printedTo = 0;
  /** The last position the server was told (FETCH, PING). */
  private confirmedTo = 0;
  /** Messages still to hand on before --count is reached (none: no --count). */
  private readonly budget: MessageBudget | undefined;

  constructor(
    count: number | MessageBudget,
    private readonly emit: (e: ReaderEvent) => void,
    /** A package was handed on: it ends before `upTo`. */
    private readonly onHandedOn: (upTo: number) => void,
  ) {
    this.budget = typeof count === 'number' ? (count > 0 ? new MessageBudget(count) : undefined) : count;
  }

  /** --count is reached (by this session, or by another of a reader of several topics): take no more. */
  get full(): boolean {
    return this.budget?.spent ?? false;
  }

  /** Signed on at `position`: everything before it counts as handed on, printed and confirmed. */
  startAt(position: number): void {
    this.printedTo = this.emittedTo = this.confirmedTo = position;
  }

  /** Takes one message; 'stop' once --count is reached (the package is handed on then). */
  add(m: Message): 'stop' | 'more' {
    this.pkg.push(m);
    this.pkgBytes += m.text.length;
    if (this.pkg.length >= PACKAGE_MESSAGES_MAX || this.pkgBytes >= PACKAGE_BYTES_MAX) this.flush();
    if (this.budget?.take()) {
      this.flush();
      return 'stop';
    }
    return 'more';
  }

  /** Hands on what is gathered, if anything. */
  flush(): void {
    if (this.pkg.length === 0) return;
    const upTo = this.pkg[this.pkg.length - 1]!.id + 1;
    this.emittedTo = upTo;
    this.emit({ type: 'messages', messages: this.pkg, upTo });
    this.pkg = [];
    this.pkgBytes = 0;
    this.onHandedOn(upTo);
  }

  /** The messages before `upTo` have left the process. */
  printed(upTo: number): void {
    this.printedTo = Math.max(this.printedTo, upTo);
  }

  get allPrinted(): boolean {
    return this.printedTo >= this.emittedTo;
  }

  /** Where the reader stands for the server: `position` once all is printed, else as far as printing got. */
  standing(position: number): number {
    return this.allPrinted ? position : this.printedTo;
  }

  /** A fetch from `position` goes out: it confirms all before it. */
  confirmed(position: number): void {
    this.confirmedTo = Math.max(this.confirmedTo, position);
  }

  /** Printing has got far past what was confirmed: the position to confirm now (a long reply), if any. */
  confirmDue(): number | undefined {
    if (this.printedTo - this.confirmedTo < CONFIRM_MESSAGES_MIN) return undefined;
    this.confirmedTo = this.printedTo;
    return this.printedTo;
  }
}
