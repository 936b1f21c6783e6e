import type { Address } from '../address.js';
import { Role } from '../../protocol/constants.js';
import type { NkResponder } from '../../protocol/noise.js';
import type { SessionCipher } from '../session-cipher.js';
import type { Fetch } from '../../protocol/packets.js';
import type { QueueGroup } from './queue-group.js';
import type { TokenBucket } from './rate-limits.js';
import type { WriterIngest } from './writer-ingest.js';

export interface SessionCommon {
  id: bigint;
  name: string;
  /** Its entry in the name index: role and name (an observer holds no name: its address stands in). */
  nameKey: string;
  /** The topic it writes to or reads: each topic is a log of its own. */
  topic: string;
  addr: Address;
  addrKey: string;
  lastSeen: number;
  ready: boolean;
  helloNonce: number;
  welcome?: Buffer;
  /** An encrypted session's handshake, until its WELCOME is written. */
  responder?: NkResponder | undefined;
  /** An encrypted session's keys, from its WELCOME on. */
  cipher?: SessionCipher | undefined;
  /** Authenticated mode: its user proved the secret (and may take over its own sessions). */
  proven: boolean;
  /** Reads the registry and nothing else: holds no name, is not in the registry. */
  observer?: boolean;
  /** A reader left out of the registry (HELLO flag): holds its name, but its coming and going is not recorded. */
  unlisted?: boolean;
  /** Largest datagram to and from this client, sealing included. */
  datagramBytes: number;
  /** When its client last answered the server's PING (see NameProbes). */
  answeredAt?: number;
}

export interface WriterSession extends SessionCommon {
  role: typeof Role.Writer;
  producerId: bigint;
  ingest?: WriterIngest;
  committed: number;
  /** Messages stored from this session. */
  stored: number;
  bucket?: TokenBucket;
  throttledAt?: number;
}

export interface ReaderSession extends SessionCommon {
  role: typeof Role.Reader;
  position: number;
  /** The newest fetch: being read, or parked until messages arrive or it expires. */
  fetch?: Fetch | undefined;
  /** When the newest fetch must be answered, messages or not. */
  fetchDeadline: number;
  /** The highest fetch id the reader has sent: an older fetch arriving late (a resend overtaken on the way) is stale. */
  newestFetchId?: number;
  parkedUntil?: number | undefined;
  reading: boolean;
  closing?: boolean;
  /** A member of a queue group: reads the group's leases instead of the log from its own position. */
  group?: QueueGroup<ReaderSession> | undefined;
}

export type Session = WriterSession | ReaderSession;

/** A session taken over by a newer login of its user: its client is told so, in its own keys, for a while. */
export interface Retired {
  addrKey: string;
  cipher: SessionCipher | undefined;
  until: number;
}

/** A session ended by its client's BYE, remembered for a session timeout so that a repeated BYE gets GOODBYE. */
export interface Left {
  addr: Address;
  addrKey: string;
  cipher: SessionCipher | undefined;
  until: number;
  /** Its final position is saved (GOODBYE was sent); until then a repeated BYE is not answered. */
  saved: boolean;
}

/** Every session the server holds, by id, by name and by writer; and those that ended lately. */
export class SessionTable {
  readonly byId = new Map<bigint, Session>();
  readonly byName = new Map<string, Session>();
  readonly byProducer = new Map<bigint, WriterSession>();
  readonly retired = new Map<bigint, Retired>();
  readonly left = new Map<bigint, Left>();
  /** Live sessions per client (role and name): one reader may hold one in each of several topics. */
  private readonly perClient = new Map<string, number>();

  get size(): number {
    return this.byId.size;
  }

  /** Still the session its id names: a store answer or a timer may come after it ended. */
  isLive(s: Session): boolean {
    return this.byId.get(s.id) === s;
  }

  add(s: Session): void {
    this.byId.set(s.id, s);
    this.byName.set(s.nameKey, s);
    if (s.role === Role.Writer) this.byProducer.set(s.producerId, s);
    if (s.observer || s.unlisted) return;
    const c = clientKey(s);
    this.perClient.set(c, (this.perClient.get(c) ?? 0) + 1);
  }

  /** Whether the session's client (its role and name) has a live session, in any topic. */
  hasClient(s: Session): boolean {
    return this.perClient.has(clientKey(s));
  }

  /** Takes the session out of every index that still points at it. */
  remove(s: Session): void {
    if (this.byId.get(s.id) !== s) return;
    this.byId.delete(s.id);
    if (!s.observer && !s.unlisted) {
      const c = clientKey(s);
      const n = (this.perClient.get(c) ?? 1) - 1;
      if (n > 0) this.perClient.set(c, n);
      else this.perClient.delete(c);
    }
    if (this.byName.get(s.nameKey) === s) this.byName.delete(s.nameKey);
    if (s.role === Role.Writer && this.byProducer.get(s.producerId) === s) this.byProducer.delete(s.producerId);
  }

  /** An id no live session has, and not 0 (a client's "none"). */
  newId(randomId: () => bigint): bigint {
    for (;;) {
      const id = randomId();
      if (id !== 0n && !this.byId.has(id)) return id;
    }
  }

  /** Sessions silent for longer than `timeoutMs`. */
  silent(now: number, timeoutMs: number): Session[] {
    return [...this.byId.values()].filter((s) => now - s.lastSeen > timeoutMs);
  }

  /** Forgets the ended sessions whose time to be told so has passed. */
  sweepEnded(now: number): void {
    for (const [id, r] of this.retired) if (now >= r.until) this.retired.delete(id);
    for (const [id, l] of this.left) if (now >= l.until) this.left.delete(id);
  }

  /** Anything that waits to expire. */
  get waiting(): number {
    return this.byId.size + this.retired.size + this.left.size;
  }
}

const clientKey = (s: Session): string => `${s.role}:${s.name}`;
