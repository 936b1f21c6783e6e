import type { Address, Transmit } from '../address.js';
import { encode } from '../../protocol/codec.js';
import type { Packet } from '../../protocol/packets.js';
import type { StoreRequest, StoreResults } from '../../store/store-request.js';
import type { ServerEvent, ServerStats } from './server-config.js';
import type { Session } from './sessions.js';

type Op = StoreRequest['op'];

/**
 * What a store request's continuation is given: its result, typed by the request, or the failure.
 * Checking `ok` tells TypeScript which.
 */
export type StoreAnswer<O extends Op> = [ok: true, value: StoreResults[O], now: number] | [ok: false, error: unknown, now: number];
/** A continuation, with or without the time the answer came. */
export type StoreThen<O extends Op> =
  | ((...answer: StoreAnswer<O>) => void)
  | ((...answer: [ok: true, value: StoreResults[O]] | [ok: false, error: unknown]) => void);

type Continuation = (ok: boolean, value: unknown, now: number) => void;

/** Everything the server core hands out: datagrams, store requests (with what to do with each answer) and events. */
export class Outbox {
  private readonly transmits: Transmit[] = [];
  private readonly requests: { id: number; req: StoreRequest }[] = [];
  private readonly continuations = new Map<number, Continuation>();
  private readonly events: ServerEvent[] = [];
  private nextRequestId = 1;

  constructor(
    private readonly stats: ServerStats,
    /** The time of the input being handled (sealing renews keys on a schedule). */
    readonly now: () => number,
  ) {}

  send(to: Address, p: Packet): void {
    this.transmits.push({ to, data: encode(p) });
  }

  /** To a session's client: sealed in the session's keys when it is encrypted. */
  sendTo(s: Session, p: Packet, deferrable = false): void {
    this.sendRaw(s, this.seal(s, encode(p)), deferrable);
  }

  /** An encoded datagram, as it is: sealed already, or for a client in plain text. */
  sendRaw(to: Session | Address, data: Buffer, deferrable = false): void {
    const addr = 'addr' in to ? to.addr : to;
    this.transmits.push(deferrable ? { to: addr, data, deferrable } : { to: addr, data });
  }

  seal(s: Session, datagram: Buffer): Buffer {
    return s.cipher ? s.cipher.seal(datagram, this.now()) : datagram;
  }

  event(e: ServerEvent): void {
    this.events.push(e);
  }

  storeError(op: string, error: unknown): void {
    this.events.push({ type: 'store-error', op, error });
  }

  /** Asks the store; `then` gets the answer when the I/O side hands it back. */
  call<O extends Op>(req: Extract<StoreRequest, { op: O }>, then: StoreThen<O>): void {
    const id = this.nextRequestId++;
    this.continuations.set(id, then as Continuation);
    this.requests.push({ id, req });
  }

  /** Asks the store for what needs no answer but a report if it fails. */
  tell(req: StoreRequest): void {
    this.call(req, (ok, error) => {
      if (!ok) this.storeError(req.op, error);
    });
  }

  answer(id: number, ok: boolean, value: unknown, now: number): void {
    const k = this.continuations.get(id);
    if (!k) throw new Error(`no store request ${id}`);
    this.continuations.delete(id);
    k(ok, value, now);
  }

  pollTransmit(): Transmit | undefined {
    const t = this.transmits.shift();
    if (t) this.stats.datagramsOut++;
    return t;
  }

  pollStoreRequest(): { id: number; req: StoreRequest } | undefined {
    return this.requests.shift();
  }

  pollEvent(): ServerEvent | undefined {
    return this.events.shift();
  }

  get pendingStoreWork(): number {
    return this.continuations.size + this.requests.length;
  }
}
