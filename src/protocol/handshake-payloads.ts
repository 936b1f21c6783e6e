import { decode, encode } from './codec.js';
import { HANDSHAKE_PAYLOAD_BYTES_MIN, SECRET_BYTES_MAX } from './constants.js';
import { ProtocolError } from './errors.js';
import type { Hello, Welcome } from './packets.js';

/**
 * What an encrypted session's handshake carries (docs/PROTOCOL.md, "Encrypted sessions"): the HELLO's
 * clear fields bound as the Noise prologue, the user's secret sealed in the first message, the WELCOME
 * sealed in the second.
 */

/**
 * The HELLO as it would be without its cookie and handshake message: both sides bind exactly these bytes.
 * The cookie is left out so that one first message serves whatever cookie carries it: a client whose
 * cookie went stale sends the same message again, and the session the first one opened still fits it.
 */
export function helloPrologue(h: Hello): Buffer {
  const { handshake: _, ...clear } = h;
  return encode({ ...clear, cookie: Buffer.alloc(0) });
}

/** The first message's payload: the secret's length and the secret (none in open mode), padded with zeros. */
export function secretPayload(secret: Buffer | undefined): Buffer {
  const n = secret?.length ?? 0;
  if (n > SECRET_BYTES_MAX) throw new Error(`a secret is at most ${SECRET_BYTES_MAX} bytes`);
  const out = Buffer.alloc(Math.max(1 + n, HANDSHAKE_PAYLOAD_BYTES_MIN));
  out[0] = n;
  secret?.copy(out, 1);
  return out;
}

/** The secret in a first message's payload (undefined: none given), or 'bad' when it is not laid out so. */
export function payloadSecret(payload: Buffer): Buffer | undefined | 'bad' {
  const n = payload[0];
  if (n === undefined || payload.length !== Math.max(1 + n, HANDSHAKE_PAYLOAD_BYTES_MIN)) return 'bad';
  for (let i = 1 + n; i < payload.length; i++) if (payload[i] !== 0) return 'bad';
  return n === 0 ? undefined : Buffer.from(payload.subarray(1, 1 + n));
}

/** WELCOME's flags, inside the second message. */
export const WelcomeFlag = { Authenticated: 0x01 } as const;

/** The second message's payload: flags, then the WELCOME as a packet. */
export function welcomePayload(welcome: Welcome, authenticated: boolean): Buffer {
  return Buffer.concat([Buffer.from([authenticated ? WelcomeFlag.Authenticated : 0]), encode(welcome)]);
}

/** The WELCOME in a second message's payload, or undefined when it holds none. */
export function payloadWelcome(payload: Buffer): { welcome: Welcome; authenticated: boolean } | undefined {
  const flags = payload[0];
  if (flags === undefined || (flags & ~WelcomeFlag.Authenticated) !== 0) return undefined;
  try {
    const p = decode(payload.subarray(1));
    return p.kind === 'welcome' ? { welcome: p, authenticated: flags === WelcomeFlag.Authenticated } : undefined;
  } catch (e) {
    if (e instanceof ProtocolError) return undefined;
    throw e;
  }
}
