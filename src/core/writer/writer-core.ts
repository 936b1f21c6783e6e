import type { Address, Transmit } from '../address.js';
import type { SansIoCore } from '../sans-io.js';
import { TimerTable, type Timer } from '../timers.js';
import { RttEstimator } from '../rtt-estimator.js';
import { ByeTimer } from '../sign-on.js';
import { Role } from '../../protocol/constants.js';
import type { Packet, WriterMark } from '../../protocol/packets.js';
import { SessionLink } from '../client/session-link.js';
import { DataFlow } from './data-flow.js';
import { LinePacker } from './line-packer.js';
import { MarkRecall } from './mark-recall.js';
import type { WriterConfig, WriterEvent } from './writer-types.js';

export { WRITER_DEFAULTS, type WriterConfig, type WriterEvent } from './writer-types.js';

type Phase = 'hello' | 'open' | 'closing' | 'done' | 'failed' | 'refused';

const BYE_TRIES = 4;

/**
 * A writer session as a state machine: lines in, DATA datagrams out, ACKs in.
 * Keeps every datagram until the server says it is in the log; resends what is not acknowledged.
 */
export class WriterCore implements SansIoCore {
  private phase: Phase = 'hello';
  private maxMessageBytes = Number.MAX_SAFE_INTEGER;
  private heartbeatMs = 5_000;
  private readonly packer: LinePacker;
  private readonly flow: DataFlow;
  private readonly rtt = new RttEstimator();
  private readonly link: SessionLink;
  private throttleReported = false;
  private readonly bye = new ByeTimer(BYE_TRIES);
  private lastProgressAt: number;
  /** The server said it cannot store (STALLED), and has not confirmed all that waited since: why. */
  private stallReason: string | undefined;
  private inputEnded = false;
  private registeredOnce = false;
  private readonly recall = new MarkRecall();
  /** The store knew this writer when it first registered (for 'recalled'). */
  private known = false;
  private lineCount = 0;
  private linesAccepted = 0;
  private readonly events: WriterEvent[] = [];
  private readonly timers: TimerTable;

  constructor(
    private readonly config: WriterConfig,
    now: number,
  ) {
    // Heard from with nothing owed: an idle writer is making progress (--timeout counts from then).
    const heard = (at: number): void => {
      if (!this.waiting()) this.lastProgressAt = at;
    };
    this.link = new SessionLink(config, this.rtt, now, heard);
    this.packer = new LinePacker(config.queueBytesHigh);
    const link = this.link;
    this.flow = new DataFlow(config, this.rtt, this.packer, {
      get sessionId() {
        return link.sessionId;
      },
      isOpen: () => this.phase === 'open',
      sendEncoded: (data, now) => link.sendEncoded(data, now),
      progress: (now) => this.progress(now),
    });
    this.timers = new TimerTable([...this.sessionTimers(), ...this.flow.timers, this.heartbeat()]);
    this.lastProgressAt = now;
    this.sendHello(now);
  }

  // ---- inputs ----

  /** One line of input (without its newline). */
  submitLine(text: Buffer, to?: string): void {
    this.submitSlice(text, 0, text.length, to);
  }

  /** One line of input, `bytes[start, end)`, left as it is until sent: lines cut from a chunk of input, uncopied. */
  submitSlice(bytes: Buffer, start: number, end: number, to?: string, file?: string): void {
    this.lineCount++;
    if (end - start > this.maxMessageBytes) {
      this.events.push({ type: 'oversize', line: this.lineCount, bytes: end - start, limit: this.maxMessageBytes });
      return;
    }
    this.packer.push(bytes, start, end, to, file);
    this.linesAccepted++;
  }

  /** The writer's place in its input after the lines submitted so far: stored with them. */
  mark(m: WriterMark): void {
    this.packer.mark(m);
  }

  /** A place that needs none of the queued lines stored (a file just opened): stored ahead of them. */
  markAhead(m: WriterMark): void {
    this.packer.markAhead(m);
  }

  /** A line the caller did not keep because it was over the limit while being read. */
  rejectLine(bytes: number): void {
    this.lineCount++;
    this.events.push({ type: 'oversize', line: this.lineCount, bytes, limit: this.maxMessageBytes });
  }

  /** Sends what is queued, as far as the window allows. Call after submitting a run of lines. */
  flush(now: number): void {
    if (this.phase === 'open') this.flow.fill(now);
  }

  endInput(now: number): void {
    this.inputEnded = true;
    this.flush(now);
    this.maybeClose(now);
  }

  handleDatagram(data: Buffer, from: Address, now: number): void {
    this.link.begin();
    this.onDatagram(data, from, now);
    if (this.link.end(now, this.waiting())) this.events.push({ type: 'server-back' });
  }

  private onDatagram(data: Buffer, from: Address, now: number): void {
    const intake = this.link.intake(data, from, now, this.phase === 'hello');
    switch (intake.kind) {
      case 'none':
        return;
      case 'again':
        return this.sendHello(now);
      case 'limited':
        // The server limits handshakes: the HELLO timer tries again, and the user hears of it once.
        this.events.push({ type: 'rate-limited', reason: intake.reason });
        return;
      case 'refused':
        this.phase = 'refused';
        this.events.push({ type: 'refused', code: intake.code, reason: intake.reason, byServer: intake.byServer });
        return;
      case 'welcome': {
        const w = intake.welcome;
        if (intake.open) this.events.push({ type: 'open-server' });
        return this.onWelcome(w.sessionId, w.resume, w.maxMessageBytes, w.maxDatagramBytes, w.heartbeatMs, now);
      }
      case 'packet':
        return this.onPacket(intake.packet, now);
    }
  }

  private onPacket(p: Packet, now: number): void {
    const sessionId = this.link.sessionId;
    switch (p.kind) {
      case 'ack':
        if (p.sessionId !== sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        this.flow.onAck(p, now);
        this.endStallOnceStored();
        this.flow.fill(now);
        return this.maybeClose(now);
      case 'unknown-session':
        if (p.sessionId !== sessionId || (this.phase !== 'open' && this.phase !== 'closing')) return;
        this.link.heard(now);
        if (this.phase === 'closing') return this.finish('done');
        return this.rehello(now);
      case 'goodbye':
        if (p.sessionId !== sessionId) return;
        if (this.phase === 'closing') this.finish('done');
        else if (this.phase === 'open' && this.link.authenticated) this.takenOver();
        return;
      case 'throttle':
        if (p.sessionId === sessionId && this.phase === 'open') this.onThrottle(p.limit, p.retryAfterMs, now);
        return;
      case 'marks': {
        if (p.sessionId !== sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        const answer = this.recall.answered(p, now);
        if (answer && 'next' in answer) this.link.send(answer.next, now);
        else if (answer) this.events.push({ type: 'recalled', marks: answer.done, known: this.known });
        return;
      }
      case 'stalled':
        if (p.sessionId !== sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        // The server has the lines and cannot store them yet: it keeps them and says when it tries again.
        // With nothing waiting it is a late copy: what it spoke of has been stored since.
        if (this.flow.sent.size === 0) return;
        if (this.stallReason === undefined) this.events.push({ type: 'stalled', reason: p.reason });
        this.stallReason = p.reason;
        return;
      default:
        return;
    }
  }

  handlePathReset(now: number): void {
    if (!this.finished) this.flow.pathReset(now);
  }

  handleTimeout(now: number): void {
    if (!this.finished) this.timers.fireDue(now);
  }

  /** Giving up, the server's liveness, HELLO and BYE resent: in this order. */
  private sessionTimers(): Timer[] {
    return [
      { name: 'give-up', at: () => (this.waiting() ? this.lastProgressAt + this.config.timeoutMs : undefined), fire: () => this.giveUp() },
      { name: 'server-lost', at: () => this.link.liveness.deadline, fire: (now) => this.serverLost(now) },
      { name: 'hello', at: () => this.link.hello.deadline, fire: (now) => this.sendHello(now, true) },
      { name: 'bye', at: () => this.bye.deadline, fire: (now) => this.byeAgain(now) },
      { name: 'recall', at: () => (this.phase === 'open' ? this.recall.deadline : undefined), fire: (now) => this.link.send(this.recall.again(this.link.sessionId, now), now) },
    ];
  }

  /** A PING when nothing has gone for a heartbeat. */
  private heartbeat(): Timer {
    return {
      name: 'heartbeat',
      at: () => (this.phase === 'open' ? this.link.lastSendAt + this.heartbeatMs : undefined),
      fire: (now) => this.link.send({ kind: 'ping', sessionId: this.link.sessionId }, now),
    };
  }

  private giveUp(): 'stop' {
    this.phase = 'failed';
    this.events.push({ type: 'failed', unconfirmed: this.unconfirmedLines, ...(this.stallReason !== undefined && { reason: this.stallReason }) });
    return 'stop';
  }

  /** The server stopped answering: register with the next one and resend what is unconfirmed there; or, with no other, say so. */
  private serverLost(now: number): 'stop' | void {
    const moved = this.link.serverSilent(now);
    if (!moved) return void this.events.push({ type: 'server-lost' });
    this.events.push({ type: 'failover', ...moved });
    this.rehello(now);
    return 'stop';
  }

  /** The BYE went unanswered: again, or, after the last try, done without the server's word. */
  private byeAgain(now: number): 'stop' | void {
    if (!this.bye.exhausted) return this.sendBye(now);
    this.finish('done');
    return 'stop';
  }

  // ---- outputs ----

  pollTransmit(): Transmit | undefined {
    return this.link.transmits.shift();
  }

  pollEvent(): WriterEvent | undefined {
    return this.events.shift();
  }

  nextDeadline(): number | undefined {
    return this.finished ? undefined : this.timers.next();
  }

  /** The armed timers by name (tests). */
  armedTimers(): Record<string, number> {
    return this.finished ? {} : this.timers.armed();
  }

  /** True while the caller may submit more lines without the queue growing past its bound. */
  get acceptingInput(): boolean {
    return this.packer.acceptingInput;
  }

  get unconfirmedLines(): number {
    return this.linesAccepted - this.flow.linesConfirmed;
  }

  get confirmedLines(): number {
    return this.flow.linesConfirmed;
  }

  /** The server's limit on one message (known once registered). */
  get messageLimit(): number {
    return this.maxMessageBytes;
  }

  get finished(): boolean {
    return this.phase === 'done' || this.phase === 'failed' || this.phase === 'refused';
  }

  /** Retransmission timeout currently in force (for tests and stats). */
  get rtoMs(): number {
    return this.rtt.rtoMs;
  }

  get window(): number {
    return this.flow.window;
  }

  // ---- handshake ----

  /** `backOff`: the HELLO timer ran out. */
  private sendHello(now: number, backOff = false): void {
    if (backOff) this.link.hello.backOff();
    const unlisted = this.config.unlisted === true;
    this.link.sendHello({ role: Role.Writer, producerId: this.config.producerId, nextSeq: this.flow.nextSeq, ...(unlisted && { unlisted }) }, now);
  }

  private onWelcome(
    sessionId: bigint,
    expected: number,
    maxMessageBytes: number,
    maxDatagramBytes: number,
    heartbeatMs: number,
    now: number,
  ): void {
    this.link.sessionId = sessionId;
    this.phase = 'open';
    this.maxMessageBytes = maxMessageBytes;
    this.flow.datagramBytes = Math.min(this.config.datagramBytes, maxDatagramBytes) - this.link.cipher.overhead;
    this.heartbeatMs = heartbeatMs;
    // What the server already holds (it committed before it lost our session) is confirmed.
    this.flow.restart(expected);
    this.events.push({ type: 'registered', again: this.registeredOnce });
    const firstRecall = this.config.recall === true && !this.registeredOnce;
    if (firstRecall) this.known = expected > 1;
    // Asked at the first registration, and again at a later one (another server, or this one restarted)
    // made before all the marks came.
    if (firstRecall || this.recall.deadline !== undefined) this.link.send(this.recall.begin(sessionId, now), now);
    this.registeredOnce = true;
    // A server that lost the session may have stored what was stalled before it did.
    this.endStallOnceStored();
    this.flow.fill(now);
    this.maybeClose(now);
  }

  /** Said once everything that waited is stored (a disk that frees a little at a time is one stall). */
  private endStallOnceStored(): void {
    if (this.stallReason === undefined || this.flow.sent.size > 0) return;
    this.stallReason = undefined;
    this.events.push({ type: 'stall-over' });
  }

  private rehello(now: number): void {
    this.phase = 'hello';
    this.link.sessionId = 0n;
    this.flow.stop();
    this.link.renew();
    this.sendHello(now);
  }

  /** A newer login of this user took the session over (authenticated mode): this one stops. */
  private takenOver(): void {
    this.phase = 'refused';
    this.flow.stop();
    this.events.push({ type: 'taken-over' });
  }

  /** Over the server's message rate: what was in flight was dropped; send again, slower, after the pause. */
  private onThrottle(limit: number, retryAfterMs: number, now: number): void {
    if (!this.throttleReported) {
      this.throttleReported = true;
      this.events.push({ type: 'throttled', limit });
    }
    this.flow.throttled(retryAfterMs, now);
  }

  // ---- progress and the end ----

  private progress(now: number): void {
    this.lastProgressAt = now;
  }

  /** Something is owed by the server: a welcome, or confirmations. */
  private waiting(): boolean {
    if (this.phase === 'hello') return true;
    if (this.phase !== 'open') return false;
    return this.flow.busy;
  }

  private maybeClose(now: number): void {
    if (this.phase !== 'open' || !this.inputEnded) return;
    if (this.flow.busy) return;
    this.phase = 'closing';
    this.flow.stop();
    this.sendBye(now);
  }

  private sendBye(now: number): void {
    this.bye.sent(now);
    this.link.send({ kind: 'bye', sessionId: this.link.sessionId, position: 0 }, now);
  }

  private finish(phase: 'done'): void {
    this.phase = phase;
    this.bye.stop();
    this.events.push({ type: 'done' });
  }
}
