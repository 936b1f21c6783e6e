import type { NoiseCrypto } from '../protocol/noise.js';
import { nextKey, openRecord, recordHead, sealRecord, type RecordHead } from '../protocol/records.js';
import { ReplayWindow } from './replay-window.js';

/** A direction's key is renewed after this many records or this long, whichever comes first. */
export const REKEY_RECORDS = 1 << 20;
export const REKEY_MS = 120_000;

interface Inbound {
  epoch: number;
  key: Buffer;
  window: ReplayWindow;
}

/**
 * Both directions of one encrypted session. Sending: a counter per key epoch, the key renewed (Noise
 * REKEY) on a schedule so that a key taken from a long-running process does not open what went before.
 * Receiving: each record once (a replay window per epoch); a record of the next epoch moves the receiver
 * on; the epoch before is kept for records still on their way, the one before that is forgotten.
 */
export class SessionCipher {
  private sendKey: Buffer;
  private sendEpoch = 0;
  private sendCounter = 0;
  private epochStarted: number;
  private current: Inbound;
  private previous: Inbound | undefined;

  constructor(
    private readonly c: NoiseCrypto,
    readonly sessionId: bigint,
    sendKey: Buffer,
    receiveKey: Buffer,
    now: number,
    private readonly rekey = { records: REKEY_RECORDS, ms: REKEY_MS },
  ) {
    this.sendKey = sendKey;
    this.epochStarted = now;
    this.current = { epoch: 0, key: receiveKey, window: new ReplayWindow() };
  }

  seal(packet: Buffer, now: number): Buffer {
    if (this.sendCounter >= this.rekey.records || now - this.epochStarted >= this.rekey.ms) {
      this.sendKey = nextKey(this.c, this.sendKey);
      this.sendEpoch++;
      this.sendCounter = 0;
      this.epochStarted = now;
    }
    return sealRecord(this.c, this.sendKey, { sessionId: this.sessionId, epoch: this.sendEpoch, counter: this.sendCounter++ }, packet);
  }

  /** The packet in a record of this session: genuine, not seen before, of this epoch, the one before, or the next. */
  open(datagram: Buffer): Buffer | undefined {
    const head = recordHead(datagram);
    if (!head || head.sessionId !== this.sessionId) return undefined;
    if (head.epoch === this.current.epoch + 1) {
      const next: Inbound = { epoch: head.epoch, key: nextKey(this.c, this.current.key), window: new ReplayWindow() };
      const packet = this.take(next, head, datagram);
      if (packet) {
        this.previous = this.current;
        this.current = next;
      }
      return packet;
    }
    // Any other epoch is tried with the key before: one that is not that epoch's fails, as the epoch is
    // in the nonce and in the associated data.
    const inbound = head.epoch === this.current.epoch ? this.current : this.previous;
    return inbound && this.take(inbound, head, datagram);
  }

  private take(inbound: Inbound, head: RecordHead, datagram: Buffer): Buffer | undefined {
    if (!inbound.window.fresh(head.counter)) return undefined;
    const packet = openRecord(this.c, inbound.key, head, datagram);
    if (packet) inbound.window.accept(head.counter);
    return packet;
  }
}
