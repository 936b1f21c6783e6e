import { DEFAULT_TOPIC } from '../../protocol/topics.js';
import { addressKey, type Address } from '../address.js';
import { RefuseCode, Role, roleName } from '../../protocol/constants.js';
import { helloPrologue, payloadSecret } from '../../protocol/handshake-payloads.js';
import { isValidName, NAME_RULE } from '../../protocol/names.js';
import { NkResponder } from '../../protocol/noise.js';
import type { Hello } from '../../protocol/packets.js';
import { AddressCookies } from './address-cookies.js';
import { Authenticator, ReplayGuard } from './authenticator.js';
import { NameProbes } from './name-probes.js';
import { HandshakeLimiter } from './rate-limits.js';
import type { ServerConfig } from './server-config.js';
import type { Session } from './sessions.js';

/** What becomes of a HELLO, decided before any session exists (the server core acts on it). */
export type Admission =
  /** The address has not proven it receives: a cookie to send back, nothing kept. */
  | { verdict: 'retry'; cookie: Buffer }
  /** A HELLO sent again after its session was made: the same WELCOME again, once ready. */
  | { verdict: 'again'; session: Session }
  /** A recorded HELLO sent again: nothing. */
  | { verdict: 'ignore' }
  /** A handshake not sealed to our key, or not laid out as one: nothing (counted). */
  | { verdict: 'forged' }
  | { verdict: 'refuse'; code: RefuseCode; reason: string }
  /** The name's holder may be the same client started again: ask the holder first. */
  | { verdict: 'ping'; holder: Session }
  /**
   * A new session; the name's holder, if any, ends first (taken over, or replaced). `proven`: its user
   * proved the secret; `responder`: the handshake that writes its WELCOME (an encrypted session's).
   */
  | { verdict: 'admit'; proven: boolean; responder: NkResponder | undefined; ends?: { holder: Session; reason: 'taken-over' | 'replaced'; reclaimed: boolean } };

/** Where a HELLO's name is kept: role and name (an observer holds no name: its address stands in). */
export const nameKeyOf = (h: Hello, from: Address): string =>
  h.role === Role.Observer ? `${h.role}:${addressKey(from)}` : nameKey(h.role, h.name, h.topic ?? DEFAULT_TOPIC);

/**
 * A name is held once per role and topic (positions and writers' sequences are per topic): one reader
 * may read several topics at once, a session each. ('/' is in no name.)
 */
export const nameKey = (role: Role, name: string, topic: string): string => (topic === DEFAULT_TOPIC ? `${role}:${name}` : `${role}:${name}/${topic}`);

/**
 * Admission of HELLOs: address cookies, rate of handshakes, names, the handshake (sealed to the server's
 * key, and carrying the secret), secrets, replays and name holders. Cookie and rate come before any
 * public-key work: a flood of spoofed HELLOs costs no X25519 operation.
 */
export class Handshake {
  readonly replays = new ReplayGuard();
  readonly limiter: HandshakeLimiter;
  readonly probes = new NameProbes();
  private readonly cookies: AddressCookies;
  private readonly auth: Authenticator;

  constructor(private readonly config: ServerConfig) {
    this.cookies = new AddressCookies(config.randomKey, config.mac);
    this.auth = new Authenticator(config.users);
    this.limiter = new HandshakeLimiter(config.handshakesPerSecond);
  }

  /** `holder`: the session that has the HELLO's name now, if any. */
  admit(h: Hello, from: Address, holder: Session | undefined, now: number): Admission {
    const key = addressKey(from);
    // Nothing is kept and nothing bigger than the HELLO is sent until the address proves it receives.
    if (!this.cookies.valid(h.cookie, key, h.nonce, now)) return { verdict: 'retry', cookie: this.cookies.make(key, h.nonce, now) };
    if (holder && holder.addrKey === key && holder.helloNonce === h.nonce) return { verdict: 'again', session: holder };
    if (!this.limiter.allow(from.address, now)) {
      const limit = this.config.handshakesPerSecond;
      return refuse(RefuseCode.RateLimited, `too many handshakes from ${from.address} (limit ${limit} per second)`);
    }
    if (!isValidName(h.name)) return refuse(RefuseCode.BadName, `bad name: use ${NAME_RULE}`);
    if (h.role !== Role.Writer && h.group !== undefined && !isValidName(h.group)) return refuse(RefuseCode.BadName, `bad group name: use ${NAME_RULE}`);
    const opened = this.openHandshake(h);
    if (opened.verdict !== 'open') return opened;
    const { responder, secret } = opened;
    const auth = this.auth.check(h, secret);
    if (!auth.ok) return refuse(auth.code, auth.reason);
    const proven = auth.proven;
    if (proven && this.replays.replayed(nameKeyOf(h, from), h.nonce, now)) return { verdict: 'ignore' };
    if (!holder) return { verdict: 'admit', proven, responder };
    const replace = { verdict: 'admit', proven, responder, ends: { holder, reason: 'replaced', reclaimed: false } } as const;
    if (holder.addrKey === key || now - holder.lastSeen > this.config.sessionTimeoutMs) return replace;
    // Authenticated mode: whoever proves the secret is the user, and may take over its own session.
    if (proven) return { ...replace, ends: { ...replace.ends, reason: 'taken-over' } };
    // Open mode: the same host may be the holder's own client started again; ask the holder first.
    const verdict = holder.addr.address === from.address ? this.probes.verdict(holder.nameKey, holder.answeredAt, now) : 'held';
    // Asked again at each of the newcomer's tries: one lost PING or PONG does not cost a live holder its name.
    if (verdict === 'probe' || verdict === 'wait') return { verdict: 'ping', holder };
    if (verdict === 'held') {
      // The holder is active (it may have spoken a moment ago): what frees the name is silence this long.
      const secs = Math.ceil(this.config.sessionTimeoutMs / 1000);
      return refuse(
        RefuseCode.NameTaken,
        `the name ${h.name} is in use by a live ${roleName(h.role)} (free when it exits, or once it has been silent for ${secs} s)`,
      );
    }
    return { ...replace, ends: { ...replace.ends, reclaimed: true } };
  }

  /**
   * An encrypted server reads the HELLO's first handshake message (its clear fields bound as the prologue):
   * a message not sealed to our key gets nothing; the secret it carries is the user's. A server in plain
   * text takes HELLOs without one, and refuses those with one (the client expects encryption).
   */
  private openHandshake(h: Hello): { verdict: 'open'; responder: NkResponder | undefined; secret: Buffer | undefined } | Admission {
    const encryption = this.config.encryption;
    if (!encryption) {
      if (!h.handshake) return { verdict: 'open', responder: undefined, secret: undefined };
      return refuse(RefuseCode.BadVersion, 'this server does not encrypt (it runs with --insecure-plaintext)');
    }
    if (!h.handshake) {
      return refuse(RefuseCode.BadVersion, 'this server encrypts every session: a client in plain text (--insecure-plaintext) cannot use it');
    }
    const responder = new NkResponder(encryption.crypto, encryption.staticKey, helloPrologue(h));
    const payload = responder.readMessage(h.handshake);
    if (!payload) return forged;
    const secret = payloadSecret(payload);
    if (secret === 'bad') return forged;
    return { verdict: 'open', responder, secret };
  }

  sweep(now: number): void {
    this.limiter.sweep(now);
    this.replays.sweep(now);
    this.probes.sweep(now);
  }

  /** Anything that waits to be swept. */
  get waiting(): number {
    return this.limiter.size + this.probes.size;
  }
}

const refuse = (code: RefuseCode, reason: string): Admission => ({ verdict: 'refuse', code, reason });
const forged: Admission = { verdict: 'forged' };
