import type { Address, Transmit } from '../address.js';
import { earliest } from '../deadline.js';
import { RttEstimator } from '../rtt-estimator.js';
import { ByeTimer } from '../sign-on.js';
import { FromKind, Role, WAIT_MS_MAX } from '../../protocol/constants.js';
import type { Batch, Packet } from '../../protocol/packets.js';
import { SessionLink } from '../client/session-link.js';
import { PresenceTracker } from './presence-tracker.js';
import { askAgainAt, fetchPacket, openFetch, resent, type OpenFetch } from './open-fetch.js';
import { Reassembly } from './reassembly.js';
import type { Message, ReaderConfig, ReaderEvent } from './reader-types.js';

export { READER_DEFAULTS, type Message, type ReaderConfig, type ReaderEvent } from './reader-types.js';

type Phase = 'hello' | 'open' | 'closing' | 'closed' | 'refused';

/** A package larger than this is handed on in pieces: memory stays bounded however long the delay. */
const PACKAGE_MESSAGES_MAX = 10_000;
const PACKAGE_BYTES_MAX = 4 * 1024 * 1024;
/**
 * While a reply is printed, the position is confirmed (PING with a position) once this many messages
 * are printed: a reader killed mid-reply prints again about this many at most, not the whole reply.
 */
const CONFIRM_MESSAGES_MIN = 1_000;
/** Closing waits this long at most for the last messages to be printed before its BYE says where it stands. */
const BYE_PRINT_WAIT_MS = 2_000;

const BYE_TRIES = 5;
/**
 * A reader session as a state machine: it pulls from its position; each fetch acknowledges everything
 * before that position, so a lost reply is simply fetched again and nothing is delivered twice.
 */
export class ReaderCore {
  private phase: Phase = 'hello';
  private position = 0;
  private offset = 0;
  private readonly parts = new Reassembly();
  private fetch: OpenFetch | undefined;
  private fetchSeq = 0;
  /** The fetch whose reply the position was last reached in (0: none): a group member's BYE names it. */
  private tookFetchId = 0;
  private heartbeatMs: number;
  /** A reader has one small fetch out at a time, so a short backoff cannot flood the server. */
  private readonly rtt = new RttEstimator(5, 2_000, 200, 2);
  private pkg: Message[] = [];
  private pkgBytes = 0;
  /** The latest time an input brought. */
  private now = 0;
  /** The position after the last message handed on (event 'messages'), and after the last one printed. */
  private emittedTo = 0;
  private printedTo = 0;
  /** The last position the server was told (FETCH, PING). */
  private confirmedTo = 0;
  /** Closing, with messages still being printed: BYE waits for them, until then at most. */
  private byeHeldUntil: number | undefined;
  /** --delay: whether the reply held for the next poll reached the end of the log. */
  private heldCaughtUp = true;
  private remaining: number;
  private nextPollAt: number | undefined;
  private readonly link: SessionLink;
  private readonly presence: PresenceTracker | undefined;
  /** Signed on again only to say goodbye with our position (the server had lost the session). */
  private goodbyeAgain = false;
  private readonly bye = new ByeTimer(BYE_TRIES);
  private registeredOnce = false;
  private paused = false;
  /** A fetch held back while paused: its wait. */
  private heldFetch: number | undefined;
  private readonly events: ReaderEvent[] = [];

  constructor(
    private readonly config: ReaderConfig,
    now: number,
  ) {
    this.heartbeatMs = config.heartbeatMs;
    this.link = new SessionLink({ ...config, role: Role.Reader }, this.rtt, now);
    if (config.presence) {
      const pollMs = config.presence === 'watch' ? (config.presencePollMs ?? 1_000) : 0;
      this.presence = new PresenceTracker(pollMs, (w, now) => this.link.send({ kind: 'who', sessionId: this.link.sessionId, ...w }, now));
    }
    this.remaining = config.count;
    this.sendHello(config.fromKind, config.fromId, now);
  }

  // ---- inputs ----

  handleDatagram(data: Buffer, from: Address, now: number): void {
    this.now = now;
    this.link.begin();
    this.onDatagram(data, from, now);
    if (this.link.end(now, this.awaiting())) this.events.push({ type: 'server-back' });
  }

  private onDatagram(data: Buffer, from: Address, now: number): void {
    const intake = this.link.intake(data, from, now, this.phase === 'hello');
    switch (intake.kind) {
      case 'none':
        return;
      case 'again':
        return this.helloAgain(now);
      case 'limited':
        this.events.push({ type: 'rate-limited', reason: intake.reason });
        return;
      case 'refused':
        this.phase = 'refused';
        this.events.push({ type: 'refused', code: intake.code, reason: intake.reason });
        return;
      case 'welcome': {
        const w = intake.welcome;
        if (intake.open) this.events.push({ type: 'open-server' });
        return this.onWelcome(w.sessionId, w.resume, w.missed, w.heartbeatMs, now);
      }
      case 'packet':
        return this.onPacket(intake.packet, now);
    }
  }

  private onPacket(p: Packet, now: number): void {
    switch (p.kind) {
      case 'presence': {
        if (p.sessionId !== this.link.sessionId || this.phase !== 'open' || !this.presence) return;
        this.link.heard(now);
        const update = this.presence.onPresence(p, now);
        if (!update) return;
        if (update.registry && this.config.presence === 'who') {
          this.events.push({ type: 'registry', entries: update.registry });
          return this.startClosing(now);
        }
        const changes = update.changes.filter((e) => e.name !== this.config.name);
        if (changes.length > 0) this.events.push({ type: 'presence', changes });
        if (update.registry && this.config.presence === 'watch') this.events.push({ type: 'registry', entries: update.registry });
        return;
      }
      case 'batch':
        if (p.sessionId !== this.link.sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        return this.onBatch(p, now);
      case 'unknown-session':
        if (p.sessionId !== this.link.sessionId) return;
        this.link.heard(now);
        if (this.phase === 'closing') return this.signOnToSayGoodbye(now);
        if (this.phase !== 'open') return;
        // The server lost us (a restart): register again at our own position.
        return this.registerAgain(now);
      case 'goodbye':
        if (p.sessionId !== this.link.sessionId) return;
        if (this.phase === 'closing') this.finish();
        else if (this.phase === 'open' && this.link.auth.active) {
          // A newer login of this user took the session over (authenticated mode): this one stops.
          this.phase = 'refused';
          this.events.push({ type: 'taken-over' });
        }
        return;
      default:
        return;
    }
  }

  handleTimeout(now: number): void {
    this.now = now;
    if (this.phase === 'closed' || this.phase === 'refused') return;
    const giveUpAt = this.giveUpAt();
    if (giveUpAt !== undefined && now >= giveUpAt) {
      this.phase = 'refused';
      this.flushPackage();
      this.events.push({ type: 'failed', registered: this.registeredOnce });
      return;
    }
    if (this.phase !== 'closing' && this.link.liveness.due(now)) {
      if (this.link.servers.canMove) return this.moveOn(now);
      this.link.liveness.markReported();
      this.events.push({ type: 'server-lost' });
    }
    if (this.link.hello.due(now)) {
      this.link.hello.backOff();
      this.helloAgain(now);
    }
    if (this.byeHeldUntil !== undefined && now >= this.byeHeldUntil) this.sendBye(now);
    if (this.bye.due(now)) {
      if (this.bye.exhausted) return this.finish(true);
      this.sendBye(now);
    }
    if (this.phase !== 'open') return;
    this.presence?.handleTimeout(now);
    const gone = (this.presence?.takeSettled(now) ?? []).filter((e) => e.name !== this.config.name);
    if (gone.length > 0) this.events.push({ type: 'presence', changes: gone });
    if (this.config.presence === 'who') return;
    const f = this.fetch;
    if (f) {
      if (now < this.fetchDeadline(f)) return;
      if (f.lastPartAt > 0) {
        // Some parts came, one before them did not: ask again from the gap. The whole reply comes again
        // (bandwidth is cheap, round trips are not); parts held fill the holes of the new one.
        this.nextFetch(now, 0);
      } else {
        // No answer yet: the same fetch again (the server ignores it while it holds the first,
        // and answers it again if its reply was lost). Only an unanswered immediate fetch is a loss signal.
        if (f.waitMs === 0) this.rtt.timedOut();
        this.resendFetch(f, now);
      }
    } else if (this.nextPollAt !== undefined && now >= this.nextPollAt && this.heldFetch === undefined) {
      this.poll(this.heldCaughtUp, now);
    } else if (now - this.link.lastSendAt >= this.heartbeatMs) {
      this.link.send({ kind: 'ping', sessionId: this.link.sessionId }, now);
    }
  }

  /** Holds back the next fetch while the consumer cannot keep up (stdout is full). */
  setPaused(paused: boolean, now: number): void {
    this.paused = paused;
    this.releaseFetch(now);
  }

  /** With `awaitPrinted`: the messages before `upTo` have left the process. */
  printed(upTo: number, now: number): void {
    this.now = now;
    this.printedTo = Math.max(this.printedTo, upTo);
    this.releaseFetch(now); // its position confirms what is printed
    if (this.phase === 'open' && this.config.group === undefined && this.printedTo - this.confirmedTo >= CONFIRM_MESSAGES_MIN) {
      // A long reply is printed in pieces: say how far, so that a reader killed now repeats little of it.
      this.confirmedTo = this.printedTo;
      this.link.send({ kind: 'ping', sessionId: this.link.sessionId, position: this.printedTo }, now);
    }
    if (this.phase === 'closing' && this.byeHeldUntil !== undefined && this.allPrinted) this.sendBye(now);
  }

  /** Stop: tell the server our position, then report 'closed'. */
  /**
   * Stop: tell the server our position, then report 'closed'. `outputGone`: what was not printed yet
   * never will be (a closed pipe), so the BYE goes at once with the position of what was.
   */
  close(now: number, outputGone = false): void {
    if (this.phase === 'open') this.startClosing(now);
    else if (this.phase === 'hello') this.finish();
    if (outputGone && this.byeHeldUntil !== undefined) this.sendBye(now);
  }

  // ---- outputs ----

  pollTransmit(): Transmit | undefined {
    return this.link.transmits.shift();
  }

  pollEvent(): ReaderEvent | undefined {
    return this.events.shift();
  }

  nextDeadline(): number | undefined {
    if (this.phase === 'closed' || this.phase === 'refused') return undefined;
    const f = this.fetch;
    const fetchAt = this.phase === 'open' && f ? this.fetchDeadline(f) : undefined;
    const idle = this.phase === 'open' && !f;
    return earliest(
      this.link.hello.deadline,
      this.bye.deadline,
      this.byeHeldUntil,
      fetchAt,
      idle && this.heldFetch === undefined ? this.nextPollAt : undefined,
      idle ? this.link.lastSendAt + this.heartbeatMs : undefined,
      this.phase === 'open' ? this.presence?.deadline : undefined,
      this.phase === 'closing' ? undefined : this.link.liveness.deadline,
      this.giveUpAt(),
    );
  }

  /** Asks for the registry as it is now (presence 'watch'): it comes as a 'registry' event. */
  refreshRegistry(now: number): void {
    if (this.phase === 'open') this.presence?.refresh(now);
  }

  get closed(): boolean {
    return this.phase === 'closed' || this.phase === 'refused';
  }

  // ---- handshake ----

  private sendHello(fromKind: FromKind, fromId: number, now: number): void {
    const role = this.config.presence === 'who' ? Role.Observer : Role.Reader;
    const group = this.config.group;
    this.link.sendHello({ role, fromKind, fromId, ...(group !== undefined && { group }) }, now);
  }

  /** The server in use stopped answering: register with the next one, at our own position. */
  private moveOn(now: number): void {
    this.events.push({ type: 'failover', ...this.link.moveOn(now) });
    this.registerAgain(now);
  }

  /** A new session, on this server or the next: from where this reader stands once it has registered. */
  /**
   * The server no longer knew the session we were closing (it restarted): the position our BYE carried
   * was not saved. A plain reader signs on again at that position and says goodbye again, so that its next
   * start goes on from there. A group member cannot (what it held went with the server's leases), nor can
   * a second try: those stop, saying so.
   */
  private signOnToSayGoodbye(now: number): void {
    if (this.config.group !== undefined || this.config.presence === 'who' || this.goodbyeAgain) return this.finish(false, true);
    this.goodbyeAgain = true;
    this.position = this.allPrinted ? this.position : this.printedTo;
    this.bye.stop();
    this.registerAgain(now);
  }

  private registerAgain(now: number): void {
    this.phase = 'hello';
    this.fetch = undefined;
    this.parts.reset();
    this.offset = 0;
    this.link.renew();
    this.helloAgain(now);
  }

  /** HELLO again: from where the user asked the first time, from our own position after that. */
  private helloAgain(now: number): void {
    if (this.registeredOnce) this.sendHello(FromKind.Id, this.position, now);
    else this.sendHello(this.config.fromKind, this.config.fromId, now);
  }

  private onWelcome(sessionId: bigint, position: number, missed: number, heartbeatMs: number, now: number): void {
    this.link.sessionId = sessionId;
    this.phase = 'open';
    this.heartbeatMs = Math.min(this.config.heartbeatMs, heartbeatMs);
    this.position = position;
    this.offset = 0;
    this.parts.reset();
    this.events.push({ type: 'registered', again: this.registeredOnce, position, missed });
    this.registeredOnce = true;
    this.tookFetchId = 0;
    if (this.goodbyeAgain) {
      this.printedTo = this.emittedTo = this.confirmedTo = position;
      this.phase = 'closing';
      return this.sendBye(now);
    }
    // Signed on again: the others' clients need up to two heartbeats to notice and sign on again too.
    this.presence?.start(now, 2 * this.heartbeatMs + 1_000);
    if (this.config.presence === 'who') return;
    this.printedTo = this.emittedTo = this.confirmedTo = position;
    this.nextFetch(now, this.config.delayMs === 0 && !this.config.once ? this.config.holdMs : 0);
  }

  // ---- fetching ----

  private sendFetch(now: number, waitMs: number): void {
    this.fetch = openFetch(++this.fetchSeq >>> 0, this.position, this.offset, waitMs, this.config.maxDatagrams, now, this.rtt);
    // A fetch confirms everything before its position: it goes only once what was taken is printed
    // (nextFetch holds it until then), so that a reader killed at any moment never leaves a gap.
    this.confirmedTo = Math.max(this.confirmedTo, this.position);
    this.transmitFetch(this.fetch, now);
  }

  private resendFetch(f: OpenFetch, now: number): void {
    resent(f, now);
    this.transmitFetch(f, now);
  }

  private transmitFetch(f: OpenFetch, now: number): void {
    this.link.send(fetchPacket(f, this.link.sessionId), now);
  }

  private onBatch(b: Batch, now: number): void {
    const f = this.fetch;
    if (b.seek && f && b.fetchId === f.id && !f.sought) {
      // A queue group's lease starts where the server says: go there (once per fetch: a repeat of this
      // part must not take the reader back over what it has taken since).
      f.sought = true;
      this.tookFetchId = b.fetchId;
      this.position = b.position;
      this.offset = b.offset;
      this.parts.reset();
    }
    if (b.position < this.position || (b.position === this.position && b.offset < this.offset)) return; // taken already
    if (f && b.fetchId === f.id) {
      // Each fetch has a fresh id, so even a refetch's reply is an unambiguous RTT sample (as in QUIC).
      if (f.lastPartAt === 0 && f.sends === 1 && f.waitMs === 0) this.rtt.sample(now - f.lastSentAt);
      f.lastPartAt = now;
      if (b.lastPart) f.lastPartSeen = true;
    }
    if (!this.parts.hold(b, this.position, this.offset)) return;
    let last: Batch | undefined;
    let replyTaken = false;
    for (let part = this.parts.take(this.position, this.offset); part; part = this.parts.take(this.position, this.offset)) {
      if (!this.consume(part)) return this.startClosing(now);
      last = part;
      if (f && part.fetchId === f.id && part.lastPart) replyTaken = true;
      if (part.nextPosition === part.position && part.nextOffset === part.offset) break; // an empty part moves nothing
    }
    if (!last) return;
    // With --delay 0 messages are printed as they arrive: part by part, not once the whole reply is in
    // (a reply may be 30,000 lines; held, they would all outlive a young-generation GC).
    // With --delay, the same once a poll is under way (only what comes early waits for the next poll).
    if (!this.config.once && (this.config.delayMs === 0 || this.nextPollAt === undefined)) this.flushPackage();
    this.parts.dropBefore(this.position, this.offset);
    if (this.parts.held === 0) {
      if (last.lastPart) this.fetchDone(last.caughtUp, now);
      return;
    }
    // This fetch's reply is all taken, yet parts wait beyond a gap: ask for the gap at once.
    if (replyTaken) this.nextFetch(now, 0);
  }

  /** Takes one part's messages in order. Returns false once the count is reached. */
  private consume(part: Batch): boolean {
    this.tookFetchId = part.fetchId;
    if (part.missed > 0) this.events.push({ type: 'missed', count: part.missed });
    for (const m of part.messages) {
      if (m.id < this.position) continue;
      const whole = m.fragment ? this.parts.fragment(m) : m; // a whole message is a Message already
      if (whole && this.deliver(whole) === 'stop') return false;
    }
    this.position = part.nextPosition;
    this.offset = part.nextOffset;
    // Mid-message only while holding that message's start; otherwise ask for it whole.
    if (this.offset > 0 && !this.parts.continues(this.position, this.offset)) this.offset = 0;
    return true;
  }

  private deliver(m: Message): 'stop' | 'more' {
    this.pkg.push(m);
    this.pkgBytes += m.text.length;
    if (this.pkg.length >= PACKAGE_MESSAGES_MAX || this.pkgBytes >= PACKAGE_BYTES_MAX) this.flushPackage();
    this.position = m.id + 1;
    this.offset = 0;
    if (this.config.count > 0 && --this.remaining === 0) {
      this.flushPackage();
      return 'stop';
    }
    return 'more';
  }

  private fetchDone(caughtUp: boolean, now: number): void {
    this.fetch = undefined;
    if (this.config.once) {
      if (!caughtUp) return this.nextFetch(now, 0);
      return this.startClosing(now);
    }
    if (this.config.delayMs === 0) {
      this.flushPackage();
      this.nextFetch(now, caughtUp ? this.config.holdMs : 0);
      return;
    }
    // --delay: the next fetch went out at the last poll and is held by the server until this one; what
    // it brought early waits here for the poll. Its position confirmed what was printed, at once.
    if (this.nextPollAt !== undefined && now < this.nextPollAt) {
      this.heldCaughtUp = caughtUp;
      return;
    }
    this.poll(caughtUp, now);
  }

  /** A poll of --delay: print the package; fetch the rest, or, caught up, wait for the next poll. */
  private poll(caughtUp: boolean, now: number): void {
    this.nextPollAt = undefined;
    if (!caughtUp) return this.nextFetch(now, 0);
    this.flushPackage();
    this.nextPollAt = now + this.config.delayMs;
    this.nextFetch(now, Math.min(this.config.delayMs, WAIT_MS_MAX));
  }

  /** The next fetch, unless the output is full or still has messages to print: then once it has not. */
  private nextFetch(now: number, waitMs: number): void {
    this.fetch = undefined;
    this.heldFetch = waitMs;
    this.releaseFetch(now);
  }

  private releaseFetch(now: number): void {
    if (this.heldFetch === undefined || this.paused || this.phase !== 'open') return;
    this.flushPackage(); // which releases the fetch itself when printing is not awaited
    if (this.heldFetch === undefined || !this.allPrinted) return;
    const waitMs = this.heldFetch;
    this.heldFetch = undefined;
    this.sendFetch(now, waitMs);
  }

  private get allPrinted(): boolean {
    return this.printedTo >= this.emittedTo;
  }

  private flushPackage(): void {
    if (this.pkg.length === 0) return;
    const upTo = this.pkg[this.pkg.length - 1]!.id + 1;
    this.emittedTo = upTo;
    this.events.push({ type: 'messages', messages: this.pkg, upTo });
    this.pkg = [];
    this.pkgBytes = 0;
    if (!this.config.awaitPrinted) this.printed(upTo, this.now);
  }

  private fetchDeadline(f: OpenFetch): number {
    return askAgainAt(f, this.rtt);
  }

  // ---- liveness and the end ----

  /** --timeout: when to give up, if the server still owes an answer then. */
  private giveUpAt(): number | undefined {
    const since = this.link.liveness.unansweredSince;
    const timeoutMs = this.config.timeoutMs ?? 0;
    return timeoutMs > 0 && since !== undefined ? since + timeoutMs : undefined;
  }

  /** Something is owed by the server: a welcome, or an answer to the open fetch. */
  private awaiting(): boolean {
    return this.phase === 'hello' || (this.phase === 'open' && this.fetch !== undefined);
  }

  private startClosing(now: number): void {
    this.phase = 'closing';
    this.flushPackage();
    this.fetch = undefined;
    this.heldFetch = undefined;
    this.nextPollAt = undefined;
    // The final position is saved by the server: it waits (a little) for the last messages to be printed.
    if (this.allPrinted) this.sendBye(now);
    else this.byeHeldUntil = now + BYE_PRINT_WAIT_MS;
  }

  private sendBye(now: number): void {
    this.byeHeldUntil = undefined;
    this.bye.sent(now);
    const group = this.config.group !== undefined;
    // Output that never left (its reader is gone) is not confirmed: it comes again next time.
    const position = this.allPrinted ? this.position : this.printedTo;
    this.link.send({ kind: 'bye', sessionId: this.link.sessionId, position, ...(group && { fetchId: this.tookFetchId }) }, now);
  }

  private finish(unconfirmed = false, sessionLost = false): void {
    this.flushPackage();
    this.phase = 'closed';
    this.bye.stop();
    this.link.hello.stop();
    this.events.push({ type: 'closed', ...(unconfirmed && { unconfirmed }), ...(sessionLost && { sessionLost }) });
  }
}
