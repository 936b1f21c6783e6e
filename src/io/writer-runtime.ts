import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Address } from '../core/address.js';
import { WRITER_DEFAULTS, WriterCore, type WriterEvent } from '../core/writer/writer-core.js';
import { now } from './clock.js';
import { LineSplitter } from './line-splitter.js';
import type { ClientEncryption } from '../core/client/client-cipher.js';
import { randomId, randomNonce } from './random.js';
import type { PacketTransport } from '../core/sans-io.js';
import { openClientTransport } from './client-transport.js';
import { FileFollower } from './follow/file-follower.js';
import { resumingProducerId } from './follow/file-mark.js';
import { PacketDriver } from './packet-driver.js';

export type WriterOutcome =
  | { kind: 'done'; confirmed: number; rejected: number }
  /** `byServer` false: refused by us (the server's key is not one we trust, or it does not encrypt). */
  | { kind: 'refused'; reason: string; byServer: boolean }
  | { kind: 'taken-over' }
  | { kind: 'input-failed'; reason: string }
  | { kind: 'failed'; unconfirmed: number; registered: boolean; rejected: number; reason?: string; interrupted?: boolean };

export interface WriterOptions {
  /** In order of preference: the writer moves on when one stops answering. */
  servers: Address[];
  name: string;
  /** Absent: the default topic. */
  topic?: string;
  to?: string;
  timeoutMs: number;
  input: Readable;
  /** Send this file, newlines and all, as one message instead of reading lines from `input`. */
  file?: string;
  /** Follow these files (paths or patterns) instead of reading `input`, resuming where this name left off. */
  follow?: { patterns: string[]; fromStart: boolean };
  /** What the user should hear of that is not a session event (a followed file truncated…). */
  warn?: (message: string) => void;
  /** Details for `--log-level debug` (what a follower opens and lets go). */
  trace?: (message: string) => void;
  /** Every event of the session, for the user to hear of (the command line words them). */
  tell: (e: WriterEvent, unconfirmedLines: number) => void;
  /** Authenticated mode: the user's secret. */
  secret?: string;
  /** Absent: plain text (`--insecure-plaintext`). */
  encryption?: ClientEncryption;
  /** Handed, once the run starts, a way to read how many lines were sent and confirmed (a progress line). */
  watch?: (counts: () => { sent: number; confirmed: number }) => void;
}

/** Runs a writer until its input is confirmed, it is refused, or it times out. */
export async function runWriter(opts: WriterOptions): Promise<WriterOutcome> {
  const transport = await openClientTransport(opts.servers);
  return new Promise<WriterOutcome>((resolve) => new WriterRun(opts, transport, resolve).start());
}

/** One run of a writer: the input fed to the core, the core's events acted on, signals heeded. */
class WriterRun {
  private readonly core: WriterCore;
  private readonly driver: PacketDriver;
  private registered = false;
  private reading = false;
  private rejected = 0;
  private stopping = false;
  /** stdin is paused because the core's queue is full; resumed as soon as it has room again. */
  private backpressured = false;
  private splitter: LineSplitter | undefined;
  private follower: FileFollower | undefined;

  constructor(
    private readonly opts: WriterOptions,
    private readonly transport: PacketTransport,
    private readonly resolve: (outcome: WriterOutcome) => void,
  ) {
    this.core = new WriterCore(
      {
        ...WRITER_DEFAULTS,
        name: opts.name,
        ...(opts.topic !== undefined && { topic: opts.topic }),
        servers: opts.servers,
        producerId: opts.follow ? resumingProducerId(opts.name) : randomId(),
        recall: opts.follow !== undefined,
        nonce: randomNonce(),
        timeoutMs: opts.timeoutMs,
        ...(opts.secret !== undefined && { secret: Buffer.from(opts.secret, 'utf8') }),
        ...(opts.encryption && { encryption: opts.encryption }),
      },
      now(),
    );
    this.driver = new PacketDriver(transport, this.core, () => this.afterInput());
  }

  start(): void {
    this.opts.watch?.(() => ({ sent: this.core.confirmedLines + this.core.unconfirmedLines, confirmed: this.core.confirmedLines }));
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    this.driver.pump();
  }

  private finish(outcome: WriterOutcome): void {
    this.driver.stop();
    void this.follower?.stop();
    this.opts.input.off('data', this.onData);
    this.opts.input.pause();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    // The last packets (a BYE) leave before the outcome is acted on (the process may exit on it).
    void this.transport.close().then(() => this.resolve(outcome));
  }

  private afterInput(): void {
    const core = this.core;
    for (let e = core.pollEvent(); e; e = core.pollEvent()) {
      this.opts.tell(e, core.unconfirmedLines);
      const outcome = this.outcomeOf(e);
      if (outcome) return this.finish(outcome);
    }
    if (this.follower?.waitingForRoom && core.acceptingInput && !this.stopping) this.follower.kick();
    if (this.backpressured && core.acceptingInput && !this.stopping) {
      this.backpressured = false;
      this.opts.input.resume();
    }
  }

  /** Acts on one event; the outcome when it ends the run. */
  private outcomeOf(e: WriterEvent): WriterOutcome | undefined {
    switch (e.type) {
      case 'registered':
        this.registered = true;
        if (!this.opts.follow) this.startReading();
        return undefined;
      case 'recalled':
        this.startFollowing(e.marks, e.known);
        return undefined;
      case 'oversize':
        this.rejected++;
        return undefined;
      case 'refused':
        return { kind: 'refused', reason: e.reason, byServer: e.byServer };
      case 'taken-over':
        return { kind: 'taken-over' };
      case 'done':
        return { kind: 'done', confirmed: this.core.confirmedLines, rejected: this.rejected };
      case 'failed':
        return { kind: 'failed', unconfirmed: e.unconfirmed, registered: this.registered, rejected: this.rejected, ...(e.reason !== undefined && { reason: e.reason }) };
      default:
        return undefined;
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    this.splitter!.push(chunk);
    this.core.flush(now());
    if (!this.core.acceptingInput) {
      this.backpressured = true;
      this.opts.input.pause();
    }
    this.driver.pump();
  };

  private readonly onEnd = (): void => {
    this.splitter?.end();
    this.core.endInput(now());
    this.driver.pump();
  };

  private async sendFile(path: string): Promise<void> {
    const { size } = await stat(path);
    // Over the limit: say so without reading it.
    if (size > this.core.messageLimit) this.core.rejectLine(size);
    else this.core.submitLine(await readFile(path), this.opts.to);
    this.core.endInput(now());
    this.driver.pump();
  }

  private startReading(): void {
    if (this.reading) return;
    this.reading = true;
    const { file, input, to } = this.opts;
    if (file !== undefined) {
      this.sendFile(file).catch((err: NodeJS.ErrnoException) => {
        this.finish({ kind: 'input-failed', reason: `cannot read ${file}: ${err.code ?? err.message}` });
      });
      return;
    }
    // The server's limit is known once registered: lines over it are refused while being read.
    this.splitter = new LineSplitter(
      this.core.messageLimit,
      (bytes, start, end) => this.core.submitSlice(bytes, start, end, to),
      (bytes) => this.core.rejectLine(bytes),
    );
    input.on('data', this.onData);
    input.once('end', this.onEnd);
    input.resume();
  }

  private startFollowing(marks: Parameters<FileFollower['start']>[0], known: boolean): void {
    if (this.follower || this.stopping) return;
    const core = this.core;
    const to = this.opts.to;
    this.follower = new FileFollower({
      patterns: this.opts.follow!.patterns,
      fromStart: this.opts.follow!.fromStart,
      maxLineBytes: core.messageLimit,
      warn: (message) => this.opts.warn?.(message),
      trace: (message) => this.opts.trace?.(message),
      sink: {
        line: (bytes, start, end, file) => core.submitSlice(bytes, start, end, to, file),
        oversize: (bytes) => core.rejectLine(bytes),
        mark: (m) => core.mark(m),
        markAhead: (m) => core.markAhead(m),
        get accepting() {
          return core.acceptingInput;
        },
        flushed: () => {
          core.flush(now());
          this.driver.pump();
        },
      },
    });
    void this.follower.start(marks, known);
  }

  private readonly onSignal = (): void => {
    if (this.stopping) {
      return this.finish({ kind: 'failed', unconfirmed: this.core.unconfirmedLines, registered: this.registered, rejected: this.rejected, interrupted: true });
    }
    // First Ctrl-C: stop reading, deliver what was read. A second one gives up.
    this.stopping = true;
    if (this.follower) {
      void this.follower.stop().then(() => this.onEnd());
      return;
    }
    this.opts.input.off('data', this.onData);
    this.opts.input.pause();
    this.onEnd();
  };
}
