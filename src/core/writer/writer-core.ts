import type { Address, Transmit } from '../address.js';
import { earliest } from '../deadline.js';
import { RttEstimator } from '../rtt-estimator.js';
import { ByeTimer } from '../sign-on.js';
import type { Mac } from '../../protocol/auth.js';
import { encode } from '../../protocol/codec.js';
import { Role, type RefuseCode } from '../../protocol/constants.js';
import type { Ack, Packet } from '../../protocol/packets.js';
import { DATA_HEADER_BYTES } from '../../protocol/sizes.js';
import { SessionLink } from '../client/session-link.js';
import { CongestionWindow } from './congestion.js';
import { LinePacker } from './line-packer.js';
import { SentWindow, type Datagram } from './sent-window.js';

export interface WriterConfig {
  name: string;
  /** Servers in order of preference: when one stops answering, the writer moves to the next. */
  servers: readonly Address[];
  producerId: bigint;
  nonce: number;
  /** Give up when the server has confirmed nothing for this long while lines wait. */
  timeoutMs: number;
  datagramBytes: number;
  windowInitial: number;
  windowMax: number;
  /** Datagrams kept for confirmation at most (the window bounds those in flight). */
  unconfirmedMax: number;
  /** Input is refused (the caller pauses its source) past this many queued bytes. */
  queueBytesHigh: number;
  lostAfterMs: number;
  /** Authenticated mode: the user's secret, and the MAC to prove it with. */
  secret?: Buffer;
  mac?: Mac;
}

export const WRITER_DEFAULTS = {
  timeoutMs: 30_000,
  /** The server says how large its datagrams may be (larger on loopback): this only caps it. */
  datagramBytes: 65_507,
  windowInitial: 32,
  windowMax: 512,
  unconfirmedMax: 2048,
  queueBytesHigh: 256 * 1024,
  lostAfterMs: 2_000,
};

export type WriterEvent =
  | { type: 'registered'; again: boolean }
  | { type: 'refused'; code: RefuseCode; reason: string }
  | { type: 'oversize'; line: number; bytes: number; limit: number }
  | { type: 'server-lost' }
  | { type: 'server-back' }
  | { type: 'failover'; from: Address; to: Address }
  | { type: 'open-server' }
  | { type: 'throttled'; limit: number }
  | { type: 'taken-over' }
  | { type: 'rate-limited'; reason: string }
  | { type: 'stalled'; reason: string }
  | { type: 'stall-over' }
  | { type: 'done' }
  | { type: 'failed'; unconfirmed: number; /** Why the server could not store them, when it said. */ reason?: string };

type Phase = 'hello' | 'open' | 'closing' | 'done' | 'failed' | 'refused';

const BYE_TRIES = 4;

/**
 * A writer session as a state machine: lines in, DATA datagrams out, ACKs in.
 * Keeps every datagram until the server says it is in the log; resends what is not acknowledged.
 */
export class WriterCore {
  private phase: Phase = 'hello';
  private sessionId = 0n;
  private datagramBytes: number;
  private maxMessageBytes = Number.MAX_SAFE_INTEGER;
  private heartbeatMs = 5_000;
  private readonly packer: LinePacker;
  private readonly sentWindow = new SentWindow();
  private seqNext = 1;
  private readonly congestion: CongestionWindow;
  private readonly rtt = new RttEstimator();
  private rtxAt: number | undefined;
  private readonly link: SessionLink;
  private holdUntil: number | undefined;
  private throttleReported = false;
  private readonly bye = new ByeTimer(BYE_TRIES);
  private lastProgressAt: number;
  /** The server said it cannot store (STALLED), and has not confirmed all that waited since: why. */
  private stallReason: string | undefined;
  private inputEnded = false;
  private registeredOnce = false;
  private lineCount = 0;
  private linesAccepted = 0;
  private linesConfirmed = 0;
  private readonly events: WriterEvent[] = [];

  constructor(
    private readonly config: WriterConfig,
    now: number,
  ) {
    this.datagramBytes = config.datagramBytes;
    // Heard from with nothing owed: an idle writer is making progress (--timeout counts from then).
    const heard = (at: number): void => {
      if (!this.waiting()) this.lastProgressAt = at;
    };
    this.link = new SessionLink({ ...config, role: Role.Writer }, this.rtt, now, heard);
    this.packer = new LinePacker(config.queueBytesHigh);
    this.congestion = new CongestionWindow(config.windowInitial, config.windowMax);
    this.lastProgressAt = now;
    this.sendHello(now);
  }

  // ---- inputs ----

  /** One line of input (without its newline). */
  submitLine(text: Buffer, to?: string): void {
    this.submitSlice(text, 0, text.length, to);
  }

  /** One line of input, `bytes[start, end)`, left as it is until sent: lines cut from a chunk of input, uncopied. */
  submitSlice(bytes: Buffer, start: number, end: number, to?: string): void {
    this.lineCount++;
    if (end - start > this.maxMessageBytes) {
      this.events.push({ type: 'oversize', line: this.lineCount, bytes: end - start, limit: this.maxMessageBytes });
      return;
    }
    this.packer.push(bytes, start, end, to);
    this.linesAccepted++;
  }

  /** A line the caller did not keep because it was over the limit while being read. */
  rejectLine(bytes: number): void {
    this.lineCount++;
    this.events.push({ type: 'oversize', line: this.lineCount, bytes, limit: this.maxMessageBytes });
  }

  /** Sends what is queued, as far as the window allows. Call after submitting a run of lines. */
  flush(now: number): void {
    if (this.phase === 'open') this.fillWindow(now);
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
        this.events.push({ type: 'refused', code: intake.code, reason: intake.reason });
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
        return this.onAck(p, now);
      case 'unknown-session':
        if (p.sessionId !== sessionId || (this.phase !== 'open' && this.phase !== 'closing')) return;
        this.link.heard(now);
        if (this.phase === 'closing') return this.finish('done');
        return this.rehello(now);
      case 'goodbye':
        if (p.sessionId !== sessionId) return;
        if (this.phase === 'closing') this.finish('done');
        else if (this.phase === 'open' && this.link.auth.active) this.takenOver();
        return;
      case 'throttle':
        if (p.sessionId === sessionId && this.phase === 'open') this.onThrottle(p.limit, p.retryAfterMs, now);
        return;
      case 'stalled':
        if (p.sessionId !== sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        // The server has the lines and cannot store them yet: it keeps them and says when it tries again.
        // With nothing waiting it is a late copy: what it spoke of has been stored since.
        if (this.sentWindow.size === 0) return;
        if (this.stallReason === undefined) this.events.push({ type: 'stalled', reason: p.reason });
        this.stallReason = p.reason;
        return;
      default:
        return;
    }
  }

  handleTimeout(now: number): void {
    if (this.phase === 'done' || this.phase === 'failed' || this.phase === 'refused') return;
    if (this.waiting() && now - this.lastProgressAt >= this.config.timeoutMs) {
      this.phase = 'failed';
      this.events.push({ type: 'failed', unconfirmed: this.unconfirmedLines, ...(this.stallReason !== undefined && { reason: this.stallReason }) });
      return;
    }
    if (this.link.liveness.due(now)) {
      if (this.link.servers.canMove) return this.moveOn(now);
      this.link.liveness.markReported();
      this.events.push({ type: 'server-lost' });
    }
    if (this.link.hello.due(now)) {
      this.link.hello.backOff();
      this.sendHello(now);
    }
    if (this.bye.due(now)) {
      if (this.bye.exhausted) return this.finish('done');
      this.sendBye(now);
    }
    if (this.holdUntil !== undefined && now >= this.holdUntil) {
      this.holdUntil = undefined;
      this.fillWindow(now);
      // What arrived and is not yet stored is probed for if its acknowledgement is lost.
      if (this.sentWindow.size > 0) this.rtxAt ??= now + this.rtt.rtoMs;
    }
    if (this.rtxAt !== undefined && now >= this.rtxAt) this.onRetransmitTimeout(now);
    if (this.phase === 'open' && now - this.link.lastSendAt >= this.heartbeatMs) {
      this.link.send({ kind: 'ping', sessionId: this.link.sessionId }, now);
    }
  }

  // ---- outputs ----

  pollTransmit(): Transmit | undefined {
    return this.link.transmits.shift();
  }

  pollEvent(): WriterEvent | undefined {
    return this.events.shift();
  }

  nextDeadline(): number | undefined {
    if (this.phase === 'done' || this.phase === 'failed' || this.phase === 'refused') return undefined;
    const waiting = this.waiting();
    return earliest(
      this.link.hello.deadline,
      this.rtxAt,
      this.holdUntil,
      this.bye.deadline,
      waiting ? this.lastProgressAt + this.config.timeoutMs : undefined,
      this.link.liveness.deadline,
      this.phase === 'open' ? this.link.lastSendAt + this.heartbeatMs : undefined,
    );
  }

  /** True while the caller may submit more lines without the queue growing past its bound. */
  get acceptingInput(): boolean {
    return this.packer.acceptingInput;
  }

  get unconfirmedLines(): number {
    return this.linesAccepted - this.linesConfirmed;
  }

  get confirmedLines(): number {
    return this.linesConfirmed;
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
    return this.congestion.size;
  }

  // ---- handshake ----

  private sendHello(now: number): void {
    this.link.sendHello({ role: Role.Writer, producerId: this.config.producerId, nextSeq: this.sentWindow.oldest?.seq ?? this.seqNext }, now);
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
    this.datagramBytes = Math.min(this.config.datagramBytes, maxDatagramBytes) - this.link.auth.overhead;
    this.heartbeatMs = heartbeatMs;
    // What the server already holds (it committed before it lost our session) is confirmed.
    for (const d of this.sentWindow.confirmBefore(expected)) this.confirm(d);
    if (this.sentWindow.size === 0) this.seqNext = Math.max(this.seqNext, expected);
    this.sentWindow.restart();
    this.rtxAt = undefined;
    this.events.push({ type: 'registered', again: this.registeredOnce });
    this.registeredOnce = true;
    // A server that lost the session may have stored what was stalled before it did.
    this.endStallOnceStored();
    this.fillWindow(now);
    this.maybeClose(now);
  }

  /** Said once everything that waited is stored (a disk that frees a little at a time is one stall). */
  private endStallOnceStored(): void {
    if (this.stallReason === undefined || this.sentWindow.size > 0) return;
    this.stallReason = undefined;
    this.events.push({ type: 'stall-over' });
  }

  private rehello(now: number): void {
    this.phase = 'hello';
    this.link.sessionId = 0n;
    this.rtxAt = undefined;
    this.holdUntil = undefined;
    this.link.renew();
    this.sendHello(now);
  }

  /** A newer login of this user took the session over (authenticated mode): this one stops. */
  private takenOver(): void {
    this.phase = 'refused';
    this.rtxAt = undefined;
    this.events.push({ type: 'taken-over' });
  }

  /** Over the server's message rate: what was in flight was dropped; send again, slower, after the pause. */
  private onThrottle(limit: number, retryAfterMs: number, now: number): void {
    if (!this.throttleReported) {
      this.throttleReported = true;
      this.events.push({ type: 'throttled', limit });
    }
    this.sentWindow.allLost();
    this.onLoss(false);
    this.rtxAt = undefined;
    this.holdUntil = now + Math.max(retryAfterMs, 1);
    this.progress(now);
  }

  // ---- sending ----

  private fillWindow(now: number): void {
    if (this.holdUntil !== undefined) return;
    // Retransmissions first, oldest first.
    for (const d of this.sentWindow.datagrams) {
      if (!this.congestion.allows(this.sentWindow.outstanding)) return;
      if (d.state === 'unsent') this.transmit(d, now);
    }
    while (this.congestion.allows(this.sentWindow.outstanding) && this.sentWindow.size < this.config.unconfirmedMax) {
      const d = this.pack();
      if (!d) break;
      // Lines that wait after an idle spell: --timeout counts from now, not from the last confirmation.
      if (this.sentWindow.size === 0) this.progress(now);
      this.sentWindow.push(d);
      this.transmit(d, now);
    }
  }

  /** The next new datagram: the packer's entries under the next sequence number. */
  private pack(): Datagram | undefined {
    const packed = this.packer.next(this.datagramBytes - DATA_HEADER_BYTES);
    if (!packed) return undefined;
    const seq = this.seqNext++;
    const data = encode({ kind: 'data', sessionId: this.link.sessionId, seq, entries: packed.entries });
    return { seq, data, linesEnded: packed.linesEnded, state: 'unsent', sentAt: 0, sends: 0 };
  }

  private transmit(d: Datagram, now: number): void {
    if (d.data.readBigUInt64BE(4) !== this.link.sessionId) {
      // Built for an earlier session: restamp a copy (the old buffer may still be queued for sending).
      d.data = Buffer.from(d.data);
      d.data.writeBigUInt64BE(this.link.sessionId, 4);
    }
    this.sentWindow.sent(d, now);
    this.rtxAt ??= now + this.rtt.rtoMs;
    this.link.sendEncoded(d.data, now);
  }

  // ---- acknowledgements ----

  private onAck(a: Ack, now: number): void {
    const acked = this.sentWindow.acknowledge(a, this.seqNext);
    for (const d of acked.confirmed) this.confirm(d);
    if (acked.sample) this.rtt.sample(now - acked.sample.sentAt);
    this.endStallOnceStored();
    if (acked.newlyReceived > 0 || acked.confirmed.length > 0) {
      this.progress(now);
      this.congestion.acked(acked.newlyReceived);
    }
    if (acked.highestSacked > 0 && this.sentWindow.lostBehind(acked.highestSacked, now, this.rtt.smoothedMs)) this.onLoss(false);
    // Paused by a THROTTLE, nothing is in flight: the timer starts again with the sending.
    const waitingForServer = this.holdUntil === undefined && (this.sentWindow.outstanding > 0 || this.sentWindow.size > 0);
    this.rtxAt = waitingForServer ? now + this.rtt.rtoMs : undefined;
    this.fillWindow(now);
    this.maybeClose(now);
  }

  private confirm(d: Datagram): void {
    this.linesConfirmed += d.linesEnded;
  }

  private onRetransmitTimeout(now: number): void {
    this.rtt.timedOut();
    this.rtxAt = undefined;
    if (this.phase !== 'open') return;
    if (this.sentWindow.outstanding === 0 && this.sentWindow.size > 0) {
      // All arrived, some not yet committed, and the acknowledgement saying so may be lost: probe.
      const first = this.sentWindow.oldest!;
      this.link.sendEncoded(first.data, now);
      this.rtxAt = now + this.rtt.rtoMs;
      return;
    }
    this.sentWindow.allLost();
    this.onLoss(true);
    this.fillWindow(now);
  }

  private onLoss(timeout: boolean): void {
    const newest = this.seqNext - 1;
    this.congestion.lost(timeout, this.sentWindow.oldest?.seq ?? newest, newest);
  }

  // ---- progress and the end ----

  /** The server in use stopped answering: register with the next one and resend what is unconfirmed there. */
  private moveOn(now: number): void {
    this.events.push({ type: 'failover', ...this.link.moveOn(now) });
    this.rehello(now);
  }

  private progress(now: number): void {
    this.lastProgressAt = now;
  }

  /** Something is owed by the server: a welcome, or confirmations. */
  private waiting(): boolean {
    if (this.phase === 'hello') return true;
    if (this.phase !== 'open') return false;
    return this.sentWindow.size > 0 || this.packer.hasPending;
  }

  private maybeClose(now: number): void {
    if (this.phase !== 'open' || !this.inputEnded) return;
    if (this.sentWindow.size > 0 || this.packer.hasPending) return;
    this.phase = 'closing';
    this.rtxAt = undefined;
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
