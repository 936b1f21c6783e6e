/**
 * The Noise NK handshake (Noise_NK_25519_ChaChaPoly_SHA256, noiseprotocol.org, revision 34): the client
 * knows the server's static key; one message each way gives both sides two fresh keys (one per
 * direction) that only they hold, with forward secrecy from the two ephemeral keys.
 *
 *     <- s
 *     ...
 *     -> e, es
 *     <- e, ee
 *
 * The primitives come in as a `NoiseCrypto` (node:crypto in production: src/io/noise-crypto.ts), so that
 * this module stays pure. Transport keys are used with explicit nonces (datagrams arrive out of order),
 * so a split gives keys, not counting cipher states.
 */
export const DH_BYTES = 32;
export const HASH_BYTES = 32;
export const AEAD_TAG_BYTES = 16;
export const NK_PROTOCOL_NAME = 'Noise_NK_25519_ChaChaPoly_SHA256';

export interface KeyPair {
  privateKey: Buffer;
  publicKey: Buffer;
}

export interface NoiseCrypto {
  /** X25519 of a private key and a peer's public key. */
  dh(privateKey: Buffer, publicKey: Buffer): Buffer;
  /** A fresh X25519 key pair. */
  generateKeyPair(): KeyPair;
  /** ChaCha20-Poly1305 with a 64-bit nonce (as Noise lays it out: 4 zero bytes, then little-endian). */
  seal(key: Buffer, nonce: bigint, ad: Buffer, plaintext: Buffer): Buffer;
  /** The plaintext, or undefined when the tag is wrong. */
  open(key: Buffer, nonce: bigint, ad: Buffer, ciphertext: Buffer): Buffer | undefined;
  /** SHA-256. */
  hash(data: Buffer): Buffer;
  /** HMAC-SHA256. */
  hmac(key: Buffer, data: Buffer): Buffer;
}

/** The keys a finished handshake gives: initiator to responder, and back. */
export interface TransportKeys {
  toResponder: Buffer;
  toInitiator: Buffer;
  /** The handshake hash: the same on both sides, a name for this session. */
  handshakeHash: Buffer;
}

/**
 * Noise's SymmetricState with its CipherState. In NK each handshake key seals exactly one payload (every
 * MixKey is followed by one EncryptAndHash), so the nonce is always 0 and no counter is kept.
 */
class SymmetricState {
  private h: Buffer;
  private ck: Buffer;
  private k: Buffer | undefined;

  constructor(private readonly c: NoiseCrypto) {
    // The protocol name is exactly HASHLEN (32) bytes: it is the initial hash as it is.
    this.h = Buffer.from(NK_PROTOCOL_NAME, 'ascii');
    this.ck = this.h;
  }

  mixHash(data: Buffer): void {
    this.h = this.c.hash(Buffer.concat([this.h, data]));
  }

  mixKey(ikm: Buffer): void {
    [this.ck, this.k] = this.hkdf(ikm);
  }

  encryptAndHash(plaintext: Buffer): Buffer {
    const out = this.c.seal(this.k!, 0n, this.h, plaintext);
    this.mixHash(out);
    return out;
  }

  /** The plaintext, or undefined; a failed read leaves this state spoiled, so it is read on a clone. */
  decryptAndHash(ciphertext: Buffer): Buffer | undefined {
    const plain = this.c.open(this.k!, 0n, this.h, ciphertext);
    this.mixHash(ciphertext);
    return plain;
  }

  split(): TransportKeys {
    const [k1, k2] = this.hkdf(Buffer.alloc(0));
    return { toResponder: k1, toInitiator: k2, handshakeHash: this.h };
  }

  /** A copy to try a message on: what a forged one does to it is thrown away with it. */
  clone(): SymmetricState {
    return Object.assign(new SymmetricState(this.c), { h: this.h, ck: this.ck, k: this.k });
  }

  /** Noise's HKDF with two outputs (RFC 5869 with an empty info, as the spec writes it out). */
  private hkdf(ikm: Buffer): [Buffer, Buffer] {
    const temp = this.c.hmac(this.ck, ikm);
    const one = this.c.hmac(temp, Buffer.from([1]));
    const two = this.c.hmac(temp, Buffer.concat([one, Buffer.from([2])]));
    return [one, two];
  }
}

/**
 * Reads a message that starts with the sender's ephemeral key (e, then a DH with our `privateKey`, then
 * the sealed payload), on a copy of `state`: a forged message must not spoil the handshake for the
 * genuine one behind it. Undefined when the key is not one (or of low order) or the payload not genuine.
 */
function readEphemeralMessage(c: NoiseCrypto, state: SymmetricState, privateKey: Buffer, message: Buffer): { ss: SymmetricState; re: Buffer; payload: Buffer } | undefined {
  const re = Buffer.from(message.subarray(0, DH_BYTES));
  const ss = state.clone();
  ss.mixHash(re);
  let shared: Buffer;
  try {
    shared = c.dh(privateKey, re);
  } catch {
    return undefined;
  }
  ss.mixKey(shared);
  const payload = ss.decryptAndHash(message.subarray(DH_BYTES));
  return payload && { ss, re, payload };
}

/** The client's side: writes the first message, reads the second. */
export class NkInitiator {
  private readonly ss: SymmetricState;
  private readonly e: KeyPair;
  private state: 'write' | 'read' | 'done' = 'write';

  /** `ephemeral` is for test vectors only: a session's ephemeral key is always fresh. */
  constructor(
    private readonly c: NoiseCrypto,
    private readonly serverKey: Buffer,
    prologue: Buffer,
    ephemeral?: KeyPair,
  ) {
    if (serverKey.length !== DH_BYTES) throw new Error(`a server key is ${DH_BYTES} bytes`);
    this.ss = new SymmetricState(c);
    this.ss.mixHash(prologue);
    this.ss.mixHash(serverKey);
    this.e = ephemeral ?? c.generateKeyPair();
  }

  /** -> e, es, then the payload, sealed to the server's static key. */
  writeMessage(payload: Buffer): Buffer {
    if (this.state !== 'write') throw new Error('the first handshake message is written once');
    this.state = 'read';
    this.ss.mixHash(this.e.publicKey);
    this.ss.mixKey(this.c.dh(this.e.privateKey, this.serverKey));
    return Buffer.concat([this.e.publicKey, this.ss.encryptAndHash(payload)]);
  }

  /** <- e, ee: the server's answer; its payload and the transport keys, or undefined if it is not genuine. */
  readMessage(message: Buffer): { payload: Buffer; keys: TransportKeys } | undefined {
    if (this.state !== 'read') return undefined;
    const read = readEphemeralMessage(this.c, this.ss, this.e.privateKey, message);
    if (!read) return undefined;
    this.state = 'done';
    return { payload: read.payload, keys: read.ss.split() };
  }
}

/** The server's side: reads the first message, writes the second. One object per handshake. */
export class NkResponder {
  private ss: SymmetricState;
  private re: Buffer | undefined;
  private done = false;

  constructor(
    private readonly c: NoiseCrypto,
    private readonly staticKey: KeyPair,
    prologue: Buffer,
  ) {
    this.ss = new SymmetricState(c);
    this.ss.mixHash(prologue);
    this.ss.mixHash(staticKey.publicKey);
  }

  /** The client's first message: its payload, or undefined when it was not sealed to our key. */
  readMessage(message: Buffer): Buffer | undefined {
    // One responder per first message: the server makes a new one for each HELLO.
    if (this.done || this.re) throw new Error('a responder reads one first message');
    const read = readEphemeralMessage(this.c, this.ss, this.staticKey.privateKey, message);
    if (!read) return undefined;
    this.ss = read.ss;
    this.re = read.re;
    return read.payload;
  }

  /** <- e, ee: the answer, and the transport keys. `ephemeral` is for test vectors only. */
  writeMessage(payload: Buffer, ephemeral?: KeyPair): { message: Buffer; keys: TransportKeys } {
    if (!this.re) throw new Error('the answer is written after a genuine first message');
    const e = ephemeral ?? this.c.generateKeyPair();
    this.ss.mixHash(e.publicKey);
    this.ss.mixKey(this.c.dh(e.privateKey, this.re));
    const message = Buffer.concat([e.publicKey, this.ss.encryptAndHash(payload)]);
    this.re = undefined;
    this.done = true;
    return { message, keys: this.ss.split() };
  }
}
