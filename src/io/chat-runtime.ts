import type { Address } from '../core/address.js';
import { READER_DEFAULTS, ReaderCore, type Message, type ReaderEvent } from '../core/reader/reader-core.js';
import type { WriterEvent } from '../core/writer/writer-core.js';
import { FromKind } from '../protocol/constants.js';
import type { PresenceEntry, TopicInfo } from '../protocol/packets.js';
import { now } from './clock.js';
import type { ClientEncryption } from '../core/client/client-cipher.js';
import { randomNonce } from './random.js';
import { openClientTransport } from './client-transport.js';
import { PacketDriver } from './packet-driver.js';
import { ChatEnded, ChatSessions, credentialsOf, DIRECT_TOPIC } from './chat-sessions.js';

export { ChatEnded, DIRECT_TOPIC };

/** Which sessions a line went out on: the room's, or those of direct messages (DIRECT_TOPIC). */
export type ChatChannel = 'room' | 'direct';

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
  /** The whole registry (each entry says where): when it first arrives, and in answer to `who()`. */
  registry(entries: PresenceEntry[]): void;
  /** Who came online, went offline, or moved to another topic. */
  presence(changes: PresenceEntry[]): void;
  /** Where a name's reader is, in answer to `track`. */
  tracked(answer: Tracked): void;
  /** The channel's writer session has had `total` lines confirmed stored (since this chat opened). */
  confirmed(total: number, channel: ChatChannel): void;
  /** Direct messages cannot go to other rooms (the server refused their sessions): they go out in the room. */
  directOff(reason: string): void;
  /** Since the sessions opened, what waited for this person has all come (once per opening). */
  caughtUp(): void;
  /** What else either session has to say: the server went away or came back, a line was too long. */
  notice(e: WriterEvent | ReaderEvent): void;
  /** The chat cannot go on after both sessions were registered. */
  ended(end: ChatEnd): void;
}

export interface Chat {
  /** Sends a line; a direct one (`to`) goes where every room's chat reads it. Says which channel it went on. */
  send(text: string, to?: string): ChatChannel;
  /** Asks for the registry as it is now: it comes to `events.registry`. */
  who(): void;
  /** Asks where a name's reader is: it comes to `events.tracked`, with `requestId`. */
  track(name: string, requestId: number): void;
  /** Signs off both sessions (what was sent is confirmed first, for a while). */
  close(): Promise<void>;
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

/**
 * One person at a terminal: in the room, a writer session for what they type and a reader session (with
 * presence) for what arrives; in DIRECT_TOPIC, the same pair for direct messages, so that they reach a
 * person whatever room each is in. Each session has its own transport. Resolves once all are registered
 * (or the direct pair refused: direct messages then go out in the room).
 */
export async function startChat(opts: ChatOptions, events: ChatEvents): Promise<Chat> {
  const count = opts.topic === DIRECT_TOPIC ? 2 : 4;
  const transports = await Promise.all(Array.from({ length: count }, () => openClientTransport(opts.servers)));
  return new Promise<Chat>((resolve, reject) => new ChatSessions(opts, events, transports, resolve, reject));
}

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

