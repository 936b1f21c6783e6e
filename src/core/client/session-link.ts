import type { Address, Transmit } from '../address.js';
import { ClientAuth } from '../client-auth.js';
import { Liveness } from '../liveness.js';
import type { RttEstimator } from '../rtt-estimator.js';
import { ServerList } from '../server-list.js';
import { HelloTimer } from '../sign-on.js';
import type { Mac } from '../../protocol/auth.js';
import { decode, encode } from '../../protocol/codec.js';
import type { RefuseCode, Role } from '../../protocol/constants.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { Hello, HelloReader, HelloWriter, Packet, Welcome } from '../../protocol/packets.js';

/** What a datagram from the server means to the client, once the link has judged it. */
export type Intake =
  /** Nothing for the role: not from the server in use, not genuine, or handled here (PING, PONG). */
  | { kind: 'none' }
  /** A cookie came (RETRY): say HELLO again now. */
  | { kind: 'again' }
  /** The server limits handshakes (said once): the HELLO timer tries again. */
  | { kind: 'limited'; reason: string }
  | { kind: 'refused'; code: RefuseCode; reason: string }
  /** Registered; `open`: with a secret the server does not use. */
  | { kind: 'welcome'; welcome: Welcome; open: boolean }
  /** A genuine packet of the session (or an UNKNOWN-SESSION, which carries no tag), for the role. */
  | { kind: 'packet'; packet: Packet };

export interface LinkConfig {
  /** The role a HELLO proves its secret for, and the user's name. */
  role: Role;
  name: string;
  servers: readonly Address[];
  nonce: number;
  secret?: Buffer | undefined;
  mac?: Mac | undefined;
  lostAfterMs: number;
}

const NONE: Intake = { kind: 'none' };

/** What a role puts in its HELLO; the link adds the rest (nonce, name, cookie, proof). */
type Signed = 'kind' | 'nonce' | 'name' | 'cookie' | 'proof';
export type HelloFields = Omit<HelloWriter, Signed> | Omit<HelloReader, Signed>;

/**
 * A client's link to its server, the same for writer, reader and chat: which server is in use and the
 * move to the next, HELLO and its answers, the session's keys and id, what is sent (and owed an answer),
 * PING and PONG, and when the server counts as lost. Each role's core acts on what `intake` returns.
 */
export class SessionLink {
  readonly servers: ServerList;
  readonly hello: HelloTimer;
  readonly auth: ClientAuth;
  readonly liveness: Liveness;
  readonly transmits: Transmit[] = [];
  sessionId = 0n;
  lastSendAt = 0;
  /** The datagram being handled is a genuine answer of the server's. */
  private answered = false;
  private limitReported = false;

  constructor(
    private readonly config: LinkConfig,
    private readonly rtt: RttEstimator,
    now: number,
    /** Told each time the server is heard from (a writer counts it as progress when nothing is owed). */
    private readonly onHeard: (now: number) => void = () => undefined,
  ) {
    this.servers = new ServerList(config.servers, now);
    this.hello = new HelloTimer(config.nonce);
    this.auth = new ClientAuth(config.secret, config.mac);
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
    let p: Packet;
    try {
      p = decode(data);
    } catch (e) {
      if (e instanceof ProtocolError) return NONE;
      throw e;
    }
    if (p.kind === 'welcome' || p.kind === 'retry' || p.kind === 'refuse') {
      if (!signingOn || p.nonce !== this.hello.nonce) return NONE;
      const verdict = this.hello.answered(p, data, { role: this.config.role, name: this.config.name }, now, this.rtt, this.auth);
      if (verdict === 'ignore') return NONE;
      this.heard(now);
      if (verdict === 'again') return { kind: 'again' };
      if (p.kind === 'refuse') {
        if (verdict !== 'later') return { kind: 'refused', code: p.code, reason: p.reason };
        if (this.limitReported) return NONE;
        this.limitReported = true;
        return { kind: 'limited', reason: p.reason };
      }
      if (p.kind !== 'welcome') return NONE;
      return { kind: 'welcome', welcome: p, open: verdict === 'open' };
    }
    if (p.kind !== 'unknown-session' && !this.auth.accepts(data)) return NONE;
    if (p.kind === 'pong') {
      if (p.sessionId === this.sessionId) this.heard(now);
      return NONE;
    }
    if (p.kind === 'ping') {
      // The server asks whether this client still runs (another client of this host wants the name).
      if (p.sessionId !== this.sessionId) return NONE;
      this.heard(now);
      this.answer({ kind: 'pong', sessionId: this.sessionId });
      return NONE;
    }
    return { kind: 'packet', packet: p };
  }

  /** HELLO, with the role's own fields: its proof of the secret (if any) for this nonce and cookie. */
  sendHello(fields: HelloFields, now: number): void {
    this.hello.sent(now);
    const ctx = { role: this.config.role, name: this.config.name, nonce: this.hello.nonce, cookie: this.hello.cookie };
    const proof = this.auth.proof(ctx);
    this.send({ kind: 'hello', ...ctx, ...(proof && { proof }), ...fields } as Hello, now);
  }

  /** A new registration: a new nonce, no cookie, no session keys. */
  renew(): void {
    this.auth.forget();
    this.hello.renew();
  }

  /** Something that wants an answer (HELLO goes as it is; the rest sealed in the session's keys). */
  send(p: Packet, now: number): void {
    this.push(p.kind === 'hello' ? encode(p) : this.auth.seal(encode(p)), now);
  }

  /** An encoded datagram of the session (a writer's DATA, kept for resending), sealed. */
  sendEncoded(data: Buffer, now: number): void {
    this.push(this.auth.seal(data), now);
  }

  /** An answer to the server, which wants none back: no liveness owed, no heartbeat put off. */
  answer(p: Packet): void {
    this.transmits.push({ to: this.servers.current, data: this.auth.seal(encode(p)) });
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
