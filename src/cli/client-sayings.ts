import type { Logger } from 'pino';
import { formatAddress, type Address } from '../core/address.js';
import type { ReaderEvent } from '../core/reader/reader-core.js';
import type { WriterEvent } from '../core/writer/writer-core.js';

/** What the writer, the reader and the chat tell the person, in one place so that they say it alike. */

/** A refusal as the user reads it: the server's reason said to be the server's; ours (its key) as it is. */
export const refusalLine = (r: { reason: string; byServer: boolean }): string => (r.byServer ? `refused by the server: ${r.reason}` : r.reason);

export const takenOverReason = (name: string): string => `a newer login of ${name} took over this session`;

const missed = (count: number): string =>
  `${count} messages were missed: removed by retention (or damaged in the server's store) before you read them`;

type LinkEvent = { type: 'server-lost' } | { type: 'server-back' } | { type: 'failover'; from: Address; to: Address };

/** The server a client talks to, as the log names it: follows failover. */
class ServerName {
  name: string;
  constructor(first: Address) {
    this.name = formatAddress(first);
  }
  /** A client's sayings: its `tell`, and the server it talks to now. */
  sayings<T extends (...args: never[]) => void>(tell: T): { readonly server: string; tell: T } {
    const server = (): string => this.name;
    return {
      get server() {
        return server();
      },
      tell,
    };
  }

  /** Says the shared sign-on events; true when `e` was one of them. */
  signOn(logger: Logger, e: WriterEvent | ReaderEvent): boolean {
    const server = this.name;
    if (e.type === 'open-server') logger.warn({ server }, `server ${server} is in open mode: the secret was not used`);
    else if (e.type === 'rate-limited') logger.warn({ server }, `${e.reason}; trying again`);
    else if (e.type === 'failover') {
      const from = formatAddress(e.from);
      this.name = formatAddress(e.to);
      logger.warn({ from, to: this.name }, `server ${from} is not responding; trying ${this.name}`);
    } else return false;
    return true;
  }
}

/**
 * A server that stops answering a client it served is a warning. One that never answered is the error
 * the client ends with, if it does not answer in time: until then it is said only on a terminal (at
 * info), so that a script's stderr holds the one line of that error.
 */
function lost(logger: Logger, registered: boolean, server: string, line: string): void {
  if (registered) logger.warn({ server }, line);
  else logger.info({ server }, line);
}

export interface WriterSayings {
  /** The server in use now (after any failover). */
  readonly server: string;
  tell(e: WriterEvent, unconfirmedLines: number): void;
}

/** A writer's sentences: progress to the log, a line not sent to `say` (the user's stderr line). */
export function writerSayings(logger: Logger, say: (line: string) => void, opts: { name: string; servers: Address[]; file?: string }): WriterSayings {
  const at = new ServerName(opts.servers[0]!);
  let registered = false;
  const tell = (e: WriterEvent, unconfirmedLines: number): void => {
    const server = at.name;
    if (at.signOn(logger, e)) return;
    switch (e.type) {
      case 'registered':
        registered = true;
        if (!e.again) logger.info({ server, user: opts.name }, `registered as ${opts.name} with ${server}`);
        else logger.info({ server }, `registered again with ${server}; resending unconfirmed lines`);
        return;
      case 'oversize':
        return say(
          opts.file !== undefined
            ? `${opts.file} is ${e.bytes} bytes, over the limit of ${e.limit}; not sent`
            : `line ${e.line} is ${e.bytes} bytes, over the limit of ${e.limit}; not sent`,
        );
      case 'server-lost':
        return lost(logger, registered, server, `server ${server} is not responding; keeping unconfirmed lines`);
      case 'server-back':
        return logger.info({ server }, `server ${server} is responding again`);
      case 'throttled':
        return logger.warn({ limit: e.limit }, `the server limits this writer to ${e.limit} messages per second; sending slower`);
      case 'stalled':
        return logger.warn({ server, reason: e.reason }, `server ${server} cannot store: ${e.reason}; keeping ${unconfirmedLines} unconfirmed line(s) and waiting`);
      case 'stall-over':
        return logger.info({ server }, `server ${server} is storing again`);
      default:
        return;
    }
  };
  return at.sayings(tell);
}

export interface ReaderSayings {
  readonly server: string;
  tell(e: ReaderEvent): void;
}

/** A reader's sentences, all to the log: its output carries the messages alone. */
export function readerSayings(logger: Logger, opts: { name: string; servers: Address[] }): ReaderSayings {
  const at = new ServerName(opts.servers[0]!);
  let registered = false;
  const tell = (e: ReaderEvent): void => {
    const server = at.name;
    if (at.signOn(logger, e)) return;
    switch (e.type) {
      case 'registered':
        registered = true;
        if (e.again) logger.info({ server }, `registered again with ${server}; resuming at id ${e.position}`);
        else logger.info({ server, user: opts.name, position: e.position }, `registered as ${opts.name} with ${server}; next id ${e.position}`);
        if (e.missed > 0) logger.warn({ missed: e.missed }, missed(e.missed));
        return;
      case 'missed':
        return logger.warn({ missed: e.count }, missed(e.count));
      case 'server-lost':
        return lost(logger, registered, server, `server ${server} is not responding; waiting`);
      case 'server-back':
        return logger.info({ server }, `server ${server} is back`);
      case 'closed':
        if (!e.sessionLost) return;
        return logger.warn(
          { server },
          `server ${server} had lost this session (restarted?): where this reader stopped may not be kept, and a next start may print some messages again`,
        );
      default:
        return;
    }
  };
  return at.sayings(tell);
}

/**
 * A chat's status lines. Both of its sessions watch the server; the person hears of a loss, a return or a
 * move once.
 */
export function chatSayings(status: (line: string) => void): (e: WriterEvent | ReaderEvent) => void {
  let lost = false;
  let movedTo = '';
  const link = (e: LinkEvent): void => {
    if (e.type === 'server-lost' && !lost) status('the server is not responding; your messages wait');
    else if (e.type === 'server-back' && lost) status('the server is back');
    else if (e.type === 'failover' && movedTo !== formatAddress(e.to)) {
      movedTo = formatAddress(e.to);
      status(`the server ${formatAddress(e.from)} is not responding; moving to ${movedTo}`);
    }
    lost = e.type === 'server-lost';
  };
  return (e) => {
    switch (e.type) {
      case 'server-lost':
      case 'server-back':
      case 'failover':
        return link(e);
      case 'oversize':
        return status(`that line is ${e.bytes} bytes, over the limit of ${e.limit}; not sent`);
      case 'stalled':
        return status(`the server cannot store (${e.reason}); your messages wait`);
      case 'stall-over':
        return status('the server is storing again');
      case 'missed':
        return status(`${e.count} messages were removed before you could read them`);
      default:
        return;
    }
  };
}
