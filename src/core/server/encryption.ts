import { encode } from '../../protocol/codec.js';
import { welcomePayload } from '../../protocol/handshake-payloads.js';
import type { NoiseCrypto } from '../../protocol/noise.js';
import type { Welcome } from '../../protocol/packets.js';
import { SessionCipher } from '../session-cipher.js';
import type { ServerConfig, ServerStats } from './server-config.js';
import type { Session } from './sessions.js';

/** The config with its handshake primitives counting public-key operations into `stats` (a flood of HELLOs must cost none). */
export function countingPublicKeyOps(config: ServerConfig, stats: ServerStats): ServerConfig {
  const e = config.encryption;
  if (!e) return config;
  const crypto: NoiseCrypto = {
    ...e.crypto,
    dh: (privateKey, publicKey) => {
      stats.publicKeyOps++;
      return e.crypto.dh(privateKey, publicKey);
    },
    generateKeyPair: () => {
      stats.publicKeyOps++;
      return e.crypto.generateKeyPair();
    },
  };
  return { ...config, encryption: { ...e, crypto } };
}

/**
 * The WELCOME as it goes out: in the clear, or (an encrypted session's) sealed in the handshake's answer,
 * which gives the session its keys.
 */
export function welcomeDatagram(s: Session, welcome: Welcome, crypto: NoiseCrypto | undefined, now: number): Buffer {
  const responder = s.responder;
  if (!responder || !crypto) return encode(welcome);
  const { message, keys } = responder.writeMessage(welcomePayload(welcome, s.proven));
  s.responder = undefined;
  s.cipher = new SessionCipher(crypto, s.id, keys.toInitiator, keys.toResponder, now);
  return encode({ kind: 'sealed-welcome', nonce: welcome.nonce, sessionId: s.id, message });
}
