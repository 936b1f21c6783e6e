import { addressKey, isLoopback, type Address, type Transmit } from '../address.js';
import { earliest } from '../deadline.js';
import { decode, encode } from '../../protocol/codec.js';
import { ENTRIES_PER_PACKET_MAX, FETCH_DATAGRAMS_MAX, FromKind, RefuseCode, Role, roleName } from '../../protocol/constants.js';
import { ProtocolError } from '../../protocol/errors.js';
import { isValidName, NAME_RULE } from '../../protocol/names.js';
import { isTagged, seal, TAG_BYTES, verify, type SessionKeys } from '../../protocol/auth.js';
import type { Data, Fetch, Hello, Packet, PresenceEntry, Who } from '../../protocol/packets.js';
import { BATCH_HEADER_BYTES, BATCH_MESSAGE_FRAMING_BYTES, PRESENCE_HEADER_BYTES, presenceEntryBytes } from '../../protocol/sizes.js';
import type { ClientRecord, NewMessage, ProducerBatch, ReadLimits, ReadResult } from '../../store/store.js';
import type { ReaderStart, StoreRequest, StoreResults } from '../../store/store-request.js';
import { storeFailureReason } from '../../store/store-errors.js';
import { AddressCookies } from './address-cookies.js';
import { Authenticator, ReplayGuard } from './authenticator.js';
import { HandshakeLimiter, TokenBucket } from './rate-limits.js';
import { PresenceJournal } from './presence-journal.js';
import { LEASE_MESSAGES_MAX, QueueGroup, type Lease, type Span } from './queue-group.js';
import { NameClaims } from './name-claims.js';
import { NameProbes } from './name-probes.js';
import { buildReply } from './reply-builder.js';
import { WriterIngest } from './writer-ingest.js';

export interface ServerConfig {
  maxMessageBytes: number;
  datagramBytes: number;
  /** Datagram size for clients on this host (loopback has no path MTU to fit). */
  loopbackDatagramBytes: number;
  heartbeatMs: number;
  sessionTimeoutMs: number;
  /** Datagrams a writer may have beyond the next expected one. */
  windowMax: number;
  sessionsMax: number;
  cursorFlushMs: number;
  /** Unguessable session ids: crypto in production, a seeded generator in simulation. */
  randomId: () => bigint;
  /** A fresh secret key for address cookies. */
  randomKey: () => Buffer;
  /** A keyed MAC (HMAC-SHA256 in production): cookies, proofs of secrets and session tags. */
  mac: (key: Buffer, data: Buffer) => Buffer;
  /** Authenticated mode: each user's secret. Absent: open mode. */
  users?: ReadonlyMap<string, Buffer>;
  /** Handshakes (HELLOs with a valid cookie) one host may make per second; 0: no limit. */
  handshakesPerSecond: number;
  /** Messages one writer session may send per second; 0: no limit. */
  messagesPerSecond: number;
}


export const SERVER_DEFAULTS: Omit<ServerConfig, 'randomId' | 'randomKey' | 'mac'> = {
  maxMessageBytes: 1024 * 1024,
  datagramBytes: 1200,
  loopbackDatagramBytes: 16 * 1024,
  heartbeatMs: 5_000,
  sessionTimeoutMs: 30_000,
  windowMax: 1024,
  sessionsMax: 100_000,
  cursorFlushMs: 50,
  handshakesPerSecond: 20,
  messagesPerSecond: 500_000,
};

/** At most one THROTTLE per session per this many ms: it is a signal, not a reply to every datagram. */
const THROTTLE_SIGNAL_MS = 100;
/** After the store failed an append, the next try waits this long (what came meanwhile goes with it). */
const APPEND_RETRY_MS = 1_000;

/** Where a queue group's position is saved: '/' is not allowed in names, so it meets no reader's. */
const GROUP_KEY_PREFIX = 'group/';
const groupKey = (group: string): string => GROUP_KEY_PREFIX + group;

interface SessionCommon {
  id: bigint;
  name: string;
  /** Its entry in byName: role and name (an observer holds no name: its address stands in). */
  nameKey: string;
  addr: Address;
  addrKey: string;
  lastSeen: number;
  ready: boolean;
  helloNonce: number;
  welcome?: Buffer;
  /** Authenticated mode: the keys that tag this session's datagrams. */
  keys?: SessionKeys | undefined;
  /** Reads the registry and nothing else: holds no name, is not in the registry. */
  observer?: boolean;
  /** Largest datagram to and from this client, its tag included. */
  datagramBytes: number;
  /** When its client last answered the server's PING (see NameProbes). */
  answeredAt?: number;
}

interface WriterSession extends SessionCommon {
  role: typeof Role.Writer;
  producerId: bigint;
  ingest?: WriterIngest;
  committed: number;
  bucket?: TokenBucket;
  throttledAt?: number;
}

interface ReaderSession extends SessionCommon {
  role: typeof Role.Reader;
  position: number;
  /** The newest fetch: being read, or parked until messages arrive or it expires. */
  fetch?: Fetch | undefined;
  /** When the newest fetch must be answered, messages or not. */
  fetchDeadline: number;
  parkedUntil?: number | undefined;
  reading: boolean;
  closing?: boolean;
  /** A member of a queue group: reads the group's leases instead of the log from its own position. */
  group?: QueueGroup<ReaderSession> | undefined;
}

type Session = WriterSession | ReaderSession;

export interface ServerStats {
  datagramsIn: number;
  datagramsOut: number;
  malformed: number;
  messagesStored: number;
  /** Store transactions that appended (group commits). */
  appends: number;
  sessionsOpened: number;
  sessionsExpired: number;
  /** Names given to a newcomer from the holder's host because the holder did not answer (see NameProbes). */
  namesReclaimed: number;
  refused: number;
  /** HELLOs answered with a cookie rather than a session. */
  retries: number;
  /** Datagrams of a session whose authentication tag was missing or wrong. */
  forged: number;
  /** DATA dropped because its writer was over its message rate. */
  throttled: number;
}

export type ServerEvent =
  | { type: 'session-opened'; role: 'writer' | 'reader'; name: string; addr: Address }
  | { type: 'session-closed'; role: 'writer' | 'reader'; name: string; reason: CloseReason }
  | { type: 'refused'; name: string; addr: Address; reason: string }
  | { type: 'store-error'; op: string; error: unknown };

type CloseReason = 'bye' | 'expired' | 'replaced' | 'taken-over' | 'superseded';

/** A session taken over by a newer login of its user: its client is told so, in its own keys, for a while. */
interface Retired {
  addrKey: string;
  keys: SessionKeys;
  until: number;
}

/** A session ended by its client's BYE, remembered for a session timeout so that a repeated BYE gets GOODBYE. */
interface Left {
  addr: Address;
  addrKey: string;
  keys: SessionKeys | undefined;
  until: number;
  /** Its final position is saved (GOODBYE was sent); until then a repeated BYE is not answered. */
  saved: boolean;
}

type Continuation = (ok: boolean, value: unknown, now: number) => void;

/**
 * The server as a state machine: datagrams, timeouts and store results in; datagrams, store requests
 * and events out. It reads no clock and touches no socket.
 */
export class ServerCore {
  readonly stats: ServerStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    malformed: 0,
    messagesStored: 0,
    appends: 0,
    sessionsOpened: 0,
    sessionsExpired: 0,
    namesReclaimed: 0,
    refused: 0,
    retries: 0,
    forged: 0,
    throttled: 0,
  };
  private readonly sessions = new Map<bigint, Session>();
  private readonly byName = new Map<string, Session>();
  private readonly byProducer = new Map<bigint, WriterSession>();
  /** Readers whose fetch waits for messages (a long poll), each until its parkedUntil. */
  private readonly parked = new Set<ReaderSession>();
  private readonly transmits: Transmit[] = [];
  private readonly requests: { id: number; req: StoreRequest }[] = [];
  private readonly continuations = new Map<number, Continuation>();
  private readonly events: ServerEvent[] = [];
  private nextRequestId = 1;
  private appendInFlight = false;
  /** The store failed the last append: the next waits until then. */
  private appendRetryAt: number | undefined;
  private readonly appendQueue = new Set<WriterSession>();
  private readonly dirtyCursors = new Map<string, number>();
  private cursorFlushAt: number | undefined;
  private cursorsInFlight = false;
  private readonly cursorWaiters: ReaderSession[] = [];
  private sweepAt: number | undefined;
  private logNext = 0;
  private readonly cookies: AddressCookies;
  private readonly auth: Authenticator;
  private readonly replays = new ReplayGuard();
  private readonly handshakes: HandshakeLimiter;
  private readonly retired = new Map<bigint, Retired>();
  private readonly left = new Map<bigint, Left>();
  private readonly groups = new Map<string, QueueGroup<ReaderSession>>();
  private readonly presence: PresenceJournal;
  private readonly claims: NameClaims;
  private readonly probes = new NameProbes();
  /** The latest time an input brought. */
  private now = 0;

  constructor(private readonly config: ServerConfig) {
    this.cookies = new AddressCookies(config.randomKey, config.mac);
    this.auth = new Authenticator(config.users, config.mac);
    this.handshakes = new HandshakeLimiter(config.handshakesPerSecond);
    this.presence = new PresenceJournal(Number(config.randomId() & 0xffff_ffffn));
    this.claims = new NameClaims(config.randomId().toString(36), config.sessionTimeoutMs);
  }

  // ---- inputs ----

  handleDatagram(data: Buffer, from: Address, now: number): void {
    this.now = now;
    this.stats.datagramsIn++;
    let packet: Packet;
    try {
      packet = decode(data);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.stats.malformed++;
      return;
    }
    this.sweepAt ??= now + 1_000;
    switch (packet.kind) {
      case 'hello':
        return this.onHello(packet, from, now);
      case 'data': {
        const s = this.session(packet.sessionId, data, from, now, 'unknown-session');
        if (s?.role === Role.Writer) this.onData(s, packet, now);
        return;
      }
      case 'fetch': {
        const s = this.session(packet.sessionId, data, from, now, 'unknown-session');
        if (s?.role === Role.Reader) this.onFetch(s, packet, now);
        return;
      }
      case 'ping': {
        const s = this.session(packet.sessionId, data, from, now, 'unknown-session');
        if (!s) return;
        if (packet.position !== undefined && s.role === Role.Reader) this.confirmed(s, packet.position);
        this.sendTo(s, { kind: 'pong', sessionId: s.id });
        return;
      }
      case 'pong': {
        // A client answering "are you still running?" (see NameProbes).
        const s = this.session(packet.sessionId, data, from, now, 'unknown-session');
        if (s) s.answeredAt = now;
        return;
      }
      case 'who': {
        const s = this.session(packet.sessionId, data, from, now, 'unknown-session');
        if (s) this.onWho(s, packet);
        return;
      }
      case 'bye': {
        if (this.byeAgain(packet.sessionId, data, from)) return;
        // A session this server does not know (it restarted, or the session expired) did not save the
        // position this BYE carries: the client is told so, and a reader signs on again to say goodbye.
        const s = this.session(packet.sessionId, data, from, now, 'unknown-session');
        if (s) this.onBye(s, packet.position, packet.fetchId, now);
        return;
      }
      default:
        // Packets only a server sends: a confused or hostile peer.
        this.stats.malformed++;
    }
  }

  handleTimeout(now: number): void {
    this.now = now;
    if (this.sweepAt !== undefined && now >= this.sweepAt) {
      for (const s of this.sessions.values()) {
        if (now - s.lastSeen > this.config.sessionTimeoutMs) {
          this.stats.sessionsExpired++;
          this.endSession(s, 'expired', now);
        }
      }
      for (const [id, r] of this.retired) if (now >= r.until) this.retired.delete(id);
      for (const [id, l] of this.left) if (now >= l.until) this.left.delete(id);
      this.handshakes.sweep(now);
      this.replays.sweep(now);
      this.probes.sweep(now);
      this.sweepAt = this.sessions.size + this.retired.size + this.left.size + this.handshakes.size + this.probes.size > 0 ? now + 1_000 : undefined;
    }
    for (const s of [...this.parked]) {
      if (now >= s.parkedUntil!) {
        this.unpark(s);
        this.replyEmpty(s);
      }
    }
    if (this.cursorFlushAt !== undefined && now >= this.cursorFlushAt) this.flushCursors();
    if (this.appendRetryAt !== undefined && now >= this.appendRetryAt) this.startAppend(now);
    this.renewClaims(now);
  }

  handleStoreResult(id: number, ok: boolean, value: unknown, now: number): void {
    this.now = now;
    const k = this.continuations.get(id);
    if (!k) throw new Error(`no store request ${id}`);
    this.continuations.delete(id);
    k(ok, value, now);
  }

  /**
   * Another server sharing the store appended: the log now ends before `next`. Parked polls behind it
   * read again (servers learn this from the store's notifications; their own appends they know).
   */
  handleLogAdvanced(next: number, now: number): void {
    this.now = now;
    if (next <= this.logNext) return;
    this.logNext = next;
    this.wakeReaders();
  }

  /** Stop: every session ends, positions are saved. Poll store requests until none remain. */
  shutdown(now: number): void {
    for (const s of [...this.sessions.values()]) this.endSession(s, 'bye', now);
    this.flushCursors();
  }

  // ---- outputs ----

  pollTransmit(): Transmit | undefined {
    const t = this.transmits.shift();
    if (t) this.stats.datagramsOut++;
    return t;
  }

  pollStoreRequest(): { id: number; req: StoreRequest } | undefined {
    return this.requests.shift();
  }

  pollEvent(): ServerEvent | undefined {
    return this.events.shift();
  }

  nextDeadline(): number | undefined {
    let parked: number | undefined;
    for (const s of this.parked) parked = earliest(parked, s.parkedUntil);
    return earliest(this.sweepAt, parked, this.cursorFlushAt, this.claims.deadline, this.appendQueue.size > 0 ? this.appendRetryAt : undefined);
  }

  get pendingStoreWork(): number {
    return this.continuations.size + this.requests.length;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  // ---- handshake ----

  private onHello(h: Hello, from: Address, now: number): void {
    const key = addressKey(from);
    // Nothing is kept and nothing bigger than the HELLO is sent until the address proves it receives.
    if (!this.cookies.valid(h.cookie, key, h.nonce, now)) {
      this.stats.retries++;
      this.send(from, { kind: 'retry', nonce: h.nonce, cookie: this.cookies.make(key, h.nonce, now) });
      return;
    }
    const nameKey = h.role === Role.Observer ? `${h.role}:${key}` : `${h.role}:${h.name}`;
    const holder = this.byName.get(nameKey);
    if (holder && holder.addrKey === key && holder.helloNonce === h.nonce) {
      // A retransmitted hello: answer again once ready.
      if (holder.welcome) this.transmits.push({ to: from, data: holder.welcome });
      return;
    }
    if (!this.handshakes.allow(from.address, now)) {
      const limit = this.config.handshakesPerSecond;
      return this.refuse(h, from, RefuseCode.RateLimited, `too many handshakes from ${from.address} (limit ${limit} per second)`);
    }
    if (!isValidName(h.name)) return this.refuse(h, from, RefuseCode.BadName, `bad name: use ${NAME_RULE}`);
    if (h.role !== Role.Writer && h.group !== undefined && !isValidName(h.group)) {
      return this.refuse(h, from, RefuseCode.BadName, `bad group name: use ${NAME_RULE}`);
    }
    const auth = this.auth.check(h);
    if (!auth.ok) return this.refuse(h, from, auth.code, auth.reason);
    if (auth.keys && this.replays.replayed(nameKey, h.nonce, now)) return; // a recorded HELLO sent again
    if (holder) {
      if (holder.addrKey !== key && now - holder.lastSeen <= this.config.sessionTimeoutMs) {
        if (auth.keys) {
          // Authenticated mode: whoever proves the secret is the user, and may take over its own session.
          this.takeOver(holder, now);
        } else {
          // Open mode: the same host may be the holder's own client started again; ask the holder first.
          const verdict = holder.addr.address === from.address ? this.probes.verdict(nameKey, holder.answeredAt, now) : 'held';
          // Asked again at each of the newcomer's tries: one lost PING or PONG does not cost a live holder its name.
          if (verdict === 'probe' || verdict === 'wait') return this.sendTo(holder, { kind: 'ping', sessionId: holder.id });
          if (verdict === 'held') {
            // The holder is active (it may have spoken a moment ago): what frees the name is silence this long.
            const secs = Math.ceil(this.config.sessionTimeoutMs / 1000);
            return this.refuse(
              h,
              from,
              RefuseCode.NameTaken,
              `the name ${h.name} is in use by a live ${roleName(h.role)} (free when it exits, or once it has been silent for ${secs} s)`,
            );
          }
          this.stats.namesReclaimed++;
          this.endSession(holder, 'replaced', now);
        }
      } else {
        this.endSession(holder, 'replaced', now);
      }
    }
    if (this.sessions.size >= this.config.sessionsMax) {
      return this.refuse(h, from, RefuseCode.TooManySessions, 'the server has too many sessions');
    }
    const common: SessionCommon = {
      id: this.newSessionId(),
      name: h.name,
      nameKey,
      addr: from,
      addrKey: key,
      lastSeen: now,
      ready: false,
      helloNonce: h.nonce,
      keys: auth.keys,
      ...(h.role === Role.Observer && { observer: true }),
      datagramBytes: isLoopback(from) ? Math.max(this.config.datagramBytes, this.config.loopbackDatagramBytes) : this.config.datagramBytes,
    };
    let s: Session;
    if (h.role === Role.Writer) {
      const old = this.byProducer.get(h.producerId);
      if (old) this.endSession(old, 'replaced', now);
      const w: WriterSession = { ...common, role: Role.Writer, producerId: h.producerId, committed: 0 };
      this.byProducer.set(h.producerId, w);
      s = w;
      this.claimThen(w, h, from, auth.keys !== undefined, () =>
        this.request({ op: 'producerSeq', producerId: h.producerId }, (ok, value) => {
          if (!ok) return this.openFailed(w, 'producerSeq', value);
          if (this.sessions.get(w.id) !== w) return;
          const lastSeq = (value as StoreResults['producerSeq']) ?? 0;
          const expected = Math.max(lastSeq + 1, h.nextSeq);
          w.ingest = new WriterIngest(expected, this.config.windowMax, this.config.maxMessageBytes);
          w.committed = expected - 1;
          this.open(w, expected, 0);
        }),
      );
    } else {
      const r: ReaderSession = {
        ...common,
        role: Role.Reader,
        position: 0,
        fetchDeadline: 0,
        reading: false,
      };
      s = r;
      if (h.role === Role.Observer) {
        this.open(r, 0, 0);
      } else if (h.group !== undefined) {
        const group = h.group;
        this.claimThen(r, h, from, auth.keys !== undefined, () => this.joinGroup(r, group, h.fromKind, h.fromId));
      } else {
        this.claimThen(r, h, from, auth.keys !== undefined, () =>
          this.request({ op: 'readerStart', name: h.name }, (ok, value) => {
            if (!ok) return this.openFailed(r, 'readerStart', value);
            if (this.sessions.get(r.id) !== r) return;
            const start = value as ReaderStart;
            let pos: number;
            if (h.fromKind === FromKind.Id) pos = h.fromId;
            else if (start.cursor !== undefined) pos = start.cursor;
            else pos = h.fromKind === FromKind.Earliest ? start.first : start.next;
            const missed = pos < start.first ? start.first - pos : 0;
            pos = Math.min(Math.max(pos, start.first), start.next);
            r.position = pos;
            this.logNext = Math.max(this.logNext, start.next);
            if (start.cursor !== pos) this.markCursor(r);
            this.open(r, pos, missed);
          }),
        );
      }
    }
    this.sessions.set(s.id, s);
    this.byName.set(nameKey, s);
    this.sweepAt ??= now + 1_000;
  }

  /**
   * Claims the session's name in the store (servers sharing a store see each other's names) before going
   * on. A name another client holds there is refused as a local one would be; a proven login takes it.
   */
  private claimThen(s: Session, h: Hello, from: Address, proven: boolean, next: () => void): void {
    const holder = this.claims.holder(s.addrKey);
    this.request({ op: 'claimName', key: s.nameKey, holder, ttlMs: this.claims.ttlMs, force: proven }, (ok, value, doneAt) => {
      if (this.sessions.get(s.id) !== s) return;
      const claim = value as StoreResults['claimName'];
      if (ok && !claim.ok) {
        this.discard(s);
        const secs = Math.ceil(this.config.sessionTimeoutMs / 1000);
        return this.refuse(
          h,
          from,
          RefuseCode.NameTaken,
          `the name ${h.name} is in use by a live ${roleName(h.role)} on another server (free when it exits, or once it has been silent for ${secs} s)`,
        );
      }
      // A store that failed to answer is reported by it; the session goes on with its local name only.
      if (ok) this.claims.claimed(s.nameKey, holder, doneAt);
      next();
    });
  }

  /** Renews this server's claims; sessions whose claim went elsewhere end (taken over, or long gone). */
  private renewClaims(now: number): void {
    const due = this.claims.due(now);
    if (due.length === 0) return;
    this.request({ op: 'renewNames', claims: due, ttlMs: this.claims.ttlMs }, (ok, value, doneAt) => {
      if (!ok) return this.events.push({ type: 'store-error', op: 'renewNames', error: value });
      const lost = value as StoreResults['renewNames'];
      this.claims.lost(lost);
      for (const key of lost) {
        const s = this.byName.get(key);
        if (!s) continue;
        if (s.keys) this.takeOver(s, doneAt);
        else this.endSession(s, 'replaced', doneAt);
      }
    });
  }

  /**
   * The store failed a request a session needs before it opens: forget the session, so that the client's
   * retransmitted HELLO starts a new one rather than waiting on this one until it expires.
   */
  private openFailed(s: Session, op: string, error: unknown): void {
    this.events.push({ type: 'store-error', op, error });
    this.endSession(s, 'expired', this.now);
  }

  /** Forgets a session that never opened. */
  private discard(s: Session): void {
    this.sessions.delete(s.id);
    if (this.byName.get(s.nameKey) === s) this.byName.delete(s.nameKey);
    if (s.role === Role.Writer && this.byProducer.get(s.producerId) === s) this.byProducer.delete(s.producerId);
  }

  private joinGroup(r: ReaderSession, name: string, fromKind: FromKind, fromId: number): void {
    const join = (g: QueueGroup<ReaderSession>, missed = 0): void => {
      r.group = g;
      g.members.add(r);
      this.open(r, g.next, missed);
    };
    const known = this.groups.get(name);
    if (known) return join(known);
    this.request({ op: 'readerStart', name: groupKey(name) }, (ok, value) => {
      if (!ok) return this.openFailed(r, 'readerStart', value);
      if (this.sessions.get(r.id) !== r) return;
      const start = value as ReaderStart;
      this.logNext = Math.max(this.logNext, start.next);
      let missed = 0;
      let g = this.groups.get(name);
      if (!g) {
        // A member coming back after a restart names where it stood: better than the end of the log.
        const asked = fromKind === FromKind.Earliest ? start.first : fromKind === FromKind.Id ? fromId : start.next;
        const from = start.cursor ?? asked;
        // Retention removed what the group had not taken: the member that brings the group back says so.
        missed = from < start.first ? start.first - from : 0;
        g = new QueueGroup<ReaderSession>(name, Math.min(Math.max(from, start.first), start.next));
        g.saved = start.cursor;
        this.groups.set(name, g);
        if (start.cursor === undefined) {
          // A new group is saved before its first member is welcomed: a server restarted before its first
          // lease still knows where the group starts (a member coming back knows only where it stood).
          const created = g;
          const at = g.next;
          return this.request({ op: 'saveCursors', cursors: new Map([[groupKey(name), at]]) }, (saved, error) => {
            if (!saved) return this.openFailed(r, 'saveCursors', error);
            created.saved ??= at;
            if (this.sessions.get(r.id) === r) join(created, missed);
          });
        }
      }
      join(g, missed);
    });
  }

  private open(s: Session, resume: number, missed: number): void {
    s.ready = true;
    s.welcome = this.seal(s, encode({
      kind: 'welcome',
      nonce: s.helloNonce,
      sessionId: s.id,
      maxMessageBytes: this.config.maxMessageBytes,
      maxDatagramBytes: s.datagramBytes,
      heartbeatMs: this.config.heartbeatMs,
      resume,
      missed,
    }));
    this.transmits.push({ to: s.addr, data: s.welcome });
    this.stats.sessionsOpened++;
    if (s.observer) return;
    const role = s.role === Role.Writer ? 'writer' : 'reader';
    this.events.push({ type: 'session-opened', role, name: s.name, addr: s.addr });
    this.saveClient(s, true, s.lastSeen);
  }

  private refuse(h: Hello, to: Address, code: RefuseCode, reason: string): void {
    this.stats.refused++;
    this.events.push({ type: 'refused', name: h.name, addr: to, reason });
    this.send(to, { kind: 'refuse', nonce: h.nonce, code, reason });
  }

  /**
   * The live session a datagram names, if it is genuine: from the session's own address (anything else
   * is ignored, not answered) and, in authenticated mode, with a right tag. Unknown ids are answered.
   */
  private session(
    id: bigint,
    data: Buffer,
    from: Address,
    now: number,
    unknownReply: 'unknown-session' | 'goodbye',
  ): Session | undefined {
    const s = this.sessions.get(id);
    if (!s) {
      const r = this.retired.get(id);
      if (r) {
        if (r.addrKey === addressKey(from) && verify(data, r.keys.toServer, this.config.mac)) {
          this.transmits.push({ to: from, data: seal(encode({ kind: 'goodbye', sessionId: id }), r.keys.toClient, this.config.mac) });
        }
        return undefined;
      }
      this.send(from, { kind: unknownReply, sessionId: id });
      return undefined;
    }
    if (s.addrKey !== addressKey(from)) return undefined;
    if (s.keys ? !verify(data, s.keys.toServer, this.config.mac) : isTagged(data)) {
      this.stats.forged++;
      return undefined;
    }
    if (!s.ready) return undefined;
    s.lastSeen = now;
    return s;
  }

  private onBye(s: Session, position: number, fetchId: number | undefined, now: number): void {
    if (s.role === Role.Reader && s.group) {
      s.group.leave(s, position, 0, fetchId);
      this.groupChanged(s.group);
      // As for a plain reader: the member hears GOODBYE once the group's place is saved, so that a
      // server crash after a `--count` consumer has exited does not hand its messages out again.
      if (this.dirtyCursors.has(groupKey(s.group.name))) {
        s.closing = true;
        this.cursorWaiters.push(s);
        this.flushCursors();
      }
    } else if (s.role === Role.Reader && position > 0 && !s.observer) {
      s.position = Math.min(Math.max(position, s.position), this.logNext);
      this.markCursor(s);
      s.closing = true;
      this.cursorWaiters.push(s);
      this.flushCursors();
    }
    this.endSession(s, 'bye', now);
    const saved = s.role === Role.Writer || !s.closing;
    this.left.set(s.id, { addr: s.addr, addrKey: s.addrKey, keys: s.keys, until: now + this.config.sessionTimeoutMs, saved });
    if (saved) this.sendTo(s, { kind: 'goodbye', sessionId: s.id });
  }

  /** A BYE again for a session that ended by BYE (its GOODBYE was lost): GOODBYE again, once saved. */
  private byeAgain(id: bigint, data: Buffer, from: Address): boolean {
    const l = this.left.get(id);
    if (!l) return false;
    const genuine = l.keys ? verify(data, l.keys.toServer, this.config.mac) : !isTagged(data);
    if (l.saved && genuine && l.addrKey === addressKey(from)) {
      const goodbye = encode({ kind: 'goodbye', sessionId: id });
      this.transmits.push({ to: l.addr, data: l.keys ? seal(goodbye, l.keys.toClient, this.config.mac) : goodbye });
    }
    return true;
  }

  /** The session's client is told, in its own keys, that a newer login of its user took over. */
  private takeOver(old: Session, now: number): void {
    this.endSession(old, 'taken-over', now);
    this.retired.set(old.id, { addrKey: old.addrKey, keys: old.keys!, until: now + this.config.sessionTimeoutMs });
    this.sendTo(old, { kind: 'goodbye', sessionId: old.id });
  }

  private endSession(s: Session, reason: CloseReason, now: number): void {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    const holder = this.claims.holder(s.addrKey);
    if (!s.observer && this.claims.release(s.nameKey, holder)) {
      this.request({ op: 'releaseName', key: s.nameKey, holder }, this.reportFailure('releaseName'));
    }
    if (this.byName.get(s.nameKey) === s) this.byName.delete(s.nameKey);
    if (s.role === Role.Writer) {
      if (this.byProducer.get(s.producerId) === s) this.byProducer.delete(s.producerId);
      this.appendQueue.delete(s);
    } else {
      this.unpark(s);
      if (s.group) {
        // Whatever it did not acknowledge goes to another member (a BYE has already given its position).
        s.group.leave(s, 0, 0);
        this.groupChanged(s.group);
      }
    }
    if (s.ready && !s.observer) {
      const role = s.role === Role.Writer ? 'writer' : 'reader';
      this.events.push({ type: 'session-closed', role, name: s.name, reason });
      if (reason !== 'replaced' && reason !== 'taken-over') this.saveClient(s, false, reason === 'expired' ? s.lastSeen : now);
    }
  }

  private saveClient(s: Session, online: boolean, lastSeen: number): void {
    const client: ClientRecord = { name: s.name, role: s.role === Role.Writer ? 'writer' : 'reader', online, lastSeen };
    this.presence.record(client);
    this.request({ op: 'saveClient', client }, this.reportFailure('saveClient'));
  }

  // ---- presence ----

  /** Changes since the asker's version when the journal still has them, else the registry page by page. */
  private onWho(s: Session, w: Who): void {
    const budget = s.datagramBytes - (s.keys ? TAG_BYTES : 0) - PRESENCE_HEADER_BYTES;
    const changes = w.since === 0 ? undefined : this.presence.since(w.since);
    if (changes) {
      const entries: PresenceEntry[] = [];
      let used = 0;
      let version = w.since;
      for (const c of changes) {
        const size = presenceEntryBytes(c.entry);
        if (used + size > budget && entries.length > 0) break;
        entries.push(c.entry);
        used += size;
        version = c.version;
      }
      const more = version !== this.presence.version;
      this.sendTo(s, { kind: 'presence', sessionId: s.id, requestId: w.requestId, version: more ? version : this.presence.version, full: false, more, nextOffset: 0, entries });
      return;
    }
    const version = this.presence.version;
    this.request({ op: 'clients' }, (ok, value) => {
      if (!ok || this.sessions.get(s.id) !== s) return;
      const all = (value as ClientRecord[]).sort((a, b) => (a.name === b.name ? a.role.localeCompare(b.role) : a.name < b.name ? -1 : 1));
      const entries: PresenceEntry[] = [];
      let used = 0;
      let i = Math.min(w.offset, all.length);
      for (; i < all.length; i++) {
        const size = presenceEntryBytes(all[i]!);
        if (used + size > budget && entries.length > 0) break;
        entries.push(all[i]!);
        used += size;
      }
      this.sendTo(s, { kind: 'presence', sessionId: s.id, requestId: w.requestId, version, full: true, more: i < all.length, nextOffset: i, entries });
    });
  }

  // ---- writers ----

  private onData(s: WriterSession, d: Data, now: number): void {
    const ingest = s.ingest!;
    if (this.config.messagesPerSecond > 0 && ingest.isNew(d.seq) && !this.withinRate(s, d, now)) return;
    const verdict = ingest.accept(d.seq, d.entries);
    if (verdict === 'accepted') {
      this.appendQueue.add(s);
      this.startAppend(s.lastSeen);
    } else if (verdict === 'duplicate' || verdict === 'buffered') {
      this.sendAck(s);
    } else {
      this.stats.malformed++;
    }
  }

  /** Charges the datagram's messages to the writer's rate; over it, the datagram is dropped and the writer told. */
  private withinRate(s: WriterSession, d: Data, now: number): boolean {
    const rate = this.config.messagesPerSecond;
    s.bucket ??= new TokenBucket(rate, now);
    let lines = 0;
    for (const e of d.entries) if (!e.more) lines++;
    if (s.bucket.take(lines, now)) return true;
    this.stats.throttled++;
    if (s.throttledAt === undefined || now - s.throttledAt >= THROTTLE_SIGNAL_MS) {
      s.throttledAt = now;
      this.sendTo(s, { kind: 'throttle', sessionId: s.id, limit: rate, retryAfterMs: s.bucket.waitMs(now) });
    }
    return false;
  }

  private sendAck(s: WriterSession): void {
    const ingest = s.ingest!;
    // Deferrable: after a commit, the replies to the readers waiting for these lines go first.
    this.sendTo(
      s,
      { kind: 'ack', sessionId: s.id, received: ingest.received, committed: s.committed, sacks: ingest.sacks() },
      true,
    );
  }

  /** Group commit: one append at a time; what arrives meanwhile goes into the next one. */
  private startAppend(now: number): void {
    if (this.appendInFlight || this.appendQueue.size === 0) return;
    if (this.appendRetryAt !== undefined && now < this.appendRetryAt) return;
    this.appendRetryAt = undefined;
    const writers = [...this.appendQueue];
    this.appendQueue.clear();
    const batches: ProducerBatch[] = [];
    const ts = Math.floor(now);
    for (const w of writers) {
      const { lines, lastSeq } = w.ingest!.drain();
      const messages: NewMessage[] = lines.map((l) =>
        l.to === undefined ? { ts, from: w.name, text: l.text } : { ts, from: w.name, to: l.to, text: l.text },
      );
      batches.push({ producerId: w.producerId, afterSeq: w.committed, lastSeq, messages });
    }
    this.appendInFlight = true;
    this.request({ op: 'append', batches }, (ok, value, doneAt) => {
      this.appendInFlight = false;
      if (!ok) return this.appendFailed(writers, batches, value, doneAt);
      const firstIds = value as StoreResults['append'];
      let stored = 0;
      writers.forEach((w, i) => {
        const batch = batches[i]!;
        const firstId = firstIds[i]!;
        if (firstId === null) {
          // Another server stored lines of this writer meanwhile (it moved, or this server was cut off):
          // this session's view is stale. Ended, the writer registers again and learns where it stands.
          if (this.sessions.get(w.id) === w) this.endSession(w, 'superseded', doneAt);
          return;
        }
        stored += batch.messages.length;
        this.logNext = Math.max(this.logNext, firstId + batch.messages.length);
        if (this.sessions.get(w.id) !== w) return;
        w.committed = Math.max(w.committed, batch.lastSeq);
        this.sendAck(w);
      });
      this.stats.messagesStored += stored;
      this.stats.appends++;
      if (stored > 0) this.wakeReaders();
      this.startAppend(doneAt);
    });
  }

  /**
   * The store could not take the lines (disk full, store away): nothing is acknowledged. The lines stay
   * here, first in line, and go again after a pause; their writers are told why and keep theirs (an
   * append that was applied after all is recognised then by its writer's sequence number).
   */
  private appendFailed(writers: WriterSession[], batches: ProducerBatch[], error: unknown, now: number): void {
    this.events.push({ type: 'store-error', op: 'append', error });
    const reason = storeFailureReason(error);
    writers.forEach((w, i) => {
      if (this.sessions.get(w.id) !== w) return;
      w.ingest!.giveBack(batches[i]!.messages.map((m) => (m.to === undefined ? { text: m.text } : { to: m.to, text: m.text })));
      this.appendQueue.add(w);
      // Once per failed append: appends are tried again only after APPEND_RETRY_MS.
      this.sendTo(w, { kind: 'stalled', sessionId: w.id, retryAfterMs: APPEND_RETRY_MS, reason });
    });
    this.appendRetryAt = now + APPEND_RETRY_MS;
  }

  // ---- readers ----

  private onFetch(s: ReaderSession, f: Fetch, now: number): void {
    if (s.observer) return;
    if (s.fetch && s.fetch.fetchId === f.fetchId) {
      // A repeat of the fetch we hold (parked, being read, or waiting for its group's lease read): say we
      // are alive, so the reader can tell a held poll from an outage.
      this.sendTo(s, { kind: 'pong', sessionId: s.id });
      return;
    }
    if (s.group) return this.onGroupFetch(s, f, now);
    const position = Math.min(f.position, Math.max(this.logNext, s.position));
    if (position > s.position) {
      s.position = position;
      this.markCursor(s);
    }
    s.fetch = { ...f, position, offset: position === f.position ? f.offset : 0 };
    s.fetchDeadline = now + f.waitMs;
    this.unpark(s);
    this.read(s);
  }

  /** A reader printed everything before `position` while its reply was still arriving: keep it. */
  private confirmed(s: ReaderSession, position: number): void {
    if (s.group || s.observer || position <= s.position || position > this.logNext) return;
    s.position = position;
    this.markCursor(s);
  }

  private read(s: ReaderSession): void {
    if (s.reading || !s.fetch) return;
    const f = s.fetch;
    s.reading = true;
    const limits = this.replyLimits(s, f, s.name);
    this.request({ op: 'read', from: f.position, limits }, (ok, value, doneAt) => {
      s.reading = false;
      if (!ok) return this.readFailed(s, value);
      if (this.sessions.get(s.id) !== s) return;
      if (s.fetch !== f) return this.read(s); // a newer fetch arrived meanwhile
      const result = value as ReadResult;
      this.logNext = Math.max(this.logNext, result.next);
      // Wait only when the read reached the end with nothing for this reader; a read that stopped at the
      // scan limit (a long run of messages for others) is answered at once, so the reader moves past them.
      if (result.messages.length === 0 && result.atEnd && doneAt < s.fetchDeadline && result.first <= f.position) {
        // Messages were committed while we read: read again before waiting.
        if (this.logNext > result.next) return this.read(s);
        this.park(s);
        return;
      }
      this.reply(s, f, result);
    });
  }

  private reply(s: ReaderSession, f: Fetch, result: ReadResult, seek = false): void {
    const parts = buildReply(
      {
        sessionId: s.id,
        fetchId: f.fetchId,
        position: f.position,
        offset: f.offset,
        maxDatagrams: Math.min(f.maxDatagrams, FETCH_DATAGRAMS_MAX),
        datagramBytes: s.datagramBytes - (s.keys ? TAG_BYTES : 0),
      },
      result,
    );
    if (seek && parts[0]) parts[0].seek = true;
    for (const p of parts) this.sendTo(s, p);
    s.fetch = undefined;
  }

  private replyEmpty(s: ReaderSession): void {
    const f = s.fetch;
    if (!f) return;
    const missed = s.group?.takeMissed() ?? 0;
    this.reply(s, f, { messages: [], next: f.position, first: f.position + missed, atEnd: true });
  }

  /** After a commit: parked polls behind the new end read again (reads in flight notice by themselves). */
  private wakeReaders(): void {
    for (const s of [...this.parked]) {
      if (!s.fetch) continue;
      if (s.group ? s.group.hasWork(this.logNext) : s.fetch.position < this.logNext) {
        this.unpark(s);
        if (s.group) this.grantLease(s);
        else this.read(s);
      }
    }
  }

  // ---- queue groups ----

  /** A member's new fetch: acknowledges what it took of its lease; the rest is sent again, or a new lease. */
  private onGroupFetch(s: ReaderSession, f: Fetch, now: number): void {
    const g = s.group!;
    s.fetch = f;
    s.fetchDeadline = now + f.waitMs;
    this.unpark(s);
    const lease = g.lease(s);
    if (lease && lease.fetchId !== f.fetchId && g.advance(s, f.position, f.offset, f.fetchId) === 'done') {
      this.groupChanged(g);
      return this.grantLease(s);
    }
    const held = g.lease(s);
    if (held) {
      this.groupChanged(g);
      return this.readLease(s, f, held);
    }
    this.grantLease(s);
  }

  /** Reads the group's next stretch for this member: one lease read at a time per group. */
  private grantLease(s: ReaderSession): void {
    const g = s.group!;
    const f = s.fetch;
    if (!f) return;
    if (g.granting) {
      g.waiting.add(s);
      return;
    }
    const span = g.nextSpan(this.logNext);
    if (!span) return this.idleMember(s);
    g.granting = true;
    // A backlog is shared out: no member is leased more than its share of what is waiting.
    const share = Math.ceil((this.logNext - span.start) / Math.max(1, g.members.size));
    const limits = { ...this.leaseLimits(s, g, f), maxMessages: Math.min(LEASE_MESSAGES_MAX, Math.max(1, share)) };
    this.request({ op: 'read', from: span.start, limits }, (ok, value) => {
      g.granting = false;
      if (ok && this.sessions.get(s.id) === s && s.fetch === f) {
        const result = value as ReadResult;
        this.logNext = Math.max(this.logNext, result.next);
        const messages = result.messages.filter((m) => m.id < span.end);
        const end = messages.length < result.messages.length ? span.end : Math.min(result.next, span.end);
        g.missed(Math.min(result.first, end) - span.start);
        if (messages.length === 0) {
          g.skip(span, end);
          this.groupChanged(g);
          if (g.hasWork(this.logNext) && end > span.start) this.grantLease(s);
          else this.idleMember(s);
        } else {
          const lease = g.grant(s, span, end, f.fetchId, f.position);
          this.groupChanged(g);
          this.replyLease(s, f, lease, { messages, next: end, atEnd: !g.hasWork(this.logNext) }, g.takeMissed());
        }
      } else if (!ok) {
        this.readFailed(s, value);
      }
      const next = g.waiting.values().next();
      if (!next.done) {
        g.waiting.delete(next.value);
        this.grantLease(next.value);
      }
    });
  }

  /** The member's lease again (its reply was lost, or part of it), from where the member stands in it. */
  private readLease(s: ReaderSession, f: Fetch, lease: Lease): void {
    const g = s.group!;
    this.request({ op: 'read', from: lease.start, limits: this.leaseLimits(s, g, f) }, (ok, value) => {
      if (!ok) return this.readFailed(s, value);
      // A member that ended meanwhile has left the group, and holds no lease.
      if (s.fetch !== f || g.lease(s) !== lease) return;
      const result = value as ReadResult;
      const messages = result.messages.filter((m) => m.id < lease.end);
      // Nothing said of a gap: what retention removed since the lease was given may have reached the member.
      this.replyLease(s, f, lease, { messages, next: lease.end, atEnd: !g.hasWork(this.logNext) }, 0);
    });
  }

  private leaseLimits(s: ReaderSession, g: QueueGroup<ReaderSession>, f: Fetch): ReadLimits {
    return { ...this.replyLimits(s, f, g.name), maxMessages: LEASE_MESSAGES_MAX };
  }

  /** As much as one reply to `f` carries: reading more is work thrown away, reading less costs round trips. */
  private replyLimits(s: ReaderSession, f: Fetch, user: string): ReadLimits {
    const maxDatagrams = Math.min(f.maxDatagrams, FETCH_DATAGRAMS_MAX);
    return {
      maxMessages: maxDatagrams * ENTRIES_PER_PACKET_MAX,
      maxBytes: maxDatagrams * (s.datagramBytes - BATCH_HEADER_BYTES),
      framingBytes: BATCH_MESSAGE_FRAMING_BYTES,
      user,
    };
  }

  /** Nothing to lease: hold the poll until there is, or answer empty. */
  private idleMember(s: ReaderSession): void {
    if (!s.fetch) return;
    if (this.now < s.fetchDeadline) this.park(s);
    else this.replyEmpty(s);
  }

  /** The member is told of `missed` messages retention removed before the group took them. */
  private replyLease(s: ReaderSession, f: Fetch, lease: Span, result: Omit<ReadResult, 'first'>, missed: number): void {
    const seek = lease.start !== f.position || lease.offset !== f.offset;
    this.reply(s, { ...f, position: lease.start, offset: lease.offset }, { ...result, first: lease.start + missed }, seek);
  }

  /** The group's position moved: save it (its oldest unfinished id) and let idle members look. */
  private groupChanged(g: QueueGroup<ReaderSession>): void {
    const low = g.lowWater;
    const pending = this.dirtyCursors.get(groupKey(g.name));
    if (pending === undefined ? g.saved !== low : pending !== low) {
      this.dirtyCursors.set(groupKey(g.name), low);
      this.cursorFlushAt ??= this.now + this.config.cursorFlushMs;
    }
    for (const m of g.members) if (this.parked.has(m) && g.hasWork(this.logNext)) {
      this.unpark(m);
      this.grantLease(m);
    }
  }

  /**
   * A read failed (the store is away): forget the session's fetch, this one or a newer one that waited on
   * it, so that the reader's retransmission is read again rather than taken for a repeat of a fetch in hand.
   * Pull-based recovery: nothing to undo.
   */
  /** Reported whether or not the session is still there: the store failed all the same. */
  private readFailed(s: ReaderSession, error: unknown): void {
    this.events.push({ type: 'store-error', op: 'read', error });
    s.fetch = undefined;
    this.unpark(s);
  }

  private park(s: ReaderSession): void {
    s.parkedUntil = s.fetchDeadline;
    this.parked.add(s);
  }

  private unpark(s: ReaderSession): void {
    s.parkedUntil = undefined;
    this.parked.delete(s);
  }

  private markCursor(s: ReaderSession): void {
    this.dirtyCursors.set(s.name, s.position);
    this.cursorFlushAt ??= s.lastSeen + this.config.cursorFlushMs;
  }

  private flushCursors(): void {
    if (this.cursorsInFlight || this.dirtyCursors.size === 0) {
      // Nothing to save, or a save in flight, which saves what is dirty by then as it finishes: no timer
      // (one left in the past would fire again and again while a slow store works).
      this.cursorFlushAt = undefined;
      return;
    }
    const cursors = new Map(this.dirtyCursors);
    this.dirtyCursors.clear();
    this.cursorFlushAt = undefined;
    this.cursorsInFlight = true;
    const waiters = this.cursorWaiters.splice(0);
    this.request({ op: 'saveCursors', cursors }, (ok, value, doneAt) => {
      this.cursorsInFlight = false;
      if (!ok) {
        // Not saved: tried again after the flush interval (not at once: a store that is away fails fast),
        // unless a newer position came meanwhile; those who said goodbye wait for that save.
        this.events.push({ type: 'store-error', op: 'saveCursors', error: value });
        for (const [name, position] of cursors) if (!this.dirtyCursors.has(name)) this.dirtyCursors.set(name, position);
        this.cursorWaiters.unshift(...waiters);
        this.cursorFlushAt = doneAt + this.config.cursorFlushMs;
        return;
      }
      for (const [key, position] of cursors) {
        const g = key.startsWith(GROUP_KEY_PREFIX) ? this.groups.get(key.slice(GROUP_KEY_PREFIX.length)) : undefined;
        if (g) g.saved = position;
      }
      // A reader that said goodbye learns its position is saved only once it is.
      for (const w of waiters) {
        const l = this.left.get(w.id);
        if (l) l.saved = true;
        this.sendTo(w, { kind: 'goodbye', sessionId: w.id });
      }
      if (this.dirtyCursors.size > 0) this.flushCursors();
    });
  }

  // ---- plumbing ----

  private request(req: StoreRequest, then: Continuation): void {
    const id = this.nextRequestId++;
    this.continuations.set(id, then);
    this.requests.push({ id, req });
  }

  private reportFailure(op: string): Continuation {
    return (ok, value) => {
      if (!ok) this.events.push({ type: 'store-error', op, error: value });
    };
  }

  private send(to: Address, p: Packet): void {
    this.transmits.push({ to, data: encode(p) });
  }

  /** To a session's client: tagged with the session's key in authenticated mode. */
  private sendTo(s: Session, p: Packet, deferrable = false): void {
    const data = this.seal(s, encode(p));
    this.transmits.push(deferrable ? { to: s.addr, data, deferrable } : { to: s.addr, data });
  }

  private seal(s: Session, datagram: Buffer): Buffer {
    return s.keys ? seal(datagram, s.keys.toClient, this.config.mac) : datagram;
  }

  private newSessionId(): bigint {
    for (;;) {
      const id = this.config.randomId();
      if (id !== 0n && !this.sessions.has(id)) return id;
    }
  }
}
