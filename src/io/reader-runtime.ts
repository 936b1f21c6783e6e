import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { formatAddress, type Address } from '../core/address.js';
import { READER_DEFAULTS, ReaderCore, type Message } from '../core/reader/reader-core.js';
import type { FromKind } from '../protocol/constants.js';
import type { PresenceEntry } from '../protocol/packets.js';
import { now } from './clock.js';
import { hmacSha256, randomNonce } from './random.js';
import { logFailover, logSignOn, takenOverReason } from './sign-on-events.js';
import { clientSocket } from './udp-socket.js';
import { UdpDriver } from './udp-driver.js';

export type ReaderOutcome =
  | { kind: 'done'; printed: number; interrupted: boolean }
  | { kind: 'refused'; reason: string }
  | { kind: 'unreachable'; registered: boolean; server: string };

/** How what arrives is written to the output (the formats are the command line's business). */
export interface ReaderRender {
  messages(messages: Message[]): Buffer;
  registry(entries: PresenceEntry[]): string;
  presence(changes: PresenceEntry[]): string;
}

export interface ReaderOptions {
  /** In order of preference: the reader moves on when one stops answering. */
  servers: Address[];
  name: string;
  fromKind: FromKind;
  fromId: number;
  delayMs: number;
  count: number;
  once: boolean;
  render: ReaderRender;
  output: Writable;
  logger: Logger;
  /** Authenticated mode: the user's secret. */
  secret?: string;
  group?: string;
  presence?: 'who' | 'watch';
  /** Give up (exit 3) when the server answers nothing for this long (0: never). */
  timeoutMs: number;
}

/** Runs a reader until --count is reached, it is interrupted, or its output is closed. */
export async function runReader(opts: ReaderOptions): Promise<ReaderOutcome> {
  const { output, logger } = opts;
  const socket = await clientSocket(opts.servers[0]!);
  const core = new ReaderCore(
    {
      ...READER_DEFAULTS,
      name: opts.name,
      servers: opts.servers,
      nonce: randomNonce(),
      fromKind: opts.fromKind,
      fromId: opts.fromId,
      delayMs: opts.delayMs,
      count: opts.count,
      once: opts.once,
      ...(opts.secret !== undefined && { secret: Buffer.from(opts.secret, 'utf8'), mac: hmacSha256 }),
      ...(opts.group !== undefined && { group: opts.group }),
      ...(opts.presence !== undefined && { presence: opts.presence }),
      awaitPrinted: true,
      timeoutMs: opts.timeoutMs,
    },
    now(),
  );
  let server = formatAddress(opts.servers[0]!);
  let printed = 0;
  let interrupted = false;

  return new Promise<ReaderOutcome>((resolve) => {
    let outcome: ReaderOutcome | undefined;
    const finish = (o: ReaderOutcome): void => {
      if (outcome) return;
      outcome = o;
      driver.stop();
      socket.close();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(o);
    };
    const afterInput = (): void => {
      for (let e = core.pollEvent(); e; e = core.pollEvent()) {
        switch (e.type) {
          case 'registered':
            if (e.again) logger.info({ server }, `registered again with ${server}; resuming at id ${e.position}`);
            else logger.info({ server, user: opts.name, position: e.position }, `registered as ${opts.name} with ${server}; next id ${e.position}`);
            if (e.missed > 0) logger.warn({ missed: e.missed }, `${e.missed} messages were missed: removed by retention (or damaged in the server's store) before you read them`);
            break;
          case 'missed':
            logger.warn({ missed: e.count }, `${e.count} messages were missed: removed by retention (or damaged in the server's store) before you read them`);
            break;
          case 'messages':
            printed += e.messages.length;
            print(opts.render.messages(e.messages), e.upTo);
            break;
          case 'registry':
            // --who prints it; --presence prints only who comes and goes from then on.
            if (opts.presence !== 'who') break;
            printed += e.entries.length;
            output.write(opts.render.registry(e.entries));
            break;
          case 'presence':
            output.write(opts.render.presence(e.changes));
            break;
          case 'server-lost':
            logger.warn({ server }, `server ${server} is not responding; waiting`);
            break;
          case 'server-back':
            logger.info({ server }, `server ${server} is back`);
            break;
          case 'failover':
            server = logFailover(logger, e);
            break;
          case 'open-server':
          case 'rate-limited':
            logSignOn(logger, server, e);
            break;
          case 'taken-over':
            return finish({ kind: 'refused', reason: takenOverReason(opts.name) });
          case 'refused':
            return finish({ kind: 'refused', reason: e.reason });
          case 'closed':
            if (e.sessionLost) logger.warn({ server }, `server ${server} had lost this session (restarted?): where this reader stopped may not be kept, and a next start may print some messages again`);
            return finish({ kind: 'done', printed, interrupted });
          case 'failed':
            return finish({ kind: 'unreachable', registered: e.registered, server });
        }
      }
    };
    const driver = new UdpDriver(socket, core, afterInput);
    // Only what has left the process is confirmed to the server (stdout may be a pipe that buffers), so
    // pieces are written one at a time: a write's callback then says that piece is out, not a whole batch.
    // The core fetches nothing more until all is printed, so this queue holds one reply at most.
    const pieces: { text: Buffer; upTo: number }[] = [];
    let writing = false;
    const writeNext = (): void => {
      const piece = pieces.shift();
      if (!piece) return;
      writing = true;
      output.write(piece.text, (err) => {
        writing = false;
        if (err) return;
        core.printed(piece.upTo, now());
        writeNext();
        driver.pump();
      });
    };
    const print = (text: Buffer, upTo: number): void => {
      pieces.push({ text, upTo });
      if (!writing) writeNext();
    };
    const stop = (): void => {
      interrupted = true;
      if (core.closed) return;
      core.close(now());
      driver.pump();
    };
    // EPIPE: whoever read our output has gone, and what it did not read is not confirmed.
    output.on('error', () => {
      interrupted = true;
      if (core.closed) return;
      core.close(now(), true);
      driver.pump();
    });
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    driver.pump();
  });
}
