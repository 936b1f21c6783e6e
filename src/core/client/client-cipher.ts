import type { Address } from '../address.js';
import { SessionCipher } from '../session-cipher.js';
import { helloPrologue, payloadWelcome, secretPayload } from '../../protocol/handshake-payloads.js';
import { NkInitiator, type NoiseCrypto } from '../../protocol/noise.js';
import type { Hello, SealedWelcome, Welcome } from '../../protocol/packets.js';
import { RECORD_OVERHEAD } from '../../protocol/records.js';

/** Which server keys a client trusts: a pinned key, or what it has met before (known_servers). */
export interface ServerKeys {
  /** Undefined when `key` may be `server`'s; otherwise the one line that says why not. */
  check(server: Address, key: Buffer): string | undefined;
  /** The handshake with `key` succeeded: remember it for `server`. */
  remember(server: Address, key: Buffer): void;
}

/** How a client encrypts: absent, it speaks plain text (a debugging mode, named so on the command line). */
export interface ClientEncryption {
  crypto: NoiseCrypto;
  serverKeys: ServerKeys;
}

export type WelcomeVerdict = { welcome: Welcome; authenticated: boolean } | 'forged';

/**
 * A client's side of an encrypted session: the server's key from its RETRY (checked against what the
 * client trusts), the first handshake message in each HELLO with a cookie (the same bytes for each HELLO
 * of a nonce, so that a repeated HELLO gets the WELCOME the first one earned), the WELCOME read from the second
 * message, then every datagram sealed and opened with the session's keys.
 */
export class ClientCipher {
  private serverKey: Buffer | undefined;
  private initiator: { nonce: number; serverKey: Buffer; nk: NkInitiator; message: Buffer } | undefined;
  private session: SessionCipher | undefined;

  constructor(
    private readonly encryption: ClientEncryption | undefined,
    private readonly secret: Buffer | undefined,
  ) {
    if (secret && !encryption) throw new Error('a secret travels only in an encrypted handshake');
  }

  get encrypted(): boolean {
    return this.encryption !== undefined;
  }

  /** The server's RETRY named its key (or none): undefined when we go on, else why we cannot. */
  retried(server: Address, key: Buffer | undefined): string | undefined {
    // Plain text: a server that encrypts refuses our HELLO, and says why.
    if (!this.encryption) return undefined;
    if (!key) return `the server at ${server.address}:${server.port} does not encrypt (it runs with --insecure-plaintext); to talk to it in plain text, give --insecure-plaintext too`;
    const refusal = this.encryption.serverKeys.check(server, key);
    if (refusal === undefined) this.serverKey = key;
    return refusal;
  }

  /** The first handshake message for HELLO `h` (undefined: plain text, or no cookie yet). */
  handshake(h: Hello): Buffer | undefined {
    if (!this.encryption || !this.serverKey || h.cookie.length === 0) return undefined;
    const known = this.initiator;
    if (known && known.nonce === h.nonce && known.serverKey.equals(this.serverKey)) return known.message;
    const nk = new NkInitiator(this.encryption.crypto, this.serverKey, helloPrologue(h));
    this.initiator = { nonce: h.nonce, serverKey: this.serverKey, nk, message: nk.writeMessage(secretPayload(this.secret)) };
    return this.initiator.message;
  }

  /** Judges a WELCOME for our HELLO: sealed in the handshake's answer when we encrypt, in the clear when not. */
  welcome(p: Welcome | SealedWelcome, server: Address, now: number): WelcomeVerdict {
    if (!this.encryption) return p.kind === 'welcome' ? { welcome: p, authenticated: false } : 'forged';
    // Read only an answer to our HELLO: a successful read ends the handshake, for good or ill.
    if (p.kind !== 'sealed-welcome' || !this.initiator || p.nonce !== this.initiator.nonce) return 'forged';
    const read = this.initiator.nk.readMessage(p.message);
    const inner = read && payloadWelcome(read.payload);
    // The sealed WELCOME is the word: the session id beside it in the clear is only a label.
    if (!read || !inner || inner.welcome.nonce !== p.nonce) return 'forged';
    this.session = new SessionCipher(this.encryption.crypto, inner.welcome.sessionId, read.keys.toResponder, read.keys.toInitiator, now);
    this.encryption.serverKeys.remember(server, this.initiator.serverKey);
    this.initiator = undefined;
    return inner;
  }

  /** The packet inside a sealed record of the session, or undefined when it is not one. */
  open(datagram: Buffer): Buffer | undefined {
    return this.session?.open(datagram);
  }

  seal(packet: Buffer, now: number): Buffer {
    return this.session ? this.session.seal(packet, now) : packet;
  }

  /** Bytes each datagram gives up to sealing. */
  get overhead(): number {
    return this.encryption ? RECORD_OVERHEAD : 0;
  }

  /** A new registration: no keys until its handshake is done. */
  forget(): void {
    this.initiator = undefined;
    this.session = undefined;
  }
}
