import { formatAddress, type Address } from '../core/address.js';
import { READER_DEFAULTS, ReaderCore, type Message } from '../core/reader/reader-core.js';
import { WRITER_DEFAULTS, WriterCore } from '../core/writer/writer-core.js';
import { FromKind } from '../protocol/constants.js';
import type { PresenceEntry } from '../protocol/packets.js';
import { now } from './clock.js';
import { hmacSha256, randomId, randomNonce } from './random.js';
import { takenOverReason } from './sign-on-events.js';
import { clientSocket } from './udp-socket.js';
import { UdpDriver } from './udp-driver.js';

export interface ChatEvents {
  message(m: Message): void;
  /** The whole registry: when it first arrives, and in answer to `who()`. */
  registry(entries: PresenceEntry[]): void;
  presence(changes: PresenceEntry[]): void;
  /** Something the person should know: the server went away or came back, a line was too long. */
  status(line: string): void;
  /** The chat cannot go on: refused, or the server confirmed nothing for too long. */
  ended(reason: string, kind: 'refused' | 'unreachable'): void;
}

export interface Chat {
  send(text: string, to?: string): void;
  /** Asks for the registry as it is now: it comes to `events.registry`. */
  who(): void;
  /** Signs off both sessions (what was sent is confirmed first, for a while). */
  close(): Promise<void>;
}

export class ChatEnded extends Error {
  constructor(
    message: string,
    readonly kind: 'refused' | 'unreachable',
  ) {
    super(message);
  }
}

export interface ChatOptions {
  /** In order of preference: both sessions move on when one stops answering. */
  servers: Address[];
  name: string;
  secret?: string;
  timeoutMs: number;
}

/**
 * One person at a terminal: a writer session for what they type and a reader session (with
 * presence) for what arrives, on two sockets. Resolves once both are registered.
 */
export async function startChat(opts: ChatOptions, events: ChatEvents): Promise<Chat> {
  const credentials = opts.secret !== undefined ? { secret: Buffer.from(opts.secret, 'utf8'), mac: hmacSha256 } : {};
  const [wsock, rsock] = await Promise.all([clientSocket(opts.servers[0]!), clientSocket(opts.servers[0]!)]);
  const t0 = now();
  const writer = new WriterCore(
    { ...WRITER_DEFAULTS, name: opts.name, servers: opts.servers, producerId: randomId(), nonce: randomNonce(), timeoutMs: opts.timeoutMs, ...credentials },
    t0,
  );
  // A returning name gets what was sent while it was away; a new one starts now.
  const reader = new ReaderCore(
    { ...READER_DEFAULTS, name: opts.name, servers: opts.servers, nonce: randomNonce(), fromKind: FromKind.Latest, presence: 'watch', ...credentials },
    t0,
  );
  let registered = 0;
  let ended = false;
  let closing: (() => void) | undefined;

  return new Promise<Chat>((resolve, reject) => {
    const end = (reason: string, kind: 'refused' | 'unreachable'): void => {
      if (ended) return;
      ended = true;
      if (registered === 2) return events.ended(reason, kind);
      // Never registered: the caller hears it from the promise.
      wdriver.stop();
      rdriver.stop();
      wsock.close();
      rsock.close();
      reject(new ChatEnded(reason, kind));
    };
    const chat: Chat = {
      send(text, to) {
        writer.submitLine(Buffer.from(text, 'utf8'), to);
        writer.flush(now());
        wdriver.pump();
      },
      who() {
        reader.refreshRegistry(now());
        rdriver.pump();
      },
      close: () =>
        new Promise<void>((done) => {
          let stopped = false;
          // Once: both sessions signed off, or the wait ran out (a socket closed twice throws).
          const stop = (): void => {
            if (stopped) return;
            stopped = true;
            clearTimeout(timer);
            wdriver.stop();
            rdriver.stop();
            wsock.close();
            rsock.close();
            done();
          };
          const timer = setTimeout(stop, 3_000);
          timer.unref();
          if (ended) return stop();
          let left = 2;
          closing = () => {
            if (--left === 0) stop();
          };
          writer.endInput(now());
          reader.close(now());
          wdriver.pump();
          rdriver.pump();
        }),
    };
    // Both sessions watch the server; the person hears of a loss, a return or a move once.
    let lost = false;
    let movedTo = '';
    const link = (e: { type: 'server-lost' } | { type: 'server-back' } | { type: 'failover'; from: Address; to: Address }): void => {
      if (e.type === 'server-lost' && !lost) events.status('the server is not responding; your messages wait');
      else if (e.type === 'server-back' && lost) events.status('the server is back');
      else if (e.type === 'failover' && movedTo !== formatAddress(e.to)) {
        movedTo = formatAddress(e.to);
        events.status(`the server ${formatAddress(e.from)} is not responding; moving to ${movedTo}`);
      }
      lost = e.type === 'server-lost';
    };
    const onRegistered = (): void => {
      if (++registered === 2) resolve(chat);
    };
    const wdriver = new UdpDriver(wsock, writer, () => {
      for (let e = writer.pollEvent(); e; e = writer.pollEvent()) {
        switch (e.type) {
          case 'registered':
            if (!e.again) onRegistered();
            break;
          case 'refused':
            return end(e.reason, 'refused');
          case 'taken-over':
            return end(takenOverReason(opts.name), 'refused');
          case 'failed':
            return end(`the server is not responding; ${e.unconfirmed} message(s) not confirmed`, 'unreachable');
          case 'server-lost':
          case 'server-back':
          case 'failover':
            link(e);
            break;
          case 'oversize':
            events.status(`that line is ${e.bytes} bytes, over the limit of ${e.limit}; not sent`);
            break;
          case 'done':
            closing?.();
            break;
          case 'stalled':
            events.status(`the server cannot store (${e.reason}); your messages wait`);
            break;
          case 'stall-over':
            events.status('the server is storing again');
            break;
          case 'rate-limited':
          case 'throttled':
          case 'open-server':
            break;
        }
      }
    });
    const rdriver = new UdpDriver(rsock, reader, () => {
      for (let e = reader.pollEvent(); e; e = reader.pollEvent()) {
        switch (e.type) {
          case 'registered':
            if (!e.again) onRegistered();
            break;
          case 'messages':
            for (const m of e.messages) events.message(m);
            break;
          case 'registry':
            events.registry(e.entries);
            break;
          case 'presence':
            events.presence(e.changes);
            break;
          case 'missed':
            events.status(`${e.count} messages were removed before you could read them`);
            break;
          case 'refused':
            return end(e.reason, 'refused');
          case 'taken-over':
            return end(takenOverReason(opts.name), 'refused');
          case 'closed':
            closing?.();
            break;
          case 'server-lost':
          case 'server-back':
          case 'failover':
            link(e);
            break;
          default:
            break;
        }
      }
    });
    // Nothing from the server at all within the timeout: say so and stop.
    setTimeout(() => {
      if (registered < 2) end(`${opts.servers.map(formatAddress).join(', ')}: no answer`, 'unreachable');
    }, opts.timeoutMs).unref();
    wdriver.pump();
    rdriver.pump();
  });
}
