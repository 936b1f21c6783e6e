import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { KeyPair, NoiseCrypto } from '../protocol/noise.js';
import { AEAD_TAG_BYTES } from '../protocol/noise.js';

// X25519 keys travel raw (32 bytes); node:crypto takes them wrapped in these fixed DER headers (RFC 8410).
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

const privateKeyObject = (raw: Buffer) => createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
const publicKeyObject = (raw: Buffer) => createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' });

/** Noise lays a 64-bit counter out as 4 zero bytes, then the counter little-endian. */
function nonce12(n: bigint): Buffer {
  const out = Buffer.alloc(12);
  out.writeBigUInt64LE(n, 4);
  return out;
}

/** The key pair of a node:crypto X25519 private key. */
export const keyPairOfObject = (key: KeyObject): KeyPair => keyPairOf(key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length));

/** A raw private key as PKCS#8 PEM, as `openssl genpkey -algorithm X25519` writes one. */
export const privateKeyPem = (privateKey: Buffer): string => privateKeyObject(privateKey).export({ format: 'pem', type: 'pkcs8' }).toString();

/** The key pair whose private half is `privateKey`. */
export function keyPairOf(privateKey: Buffer): KeyPair {
  const publicKey = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);
  return { privateKey: Buffer.from(privateKey), publicKey: Buffer.from(publicKey) };
}

/** Noise's primitives on node:crypto: X25519, ChaCha20-Poly1305, SHA-256. */
export const noiseCrypto: NoiseCrypto = {
  dh: (privateKey, publicKey) => diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) }),
  generateKeyPair: () => keyPairOfObject(generateKeyPairSync('x25519').privateKey),
  seal: (key, n, ad, plaintext) => {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce12(n), { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(ad, { plaintextLength: plaintext.length });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  },
  open: (key, n, ad, ciphertext) => {
    if (ciphertext.length < AEAD_TAG_BYTES) return undefined;
    const body = ciphertext.subarray(0, ciphertext.length - AEAD_TAG_BYTES);
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce12(n), { authTagLength: AEAD_TAG_BYTES });
    decipher.setAAD(ad, { plaintextLength: body.length });
    decipher.setAuthTag(ciphertext.subarray(body.length));
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      return undefined;
    }
  },
  hash: (data) => createHash('sha256').update(data).digest(),
  hmac: (key, data) => createHmac('sha256', key).update(data).digest(),
};
