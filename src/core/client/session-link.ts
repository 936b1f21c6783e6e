import type { Address, Transmit } from '../address.js';
import { Liveness } from '../liveness.js';
import type { RttEstimator } from '../rtt-estimator.js';
import { ServerList } from '../server-list.js';
import { HelloTimer } from '../sign-on.js';
import { decode, encode } from '../../protocol/codec.js';
import type { RefuseCode } from '../../protocol/constants.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { Hello, HelloReader, HelloWriter, Packet, Welcome } from '../../protocol/packets.js';
import { recordHead } from '../../protocol/records.js';
import { ClientCipher, type ClientEncryption } from './client-cipher.js';

/** What a datagram from the server means to the client, once the link has judged it. */
export type Intake =
  /** Nothing for the role: not from the server in use, not genuine, or handled here (PING, PONG). */
  | { kind: 'none' }
  /** A cookie came (RETRY): say HELLO again now. */
  | { kind: 'again' }
  /** The server limits handshakes (said once): the HELLO timer tries again. */
  | { kind: 'limited'; reason: string }
  /** Refused by the server, or by us (`byServer` false: its key is not one we trust, or it does not encrypt). */
  | { kind: 'refused'; code: RefuseCode; reason: string; byServer: boolean }
  /** Registered; `open`: with a secret the server does not check (it is in open mode). */
  | { kind: 'welcome'; welcome: Welcome; open: boolean }
  /** A genuine packet of the session (or an UNKNOWN-SESSION, which comes in the clear), for the role. */
  | { kind: 'packet'; packet: Packet };

export interface LinkConfig {
  /** The user's name. */
  name: string;
  /** The topic the session writes to or reads; absent: the default topic. */
  topic?: string | undefined;
  servers: readonly Address[];
  nonce: number;
  secret?: Buffer | undefined;
  /** Absent: plain text (`--insecure-plaintext`). */
  encryption?: ClientEncryption | undefined;
  lostAfterMs: number;
}

const NONE: Intake = { kind: 'none' };

/** What a role puts in its HELLO; the link adds the rest (nonce, name, topic, cookie, handshake). */
type Signed = 'kind' | 'nonce' | 'name' | 'topic' | 'cookie' | 'handshake';
export type HelloFields = Omit<HelloWriter, Signed> | Omit<HelloReader, Signed>;

/**
 * A client's link to its server, the same for writer, reader and chat: which server is in use and the
 * move to the next, HELLO and its answers, the session's keys and id, what is sent (and owed an answer),
 * PING and PONG, and when the server counts as lost. Each role's core acts on what `intake` returns.
 */
export class SessionLink {
  readonly servers: ServerList;
  readonly hello: HelloTimer;
  readonly cipher: ClientCipher;
  readonly liveness: Liveness;
  readonly transmits: Transmit[] = [];
  sessionId = 0n;
  lastSendAt = 0;
  /** The datagram being handled is a genuine answer of the server's. */
  private answered = false;
  private limitReported = false;
  /** The session is open and the server checked our secret: a GOODBYE then means another login took over. */
  authenticated = false;

  constructor(
    private readonly config: LinkConfig,
    private readonly rtt: RttEstimator,
    now: number,
    /** Told each time the server is heard from (a writer counts it as progress when nothing is owed). */
    private readonly onHeard: (now: number) => void = () => undefined,
  ) {
    this.servers = new ServerList(config.servers, now);
    this.hello = new HelloTimer(config.nonce);
    this.cipher = new ClientCipher(config.encryption, config.secret);
    this.liveness = new Liveness(config.lostAfterMs);
  }

  /** Call before handling a datagram; `end` after. */
  begin(): void {
    this.answered = false;
  }

  /** The datagram handled was a genuine answer: true when that ends a reported loss ("back"). `owed`: more is due. */
  end(now: number, owed: boolean): boolean {
    return this.answered && this.liveness.heard(now, owed);
  }

  heard(now: number): void {
    this.answered = true;
    this.onHeard(now);
  }

  /** Judges a datagram. `signingOn`: a HELLO of ours is out, so its answers count. */
  intake(data: Buffer, from: Address, now: number, signingOn: boolean): Intake {
    if (!this.servers.isCurrent(from)) return NONE;
    const p = this.unpack(data);
    if (!p) return NONE;
    if (p.kind === 'welcome' || p.kind === 'sealed-welcome' || p.kind === 'retry' || p.kind === 'refuse') {
      if (!signingOn || p.nonce !== this.hello.nonce) return NONE;
      const verdict = this.hello.answered(p, from, now, this.rtt, this.cipher);
      if (verdict.kind === 'ignore') return NONE;
      this.heard(now);
      switch (verdict.kind) {
        case 'again':
          return { kind: 'again' };
        case 'refused':
          return verdict;
        case 'later':
          if (this.limitReported || p.kind !== 'refuse') return NONE;
          this.limitReported = true;
          return { kind: 'limited', reason: p.reason };
        case 'welcome':
          this.authenticated = verdict.authenticated;
          return { kind: 'welcome', welcome: verdict.welcome, open: this.config.secret !== undefined && !verdict.authenticated };
      }
    }
    if (p.kind === 'pong') {
      if (p.sessionId === this.sessionId) this.heard(now);
      return NONE;
    }
    if (p.kind === 'ping') {
      // The server asks whether this client still runs (another client of this host wants the name).
      if (p.sessionId !== this.sessionId) return NONE;
      this.heard(now);
      this.answer({ kind: 'pong', sessionId: this.sessionId }, now);
      return NONE;
    }
    return { kind: 'packet', packet: p };
  }

  /**
   * The packet in a datagram of the current server: a sealed record of our session opened, or a packet in
   * the clear (an encrypted client takes only the handshake's answers and UNKNOWN-SESSION so).
   */
  private unpack(data: Buffer): Packet | undefined {
    const sealed = recordHead(data) !== undefined;
    const bytes = sealed ? this.cipher.open(data) : data;
    if (!bytes) return undefined;
    let p: Packet;
    try {
      p = decode(bytes);
    } catch (e) {
      if (e instanceof ProtocolError) return undefined;
      throw e;
    }
    if (sealed || !this.cipher.encrypted || CLEAR_KINDS.has(p.kind)) return p;
    return undefined;
  }

  /** HELLO, with the role's own fields: with a cookie, the handshake's first message (when we encrypt). */
  sendHello(fields: HelloFields, now: number): void {
    this.hello.sent(now);
    const topic = this.config.topic;
    const h = { kind: 'hello', name: this.config.name, ...(topic !== undefined && { topic }), nonce: this.hello.nonce, cookie: this.hello.cookie, ...fields } as Hello;
    const handshake = this.cipher.handshake(h);
    this.push(encode(handshake ? { ...h, handshake } : h), now);
  }

  /** A new registration: a new nonce, no cookie, no session keys. */
  renew(): void {
    this.cipher.forget();
    this.authenticated = false;
    this.hello.renew();
  }

  /** Something that wants an answer, sealed in the session's keys. */
  send(p: Packet, now: number): void {
    this.push(this.cipher.seal(encode(p), now), now);
  }

  /** An encoded datagram of the session (a writer's DATA, kept for resending), sealed. */
  sendEncoded(data: Buffer, now: number): void {
    this.push(this.cipher.seal(data, now), now);
  }

  /** An answer to the server, which wants none back: no liveness owed, no heartbeat put off. */
  answer(p: Packet, now: number): void {
    this.transmits.push({ to: this.servers.current, data: this.cipher.seal(encode(p), now) });
  }

  /**
   * The server owed an answer for too long: the next server, if there is one (the failover is the news: it
   * answering is not "back"); if not, the loss is noted, to be said once (undefined).
   */
  serverSilent(now: number): { from: Address; to: Address } | undefined {
    if (!this.servers.canMove) {
      this.liveness.markReported();
      return undefined;
    }
    const from = this.servers.moveOn(now);
    this.liveness.reset();
    return { from, to: this.servers.current };
  }

  private push(data: Buffer, now: number): void {
    this.transmits.push({ to: this.servers.current, data });
    this.lastSendAt = now;
    this.liveness.sent(now);
  }
}

/** What an encrypted client takes in the clear: the answers to HELLO, and word that the server lost our session. */
const CLEAR_KINDS = new Set<Packet['kind']>(['retry', 'refuse', 'sealed-welcome', 'unknown-session']);
