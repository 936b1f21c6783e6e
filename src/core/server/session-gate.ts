import { addressKey, type Address } from '../address.js';
import { decode, encode } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import { refuseOldVersion } from '../../protocol/old-versions.js';
import type { Hello, Packet } from '../../protocol/packets.js';
import { recordHead } from '../../protocol/records.js';
import type { SessionCipher } from '../session-cipher.js';
import type { Outbox } from './outbox.js';
import type { ServerStats } from './server-config.js';
import type { Session, SessionTable } from './sessions.js';

/** The kinds a client sends within a session. */
const CLIENT_KINDS = new Set<Packet['kind']>(['data', 'recall', 'fetch', 'ping', 'pong', 'who', 'track', 'topics', 'bye']);

/**
 * Which session a datagram belongs to, if it is genuine; and what sessions that ended lately are told.
 * An encrypted server takes session packets only as sealed records of the session they name (each
 * record once: the cipher's replay window); a server in plain text takes them in the clear.
 */
export class SessionGate {
  constructor(
    private readonly out: Outbox,
    private readonly sessions: SessionTable,
    private readonly stats: ServerStats,
    private readonly encrypted: boolean,
  ) {}

  /**
   * The live session a datagram (not a HELLO) is of, and its packet, if it is genuine and from the
   * session's own address (anything else is ignored, not answered). Unknown session ids are answered.
   */
  receive(data: Buffer, from: Address, now: number): { s: Session; packet: Packet } | undefined {
    const head = recordHead(data);
    if (!head && this.encrypted) return this.dropped();
    const id = head?.sessionId;
    const packet = head ? undefined : this.decodeClear(data);
    const sessionId = id ?? packet?.sessionId;
    if (sessionId === undefined) return undefined;
    const s = this.sessions.byId.get(sessionId);
    if (!s) {
      this.ended(sessionId, data, packet, from);
      return undefined;
    }
    if (s.addrKey !== addressKey(from)) return undefined;
    const p = packet ?? this.opened(s.cipher, sessionId, data);
    if (!p) return undefined;
    if (!s.ready) return undefined;
    s.lastSeen = now;
    return { s, packet: p };
  }

  /** A HELLO, decoded; a client of an older protocol is told, in its own version, to upgrade. */
  hello(data: Buffer, from: Address): Hello | undefined {
    try {
      const p = decode(data);
      return p.kind === 'hello' ? p : undefined;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.stats.malformed++;
      const refusal = e.code === 'bad-version' ? refuseOldVersion(data) : undefined;
      if (refusal) this.out.sendRaw(from, refusal);
      return undefined;
    }
  }

  /** A packet in the clear (plain-text mode) that a client sends within a session. */
  private decodeClear(data: Buffer): (Packet & { sessionId: bigint }) | undefined {
    const p = decodeOrUndefined(data);
    if (p && 'sessionId' in p && CLIENT_KINDS.has(p.kind)) return p;
    this.stats.malformed++;
    return undefined;
  }

  /** The packet inside a record of session `id`: genuine, new, and a client's packet of that session. */
  private opened(cipher: SessionCipher | undefined, id: bigint, data: Buffer): Packet | undefined {
    const bytes = cipher?.open(data);
    if (!bytes) return this.dropped();
    const p = decodeOrUndefined(bytes);
    if (p && 'sessionId' in p && p.sessionId === id && CLIENT_KINDS.has(p.kind)) return p;
    this.stats.malformed++;
    return undefined;
  }

  /**
   * A datagram for a session that is gone. One taken over by a newer login hears GOODBYE (in its own
   * keys); a BYE again for one that ended by BYE (its GOODBYE was lost) hears GOODBYE again, once saved;
   * an id the server does not know is answered so, in the clear (the client signs on again).
   */
  private ended(id: bigint, data: Buffer, clear: Packet | undefined, from: Address): void {
    const key = addressKey(from);
    const r = this.sessions.retired.get(id);
    if (r) {
      if (r.addrKey === key && (clear ?? this.opened(r.cipher, id, data))) this.goodbye(id, r.cipher, from);
      return;
    }
    const l = this.sessions.left.get(id);
    if (l && (clear ?? this.opened(l.cipher, id, data))?.kind === 'bye') {
      if (l.saved && l.addrKey === key) this.goodbye(id, l.cipher, l.addr);
      return;
    }
    this.out.send(from, { kind: 'unknown-session', sessionId: id });
  }

  private goodbye(id: bigint, cipher: SessionCipher | undefined, to: Address): void {
    const goodbye = encode({ kind: 'goodbye', sessionId: id });
    this.out.sendRaw(to, cipher ? cipher.seal(goodbye, this.out.now()) : goodbye);
  }

  private dropped(): undefined {
    this.stats.forged++;
    return undefined;
  }
}

function decodeOrUndefined(data: Buffer): Packet | undefined {
  try {
    return decode(data);
  } catch (e) {
    if (e instanceof ProtocolError) return undefined;
    throw e;
  }
}
