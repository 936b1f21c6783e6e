import type { Address, Transmit } from '../address.js';
import type { SansIoCore } from '../sans-io.js';
import { TimerTable, type Timer } from '../timers.js';
import { RttEstimator } from '../rtt-estimator.js';
import { ByeTimer } from '../sign-on.js';
import { FromKind, Role } from '../../protocol/constants.js';
import type { Packet, TopicInfo } from '../../protocol/packets.js';
import { SessionLink } from '../client/session-link.js';
import { Delivery } from './delivery.js';
import { FetchSchedule } from './fetch-schedule.js';
import { fetchPacket } from './open-fetch.js';
import { PresenceTracker } from './presence-tracker.js';
import { TopicLister } from './topic-lister.js';
import { ReplyIntake } from './reply-intake.js';
import type { ReaderConfig, ReaderEvent } from './reader-types.js';

export { READER_DEFAULTS, type Message, type ReaderConfig, type ReaderEvent } from './reader-types.js';

type Phase = 'hello' | 'open' | 'closing' | 'closed' | 'refused';

/** Closing waits this long at most for the last messages to be printed before its BYE says where it stands. */
const BYE_PRINT_WAIT_MS = 2_000;

const BYE_TRIES = 5;
/**
 * A reader session as a state machine: it pulls from its position; each fetch acknowledges everything
 * before that position, so a lost reply is simply fetched again and nothing is delivered twice.
 */
export class ReaderCore implements SansIoCore {
  private phase: Phase = 'hello';
  private readonly fetches: FetchSchedule;
  private readonly delivery: Delivery;
  private readonly intake: ReplyIntake;
  private heartbeatMs: number;
  /** A reader has one small fetch out at a time, so a short backoff cannot flood the server. */
  private readonly rtt = new RttEstimator(5, 2_000, 200, 2);
  /** The latest time an input brought. */
  private now = 0;
  /** Closing, with messages still being printed: BYE waits for them, until then at most. */
  private byeHeldUntil: number | undefined;
  private readonly link: SessionLink;
  private readonly presence: PresenceTracker | undefined;
  private readonly lister: TopicLister | undefined;
  /** Asks the server about itself (`--who`, `--topics`), and reads no messages. */
  private readonly observing: boolean;
  /** Signed on again only to say goodbye with our position (the server had lost the session). */
  private goodbyeAgain = false;
  private readonly bye = new ByeTimer(BYE_TRIES);
  private registeredOnce = false;
  /** Told 'caught-up' since the last registration. */
  private caughtUpSince = false;
  private readonly events: ReaderEvent[] = [];
  private readonly timers: TimerTable;

  constructor(
    private readonly config: ReaderConfig,
    now: number,
  ) {
    this.heartbeatMs = config.heartbeatMs;
    this.link = new SessionLink(config, this.rtt, now);
    if (config.presence) {
      const pollMs = config.presence === 'watch' ? (config.presencePollMs ?? 1_000) : 0;
      this.presence = new PresenceTracker(pollMs, (w, now) => this.link.send({ kind: 'who', sessionId: this.link.sessionId, ...w }, now));
    }
    this.observing = config.presence === 'who' || config.listTopics === true;
    if (config.listTopics) {
      const done = (topics: TopicInfo[], now: number): void => void (this.events.push({ type: 'topics', topics }), config.watchTopicsMs || this.startClosing(now));
      this.lister = new TopicLister((t, now) => this.link.send({ kind: 'topics', sessionId: this.link.sessionId, ...t }, now), done, config.watchTopicsMs);
    }
    this.delivery = new Delivery(config.count, (e) => this.events.push(e), (upTo) => {
      if (!config.awaitPrinted) this.printed(upTo, this.now);
    });
    this.fetches = new FetchSchedule(config, this.rtt, {
      isOpen: () => this.phase === 'open',
      standsAt: () => this.intake,
      delivery: this.delivery,
      flush: () => this.delivery.flush(),
      send: (f, now) => this.link.send(fetchPacket(f, this.link.sessionId), now),
      caughtUpOnce: (now) => this.startClosing(now),
      caughtUp: () => {
        if (this.caughtUpSince) return;
        this.caughtUpSince = true;
        this.events.push({ type: 'caught-up' });
      },
    });
    this.intake = new ReplyIntake(this.fetches, this.delivery, (e) => this.events.push(e));
    this.timers = new TimerTable([...this.sessionTimers(), ...this.fetches.timers, this.heartbeat()]);
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
        this.events.push({ type: 'refused', code: intake.code, reason: intake.reason, byServer: intake.byServer });
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
      case 'topic-list':
        if (p.sessionId !== this.link.sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        return this.lister?.onList(p, now);
      case 'batch':
        if (p.sessionId !== this.link.sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        if (this.intake.take(p, now) === 'stop') this.startClosing(now);
        return;
      case 'tracked':
        if (p.sessionId !== this.link.sessionId || this.phase !== 'open') return;
        this.link.heard(now);
        this.events.push({ type: 'tracked', requestId: p.requestId, name: p.name, state: p.state, position: p.position, logNext: p.logNext });
        return;
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
        else if (this.phase === 'open' && this.link.authenticated) {
          // A newer login of this user took the session over (authenticated mode): this one stops.
          this.phase = 'refused';
          this.events.push({ type: 'taken-over' });
        }
        return;
      default:
        return;
    }
  }

  handlePathReset(now: number): void {
    this.now = now;
    if (!this.closed) this.fetches.pathReset(now);
  }

  handleTimeout(now: number): void {
    this.now = now;
    if (!this.closed) this.timers.fireDue(now);
  }

  /** Giving up, the server's liveness, HELLO and BYE resent, presence: in this order. */
  private sessionTimers(): Timer[] {
    const open = (): boolean => this.phase === 'open';
    return [
      { name: 'give-up', at: () => this.giveUpAt(), fire: () => this.giveUp() },
      { name: 'server-lost', at: () => (this.phase === 'closing' ? undefined : this.link.liveness.deadline), fire: (now) => this.serverLost(now) },
      { name: 'hello', at: () => this.link.hello.deadline, fire: (now) => this.helloAgain(now, true) },
      { name: 'bye-held', at: () => this.byeHeldUntil, fire: (now) => this.sendBye(now) },
      { name: 'bye', at: () => this.bye.deadline, fire: (now) => this.byeAgain(now) },
      { name: 'presence', at: () => (open() ? this.presence?.deadline : undefined), fire: (now) => this.presenceTimeout(now) },
      { name: 'topics', at: () => (open() ? this.lister?.deadline : undefined), fire: (now) => this.lister!.handleTimeout(now) },
    ];
  }

  /** A PING when nothing else has gone for a heartbeat (a fetch out is one). */
  private heartbeat(): Timer {
    return {
      name: 'heartbeat',
      at: () => (this.phase === 'open' && !this.fetches.current && !this.observing ? this.link.lastSendAt + this.heartbeatMs : undefined),
      fire: (now) => this.link.send({ kind: 'ping', sessionId: this.link.sessionId }, now),
    };
  }

  private giveUp(): 'stop' {
    this.phase = 'refused';
    this.flushPackage();
    this.events.push({ type: 'failed', registered: this.registeredOnce });
    return 'stop';
  }

  /** The server stopped answering: register with the next one, at our own position; or, with no other, say so. */
  private serverLost(now: number): 'stop' | void {
    const moved = this.link.serverSilent(now);
    if (!moved) return void this.events.push({ type: 'server-lost' });
    this.events.push({ type: 'failover', ...moved });
    this.registerAgain(now);
    return 'stop';
  }

  /** The BYE went unanswered: again, or, after the last try, closed without the server's word. */
  private byeAgain(now: number): 'stop' | void {
    if (!this.bye.exhausted) return this.sendBye(now);
    this.finish(true);
    return 'stop';
  }

  private presenceTimeout(now: number): void {
    this.presence!.handleTimeout(now);
    const gone = this.presence!.takeSettled(now).filter((e) => e.name !== this.config.name);
    if (gone.length > 0) this.events.push({ type: 'presence', changes: gone });
  }

  /** Holds back the next fetch while the consumer cannot keep up (stdout is full). */
  setPaused(paused: boolean, now: number): void {
    this.fetches.setPaused(paused, now);
  }

  /** With `awaitPrinted`: the messages before `upTo` have left the process. */
  printed(upTo: number, now: number): void {
    this.now = now;
    this.delivery.printed(upTo);
    this.fetches.release(now); // its position confirms what is printed
    // A long reply is printed in pieces: say how far, so that a reader killed now repeats little of it.
    const confirm = this.phase === 'open' && this.config.group === undefined ? this.delivery.confirmDue() : undefined;
    if (confirm !== undefined) this.link.send({ kind: 'ping', sessionId: this.link.sessionId, position: confirm }, now);
    if (this.phase === 'closing' && this.byeHeldUntil !== undefined && this.delivery.allPrinted) this.sendBye(now);
  }

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
    return this.closed ? undefined : this.timers.next();
  }

  /** The armed timers by name (tests). */
  armedTimers(): Record<string, number> {
    return this.closed ? {} : this.timers.armed();
  }

  /** Asks for the registry as it is now (presence 'watch'): it comes as a 'registry' event. */
  refreshRegistry(now: number): void {
    if (this.phase === 'open') this.presence?.refresh(now);
  }

  /**
   * Asks where a name's reader is: a 'tracked' event with the same `requestId` answers (one lost is not
   * asked again here: the caller asks again, with its own ids).
   */
  track(name: string, requestId: number, now: number): void {
    if (this.phase === 'open') this.link.send({ kind: 'track', sessionId: this.link.sessionId, requestId, name }, now);
  }

  get closed(): boolean {
    return this.phase === 'closed' || this.phase === 'refused';
  }

  // ---- handshake ----

  private sendHello(fromKind: FromKind, fromId: number, now: number): void {
    const role = this.observing ? Role.Observer : Role.Reader;
    const { group, unlisted } = this.config;
    this.link.sendHello({ role, fromKind, fromId, ...(group !== undefined && { group }), ...(unlisted && { unlisted }) }, now);
  }

  /**
   * The server no longer knew the session we were closing (it restarted): the position our BYE carried
   * was not saved. A plain reader signs on again at that position and says goodbye again, so that its next
   * start goes on from there. A group member cannot (what it held went with the server's leases), nor can
   * a second try: those stop, saying so.
   */
  private signOnToSayGoodbye(now: number): void {
    if (this.config.group !== undefined || this.observing || this.goodbyeAgain) return this.finish(false, true);
    this.goodbyeAgain = true;
    this.intake.position = this.delivery.standing(this.intake.position);
    this.bye.stop();
    this.registerAgain(now);
  }

  private registerAgain(now: number): void {
    this.phase = 'hello';
    // What the intake holds is reset when the new session is welcomed (until then no reply is taken).
    this.fetches.current = undefined;
    this.link.renew();
    this.helloAgain(now);
  }

  /** HELLO again (`backOff`: its timer ran out): from where the user asked the first time, from our own position after that. */
  private helloAgain(now: number, backOff = false): void {
    if (backOff) this.link.hello.backOff();
    if (this.registeredOnce) this.sendHello(FromKind.Id, this.intake.position, now);
    else this.sendHello(this.config.fromKind, this.config.fromId, now);
  }

  private onWelcome(sessionId: bigint, position: number, missed: number, heartbeatMs: number, now: number): void {
    this.link.sessionId = sessionId;
    this.phase = 'open';
    this.heartbeatMs = Math.min(this.config.heartbeatMs, heartbeatMs);
    this.intake.startAt(position);
    this.events.push({ type: 'registered', again: this.registeredOnce, position, missed });
    this.caughtUpSince = false;
    this.registeredOnce = true;
    if (this.goodbyeAgain) {
      this.delivery.startAt(position);
      this.phase = 'closing';
      return this.sendBye(now);
    }
    // Signed on again: the others' clients need up to two heartbeats to notice and sign on again too.
    this.presence?.start(now, 2 * this.heartbeatMs + 1_000);
    this.lister?.start(now);
    if (this.observing) return;
    this.delivery.startAt(position);
    this.fetches.next(now, this.config.delayMs === 0 && !this.config.once ? this.config.holdMs : 0);
  }

  private flushPackage(): void {
    this.delivery.flush();
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
    return this.phase === 'hello' || (this.phase === 'open' && this.fetches.current !== undefined);
  }

  private startClosing(now: number): void {
    this.phase = 'closing';
    this.flushPackage();
    this.fetches.stop();
    // The final position is saved by the server: it waits (a little) for the last messages to be printed.
    if (this.delivery.allPrinted) this.sendBye(now);
    else this.byeHeldUntil = now + BYE_PRINT_WAIT_MS;
  }

  private sendBye(now: number): void {
    this.byeHeldUntil = undefined;
    this.bye.sent(now);
    const group = this.config.group !== undefined;
    // Output that never left (its reader is gone) is not confirmed: it comes again next time.
    const position = this.delivery.standing(this.intake.position);
    this.link.send({ kind: 'bye', sessionId: this.link.sessionId, position, ...(group && { fetchId: this.intake.tookFetchId }) }, now);
  }

  private finish(unconfirmed = false, sessionLost = false): void {
    this.flushPackage();
    this.phase = 'closed';
    this.bye.stop();
    this.link.hello.stop();
    this.events.push({ type: 'closed', ...(unconfirmed && { unconfirmed }), ...(sessionLost && { sessionLost }) });
  }
}
