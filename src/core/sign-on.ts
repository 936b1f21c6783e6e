import type { Address } from './address.js';
import type { ClientCipher } from './client/client-cipher.js';
import type { RttEstimator } from './rtt-estimator.js';
import { RefuseCode } from '../protocol/constants.js';
import type { Refuse, Retry, SealedWelcome, Welcome } from '../protocol/packets.js';

/**
 * What an answer to HELLO means for the client: registered (`authenticated`: the server checked our
 * secret), say HELLO again now (a cookie arrived) or later (the server limits handshakes), refused (by
 * the server, or by us: its key is not one we trust), or not genuine.
 */
export type HelloVerdict =
  | { kind: 'welcome'; welcome: Welcome; authenticated: boolean }
  | { kind: 'again' | 'later' | 'ignore' }
  | { kind: 'refused'; code: RefuseCode; reason: string; byServer: boolean };

const HELLO_RETRY_MS_MIN = 250;
const HELLO_RETRY_MS_MAX = 1_000;
const BYE_RETRY_MS = 200;

/**
 * A client's registration bookkeeping: when to say HELLO again (250 ms, doubling to 1 s), the cookie
 * from the server's RETRY, the nonce (new for each registration, so that a HELLO is never valid twice),
 * and the exchange as an RTT sample when HELLO went once (Karn).
 */
export class HelloTimer {
  cookie: Buffer = Buffer.alloc(0);
  nonce: number;
  private at: number | undefined;
  private retryMs = HELLO_RETRY_MS_MIN;
  private sentAt = 0;
  private sends = 0;

  constructor(nonce: number) {
    this.nonce = nonce >>> 0;
  }

  get deadline(): number | undefined {
    return this.at;
  }

  due(now: number): boolean {
    return this.at !== undefined && now >= this.at;
  }

  /** Call as a HELLO goes out. */
  sent(now: number): void {
    this.at = now + this.retryMs;
    if (this.sends++ === 0) this.sentAt = now;
  }

  /** The timer fired: the HELLO about to be sent again waits longer for its answer. */
  backOff(): void {
    this.retryMs = Math.min(this.retryMs * 2, HELLO_RETRY_MS_MAX);
  }

  /** The server asked for proof of address: keep its cookie; HELLO goes again at once. */
  private retried(cookie: Buffer, now: number, rtt: RttEstimator): void {
    this.sample(now, rtt);
    this.cookie = cookie;
    this.retryMs = HELLO_RETRY_MS_MIN;
  }

  private welcomed(now: number, rtt: RttEstimator): void {
    this.sample(now, rtt);
    this.at = undefined;
    this.retryMs = HELLO_RETRY_MS_MIN;
  }

  stop(): void {
    this.at = undefined;
  }

  /** A new registration: a new nonce, and the old cookie (bound to the old nonce) is no use. */
  renew(): void {
    this.nonce = (this.nonce + 1) >>> 0;
    this.cookie = Buffer.alloc(0);
    this.retryMs = HELLO_RETRY_MS_MIN;
    this.sends = 0;
  }

  /** Judges the server's answer to our HELLO. */
  answered(p: Welcome | SealedWelcome | Retry | Refuse, server: Address, now: number, rtt: RttEstimator, cipher: ClientCipher): HelloVerdict {
    switch (p.kind) {
      case 'retry': {
        const refusal = cipher.retried(server, p.serverKey);
        if (refusal !== undefined) return { kind: 'refused', code: RefuseCode.Unauthorized, reason: refusal, byServer: false };
        this.retried(p.cookie, now, rtt);
        return { kind: 'again' };
      }
      case 'refuse':
        return p.code === RefuseCode.RateLimited ? { kind: 'later' } : { kind: 'refused', code: p.code, reason: p.reason, byServer: true };
      case 'welcome':
      case 'sealed-welcome': {
        const verdict = cipher.welcome(p, server, now);
        if (verdict === 'forged') return { kind: 'ignore' };
        this.welcomed(now, rtt);
        return { kind: 'welcome', ...verdict };
      }
    }
  }

  private sample(now: number, rtt: RttEstimator): void {
    if (this.sends === 1) rtt.sample(now - this.sentAt);
    this.sends = 0;
  }
}

/** Signing off: BYE every 200 ms until answered or `tries` have gone unanswered. */
export class ByeTimer {
  private at: number | undefined;
  private count = 0;

  constructor(private readonly tries: number) {}

  get deadline(): number | undefined {
    return this.at;
  }

  due(now: number): boolean {
    return this.at !== undefined && now >= this.at;
  }

  get exhausted(): boolean {
    return this.count >= this.tries;
  }

  sent(now: number): void {
    this.count++;
    this.at = now + BYE_RETRY_MS;
  }

  stop(): void {
    this.at = undefined;
  }
}
