import { addressKey, type Address } from '../address.js';
import { RefuseCode, Role, roleName } from '../../protocol/constants.js';
import type { SessionKeys } from '../../protocol/auth.js';
import { isValidName, NAME_RULE } from '../../protocol/names.js';
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
  | { verdict: 'refuse'; code: RefuseCode; reason: string }
  /** The name's holder may be the same client started again: ask the holder first. */
  | { verdict: 'ping'; holder: Session }
  /** A new session; the name's holder, if any, ends first (taken over, or replaced). */
  | { verdict: 'admit'; keys: SessionKeys | undefined; ends?: { holder: Session; reason: 'taken-over' | 'replaced'; reclaimed: boolean } };

/** Where a HELLO's name is kept: role and name (an observer holds no name: its address stands in). */
export const nameKeyOf = (h: Hello, from: Address): string =>
  h.role === Role.Observer ? `${h.role}:${addressKey(from)}` : `${h.role}:${h.name}`;

/** Admission of HELLOs: address cookies, rate of handshakes, names, secrets, replays and name holders. */
export class Handshake {
  readonly replays = new ReplayGuard();
  readonly limiter: HandshakeLimiter;
  readonly probes = new NameProbes();
  private readonly cookies: AddressCookies;
  private readonly auth: Authenticator;

  constructor(private readonly config: ServerConfig) {
    this.cookies = new AddressCookies(config.randomKey, config.mac);
    this.auth = new Authenticator(config.users, config.mac);
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
    const auth = this.auth.check(h);
    if (!auth.ok) return refuse(auth.code, auth.reason);
    if (auth.keys && this.replays.replayed(nameKeyOf(h, from), h.nonce, now)) return { verdict: 'ignore' };
    if (!holder) return { verdict: 'admit', keys: auth.keys };
    const replace = { verdict: 'admit', keys: auth.keys, ends: { holder, reason: 'replaced', reclaimed: false } } as const;
    if (holder.addrKey === key || now - holder.lastSeen > this.config.sessionTimeoutMs) return replace;
    // Authenticated mode: whoever proves the secret is the user, and may take over its own session.
    if (auth.keys) return { verdict: 'admit', keys: auth.keys, ends: { holder, reason: 'taken-over', reclaimed: false } };
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
