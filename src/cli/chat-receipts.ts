import type { ChatChannel, Tracked } from '../io/chat-runtime.js';
import { ReaderState } from '../protocol/constants.js';

/** Direct messages followed at most until delivered; past this, the oldest are no longer followed. */
const FOLLOWED_MAX = 1_000;

interface Followed {
  to: string;
  /** Where it went: the room, or where every chat reads its direct messages. */
  channel: ChatChannel;
  /** The first question asked after it was stored: answers to older ones may predate it. */
  askedFrom: number;
  /** The log's end in the first answer: the message is below it, so a reader at or past it has it. */
  before: number | undefined;
  /** What was said of where its recipient is. */
  told: ReaderState | undefined;
}

/**
 * What became of each line this person sent, said once: stored, when the server confirms it; for a
 * direct message, where its recipient is (online, away with the message kept, or never read here), then
 * "delivered" once the server says the recipient's reader has passed it. All of it comes from the
 * server: its confirmations, and where the recipient's reader is (TRACK), asked again each second while
 * something is not delivered.
 */
export class ChatReceipts {
  /** Per channel (each its own writer session): recipients (undefined: everyone) of the lines sent and not confirmed yet, in order. */
  private readonly channels: Record<ChatChannel, { unconfirmed: (string | undefined)[]; confirmedSoFar: number }> = {
    room: { unconfirmed: [], confirmedSoFar: 0 },
    direct: { unconfirmed: [], confirmedSoFar: 0 },
  };
  private readonly followed: Followed[] = [];
  private requests = 0;
  private onSettled: (() => void) | undefined;

  constructor(
    private readonly show: (line: string) => void,
    /** Asks the server where `name`'s reader is (nothing, while away). */
    private readonly ask: (name: string, requestId: number) => void,
  ) {}

  sent(to: string | undefined, channel: ChatChannel = 'room'): void {
    this.channels[channel].unconfirmed.push(to);
  }

  /** The channel's writer session has had `total` lines confirmed since it opened. */
  confirmed(total: number, channel: ChatChannel = 'room'): void {
    const c = this.channels[channel];
    for (; c.confirmedSoFar < total && c.unconfirmed.length > 0; c.confirmedSoFar++) {
      const to = c.unconfirmed.shift();
      if (to === undefined) {
        this.show('-- stored');
        continue;
      }
      this.followed.push({ to, channel, askedFrom: this.requests + 1, before: undefined, told: undefined });
      if (this.followed.length > FOLLOWED_MAX) this.followed.shift();
      this.askAbout(to);
    }
    this.checkSettled();
  }

  /** New sessions (after /back): their confirmations count from 0; what the old one did not confirm is gone. */
  restart(): void {
    for (const c of Object.values(this.channels)) {
      c.unconfirmed.length = 0;
      c.confirmedSoFar = 0;
    }
  }

  tracked(a: Tracked): void {
    for (const f of [...this.followed]) {
      if (f.to !== a.name || a.requestId < f.askedFrom) continue;
      f.before ??= a.logNext;
      if (a.position >= f.before) {
        this.followed.splice(this.followed.indexOf(f), 1);
        this.show(`-- delivered to ${a.name}`);
      } else if (f.told === undefined || (f.told !== a.state && a.state !== ReaderState.Online)) {
        // Said once when stored; again only if the recipient has gone since (coming back shows as delivered).
        f.told = a.state;
        this.show(`-- ${a.state === ReaderState.Unknown && f.channel === 'direct' ? NEVER_CHATTED(a.name) : STATE_SAYS[a.state](a.name)}`);
      }
    }
    this.checkSettled();
  }

  /**
   * Resolves once every line sent is said stored and every direct one said where it is (or after
   * `waitMs`): a chat fed from a pipe says what became of its lines before it leaves.
   */
  settled(waitMs: number): Promise<void> {
    return new Promise((done) => {
      this.onSettled = done;
      setTimeout(done, waitMs).unref();
      this.checkSettled();
    });
  }

  private checkSettled(): void {
    if (this.onSettled && Object.values(this.channels).every((c) => c.unconfirmed.length === 0) && this.followed.every((f) => f.told !== undefined)) this.onSettled();
  }

  /** Asks again where the recipients of what is not delivered yet are. */
  poll(): void {
    for (const name of new Set(this.followed.map((f) => f.to))) this.askAbout(name);
  }

  /** Direct messages not known to be delivered. */
  get undelivered(): number {
    return this.followed.length;
  }

  private askAbout(name: string): void {
    this.ask(name, ++this.requests);
  }
}

/** Sent where chats read direct messages, to a name that has never read there: its first chat reads it. */
const NEVER_CHATTED = (name: string): string => `stored; ${name} has not chatted here yet: it is kept for ${name}'s first chat`;

const STATE_SAYS: Record<ReaderState, (name: string) => string> = {
  [ReaderState.Online]: (name) => `stored; ${name} is online`,
  [ReaderState.Offline]: (name) => `stored; ${name} is offline: it is kept for ${name} until ${name} is back`,
  [ReaderState.Unknown]: (name) => `stored; nobody called ${name} has read here: their first reader starts after it`,
};
