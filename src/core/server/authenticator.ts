import { equalBytes, helloProof, sessionKeys, type Mac, type SessionKeys } from '../../protocol/auth.js';
import { RefuseCode, Role } from '../../protocol/constants.js';
import type { Hello } from '../../protocol/packets.js';

export type HelloCheck = { ok: true; keys?: SessionKeys } | { ok: false; code: RefuseCode; reason: string };

/**
 * Authenticated mode's gate: a HELLO must prove the secret of the user it names. In open mode
 * (no users) every HELLO passes and its proof, if any, is ignored.
 */
export class Authenticator {
  constructor(
    private readonly users: ReadonlyMap<string, Buffer> | undefined,
    private readonly mac: Mac,
  ) {}

  check(h: Hello): HelloCheck {
    if (!this.users) return { ok: true };
    if (!h.proof) {
      return { ok: false, code: RefuseCode.Unauthorized, reason: 'this server requires a secret: give --secret or set RELAY_SECRET' };
    }
    const secret = this.users.get(h.name);
    // Names are not secret (every message carries its sender's), so saying which check failed costs nothing.
    if (!secret) return { ok: false, code: RefuseCode.Unauthorized, reason: `no user ${h.name} on this server` };
    if (!equalBytes(helloProof(this.mac, secret, h), h.proof)) {
      return { ok: false, code: RefuseCode.Unauthorized, reason: `wrong secret for ${h.name}` };
    }
    if (h.role !== Role.Writer && h.group !== undefined && h.group !== h.name && this.users.has(h.group)) {
      // A group reads what is sent to its name: a user's name as a group would open that user's messages.
      return { ok: false, code: RefuseCode.Unauthorized, reason: `${h.group} is a user: only ${h.group} may read what is sent to ${h.group}; choose another group name` };
    }
    return { ok: true, keys: sessionKeys(this.mac, secret, h) };
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
