import { addressKey, takesLargePackets, type Address, type Transmit } from '../address.js';
import type { SansIoCore } from '../sans-io.js';
import { TimerTable } from '../timers.js';
import { PacketKind, RefuseCode, Role } from '../../protocol/constants.js';
import type { Fetch, Hello, Packet } from '../../protocol/packets.js';
import type { ClientRecord } from '../../store/store.js';
import type { StoreRequest } from '../../store/store-request.js';
import { Appends } from './appends.js';
import { countingPublicKeyOps, welcomeDatagram } from './encryption.js';
import { CursorSaver } from './cursors.js';
import { FetchReplies, ParkedPolls } from './fetch-replies.js';
import { Fetches } from './fetches.js';
import { GroupFetches } from './group-fetches.js';
import { Handshake, nameKeyOf } from './handshake.js';
import { serverInvariants } from './invariants.js';
import { LogEnds } from './log-end.js';
import { DEFAULT_TOPIC } from '../../protocol/topics.js';
import { NameClaims } from './name-claims.js';
import { Outbox } from './outbox.js';
import { PresenceJournal } from './presence-journal.js';
import { PresenceReplies } from './presence-replies.js';
import type { QueueGroup } from './queue-group.js';
import { newServerStats, type CloseReason, type ServerConfig, type ServerEvent, type ServerStats } from './server-config.js';
import { SessionGate } from './session-gate.js';
import { serverSnapshot, type ServerSnapshot } from './server-snapshot.js';
import { SessionStart } from './session-start.js';
import { SessionTable, type ReaderSession, type Session, type SessionCommon } from './sessions.js';

export { SERVER_DEFAULTS, type ServerConfig, type ServerEvent, type ServerStats } from './server-config.js';

/** How often silent sessions, and what ended sessions left behind, are looked for while there are any. */
const SWEEP_MS = 1_000;

/**
 * The server as a state machine: datagrams, timeouts and store results in; datagrams, store requests
 * and events out. It reads no clock and touches no socket. Each job is a module of its own; this one
 * dispatches, and opens and ends sessions.
 */
export class ServerCore implements SansIoCore {
  readonly stats: ServerStats = newServerStats();
  private readonly out: Outbox;
  private readonly sessions = new SessionTable();
  private readonly logs = new LogEnds();
  private readonly replies: FetchReplies;
  private readonly cursors: CursorSaver;
  private readonly fetches: Fetches;
  private readonly groupFetches: GroupFetches;
  private readonly appends: Appends;
  private readonly presence: PresenceJournal;
  private readonly presenceReplies: PresenceReplies;
  private readonly claims: NameClaims;
  private readonly handshake: Handshake;
  private readonly start: SessionStart;
  private readonly gate: SessionGate;
  private sweepAt: number | undefined;
  /** The latest time an input brought. */
  private now = 0;
  private readonly timers = new TimerTable([
    { name: 'sweep', at: () => this.sweepAt, fire: (now) => this.sweep(now) },
    { name: 'long-polls', at: () => this.replies.parked.deadline, fire: (now) => this.replies.parked.expired(now).forEach((s) => this.replies.replyEmpty(s)) },
    { name: 'cursors', at: () => this.cursors.deadline, fire: () => this.cursors.flush() },
    { name: 'append-retry', at: () => this.appends.deadline, fire: (now) => this.appends.retry(now) },
    { name: 'name-claims', at: () => this.claims.deadline, fire: (now) => this.renewClaims(now) },
  ]);

  private readonly config: ServerConfig;
  /** Said in every RETRY: the client checks it before its handshake. */
  private readonly serverKey: Buffer | undefined;

  constructor(config: ServerConfig) {
    this.config = countingPublicKeyOps(config, this.stats);
    this.serverKey = config.encryption?.staticKey.publicKey;
    this.out = new Outbox(this.stats, () => this.now);
    this.gate = new SessionGate(this.out, this.sessions, this.stats, config.encryption !== undefined);
    this.handshake = new Handshake(this.config);
    this.presence = new PresenceJournal(Number(config.randomId() & 0xffff_ffffn));
    this.claims = new NameClaims(config.randomId().toString(36), config.sessionTimeoutMs);
    this.replies = new FetchReplies(this.out, new ParkedPolls(), config.observe?.fetchReply);
    const groups = new Map<string, QueueGroup<ReaderSession>>();
    this.cursors = new CursorSaver(this.out, this.sessions, groups, config.cursorFlushMs);
    const reads = { out: this.out, sessions: this.sessions, logs: this.logs, cursors: this.cursors, replies: this.replies };
    this.fetches = new Fetches(reads);
    this.groupFetches = new GroupFetches(reads, () => this.now, groups);
    this.appends = new Appends(this.out, this.sessions, this.logs, this.stats, config.messagesPerSecond, {
      stored: (topics) => this.fetches.wake(topics, this.groupFetches),
      superseded: (w, now) => this.endSession(w, 'superseded', now),
    });
    this.presenceReplies = new PresenceReplies(this.out, this.sessions, this.presence, this.cursors, this.logs, config.users);
    this.start = new SessionStart(config, this.out, this.sessions, this.claims, this.logs, this.cursors, this.groupFetches, {
      open: (s, resume, missed) => this.open(s, resume, missed),
      openFailed: (s, op, error) => this.openFailed(s, op, error),
      refuse: (h, to, code, reason) => this.refuse(h, to, code, reason),
      discard: (s) => this.sessions.remove(s),
    });
  }

  // ---- inputs ----

  handleDatagram(data: Buffer, from: Address, now: number): void {
    this.now = now;
    this.stats.datagramsIn++;
    this.sweepAt ??= now + SWEEP_MS;
    if (data[3] === PacketKind.Hello) {
      const hello = this.gate.hello(data, from);
      if (hello) this.onHello(hello, from, now);
      return;
    }
    const got = this.gate.receive(data, from, now);
    if (got) this.dispatch(got.s, got.packet, now);
  }

  handleTimeout(now: number): void {
    this.now = now;
    this.timers.fireDue(now);
  }

  handleStoreResult(id: number, ok: boolean, value: unknown, now: number): void {
    this.now = now;
    this.out.answer(id, ok, value, now);
  }

  /**
   * Another server sharing the store appended: the topic's log now ends before `next`. Parked polls
   * behind it read again (servers learn this from the store's notifications; their own appends they know).
   */
  handleLogAdvanced(next: number, now: number, topic = DEFAULT_TOPIC): void {
    this.now = now;
    if (this.logs.of(topic).advance(next)) this.fetches.wake(new Set([topic]), this.groupFetches);
  }

  /** Stop: every session ends, positions are saved. Poll store requests until none remain. */
  shutdown(now: number): void {
    for (const s of [...this.sessions.byId.values()]) this.endSession(s, 'bye', now);
    this.cursors.flush();
  }

  // ---- outputs ----

  pollTransmit(): Transmit | undefined {
    return this.out.pollTransmit();
  }

  pollStoreRequest(): { id: number; req: StoreRequest } | undefined {
    return this.out.pollStoreRequest();
  }

  pollEvent(): ServerEvent | undefined {
    return this.out.pollEvent();
  }

  nextDeadline(): number | undefined {
    return this.timers.next();
  }

  get pendingStoreWork(): number {
    return this.out.pendingStoreWork;
  }

  snapshot(): ServerSnapshot {
    return serverSnapshot(this.sessions, this.groupFetches.groups, this.logs);
  }

  /** What must hold between any two inputs, each broken one described (see invariants.ts). */
  invariants(): string[] {
    return serverInvariants(this.sessions, this.replies.parked, this.groupFetches.groups, this.sweepAt);
  }

  // ---- sessions ----

  private dispatch(s: Session, packet: Packet, now: number): void {
    switch (packet.kind) {
      case 'data':
        return s.role === Role.Writer ? this.appends.onData(s, packet, now) : undefined;
      case 'recall':
        return s.role === Role.Writer ? this.appends.onRecall(s, packet) : undefined;
      case 'fetch':
        return s.role === Role.Reader ? this.onFetch(s, packet, now) : undefined;
      case 'ping':
        if (packet.position !== undefined && s.role === Role.Reader) this.fetches.confirmed(s, packet.position);
        this.out.sendTo(s, { kind: 'pong', sessionId: s.id });
        return;
      case 'pong':
        // A client answering "are you still running?" (see NameProbes).
        s.answeredAt = now;
        return;
      case 'who':
        return this.presenceReplies.onWho(s, packet);
      case 'track':
        return this.presenceReplies.onTrack(s, packet);
      case 'topics':
        return this.presenceReplies.onTopics(s, packet);
      case 'bye':
        this.onBye(s, packet.position, packet.fetchId, now);
        return;
    }
  }

  private onHello(h: Hello, from: Address, now: number): void {
    const nameKey = nameKeyOf(h, from);
    const admission = this.handshake.admit(h, from, this.sessions.byName.get(nameKey), now);
    switch (admission.verdict) {
      case 'retry':
        this.stats.retries++;
        return this.out.send(from, { kind: 'retry', nonce: h.nonce, cookie: admission.cookie, ...(this.serverKey && { serverKey: this.serverKey }) });
      case 'again':
        if (admission.session.welcome) this.out.sendRaw(from, admission.session.welcome);
        return;
      case 'ignore':
        return;
      case 'forged':
        this.stats.forged++;
        return;
      case 'refuse':
        return this.refuse(h, from, admission.code, admission.reason);
      case 'ping':
        return this.out.sendTo(admission.holder, { kind: 'ping', sessionId: admission.holder.id });
      case 'admit':
        break;
    }
    const ends = admission.ends;
    if (ends?.reason === 'taken-over') this.takeOver(ends.holder, now);
    else if (ends) {
      if (ends.reclaimed) this.stats.namesReclaimed++;
      this.endSession(ends.holder, 'replaced', now);
    }
    if (this.sessions.size >= this.config.sessionsMax) {
      return this.refuse(h, from, RefuseCode.TooManySessions, 'the server has too many sessions');
    }
    const topic = h.topic ?? DEFAULT_TOPIC;
    if (!this.logs.admit(topic, this.config.topicsMax)) {
      return this.refuse(h, from, RefuseCode.TooManySessions, `the server serves at most ${this.config.topicsMax} topics: ${topic} is one more`);
    }
    const common: SessionCommon = {
      id: this.sessions.newId(this.config.randomId),
      name: h.name,
      nameKey,
      topic,
      addr: from,
      addrKey: addressKey(from),
      lastSeen: now,
      ready: false,
      helloNonce: h.nonce,
      proven: admission.proven,
      responder: admission.responder,
      ...(h.role === Role.Observer && { observer: true }),
      ...(h.unlisted && { unlisted: true }),
      datagramBytes: takesLargePackets(from) ? Math.max(this.config.datagramBytes, this.config.loopbackDatagramBytes) : this.config.datagramBytes,
    };
    const proven = admission.proven;
    let s: Session;
    if (h.role === Role.Writer) {
      const old = this.sessions.byProducer.get(h.producerId);
      if (old) this.endSession(old, 'replaced', now);
      s = { ...common, role: Role.Writer, producerId: h.producerId, committed: 0, stored: 0 };
      this.start.writer(s, h, from, proven);
    } else {
      const r: ReaderSession = { ...common, role: Role.Reader, position: 0, fetchDeadline: 0, reading: false };
      s = r;
      if (h.role === Role.Observer) this.open(r, 0, 0);
      else if (h.group !== undefined) this.start.member(r, h, h.group, from, proven);
      else this.start.reader(r, h, from, proven);
    }
    this.sessions.add(s);
  }

  private open(s: Session, resume: number, missed: number): void {
    s.ready = true;
    s.welcome = welcomeDatagram(s, {
      kind: 'welcome',
      nonce: s.helloNonce,
      sessionId: s.id,
      maxMessageBytes: this.config.maxMessageBytes,
      maxDatagramBytes: s.datagramBytes,
      heartbeatMs: this.config.heartbeatMs,
      resume,
      missed,
    }, this.config.encryption?.crypto, this.now);
    this.out.sendRaw(s, s.welcome);
    this.stats.sessionsOpened++;
    if (s.observer) return;
    const role = s.role === Role.Writer ? 'writer' : 'reader';
    this.out.event({ type: 'session-opened', role, name: s.name, addr: s.addr });
    if (!s.unlisted) this.saveClient(s, true, s.lastSeen);
  }

  private refuse(h: Hello, to: Address, code: RefuseCode, reason: string): void {
    this.stats.refused++;
    this.out.event({ type: 'refused', name: h.name, addr: to, reason });
    this.out.send(to, { kind: 'refuse', nonce: h.nonce, code, reason });
  }

  /** Silent sessions expire; what ended sessions, handshakes and probes left behind is forgotten. */
  private sweep(now: number): void {
    for (const s of this.sessions.silent(now, this.config.sessionTimeoutMs)) {
      this.stats.sessionsExpired++;
      this.endSession(s, 'expired', now);
    }
    this.sessions.sweepEnded(now);
    this.handshake.sweep(now);
    this.groupFetches.prune();
    this.sweepAt = this.sessions.waiting + this.handshake.waiting > 0 ? now + SWEEP_MS : undefined;
  }

  private onBye(s: Session, position: number, fetchId: number | undefined, now: number): void {
    if (s.role === Role.Reader && s.group) {
      this.groupFetches.leave(s, position, fetchId);
      // As for a plain reader: the member hears GOODBYE once the group's place is saved, so that a
      // server crash after a `--count` consumer has exited does not hand its messages out again.
      if (this.cursors.groupDirty(s.group)) this.cursors.goodbyeWhenSaved(s);
    } else if (s.role === Role.Reader && position > 0 && !s.observer) {
      s.position = Math.min(Math.max(position, s.position), this.logs.of(s.topic).next);
      this.cursors.mark(s);
      this.cursors.goodbyeWhenSaved(s);
    }
    this.endSession(s, 'bye', now);
    const saved = s.role === Role.Writer || !s.closing;
    this.sessions.left.set(s.id, { addr: s.addr, addrKey: s.addrKey, cipher: s.cipher, until: now + this.config.sessionTimeoutMs, saved });
    if (saved) this.out.sendTo(s, { kind: 'goodbye', sessionId: s.id });
  }

  /** The session's client is told, in its own keys, that a newer login of its user took over. */
  private takeOver(old: Session, now: number): void {
    this.endSession(old, 'taken-over', now);
    this.sessions.retired.set(old.id, { addrKey: old.addrKey, cipher: old.cipher, until: now + this.config.sessionTimeoutMs });
    this.out.sendTo(old, { kind: 'goodbye', sessionId: old.id });
  }

  private endSession(s: Session, reason: CloseReason, now: number): void {
    if (!this.sessions.isLive(s)) return;
    this.sessions.remove(s);
    const holder = this.claims.holder(s.addrKey);
    if (!s.observer && this.claims.release(s.nameKey, holder)) this.out.tell({ op: 'releaseName', key: s.nameKey, holder });
    if (s.role === Role.Writer) {
      this.appends.forget(s);
    } else {
      this.replies.parked.unpark(s);
      // Whatever it did not acknowledge goes to another member (a BYE has already given its position).
      if (s.group) this.groupFetches.leave(s, 0);
    }
    if (s.ready && !s.observer) {
      const role = s.role === Role.Writer ? 'writer' : 'reader';
      this.out.event({ type: 'session-closed', role, name: s.name, reason });
      // Offline once its last session ends (one reader may read several topics at once).
      if (reason !== 'replaced' && reason !== 'taken-over' && !s.unlisted && !this.sessions.hasClient(s)) this.saveClient(s, false, reason === 'expired' ? s.lastSeen : now);
    }
  }

  /**
   * The store failed a request a session needs before it opens: forget the session, so that the client's
   * retransmitted HELLO starts a new one rather than waiting on this one until it expires.
   */
  private openFailed(s: Session, op: string, error: unknown): void {
    this.out.storeError(op, error);
    this.endSession(s, 'expired', this.now);
  }

  private saveClient(s: Session, online: boolean, lastSeen: number): void {
    const client: ClientRecord = { name: s.name, role: s.role === Role.Writer ? 'writer' : 'reader', online, lastSeen, topic: s.topic };
    this.presence.record(client);
    this.out.tell({ op: 'saveClient', client });
  }

  /** Renews this server's claims; sessions whose claim went elsewhere end (taken over, or long gone). */
  private renewClaims(now: number): void {
    const due = this.claims.due(now);
    if (due.length === 0) return;
    this.out.call({ op: 'renewNames', claims: due, ttlMs: this.claims.ttlMs }, (ok, lost, doneAt) => {
      if (!ok) return this.out.storeError('renewNames', lost);
      this.claims.lost(lost);
      for (const key of lost) {
        const s = this.sessions.byName.get(key);
        if (!s) continue;
        if (s.proven) this.takeOver(s, doneAt);
        else this.endSession(s, 'replaced', doneAt);
      }
    });
  }

  // ---- readers ----

  private onFetch(s: ReaderSession, f: Fetch, now: number): void {
    if (s.observer) return;
    // Answered, it would carry a newer fetch's lease under the older id, which the member's BYE then names.
    if (f.fetchId < (s.newestFetchId ?? 0)) return;
    s.newestFetchId = f.fetchId;
    if (s.fetch && s.fetch.fetchId === f.fetchId) {
      // A repeat of the fetch we hold (parked, being read, or waiting for its group's lease read): say we
      // are alive, so the reader can tell a held poll from an outage.
      this.out.sendTo(s, { kind: 'pong', sessionId: s.id });
      return;
    }
    if (s.group) this.groupFetches.onFetch(s, f, now);
    else this.fetches.onFetch(s, f, now);
  }
}

