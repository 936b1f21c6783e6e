import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { Address } from '../../src/core/address.js';
import { SERVER_DEFAULTS, ServerCore, type ServerConfig } from '../../src/core/server/server-core.js';
import { decode } from '../../src/protocol/codec.js';
import { encode } from '../../src/protocol/codec.js';
import { FromKind, Role } from '../../src/protocol/constants.js';
import type { Hello, Packet, Welcome } from '../../src/protocol/packets.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { TopicStores } from '../../src/store/topic-stores.js';
import type { ClaimResult } from '../../src/store/store.js';
import { recordHead } from '../../src/protocol/records.js';
import { runStoreRequest, type StoreRequest } from '../../src/store/store-request.js';
import { serverInvariants } from './server-invariants.js';

export const SERVER: Address = { address: '127.0.0.1', port: 12345 };
export const CLIENT: Address = { address: '127.0.0.1', port: 40001 };
/** Another client on the same host. */
export const OTHER: Address = { address: '127.0.0.1', port: 40002 };
export const T0 = 1_800_000_000_000;
export const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();

/** Opens the sealed records of a session a test client holds the keys of. */
export type RecordOpener = (datagram: Buffer) => Buffer | undefined;

/** Everything a core wants to send, decoded (a sealed record opened with its session's `openers`). */
export function drain(
  core: { pollTransmit(): { to: Address; data: Buffer } | undefined },
  openers: ReadonlyMap<bigint, RecordOpener> = new Map(),
): { to: Address; packet: Packet; data: Buffer }[] {
  const out = [];
  for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
    const head = recordHead(t.data);
    const inner = head ? openers.get(head.sessionId)?.(t.data) : t.data;
    if (!inner) throw new Error(`a sealed record of session ${head?.sessionId} that no test client can open`);
    out.push({ to: t.to, packet: decode(inner), data: t.data });
  }
  return out;
}

/** A server core over a memory store, whose store requests are run to completion on demand. */
export class ServerHarness {
  readonly serverAddress = SERVER;
  readonly core: ServerCore;
  /** While set, every store request fails without reaching the store (a store that is away). */
  storeDown = false;
  /** The test clients of encrypted sessions, by session id: what the server seals to them is opened for the test. */
  readonly openers = new Map<bigint, RecordOpener>();
  private nextId = 1n;
  /** Every topic's store: `store` keeps the default topic's log, other topics get memory stores of their own. */
  readonly stores: TopicStores;

  constructor(
    config: Partial<ServerConfig> = {},
    readonly store = new MemoryStore(),
  ) {
    this.stores = new TopicStores(store, async () => new MemoryStore());
    this.core = new ServerCore({
      ...SERVER_DEFAULTS,
      randomId: () => this.nextId++,
      randomKey: () => Buffer.from(`key ${this.nextId++}`),
      mac: hmac,
      ...config,
    });
  }

  async settle(now: number): Promise<void> {
    for (let r = this.core.pollStoreRequest(); r; r = this.core.pollStoreRequest()) {
      if (this.storeDown) {
        this.core.handleStoreResult(r.id, false, new Error('store unreachable'), now);
        continue;
      }
      const value = await runStoreRequest(this.stores, r.req);
      this.core.handleStoreResult(r.id, true, value, now);
    }
    this.check();
  }

  /** Fails the test at once when the server's state breaks an invariant (test/core/server-invariants.ts). */
  check(): void {
    const broken = serverInvariants(this.core);
    if (broken.length > 0) throw new Error(`server invariants broken: ${broken.join('; ')}`);
  }

  /** HELLO, RETRY, HELLO with the cookie: what the server says to the second one. */
  async handshake(hello: Omit<Hello, 'cookie'>, from: Address, now: number): Promise<Packet[]> {
    const [retry] = await this.deliver(encode({ ...hello, cookie: Buffer.alloc(0) } as Hello), from, now);
    if (retry?.kind !== 'retry') throw new Error(`expected a retry, got ${retry?.kind}`);
    return this.deliver(encode({ ...hello, cookie: retry.cookie } as Hello), from, now);
  }

  async deliver(data: Buffer, from: Address, now: number): Promise<Packet[]> {
    return (await this.deliverRaw(data, from, now)).map((t) => t.packet);
  }

  /** As deliver, with the bytes of each answer (to check tags and sizes). */
  async deliverRaw(data: Buffer, from: Address, now: number): Promise<{ to: Address; packet: Packet; data: Buffer }[]> {
    this.core.handleDatagram(data, from, now);
    await this.settle(now);
    return drain(this.core, this.openers);
  }
}

export const helloWriter = (name: string, nonce = 1, producerId = 9n, nextSeq = 1) =>
  ({ kind: 'hello', role: Role.Writer, nonce, name, producerId, nextSeq }) as const;
export const helloReader = (name: string, nonce = 2, fromKind: FromKind = FromKind.Earliest, fromId = 0) =>
  ({ kind: 'hello', role: Role.Reader, nonce, name, fromKind, fromId }) as const;
/** DATA of one writer session: one message per text. */
export const data = (sessionId: bigint, seq: number, ...texts: string[]) =>
  encode({ kind: 'data', sessionId, seq, entries: texts.map((t) => ({ more: false, continued: false, text: Buffer.from(t) })) });

/** A writer signed on (HELLO, RETRY, HELLO): its session id. */
export async function openWriter(h: ServerHarness, name = 'w', from = CLIENT): Promise<bigint> {
  const [w] = await h.handshake(helloWriter(name), from, T0);
  assert.equal(w!.kind, 'welcome');
  return (w as Welcome).sessionId;
}

/** A server with 'a', 'b', 'c' in its log (ids 1..3) and a reader 'r' signed on from OTHER. */
export async function threeLinesAndReader(config: Partial<ServerConfig>): Promise<{ h: ServerHarness; wsid: bigint; rsid: bigint }> {
  const h = new ServerHarness(config);
  const wsid = await openWriter(h);
  await h.deliver(data(wsid, 1, 'a', 'b', 'c'), CLIENT, T0);
  const [w] = await h.handshake(helloReader('r'), OTHER, T0);
  return { h, wsid, rsid: (w as Welcome).sessionId };
}

/** The next store request the core has made, which must be a `op`: to answer it by hand, in the order a test needs. */
export function nextRequest<Op extends StoreRequest['op']>(h: ServerHarness, op: Op): { id: number; req: Extract<StoreRequest, { op: Op }> } {
  const r = h.core.pollStoreRequest();
  assert.equal(r?.req.op, op);
  return r as { id: number; req: Extract<StoreRequest, { op: Op }> };
}

/** A store shared by servers, with name claims as the Redis store keeps them (store/redis-scripts.ts), on a clock of its own. */
export class ClaimingStore extends MemoryStore {
  now = T0;
  private readonly claimed = new Map<string, { holder: string; until: number }>();
  private live(key: string) {
    const c = this.claimed.get(key);
    return c && c.until > this.now ? c : undefined;
  }
  claimName(key: string, holder: string, ttlMs: number, force: boolean): Promise<ClaimResult> {
    const cur = this.live(key);
    const client = (h: string) => h.slice(0, h.lastIndexOf('|'));
    if (cur && !force && client(cur.holder) !== client(holder)) return Promise.resolve({ ok: false, heldForMs: cur.until - this.now });
    this.claimed.set(key, { holder, until: this.now + ttlMs });
    return Promise.resolve({ ok: true });
  }
  renewNames(claims: readonly { key: string; holder: string }[], ttlMs: number): Promise<string[]> {
    const lost: string[] = [];
    for (const c of claims) {
      const cur = this.live(c.key);
      if (cur?.holder === c.holder) cur.until = this.now + ttlMs;
      else lost.push(c.key);
    }
    return Promise.resolve(lost);
  }
  releaseName(key: string, holder: string): Promise<void> {
    if (this.live(key)?.holder === holder) this.claimed.delete(key);
    return Promise.resolve();
  }
}
