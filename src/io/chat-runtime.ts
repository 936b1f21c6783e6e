import type { Address } from '../core/address.js';
import { READER_DEFAULTS, ReaderCore, type Message, type ReaderEvent } from '../core/reader/reader-core.js';
import { WRITER_DEFAULTS, WriterCore, type WriterEvent } from '../core/writer/writer-core.js';
import { FromKind } from '../protocol/constants.js';
import type { PresenceEntry, TopicInfo } from '../protocol/packets.js';
import { now } from './clock.js';
import type { ClientEncryption } from '../core/client/client-cipher.js';
import { randomId, randomNonce } from './random.js';
import type { PacketTransport } from '../core/sans-io.js';
import { openClientTransport } from './client-transport.js';
import { PacketDriver } from './packet-driver.js';

/** The server's answer to `track`. */
export type Tracked = Extract<ReaderEvent, { type: 'tracked' }>;

/** Why a chat cannot go on (the command line words it). */
export type ChatEnd =
  /** `byServer` false: refused by us (the server's key is not one we trust, or it does not encrypt). */
  | { kind: 'refused'; reason: string; byServer: boolean }
  | { kind: 'taken-over' }
  /** The server confirmed nothing for the timeout. */
  | { kind: 'unconfirmed'; unconfirmed: number }
  /** Nothing from the server at all within the timeout. */
  | { kind: 'no-answer' };

export interface ChatEvents {
  message(m: Message): void;
  /** The whole registry: when it first arrives, and in answer to `who()`. */
  registry(entries: PresenceEntry[]): void;
  presence(changes: PresenceEntry[]): void;
  /** Where a name's reader is, in answer to `track`. */
  tracked(answer: Tracked): void;
  /** The writer session has had `total` lines confirmed stored (since this chat opened). */
  confirmed(total: number): void;
  /** Since the sessions opened, what waited for this person has all come (once per opening). */
  caughtUp(): void;
  /** What else either session has to say: the server went away or came back, a line was too long. */
  notice(e: WriterEvent | ReaderEvent): void;
  /** The chat cannot go on after both sessions were registered. */
  ended(end: ChatEnd): void;
}

export interface Chat {
  send(text: string, to?: string): void;
  /** Asks for the registry as it is now: it comes to `events.registry`. */
  who(): void;
  /** Asks where a name's reader is: it comes to `events.tracked`, with `requestId`. */
  track(name: string, requestId: number): void;
  /** Signs off both sessions (what was sent is confirmed first, for a while). */
  close(): Promise<void>;
}

/** The chat ended before both sessions were registered. */
export class ChatEnded extends Error {
  constructor(readonly end: ChatEnd) {
    super(end.kind);
  }
}

export interface ChatOptions {
  /** In order of preference: both sessions move on when one stops answering. */
  servers: Address[];
  name: string;
  /** The room: absent, the default topic. */
  topic?: string;
  secret?: string;
  /** Absent: plain text (`--insecure-plaintext`). */
  encryption?: ClientEncryption;
  timeoutMs: number;
}

/** How long `close` waits for both sessions to sign off. */
const CLOSE_WAIT_MS = 3_000;

/**
 * One person at a terminal: a writer session for what they type and a reader session (with
 * presence) for what arrives, each on its own transport. Resolves once both are registered.
 */
export async function startChat(opts: ChatOptions, events: ChatEvents): Promise<Chat> {
  const transports = await Promise.all([openClientTransport(opts.servers), openClientTransport(opts.servers)]);
  return new Promise<Chat>((resolve, reject) => new ChatSessions(opts, events, transports, resolve, reject));
}

/** What the chat's sessions prove who they are with, and how they are sealed. */
const credentialsOf = (opts: ChatOptions): { secret?: Buffer; encryption?: ClientEncryption } => ({
  ...(opts.secret !== undefined && { secret: Buffer.from(opts.secret, 'utf8') }),
  ...(opts.encryption && { encryption: opts.encryption }),
});

/** The server's topics (the chat's /rooms): an observer session lists them, then signs off. */
export async function listRooms(opts: ChatOptions): Promise<TopicInfo[]> {
  const transport = await openClientTransport(opts.servers);
  const core = new ReaderCore(
    { ...READER_DEFAULTS, name: opts.name, servers: opts.servers, nonce: randomNonce(), fromKind: FromKind.Latest, listTopics: true, timeoutMs: opts.timeoutMs, ...credentialsOf(opts) },
    now(),
  );
  return new Promise<TopicInfo[]>((resolve, reject) => {
    let topics: TopicInfo[] = [];
    let failed: ChatEnded | undefined;
    const driver = new PacketDriver(transport, core, () => {
      for (let e = core.pollEvent(); e; e = core.pollEvent()) {
        if (e.type === 'topics') topics = e.topics;
        else if (e.type === 'refused') failed ??= new ChatEnded({ kind: 'refused', reason: e.reason, byServer: e.byServer });
        else if (e.type === 'failed') failed ??= new ChatEnded({ kind: 'no-answer' });
        if (e.type !== 'closed' && !failed) continue;
        driver.stop();
        void transport.close().then(() => (failed ? reject(failed) : resolve(topics)));
        return;
      }
    });
    driver.pump();
  });
}

class ChatSessions implements Chat {
  private readonly writer: WriterCore;
  private readonly reader: ReaderCore;
  private readonly wdriver: PacketDriver;
  private readonly rdriver: PacketDriver;
  private registered = 0;
  private ended = false;
  private closing: (() => void) | undefined;
  private stopped = false;
  private confirmedTold = 0;

  constructor(
    opts: ChatOptions,
    private readonly events: ChatEvents,
    private readonly transports: PacketTransport[],
    private readonly resolve: (chat: Chat) => void,
    private readonly reject: (err: ChatEnded) => void,
  ) {
    const t0 = now();
    const session = { name: opts.name, ...(opts.topic !== undefined && { topic: opts.topic }), servers: opts.servers, nonce: randomNonce(), ...credentialsOf(opts) };
    this.writer = new WriterCore({ ...WRITER_DEFAULTS, ...session, producerId: randomId(), timeoutMs: opts.timeoutMs }, t0);
    // A returning name gets what was sent while it was away; a new one starts now.
    this.reader = new ReaderCore({ ...READER_DEFAULTS, ...session, nonce: randomNonce(), fromKind: FromKind.Latest, presence: 'watch' }, t0);
    this.wdriver = new PacketDriver(transports[0]!, this.writer, () => this.writerEvents());
    this.rdriver = new PacketDriver(transports[1]!, this.reader, () => this.readerEvents());
    setTimeout(() => {
      if (this.registered < 2) this.end({ kind: 'no-answer' });
    }, opts.timeoutMs).unref();
    this.wdriver.pump();
    this.rdriver.pump();
  }

  send(text: string, to?: string): void {
    this.writer.submitLine(Buffer.from(text, 'utf8'), to);
    this.writer.flush(now());
    this.wdriver.pump();
  }

  who(): void {
    this.reader.refreshRegistry(now());
    this.rdriver.pump();
  }

  track(name: string, requestId: number): void {
    this.reader.track(name, requestId, now());
    this.rdriver.pump();
  }

  close(): Promise<void> {
    return new Promise<void>((done) => {
      // Once: both sessions signed off, or the wait ran out.
      const timer = setTimeout(() => this.stop(done), CLOSE_WAIT_MS).unref();
      if (this.ended) return this.stop(done, timer);
      let left = 2;
      this.closing = () => {
        if (--left === 0) this.stop(done, timer);
      };
      this.writer.endInput(now());
      this.reader.close(now());
      this.wdriver.pump();
      this.rdriver.pump();
    });
  }

  private stop(done?: () => void, timer?: NodeJS.Timeout): void {
    if (timer) clearTimeout(timer);
    if (!this.stopped) {
      this.stopped = true;
      this.wdriver.stop();
      this.rdriver.stop();
      void Promise.all(this.transports.map((t) => t.close())).then(() => done?.());
      return;
    }
    done?.();
  }

  private end(end: ChatEnd): void {
    if (this.ended) return;
    this.ended = true;
    if (this.registered === 2) return this.events.ended(end);
    // Never registered: the caller hears it from the promise.
    this.stop();
    this.reject(new ChatEnded(end));
  }

  private onRegistered(again: boolean): void {
    if (!again && ++this.registered === 2) this.resolve(this);
  }

  private writerEvents(): void {
    for (let e = this.writer.pollEvent(); e; e = this.writer.pollEvent()) {
      if (e.type === 'registered') this.onRegistered(e.again);
      else if (e.type === 'refused') return this.end({ kind: 'refused', reason: e.reason, byServer: e.byServer });
      else if (e.type === 'taken-over') return this.end({ kind: 'taken-over' });
      else if (e.type === 'failed') return this.end({ kind: 'unconfirmed', unconfirmed: e.unconfirmed });
      else if (e.type === 'done') this.closing?.();
      else this.events.notice(e);
    }
    if (this.writer.confirmedLines > this.confirmedTold) {
      this.confirmedTold = this.writer.confirmedLines;
      this.events.confirmed(this.confirmedTold);
    }
  }

  private readerEvents(): void {
    for (let e = this.reader.pollEvent(); e; e = this.reader.pollEvent()) {
      if (e.type === 'registered') this.onRegistered(e.again);
      else if (e.type === 'messages') for (const m of e.messages) this.events.message(m);
      else if (e.type === 'registry') this.events.registry(e.entries);
      else if (e.type === 'presence') this.events.presence(e.changes);
      else if (e.type === 'caught-up') this.events.caughtUp();
      else if (e.type === 'tracked') this.events.tracked(e);
      else if (e.type === 'refused') return this.end({ kind: 'refused', reason: e.reason, byServer: e.byServer });
      else if (e.type === 'taken-over') return this.end({ kind: 'taken-over' });
      else if (e.type === 'closed') this.closing?.();
      else this.events.notice(e);
    }
  }
}
