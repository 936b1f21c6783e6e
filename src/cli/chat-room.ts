import type { Message } from '../core/reader/reader-core.js';
import type { ChatChannel, ChatEnd, ChatEvents, Tracked } from '../io/chat-runtime.js';
import type { PresenceEntry } from '../protocol/packets.js';
import { ChatReceipts } from './chat-receipts.js';
import { chatSayings, takenOverReason } from './client-sayings.js';
import { ExitCode, UserError } from './exit-codes.js';
import { formatMessage, formatPeople, localTime } from './format.js';
import { DEFAULT_TOPIC } from '../protocol/topics.js';

/** The chat's failure, worded: `registered` tells whether it ended a chat that had started. */
export function chatFailure(end: ChatEnd, name: string, servers: string, registered: boolean): UserError {
  const refused = (reason: string): UserError => new UserError(registered ? reason : `refused by the server: ${reason}`, ExitCode.Refused);
  switch (end.kind) {
    case 'refused':
      return end.byServer ? refused(end.reason) : new UserError(end.reason, ExitCode.Refused);
    case 'taken-over':
      return refused(takenOverReason(name));
    case 'unconfirmed':
      return new UserError(`the server is not responding; ${end.unconfirmed} message(s) not confirmed`, ExitCode.Unreachable);
    case 'no-answer':
      return new UserError(`${servers}: no answer`, ExitCode.Unreachable);
  }
}

/** Messages held at most while a backlog comes in (then shown as they come). */
const WAITING_MAX = 1_000;
/** Names a one-line summary of who is online lists at most. */
const SUMMARY_NAMES = 8;

/** "alice, bob and 3 more". */
const summary = (names: string[]): string =>
  names.length <= SUMMARY_NAMES ? names.join(', ') : `${names.slice(0, SUMMARY_NAMES).join(', ')} and ${names.length - SUMMARY_NAMES} more`;

/**
 * What the chat shows of the room: messages, who comes and goes, the registry when asked. Lines that
 * arrive before the screen exists wait for it.
 */
export class ChatRoom implements ChatEvents {
  private readonly online = new Map<string, Set<string>>();
  /** Messages that waited for this person, held until all have come, then counted and shown (in the order written). */
  private waiting: { ts: number; line: string }[] | undefined = [];
  private seeded = false;
  private whoAsked = false;
  /** Input ended with a /who unanswered (a piped `/who`): its answer is printed before leaving. */
  private whoAnswered: (() => void) | undefined;
  private pending: string[] | undefined = [];
  private print: (line: string) => void = (line) => this.pending?.push(line);
  failure: UserError | undefined;
  readonly notice = chatSayings((line) => this.show(`-- ${line}`));
  readonly receipts: ChatReceipts;

  constructor(
    private readonly me: string,
    private readonly servers: string,
    /** Closes the screen: the chat is over. */
    private readonly closeScreen: () => void,
    /** The room (topic) the chat is in: who is shown is who is here. */
    private here: string = DEFAULT_TOPIC,
  ) {
    this.receipts = new ChatReceipts((line) => this.show(line), (name, requestId) => this.track(name, requestId));
  }

  /** Where the receipts' questions go (the chat, while there is one). */
  track: (name: string, requestId: number) => void = () => {};

  tracked(answer: Tracked): void {
    this.receipts.tracked(answer);
  }

  confirmed(total: number, channel: ChatChannel): void {
    this.receipts.confirmed(total, channel);
  }

  directOff(reason: string): void {
    this.show(`-- direct messages reach people in this room only: ${reason}`);
  }

  /** From now on lines go to `print`; those that waited go first. */
  showOn(print: (line: string) => void): void {
    this.print = print;
    for (const l of this.pending?.splice(0) ?? []) print(l);
    this.pending = undefined;
  }

  show(line: string): void {
    this.print(line);
  }

  askedWho(): void {
    this.whoAsked = true;
  }

  /** Resolves once a /who asked is answered (or after `waitMs`), at once when none is. */
  whoAnswer(waitMs: number): Promise<void> {
    return new Promise((done) => {
      if (!this.whoAsked || this.failure) return done();
      this.whoAnswered = done;
      setTimeout(done, waitMs).unref();
    });
  }

  message(m: Message): void {
    // What I typed is on the screen already.
    if (m.from === this.me && m.to === undefined) return;
    const line = formatMessage(m, 'text').toString().replace(/\n$/, '');
    if (!this.waiting) return this.show(line);
    this.waiting.push({ ts: m.ts, line });
    // A backlog too long to hold is shown as it comes.
    if (this.waiting.length < WAITING_MAX) return;
    this.showWaiting(`more than ${WAITING_MAX.toLocaleString('en')} messages waited for you`);
    this.waiting = undefined;
  }

  caughtUp(): void {
    const n = this.waiting?.length ?? 0;
    if (n > 0) this.showWaiting(`you have ${n} message${n === 1 ? '' : 's'}`);
    this.waiting = undefined;
  }

  /** /away: the sessions close; what comes meanwhile waits on the server. */
  away(): void {
    this.seeded = false;
    this.online.clear();
  }

  /** /back, or into another room: new sessions; what waited is counted and shown once it has all come. */
  back(room: string = this.here): void {
    this.here = room;
    this.waiting = [];
  }

  private showWaiting(heading: string): void {
    this.show(`-- ${heading}`);
    // Room and direct messages come on two sessions: shown by when they were written (a stable sort).
    for (const w of this.waiting!.splice(0).sort((a, b) => a.ts - b.ts)) this.show(w.line);
  }

  /** Online here: a client is where it registered last (docs/PROTOCOL.md, PRESENCE). */
  private isHere(e: PresenceEntry): boolean {
    return e.online && e.topic === this.here;
  }

  registry(all: PresenceEntry[]): void {
    // The room's people: those here, and those who were here last.
    const entries = all.filter((e) => e.topic === this.here);
    if (!this.seeded) {
      this.seeded = true;
      for (const e of entries) if (this.isHere(e)) this.online.set(e.name, (this.online.get(e.name) ?? new Set<string>()).add(e.role));
      const others = this.others();
      this.show(others.length > 0 ? `-- here now: ${summary(others)}` : '-- nobody else is here now');
    }
    if (!this.whoAsked) return;
    this.whoAsked = false;
    for (const l of formatPeople(entries).split('\n').filter(Boolean)) this.show(l);
    this.whoAnswered?.();
  }

  presence(changes: PresenceEntry[]): void {
    for (const e of changes) {
      const roles = this.online.get(e.name) ?? new Set<string>();
      const was = roles.size > 0;
      if (this.isHere(e)) roles.add(e.role);
      else roles.delete(e.role);
      this.online.set(e.name, roles);
      if (was === roles.size > 0) continue;
      const others = this.others();
      this.show(`${localTime(e.lastSeen)} * ${e.name} ${roles.size > 0 ? 'came in' : 'left'} (${others.length > 0 ? `here: ${summary(others)}` : 'nobody else here'})`);
    }
  }

  /** Who else is in the room now, by name. */
  private others(): string[] {
    return [...this.online].filter(([name, roles]) => name !== this.me && roles.size > 0).map(([name]) => name).sort();
  }

  ended(end: ChatEnd): void {
    this.failure = chatFailure(end, this.me, this.servers, true);
    this.whoAnswered?.();
    this.closeScreen();
  }

  /** /quit */
  quit(): void {
    this.closeScreen();
  }
}
