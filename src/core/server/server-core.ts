import { addressKey, type Address, type Transmit } from '../address.js';
import { earliest } from '../deadline.js';
import { decode, encode } from '../../protocol/codec.js';
import { FETCH_DATAGRAMS_MAX, FromKind, RefuseCode, Role, roleName } from '../../protocol/constants.js';
import { ProtocolError } from '../../protocol/errors.js';
import { isValidName, NAME_RULE } from '../../protocol/names.js';
import type { Bye, Data, Fetch, Hello, Packet } from '../../protocol/packets.js';
import type { NewMessage, ProducerBatch, ReadResult } from '../../store/store.js';
import type { ReaderStart, StoreRequest, StoreResults } from '../../store/store-request.js';
import { AddressCookies } from './address-cookies.js';
import { buildReply } from './reply-builder.js';
import { WriterIngest } from './writer-ingest.js';

export interface ServerConfig {
  maxMessageBytes: number;
  datagramBytes: number;
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
  /** A keyed MAC (HMAC-SHA256 in production); the first COOKIE_BYTES of it make a cookie. */
  mac: (key: Buffer, data: Buffer) => Buffer;
}


export const SERVER_DEFAULTS: Omit<ServerConfig, 'randomId' | 'randomKey' | 'mac'> = {
  maxMessageBytes: 1024 * 1024,
  datagramBytes: 1200,
  heartbeatMs: 5_000,
  sessionTimeoutMs: 30_000,
  windowMax: 1024,
  sessionsMax: 100_000,
  cursorFlushMs: 50,
};

interface SessionCommon {
  id: bigint;
  name: string;
  addr: Address;
  addrKey: string;
  lastSeen: number;
  ready: boolean;
  helloNonce: number;
  welcome?: Buffer;
}

interface WriterSession extends SessionCommon {
  role: typeof Role.Writer;
  producerId: bigint;
  ingest?: WriterIngest;
  committed: number;
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
  closing?: Bye;
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
  refused: number;
  /** HELLOs answered with a cookie rather than a session. */
  retries: number;
}

export type ServerEvent =
  | { type: 'session-opened'; role: 'writer' | 'reader'; name: string; addr: Address }
  | { type: 'session-closed'; role: 'writer' | 'reader'; name: string; reason: 'bye' | 'expired' | 'replaced' }
  | { type: 'refused'; name: string; addr: Address; reason: string }
  | { type: 'store-error'; op: string; error: unknown };

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
    refused: 0,
    retries: 0,
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
  private readonly appendQueue = new Set<WriterSession>();
  private readonly dirtyCursors = new Map<string, number>();
  private cursorFlushAt: number | undefined;
  private cursorsInFlight = false;
  private readonly cursorWaiters: ReaderSession[] = [];
  private sweepAt: number | undefined;
  private logNext = 0;
  private readonly cookies: AddressCookies;

  constructor(private readonly config: ServerConfig) {
    this.cookies = new AddressCookies(config.randomKey, config.mac);
  }

  // ---- inputs ----

  handleDatagram(data: Buffer, from: Address, now: number): void {
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
      case 'data':
        return this.withSession(packet.sessionId, from, now, (s) => {
          if (s.role === Role.Writer) this.onData(s, packet);
        });
      case 'fetch':
        return this.withSession(packet.sessionId, from, now, (s) => {
          if (s.role === Role.Reader) this.onFetch(s, packet, now);
        });
      case 'ping':
        return this.withSession(packet.sessionId, from, now, (s) => {
          this.send(s.addr, { kind: 'pong', sessionId: s.id });
        });
      case 'bye':
        return this.onBye(packet, from, now);
      default:
        // Packets only a server sends: a confused or hostile peer.
        this.stats.malformed++;
    }
  }

  handleTimeout(now: number): void {
    if (this.sweepAt !== undefined && now >= this.sweepAt) {
      this.sweepAt = this.sessions.size > 0 ? now + 1_000 : undefined;
      for (const s of this.sessions.values()) {
        if (now - s.lastSeen > this.config.sessionTimeoutMs) {
          this.stats.sessionsExpired++;
          this.endSession(s, 'expired', now);
        }
      }
    }
    for (const s of [...this.parked]) {
      if (now >= s.parkedUntil!) {
        this.unpark(s);
        this.replyEmpty(s);
      }
    }
    if (this.cursorFlushAt !== undefined && now >= this.cursorFlushAt) this.flushCursors();
  }

  handleStoreResult(id: number, ok: boolean, value: unknown, now: number): void {
    const k = this.continuations.get(id);
    if (!k) throw new Error(`no store request ${id}`);
    this.continuations.delete(id);
    k(ok, value, now);
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
    return earliest(this.sweepAt, parked, this.cursorFlushAt);
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
    if (!isValidName(h.name)) return this.refuse(h, from, RefuseCode.BadName, `bad name: use ${NAME_RULE}`);
    const nameKey = `${h.role}:${h.name}`;
    const holder = this.byName.get(nameKey);
    if (holder) {
      if (holder.addrKey !== key && now - holder.lastSeen <= this.config.sessionTimeoutMs) {
        const secs = Math.ceil((holder.lastSeen + this.config.sessionTimeoutMs - now) / 1000);
        return this.refuse(
          h,
          from,
          RefuseCode.NameTaken,
          `the name ${h.name} is in use by a live ${roleName(h.role)} (free when it exits, or after ${secs} s of silence)`,
        );
      }
      if (holder.addrKey === key && holder.helloNonce === h.nonce) {
        // A retransmitted hello: answer again once ready.
        if (holder.welcome) this.transmits.push({ to: from, data: holder.welcome });
        return;
      }
      this.endSession(holder, 'replaced', now);
    }
    if (this.sessions.size >= this.config.sessionsMax) {
      return this.refuse(h, from, RefuseCode.TooManySessions, 'the server has too many sessions');
    }
    const common: SessionCommon = {
      id: this.newSessionId(),
      name: h.name,
      addr: from,
      addrKey: key,
      lastSeen: now,
      ready: false,
      helloNonce: h.nonce,
    };
    let s: Session;
    if (h.role === Role.Writer) {
      const old = this.byProducer.get(h.producerId);
      if (old) this.endSession(old, 'replaced', now);
      const w: WriterSession = { ...common, role: Role.Writer, producerId: h.producerId, committed: 0 };
      this.byProducer.set(h.producerId, w);
      s = w;
      this.request({ op: 'producerSeq', producerId: h.producerId }, (ok, value) => {
        if (!ok || this.sessions.get(w.id) !== w) return;
        const lastSeq = (value as StoreResults['producerSeq']) ?? 0;
        const expected = Math.max(lastSeq + 1, h.nextSeq);
        w.ingest = new WriterIngest(expected, this.config.windowMax, this.config.maxMessageBytes);
        w.committed = expected - 1;
        this.open(w, expected, 0);
      });
    } else {
      const r: ReaderSession = {
        ...common,
        role: Role.Reader,
        position: 0,
        fetchDeadline: 0,
        reading: false,
      };
      s = r;
      this.request({ op: 'readerStart', name: h.name }, (ok, value) => {
        if (!ok || this.sessions.get(r.id) !== r) return;
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
      });
    }
    this.sessions.set(s.id, s);
    this.byName.set(nameKey, s);
    this.sweepAt ??= now + 1_000;
  }

  private open(s: Session, resume: number, missed: number): void {
    s.ready = true;
    s.welcome = encode({
      kind: 'welcome',
      nonce: s.helloNonce,
      sessionId: s.id,
      maxMessageBytes: this.config.maxMessageBytes,
      maxDatagramBytes: this.config.datagramBytes,
      heartbeatMs: this.config.heartbeatMs,
      resume,
      missed,
    });
    this.transmits.push({ to: s.addr, data: s.welcome });
    this.stats.sessionsOpened++;
    const role = s.role === Role.Writer ? 'writer' : 'reader';
    this.events.push({ type: 'session-opened', role, name: s.name, addr: s.addr });
    this.saveClient(s, true, s.lastSeen);
  }

  private refuse(h: Hello, to: Address, code: RefuseCode, reason: string): void {
    this.stats.refused++;
    this.events.push({ type: 'refused', name: h.name, addr: to, reason });
    this.send(to, { kind: 'refuse', nonce: h.nonce, code, reason });
  }

  private withSession(id: bigint, from: Address, now: number, fn: (s: Session) => void): void {
    const s = this.sessions.get(id);
    if (!s) {
      this.send(from, { kind: 'unknown-session', sessionId: id });
      return;
    }
    // A session's traffic comes from its own address; anything else is ignored, not answered.
    if (s.addrKey !== addressKey(from)) return;
    if (!s.ready) return;
    s.lastSeen = now;
    fn(s);
  }

  private onBye(b: Bye, from: Address, now: number): void {
    const s = this.sessions.get(b.sessionId);
    if (!s) {
      this.send(from, { kind: 'goodbye', sessionId: b.sessionId });
      return;
    }
    if (s.addrKey !== addressKey(from) || !s.ready) return;
    if (s.role === Role.Reader && b.position > 0) {
      s.position = Math.min(Math.max(b.position, s.position), this.logNext);
      this.markCursor(s);
      s.closing = b;
      this.cursorWaiters.push(s);
      this.flushCursors();
    }
    this.endSession(s, 'bye', now);
    if (s.role === Role.Writer || !s.closing) this.send(from, { kind: 'goodbye', sessionId: b.sessionId });
  }

  private endSession(s: Session, reason: 'bye' | 'expired' | 'replaced', now: number): void {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    const nameKey = `${s.role}:${s.name}`;
    if (this.byName.get(nameKey) === s) this.byName.delete(nameKey);
    if (s.role === Role.Writer) {
      if (this.byProducer.get(s.producerId) === s) this.byProducer.delete(s.producerId);
      this.appendQueue.delete(s);
    } else {
      this.unpark(s);
    }
    if (s.ready) {
      const role = s.role === Role.Writer ? 'writer' : 'reader';
      this.events.push({ type: 'session-closed', role, name: s.name, reason });
      if (reason !== 'replaced') this.saveClient(s, false, reason === 'expired' ? s.lastSeen : now);
    }
  }

  private saveClient(s: Session, online: boolean, lastSeen: number): void {
    const role = s.role === Role.Writer ? 'writer' : 'reader';
    this.request({ op: 'saveClient', client: { name: s.name, role, online, lastSeen } }, this.reportFailure('saveClient'));
  }

  // ---- writers ----

  private onData(s: WriterSession, d: Data): void {
    const ingest = s.ingest!;
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

  private sendAck(s: WriterSession): void {
    const ingest = s.ingest!;
    this.send(s.addr, {
      kind: 'ack',
      sessionId: s.id,
      received: ingest.received,
      committed: s.committed,
      sacks: ingest.sacks(),
    });
  }

  /** Group commit: one append at a time; what arrives meanwhile goes into the next one. */
  private startAppend(now: number): void {
    if (this.appendInFlight || this.appendQueue.size === 0) return;
    const writers = [...this.appendQueue];
    this.appendQueue.clear();
    const batches: ProducerBatch[] = [];
    const ts = Math.floor(now);
    for (const w of writers) {
      const { lines, lastSeq } = w.ingest!.drain();
      const messages: NewMessage[] = lines.map((l) =>
        l.to === undefined ? { ts, from: w.name, text: l.text } : { ts, from: w.name, to: l.to, text: l.text },
      );
      batches.push({ producerId: w.producerId, lastSeq, messages });
    }
    this.appendInFlight = true;
    this.request({ op: 'append', batches }, (ok, value, doneAt) => {
      this.appendInFlight = false;
      if (!ok) {
        // Nothing is acknowledged; the writers' retransmissions will be ignored as duplicates
        // only if stored, so put the sessions' data back by asking them to resend: end them.
        this.events.push({ type: 'store-error', op: 'append', error: value });
        for (const w of writers) this.endSession(w, 'expired', doneAt);
        return;
      }
      const firstIds = value as StoreResults['append'];
      let stored = 0;
      writers.forEach((w, i) => {
        const batch = batches[i]!;
        stored += batch.messages.length;
        this.logNext = Math.max(this.logNext, firstIds[i]! + batch.messages.length);
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

  // ---- readers ----

  private onFetch(s: ReaderSession, f: Fetch, now: number): void {
    if (s.fetch && s.fetch.fetchId === f.fetchId) {
      // A repeat of the fetch we hold: say we are alive, so the reader can tell a held poll from an outage.
      if (s.parkedUntil !== undefined) this.send(s.addr, { kind: 'pong', sessionId: s.id });
      return;
    }
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

  private read(s: ReaderSession): void {
    if (s.reading || !s.fetch) return;
    const f = s.fetch;
    s.reading = true;
    const maxDatagrams = Math.min(f.maxDatagrams, FETCH_DATAGRAMS_MAX);
    const limits = {
      maxMessages: maxDatagrams * 256,
      maxBytes: maxDatagrams * this.config.datagramBytes,
      user: s.name,
    };
    this.request({ op: 'read', from: f.position, limits }, (ok, value, doneAt) => {
      s.reading = false;
      if (this.sessions.get(s.id) !== s) return;
      if (!ok) {
        this.events.push({ type: 'store-error', op: 'read', error: value });
        return;
      }
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

  private reply(s: ReaderSession, f: Fetch, result: ReadResult): void {
    const parts = buildReply(
      {
        sessionId: s.id,
        fetchId: f.fetchId,
        position: f.position,
        offset: f.offset,
        maxDatagrams: Math.min(f.maxDatagrams, FETCH_DATAGRAMS_MAX),
        datagramBytes: this.config.datagramBytes,
      },
      result,
    );
    for (const p of parts) this.send(s.addr, p);
    s.fetch = undefined;
  }

  private replyEmpty(s: ReaderSession): void {
    const f = s.fetch;
    if (!f) return;
    this.reply(s, f, { messages: [], next: f.position, first: f.position, atEnd: true });
  }

  /** After a commit: parked polls behind the new end read again (reads in flight notice by themselves). */
  private wakeReaders(): void {
    for (const s of [...this.parked]) {
      if (s.fetch && s.fetch.position < this.logNext) {
        this.unpark(s);
        this.read(s);
      }
    }
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
      if (this.dirtyCursors.size === 0) this.cursorFlushAt = undefined;
      return;
    }
    const cursors = new Map(this.dirtyCursors);
    this.dirtyCursors.clear();
    this.cursorFlushAt = undefined;
    this.cursorsInFlight = true;
    const waiters = this.cursorWaiters.splice(0);
    this.request({ op: 'saveCursors', cursors }, (ok, value) => {
      this.cursorsInFlight = false;
      if (!ok) this.events.push({ type: 'store-error', op: 'saveCursors', error: value });
      // A reader that said goodbye learns its position is saved only once it is.
      for (const w of waiters) this.send(w.addr, { kind: 'goodbye', sessionId: w.id });
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

  private newSessionId(): bigint {
    for (;;) {
      const id = this.config.randomId();
      if (id !== 0n && !this.sessions.has(id)) return id;
    }
  }
}
