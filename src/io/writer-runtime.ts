import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { formatAddress, type Address } from '../core/address.js';
import { WRITER_DEFAULTS, WriterCore } from '../core/writer/writer-core.js';
import { now } from './clock.js';
import { LineSplitter } from './line-splitter.js';
import { hmacSha256, randomId, randomNonce } from './random.js';
import { logFailover, logSignOn, takenOverReason } from './sign-on-events.js';
import { clientSocket } from './udp-socket.js';
import { UdpDriver } from './udp-driver.js';

export type WriterOutcome =
  | { kind: 'done'; confirmed: number; rejected: number }
  | { kind: 'refused'; reason: string }
  | { kind: 'input-failed'; reason: string }
  | { kind: 'failed'; unconfirmed: number; registered: boolean; rejected: number; reason?: string; interrupted?: boolean };

export interface WriterOptions {
  /** In order of preference: the writer moves on when one stops answering. */
  servers: Address[];
  name: string;
  to?: string;
  timeoutMs: number;
  input: Readable;
  /** Send this file, newlines and all, as one message instead of reading lines from `input`. */
  file?: string;
  logger: Logger;
  /** One line for the user on stderr. */
  say: (line: string) => void;
  /** Authenticated mode: the user's secret. */
  secret?: string;
}

/** Runs a writer until its input is confirmed, it is refused, or it times out. */
export async function runWriter(opts: WriterOptions): Promise<WriterOutcome> {
  const { input, logger, say } = opts;
  const socket = await clientSocket(opts.servers[0]!);
  const core = new WriterCore(
    {
      ...WRITER_DEFAULTS,
      name: opts.name,
      servers: opts.servers,
      producerId: randomId(),
      nonce: randomNonce(),
      timeoutMs: opts.timeoutMs,
      ...(opts.secret !== undefined && { secret: Buffer.from(opts.secret, 'utf8'), mac: hmacSha256 }),
    },
    now(),
  );
  let server = formatAddress(opts.servers[0]!);
  let registered = false;
  let reading = false;
  let rejected = 0;
  let stopping = false;
  /** stdin is paused because the core's queue is full; resumed as soon as it has room again. */
  let backpressured = false;

  return new Promise<WriterOutcome>((resolve) => {
    const finish = (outcome: WriterOutcome): void => {
      driver.stop();
      input.off('data', onData);
      input.pause();
      socket.close();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      resolve(outcome);
    };
    const afterInput = (): void => {
      for (let e = core.pollEvent(); e; e = core.pollEvent()) {
        switch (e.type) {
          case 'registered':
            if (!e.again) logger.info({ server, user: opts.name }, `registered as ${opts.name} with ${server}`);
            else logger.info({ server }, `registered again with ${server}; resending unconfirmed lines`);
            registered = true;
            startReading();
            break;
          case 'refused':
            return finish({ kind: 'refused', reason: e.reason });
          case 'oversize':
            rejected++;
            say(
              opts.file !== undefined
                ? `${opts.file} is ${e.bytes} bytes, over the limit of ${e.limit}; not sent`
                : `line ${e.line} is ${e.bytes} bytes, over the limit of ${e.limit}; not sent`,
            );
            break;
          case 'server-lost':
            logger.warn({ server }, `server ${server} is not responding; keeping unconfirmed lines`);
            break;
          case 'server-back':
            logger.info({ server }, `server ${server} is responding again`);
            break;
          case 'failover':
            server = logFailover(logger, e);
            break;
          case 'open-server':
          case 'rate-limited':
            logSignOn(logger, server, e);
            break;
          case 'throttled':
            logger.warn({ limit: e.limit }, `the server limits this writer to ${e.limit} messages per second; sending slower`);
            break;
          case 'stalled':
            logger.warn({ server, reason: e.reason }, `server ${server} cannot store: ${e.reason}; keeping ${core.unconfirmedLines} unconfirmed line(s) and waiting`);
            break;
          case 'stall-over':
            logger.info({ server }, `server ${server} is storing again`);
            break;
          case 'taken-over':
            return finish({ kind: 'refused', reason: takenOverReason(opts.name) });
          case 'done':
            return finish({ kind: 'done', confirmed: core.confirmedLines, rejected });
          case 'failed':
            return finish({ kind: 'failed', unconfirmed: e.unconfirmed, registered, rejected, ...(e.reason !== undefined && { reason: e.reason }) });
        }
      }
      if (backpressured && core.acceptingInput && !stopping) {
        backpressured = false;
        input.resume();
      }
    };
    const driver = new UdpDriver(socket, core, afterInput);

    let splitter: LineSplitter | undefined;
    const onData = (chunk: Buffer): void => {
      splitter!.push(chunk);
      const t = now();
      core.flush(t);
      if (!core.acceptingInput) {
        backpressured = true;
        input.pause();
      }
      driver.pump();
    };
    const onEnd = (): void => {
      splitter?.end();
      core.endInput(now());
      driver.pump();
    };
    const sendFile = async (path: string): Promise<void> => {
      const { size } = await stat(path);
      // Over the limit: say so without reading it.
      if (size > core.messageLimit) core.rejectLine(size);
      else core.submitLine(await readFile(path), opts.to);
      core.endInput(now());
      driver.pump();
    };
    const startReading = (): void => {
      if (reading) return;
      reading = true;
      if (opts.file !== undefined) {
        sendFile(opts.file).catch((err: NodeJS.ErrnoException) => {
          finish({ kind: 'input-failed', reason: `cannot read ${opts.file}: ${err.code ?? err.message}` });
        });
        return;
      }
      // The server's limit is known once registered: lines over it are refused while being read.
      splitter = new LineSplitter(
        core.messageLimit,
        (bytes, start, end) => core.submitSlice(bytes, start, end, opts.to),
        (bytes) => core.rejectLine(bytes),
      );
      input.on('data', onData);
      input.once('end', onEnd);
      input.resume();
    };
    const onSigint = (): void => {
      if (stopping) return finish({ kind: 'failed', unconfirmed: core.unconfirmedLines, registered, rejected, interrupted: true });
      // First Ctrl-C: stop reading, deliver what was read. A second one gives up.
      stopping = true;
      input.off('data', onData);
      input.pause();
      onEnd();
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    driver.pump();
  });
}
