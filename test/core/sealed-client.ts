import type { Address } from '../../src/core/address.js';
import { ClientCipher, type ServerKeys } from '../../src/core/client/client-cipher.js';
import { noiseCrypto } from '../../src/io/noise-crypto.js';
import { SessionCipher } from '../../src/core/session-cipher.js';
import { encode } from '../../src/protocol/codec.js';
import { helloPrologue, payloadSecret, welcomePayload } from '../../src/protocol/handshake-payloads.js';
import { NkResponder } from '../../src/protocol/noise.js';
import type { Hello, HelloReader, HelloWriter, Packet, Refuse, Retry, SealedWelcome, Welcome } from '../../src/protocol/packets.js';
import { CLIENT, drain, T0, type ServerHarness } from './helpers.js';

/** The test server's static key, and the config that makes a harness encrypt with it. */
export const SERVER_KEYS = noiseCrypto.generateKeyPair();
export const ENCRYPTED = { encryption: { crypto: noiseCrypto, staticKey: SERVER_KEYS } };

/** Trusts `key` alone (the test server's by default). */
export const trusting = (key: Buffer = SERVER_KEYS.publicKey): ServerKeys => ({
  check: (_, shown) => (shown.equals(key) ? undefined : 'not the key we trust'),
  remember: () => undefined,
});

export type HelloFields = Omit<HelloWriter, 'cookie' | 'handshake'> | Omit<HelloReader, 'cookie' | 'handshake'>;

/** A client of an encrypted session, speaking to a ServerHarness by hand: its handshake, then sealed packets. */
export class SealedClient {
  readonly cipher: ClientCipher;
  sessionId = 0n;
  /** The HELLO it last sent (cookie and handshake message included), for replays. */
  hello: Hello | undefined;

  constructor(
    private readonly h: ServerHarness,
    private readonly fields: HelloFields,
    secret?: Buffer,
    readonly from: Address = CLIENT,
    keys: ServerKeys = trusting(),
  ) {
    this.cipher = new ClientCipher({ crypto: noiseCrypto, serverKeys: keys }, secret);
  }

  /** HELLO, RETRY (its key checked), HELLO with the cookie and the handshake: the server's answers, the WELCOME opened. */
  async signOn(now = T0): Promise<{ answers: Packet[]; welcome?: Welcome; authenticated?: boolean; refuse?: Refuse; retry?: Retry }> {
    const [retry] = await this.h.deliver(encode({ ...this.fields, cookie: Buffer.alloc(0) } as Hello), this.from, now);
    if (retry?.kind !== 'retry') return { answers: retry ? [retry] : [], ...(retry?.kind === 'refuse' && { refuse: retry }) };
    const refusal = this.cipher.retried(this.h.serverAddress, retry.serverKey);
    if (refusal !== undefined) throw new Error(refusal);
    const plain = { ...this.fields, cookie: retry.cookie } as Hello;
    this.hello = { ...plain, handshake: this.cipher.handshake(plain)! };
    return this.answer(await this.h.deliver(encode(this.hello), this.from, now), now, retry);
  }

  /** The server's answers to a HELLO: a sealed WELCOME opened (and the session's records then opened for the test). */
  async answer(answers: Packet[], now: number, retry?: Retry): Promise<{ answers: Packet[]; welcome?: Welcome; authenticated?: boolean; refuse?: Refuse; retry?: Retry }> {
    const first = answers[0];
    if (first?.kind === 'refuse') return { answers, refuse: first };
    const sealed = answers.find((p) => p.kind === 'sealed-welcome');
    if (!sealed || sealed.kind !== 'sealed-welcome') return { answers, ...(retry && { retry }) };
    const verdict = this.openWelcome(sealed, now);
    return { answers, welcome: verdict.welcome, authenticated: verdict.authenticated };
  }

  /** Opens the sealed WELCOME of our handshake; from then on, the test sees the session's records opened. */
  openWelcome(sealed: SealedWelcome, now = T0): { welcome: Welcome; authenticated: boolean } {
    const verdict = this.cipher.welcome(sealed, this.h.serverAddress, now);
    if (verdict === 'forged') throw new Error('a WELCOME the client cannot open');
    this.sessionId = verdict.welcome.sessionId;
    this.h.openers.set(this.sessionId, (d) => this.cipher.open(d));
    return verdict;
  }

  /** HELLO and RETRY answered, then the HELLO with its handshake handed to the server without settling its store requests. */
  async helloPending(now = T0): Promise<void> {
    const [retry] = await this.h.deliver(encode({ ...this.fields, cookie: Buffer.alloc(0) } as Hello), this.from, now);
    if (retry?.kind !== 'retry') throw new Error(`expected a retry, got ${retry?.kind}`);
    this.cipher.retried(this.h.serverAddress, retry.serverKey);
    const plain = { ...this.fields, cookie: retry.cookie } as Hello;
    this.hello = { ...plain, handshake: this.cipher.handshake(plain)! };
    this.h.core.handleDatagram(encode(this.hello), this.from, now);
  }

  seal(p: Packet, now = T0): Buffer {
    return this.cipher.seal(encode(p), now);
  }

  /** A packet of the session, sealed: what the server answers, opened. */
  send(p: Packet, now = T0): Promise<Packet[]> {
    return this.h.deliver(this.seal(p, now), this.from, now);
  }
}

/** What the server sent (records opened), each sealed WELCOME opened by the client whose HELLO it answers. */
export function drainSealed(h: ServerHarness, clients: SealedClient[], now = T0): { to: Address; packet: Packet; data: Buffer }[] {
  return drain(h.core, h.openers).map((t) => {
    const p = t.packet;
    if (p.kind !== 'sealed-welcome') return t;
    const c = clients.find((cl) => cl.hello?.nonce === p.nonce && cl.from === t.to);
    return c ? { ...t, packet: c.openWelcome(p, now).welcome } : t;
  });
}

/**
 * The server's side of a handshake, by hand (for client tests): what the HELLO's first message carried,
 * the sealed WELCOME answering it, and the server's cipher for the session.
 */
export function serverAnswer(hello: Hello, welcome: Welcome, authenticated = false): { secret: Buffer | undefined; sealed: SealedWelcome; server: SessionCipher } {
  const responder = new NkResponder(noiseCrypto, SERVER_KEYS, helloPrologue(hello));
  const payload = responder.readMessage(hello.handshake!);
  const secret = payload && payloadSecret(payload);
  if (!payload || secret === 'bad') throw new Error('the server cannot read that handshake');
  const { message, keys } = responder.writeMessage(welcomePayload(welcome, authenticated));
  return {
    secret,
    sealed: { kind: 'sealed-welcome', nonce: welcome.nonce, sessionId: welcome.sessionId, message },
    server: new SessionCipher(noiseCrypto, welcome.sessionId, keys.toInitiator, keys.toResponder, 0),
  };
}
