import { RefuseCode, Role } from '../../protocol/constants.js';
import type { Hello } from '../../protocol/packets.js';
import { DEFAULT_TOPIC } from '../../protocol/topics.js';
import { mayUse, type TopicRights } from './topic-rights.js';

/**
 * Authenticated mode's users: their names, and a check of a secret against what the server keeps (a
 * verifier). 'busy': a check costs too much to make now (too many new secrets to check this second).
 */
export interface Users {
  has(name: string): boolean;
  verify(name: string, secret: Buffer): boolean | 'busy';
  /** What the user may read and write; undefined: every topic. */
  rights?(name: string): TopicRights | undefined;
}

export type HelloCheck = { ok: true; proven: boolean } | { ok: false; code: RefuseCode; reason: string };

/**
 * Authenticated mode's gate: a HELLO must carry, sealed in its handshake, the secret of the user it
 * names. In open mode (no users) every HELLO passes and a secret, if any, is ignored.
 */
export class Authenticator {
  constructor(private readonly users: Users | undefined) {}

  /** `secret`: what the HELLO's handshake carried (undefined: none). */
  check(h: Hello, secret: Buffer | undefined): HelloCheck {
    if (!this.users) return { ok: true, proven: false };
    if (!secret) {
      return { ok: false, code: RefuseCode.Unauthorized, reason: 'this server requires a secret: give --secret or set RELAY_SECRET' };
    }
    // Names are not secret (every message carries its sender's), so saying which check failed costs nothing.
    if (!this.users.has(h.name)) return { ok: false, code: RefuseCode.Unauthorized, reason: `no user ${h.name} on this server` };
    const verified = this.users.verify(h.name, secret);
    if (verified === 'busy') return { ok: false, code: RefuseCode.RateLimited, reason: 'too many secrets to check just now (trying again)' };
    if (!verified) return { ok: false, code: RefuseCode.Unauthorized, reason: `wrong secret for ${h.name}` };
    if (h.role !== Role.Writer && h.group !== undefined && h.group !== h.name && this.users.has(h.group)) {
      // A group reads what is sent to its name: a user's name as a group would open that user's messages.
      return { ok: false, code: RefuseCode.Unauthorized, reason: `${h.group} is a user: only ${h.group} may read what is sent to ${h.group}; choose another group name` };
    }
    // An observer (--who, --topics) reads no topic: what it is shown is filtered instead.
    const topic = h.topic ?? DEFAULT_TOPIC;
    if (h.role === Role.Writer && !mayUse(this.users.rights?.(h.name), 'write', topic)) {
      return { ok: false, code: RefuseCode.Unauthorized, reason: `${h.name} may not write to ${topic} on this server` };
    }
    if (h.role === Role.Reader && !mayUse(this.users.rights?.(h.name), 'read', topic)) {
      return { ok: false, code: RefuseCode.Unauthorized, reason: `${h.name} may not read ${topic} on this server` };
    }
    return { ok: true, proven: true };
  }
}

const REPLAY_MEMORY_MS = 90_000;

/**
 * Remembers, per name, the nonces of authenticated HELLOs for longer than a cookie lives, so that a
 * recorded HELLO replayed from the same (spoofed) address cannot open a session or take one over.
 * Only HELLOs that proved a secret are recorded, so strangers cannot fill it.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, Map<number, number>>();

  /** Records the nonce; true if it was already seen for this name within the memory. */
  replayed(nameKey: string, nonce: number, now: number): boolean {
    let nonces = this.seen.get(nameKey);
    if (!nonces) {
      nonces = new Map();
      this.seen.set(nameKey, nonces);
    }
    const at = nonces.get(nonce);
    if (at !== undefined && now - at <= REPLAY_MEMORY_MS) return true;
    nonces.set(nonce, now);
    return false;
  }

  sweep(now: number): void {
    for (const [name, nonces] of this.seen) {
      for (const [nonce, at] of nonces) if (now - at > REPLAY_MEMORY_MS) nonces.delete(nonce);
      if (nonces.size === 0) this.seen.delete(name);
    }
  }
}
