import { decode, encode } from '../../protocol/codec.js';
import type { Ack, Data, WriterMark } from '../../protocol/packets.js';
import { DATA_HEADER_BYTES } from '../../protocol/sizes.js';
import type { RttEstimator } from '../rtt-estimator.js';
import type { Timer } from '../timers.js';
import { CongestionWindow } from './congestion.js';
import { LinePacker, type PackedEntries } from './line-packer.js';
import { SentWindow, type Datagram } from './sent-window.js';
import type { WriterConfig } from './writer-types.js';

/** What the flow needs of the session it runs in. */
export interface FlowHost {
  readonly sessionId: bigint;
  /** The flow may send (the session is open). */
  isOpen(): boolean;
  sendEncoded(data: Buffer, now: number): void;
  /** The server confirmed something, or lines wait after an idle spell: --timeout counts from now. */
  progress(now: number): void;
}

/**
 * A writer's DATA: the packer's lines cut into numbered datagrams, sent as far as the congestion window
 * allows, each kept until the server says it is in the log; what is lost is found (by later
 * acknowledgements, or the retransmission timer) and sent again.
 */
export class DataFlow {
  readonly sent = new SentWindow();
  private seqNext = 1;
  private readonly congestion: CongestionWindow;
  private rtxAt: number | undefined;
  /** Paused by the server's THROTTLE until then. */
  private holdUntil: number | undefined;
  /** Largest datagram, payload bytes (the server's limit, less what authentication adds). */
  datagramBytes: number;
  linesConfirmed = 0;

  constructor(
    private readonly config: WriterConfig,
    private readonly rtt: RttEstimator,
    private readonly packer: LinePacker,
    private readonly host: FlowHost,
  ) {
    this.datagramBytes = config.datagramBytes;
    this.congestion = new CongestionWindow(config.windowInitial, config.windowMax);
  }

  /** Its deadlines, for the writer's timer table. */
  readonly timers: Timer[] = [
    { name: 'throttle', at: () => this.holdUntil, fire: (now) => this.holdOver(now) },
    { name: 'retransmit', at: () => this.rtxAt, fire: (now) => this.retransmitTimeout(now) },
  ];

  /** The sequence number a new session starts from: the oldest unconfirmed datagram's, or the next new one. */
  get nextSeq(): number {
    return this.sent.oldest?.seq ?? this.seqNext;
  }

  /** Something is unconfirmed, or waits to be sent. */
  get busy(): boolean {
    return this.sent.size > 0 || this.packer.hasPending;
  }

  get window(): number {
    return this.congestion.size;
  }

  /** A session opened where the server expects `expected` next: what is before it was stored already. */
  restart(expected: number): void {
    for (const d of this.sent.confirmBefore(expected)) this.confirm(d);
    if (this.sent.size === 0) this.seqNext = Math.max(this.seqNext, expected);
    else this.aheadFirst();
    this.sent.restart();
    this.rtxAt = undefined;
  }

  /**
   * A new session with datagrams to send again: the marks sent ahead that are not stored yet go first, in
   * datagrams of their own, and the others after them, renumbered (none of them is stored). Else a server
   * restarted under a backlog stores them last, and a run killed meanwhile leaves its next run not knowing
   * a file it had opened. Stored twice, a mark sent ahead is right both times: it needs none of the lines
   * before it.
   */
  private aheadFirst(): void {
    const latest = new Map<string, WriterMark>();
    for (const m of [...this.sent.datagrams.flatMap((d) => d.ahead ?? []), ...this.packer.takeAhead()]) {
      const key = m.key.toString('hex');
      latest.delete(key); // in the order each key was last marked
      latest.set(key, m);
    }
    if (latest.size === 0) return;
    for (const d of this.sent.datagrams) {
      const stale = d.ahead?.filter((m) => latest.get(m.key.toString('hex')) !== m) ?? [];
      if (stale.length > 0) this.dropStale(d, stale, latest);
    }
    const packer = new LinePacker(0);
    for (const m of latest.values()) packer.markAhead(m);
    const first = this.sent.oldest!.seq;
    const front: Datagram[] = [];
    for (let p = packer.next(this.budget); p && p.entries.length > 0; p = packer.next(this.budget)) front.push(this.datagram(first + front.length, p));
    this.sent.prepend(front);
    this.seqNext += front.length;
  }

  /**
   * Takes out of `d` marks sent ahead that a later one of their key replaced: stored after the latest (which
   * now goes first), they would undo it. A datagram of nothing else carries the latest instead.
   */
  private dropStale(d: Datagram, stale: WriterMark[], latest: Map<string, WriterMark>): void {
    const p = decode(d.data) as Data;
    const isStale = (e: Data['entries'][number]): boolean => e.mark !== undefined && stale.some((m) => m.key.equals(e.mark!) && m.value.equals(e.text));
    let entries = p.entries.filter((e) => !isStale(e));
    d.ahead = d.ahead!.filter((m) => !stale.includes(m));
    if (entries.length === 0) {
      d.ahead = [...new Set(stale.map((m) => latest.get(m.key.toString('hex'))!))];
      entries = d.ahead.map((m) => ({ more: false, continued: false, mark: m.key, text: m.value }));
    }
    d.data = encode({ ...p, entries });
  }

  /** The session ended or is being replaced: no timer runs until sending starts again. */
  stop(): void {
    this.rtxAt = undefined;
    this.holdUntil = undefined;
  }

  /** Sends what the window allows: retransmissions first, oldest first, then new datagrams. */
  fill(now: number): void {
    if (this.holdUntil !== undefined) return;
    for (const d of this.sent.datagrams) {
      if (!this.congestion.allows(this.sent.outstanding)) return;
      if (d.state === 'unsent') this.transmit(d, now);
    }
    while (this.congestion.allows(this.sent.outstanding) && this.sent.size < this.config.unconfirmedMax) {
      const d = this.pack();
      if (!d) break;
      // Lines that wait after an idle spell: --timeout counts from now, not from the last confirmation.
      if (this.sent.size === 0) this.host.progress(now);
      this.sent.push(d);
      this.transmit(d, now);
    }
  }

  /** An acknowledgement: what it confirms, what it shows lost. Call `fill` after it. */
  onAck(a: Ack, now: number): void {
    const acked = this.sent.acknowledge(a, this.seqNext);
    for (const d of acked.confirmed) this.confirm(d);
    if (acked.sample) this.rtt.sample(now - acked.sample.sentAt);
    if (acked.newlyReceived > 0 || acked.confirmed.length > 0) {
      this.host.progress(now);
      this.congestion.acked(acked.newlyReceived);
    }
    if (acked.highestSacked > 0 && this.sent.lostBehind(acked.highestSacked, now, this.rtt.smoothedMs)) this.onLoss(false);
    // Paused by a THROTTLE, nothing is in flight: the timer starts again with the sending.
    const waitingForServer = this.holdUntil === undefined && (this.sent.outstanding > 0 || this.sent.size > 0);
    this.rtxAt = waitingForServer ? now + this.rtt.rtoMs : undefined;
  }

  /** Over the server's message rate: what was in flight was dropped; send again, slower, after the pause. */
  throttled(retryAfterMs: number, now: number): void {
    this.sent.allLost();
    this.onLoss(false);
    this.rtxAt = undefined;
    this.holdUntil = now + Math.max(retryAfterMs, 1);
    this.host.progress(now);
  }

  /** The path dropped what was in flight (a TCP connection reset): it goes again now, as a loss, not a timeout. */
  pathReset(now: number): void {
    if (!this.host.isOpen() || this.sent.outstanding === 0) return;
    this.sent.allLost();
    this.onLoss(false);
    this.fill(now);
  }

  private holdOver(now: number): void {
    this.holdUntil = undefined;
    this.fill(now);
    // What arrived and is not yet stored is probed for if its acknowledgement is lost.
    if (this.sent.size > 0) this.rtxAt ??= now + this.rtt.rtoMs;
  }

  /** The next new datagram: the packer's entries under the next sequence number. */
  private pack(): Datagram | undefined {
    const packed = this.packer.next(this.budget);
    return packed && this.datagram(this.seqNext++, packed);
  }

  /** Room for entries in a datagram. */
  private get budget(): number {
    return this.datagramBytes - DATA_HEADER_BYTES;
  }

  private datagram(seq: number, packed: PackedEntries): Datagram {
    const data = encode({ kind: 'data', sessionId: this.host.sessionId, seq, entries: packed.entries });
    const d: Datagram = { seq, data, linesEnded: packed.linesEnded, state: 'unsent', sentAt: 0, sends: 0 };
    if (packed.ahead.length > 0) d.ahead = packed.ahead;
    return d;
  }

  private transmit(d: Datagram, now: number): void {
    const sessionId = this.host.sessionId;
    if (d.data.readBigUInt64BE(4) !== sessionId) {
      // Built for an earlier session: restamp a copy (the old buffer may still be queued for sending).
      d.data = Buffer.from(d.data);
      d.data.writeBigUInt64BE(sessionId, 4);
    }
    this.sent.sent(d, now);
    this.rtxAt ??= now + this.rtt.rtoMs;
    this.host.sendEncoded(d.data, now);
  }

  private confirm(d: Datagram): void {
    this.linesConfirmed += d.linesEnded;
  }

  private retransmitTimeout(now: number): void {
    this.rtt.timedOut();
    this.rtxAt = undefined;
    if (!this.host.isOpen()) return;
    if (this.sent.outstanding === 0 && this.sent.size > 0) {
      // All arrived, some not yet committed, and the acknowledgement saying so may be lost: probe.
      this.host.sendEncoded(this.sent.oldest!.data, now);
      this.rtxAt = now + this.rtt.rtoMs;
      return;
    }
    this.sent.allLost();
    this.onLoss(true);
    this.fill(now);
  }

  private onLoss(timeout: boolean): void {
    const newest = this.seqNext - 1;
    this.congestion.lost(timeout, this.sent.oldest?.seq ?? newest, newest);
  }
}
