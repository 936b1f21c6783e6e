import { READER_DEFAULTS, ReaderCore } from '../core/reader/reader-core.js';
import { WRITER_DEFAULTS, WriterCore } from '../core/writer/writer-core.js';
import { FromKind } from '../protocol/constants.js';
import type { PacketTransport } from '../core/sans-io.js';
import type { ClientEncryption } from '../core/client/client-cipher.js';
import { DEFAULT_TOPIC } from '../protocol/topics.js';
import type { Chat, ChatChannel, ChatEnd, ChatEvents, ChatOptions } from './chat-runtime.js';
import { now } from './clock.js';
import { PacketDriver } from './packet-driver.js';
import { randomId, randomNonce } from './random.js';

/**
 * Where every chat writes its direct messages and reads those for its person, whatever room it is in:
 * the server gives a direct message to its recipient's readers only.
 */
export const DIRECT_TOPIC = 'chat.direct';

/** How long `close` waits for the sessions to sign off. */
const CLOSE_WAIT_MS = 3_000;

/** The chat ended before its sessions were registered. */
export class ChatEnded extends Error {
  constructor(readonly end: ChatEnd) {
    super(end.kind);
  }
}

/** What the chat's sessions prove who they are with, and how they are sealed. */
export const credentialsOf = (opts: ChatOptions): { secret?: Buffer; encryption?: ClientEncryption } => ({
  ...(opts.secret !== undefined && { secret: Buffer.from(opts.secret, 'utf8') }),
  ...(opts.encryption && { encryption: opts.encryption }),
});

/** A writer and a reader in one topic. */
interface Pair {
  channel: ChatChannel;
  writer: WriterCore;
  reader: ReaderCore;
  drivers: PacketDriver[];
  registered: number;
  caughtUp: boolean;
  confirmedTold: number;
  /** Refused by the server (the direct pair only): its sessions are stopped. */
  off: boolean;
}

/**
 * The chat's sessions: the room's pair (the reader watching presence) and the direct-message pair (its reader unlisted: the registry shows where a person talks).
 */
export class ChatSessions implements Chat {
  private readonly room: Pair;
  private readonly direct: Pair | undefined;
  private opened = false;
  private ended = false;
  private closing: (() => void) | undefined;
  private stopped = false;
  private caughtUpTold = false;

  constructor(
    opts: ChatOptions,
    private readonly events: ChatEvents,
    private readonly transports: PacketTransport[],
    private readonly resolve: (chat: Chat) => void,
    private readonly reject: (err: ChatEnded) => void,
  ) {
    const t0 = now();
    const session = { name: opts.name, servers: opts.servers, ...credentialsOf(opts) };
    // The direct pair is unlisted: the registry says where a person talks, which is the room.
    const pair = (channel: ChatChannel, topic: string, at: number): Pair => {
      const unlisted = channel === 'direct';
      const p: Pair = {
        channel,
        writer: new WriterCore({ ...WRITER_DEFAULTS, ...session, topic, unlisted, nonce: randomNonce(), producerId: randomId(), timeoutMs: opts.timeoutMs }, t0),
        // A returning name gets what was sent while it was away; in the room a new one starts now, and its
        // direct messages are all its own: those sent before its first chat wait for it too.
        reader: new ReaderCore(
          {
            ...READER_DEFAULTS,
            ...session,
            topic,
            unlisted,
            nonce: randomNonce(),
            fromKind: unlisted ? FromKind.Earliest : FromKind.Latest,
            ...(!unlisted && { presence: 'watch' as const }),
          },
          t0,
        ),
        drivers: [],
        registered: 0,
        caughtUp: false,
        confirmedTold: 0,
        off: false,
      };
      p.drivers.push(new PacketDriver(transports[at]!, p.writer, () => this.writerEvents(p)));
      p.drivers.push(new PacketDriver(transports[at + 1]!, p.reader, () => this.readerEvents(p)));
      return p;
    };
    this.room = pair('room', opts.topic ?? DEFAULT_TOPIC, 0);
    if (transports.length === 4) this.direct = pair('direct', DIRECT_TOPIC, 2);
    setTimeout(() => {
      if (!this.opened) this.end({ kind: 'no-answer' });
    }, opts.timeoutMs).unref();
    for (const d of this.pairs().flatMap((p) => p.drivers)) d.pump();
  }

  send(text: string, to?: string): ChatChannel {
    const p = to !== undefined ? (this.directOn ?? this.room) : this.room;
    p.writer.submitLine(Buffer.from(text, 'utf8'), to);
    p.writer.flush(now());
    p.drivers[0]!.pump();
    return p.channel;
  }

  who(): void {
    this.room.reader.refreshRegistry(now());
    this.room.drivers[1]!.pump();
  }

  /** Where a name's reader is in the topic its direct messages go to. */
  track(name: string, requestId: number): void {
    const p = this.directOn ?? this.room;
    p.reader.track(name, requestId, now());
    p.drivers[1]!.pump();
  }

  close(): Promise<void> {
    return new Promise<void>((done) => {
      // Once: every session signed off, or the wait ran out.
      const timer = setTimeout(() => this.stop(done), CLOSE_WAIT_MS).unref();
      if (this.ended) return this.stop(done, timer);
      const pairs = this.pairs();
      let left = pairs.length * 2;
      this.closing = () => {
        if (--left === 0) this.stop(done, timer);
      };
      for (const p of pairs) {
        p.writer.endInput(now());
        p.reader.close(now());
        for (const d of p.drivers) d.pump();
      }
    });
  }

  /** The direct pair, unless there is none or the server refused it. */
  private get directOn(): Pair | undefined {
    return this.direct?.off ? undefined : this.direct;
  }

  /** The pairs still in use. */
  private pairs(): Pair[] {
    return this.directOn ? [this.room, this.directOn] : [this.room];
  }

  private stop(done?: () => void, timer?: NodeJS.Timeout): void {
    if (timer) clearTimeout(timer);
    if (!this.stopped) {
      this.stopped = true;
      for (const p of [this.room, this.direct]) for (const d of p?.drivers ?? []) d.stop();
      void Promise.all(this.transports.map((t) => t.close())).then(() => done?.());
      return;
    }
    done?.();
  }

  private end(end: ChatEnd): void {
    if (this.ended) return;
    this.ended = true;
    if (this.opened) return this.events.ended(end);
    // Never registered: the caller hears it from the promise.
    this.stop();
    this.reject(new ChatEnded(end));
  }

  /** Open once the room's pair is registered and the direct pair is too, or was refused. */
  private checkOpened(): void {
    if (this.opened || this.ended || this.room.registered < 2) return;
    if (this.directOn && this.directOn.registered < 2) return;
    this.opened = true;
    this.resolve(this);
  }

  private refused(p: Pair, reason: string, byServer: boolean): void {
    if (p === this.room || !byServer) return this.end({ kind: 'refused', reason, byServer });
    // The direct topic refused (no right to it, the server's topic limit): direct messages go out in the room.
    p.off = true;
    for (const d of p.drivers) d.stop();
    this.events.directOff(reason);
    this.checkOpened();
    this.checkCaughtUp();
  }

  private checkCaughtUp(): void {
    if (this.caughtUpTold || !this.room.caughtUp || this.directOn?.caughtUp === false) return;
    this.caughtUpTold = true;
    this.events.caughtUp();
  }

  private writerEvents(p: Pair): void {
    for (let e = p.writer.pollEvent(); e && !p.off; e = p.writer.pollEvent()) {
      if (e.type === 'registered') {
        if (!e.again) p.registered++;
        this.checkOpened();
      } else if (e.type === 'refused') return this.refused(p, e.reason, e.byServer);
      else if (e.type === 'taken-over') return this.end({ kind: 'taken-over' });
      // Before the chat opened nothing was sent: the server never answered.
      else if (e.type === 'failed') return this.end(this.opened ? { kind: 'unconfirmed', unconfirmed: e.unconfirmed } : { kind: 'no-answer' });
      else if (e.type === 'done') this.closing?.();
      else this.events.notice(e);
    }
    if (p.writer.confirmedLines > p.confirmedTold) {
      p.confirmedTold = p.writer.confirmedLines;
      this.events.confirmed(p.confirmedTold, p.channel);
    }
  }

  private readerEvents(p: Pair): void {
    for (let e = p.reader.pollEvent(); e && !p.off; e = p.reader.pollEvent()) {
      if (e.type === 'registered') {
        if (!e.again) p.registered++;
        this.checkOpened();
      } else if (e.type === 'messages') for (const m of e.messages) this.events.message(m);
      else if (e.type === 'registry') this.events.registry(e.entries);
      else if (e.type === 'presence') this.events.presence(e.changes);
      else if (e.type === 'caught-up') {
        p.caughtUp = true;
        this.checkCaughtUp();
      } else if (e.type === 'tracked') this.events.tracked(e);
      else if (e.type === 'refused') return this.refused(p, e.reason, e.byServer);
      else if (e.type === 'taken-over') return this.end({ kind: 'taken-over' });
      else if (e.type === 'closed') this.closing?.();
      else this.events.notice(e);
    }
  }
}
