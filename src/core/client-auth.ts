import { helloProof, isTagged, seal, sessionKeys, TAG_BYTES, verify, type HelloContext, type Mac, type SessionKeys } from '../protocol/auth.js';

/** accepted: authenticated, or plain when we have no secret; open: we have a secret the server ignored. */
export type WelcomeVerdict = 'accepted' | 'open' | 'forged';

/**
 * A client's side of authenticated mode: proves the secret in its HELLO, checks that the WELCOME
 * comes from a server that knows the secret too, then seals what it sends and checks what it receives.
 * Without a secret, it only insists that nothing arrives tagged (a server in open mode never tags).
 */
export class ClientAuth {
  private keys: SessionKeys | undefined;

  constructor(
    private readonly secret: Buffer | undefined,
    private readonly mac: Mac | undefined,
  ) {
    if (secret && !mac) throw new Error('a secret needs a MAC');
  }

  /** The proof for a HELLO carrying `h.cookie` (none before the server has given a cookie). */
  proof(h: HelloContext): Buffer | undefined {
    if (!this.secret || h.cookie.length === 0) return undefined;
    return helloProof(this.mac!, this.secret, h);
  }

  /** Judges a WELCOME answering the HELLO described by `h`; tagged and genuine, the session keys are set. */
  welcome(datagram: Buffer, h: HelloContext): WelcomeVerdict {
    this.keys = undefined;
    if (!isTagged(datagram)) return this.secret ? 'open' : 'accepted';
    if (!this.secret) return 'forged';
    const keys = sessionKeys(this.mac!, this.secret, h);
    if (!verify(datagram, keys.toClient, this.mac!)) return 'forged';
    this.keys = keys;
    return 'accepted';
  }

  get active(): boolean {
    return this.keys !== undefined;
  }

  /** Bytes each datagram gives up to its tag. */
  get overhead(): number {
    return this.keys ? TAG_BYTES : 0;
  }

  /** Whether a datagram of the session is genuine: tagged with the server's key, or untagged in open mode. */
  accepts(datagram: Buffer): boolean {
    return this.keys ? verify(datagram, this.keys.toClient, this.mac!) : !isTagged(datagram);
  }

  seal(datagram: Buffer): Buffer {
    return this.keys ? seal(datagram, this.keys.toServer, this.mac!) : datagram;
  }

  forget(): void {
    this.keys = undefined;
  }
}
