import { addressKey, type Address } from '../address.js';
import { isTagged, seal, verify } from '../../protocol/auth.js';
import { encode } from '../../protocol/codec.js';
import type { Outbox } from './outbox.js';
import type { ServerStats } from './server-config.js';
import type { Session, SessionTable } from './sessions.js';

/** Which session a datagram belongs to, if it is genuine; and what sessions that ended lately are told. */
export class SessionGate {
  constructor(
    private readonly out: Outbox,
    private readonly sessions: SessionTable,
    private readonly stats: ServerStats,
    private readonly mac: (key: Buffer, data: Buffer) => Buffer,
  ) {}

  /**
   * The live session a datagram names, if it is genuine: from the session's own address (anything else
   * is ignored, not answered) and, in authenticated mode, with a right tag. Unknown ids are answered.
   */
  session(id: bigint, data: Buffer, from: Address, now: number): Session | undefined {
    const s = this.sessions.byId.get(id);
    if (!s) {
      const r = this.sessions.retired.get(id);
      if (r) {
        if (r.addrKey === addressKey(from) && verify(data, r.keys.toServer, this.mac)) {
          this.out.sendRaw(from, seal(encode({ kind: 'goodbye', sessionId: id }), r.keys.toClient, this.mac));
        }
        return undefined;
      }
      this.out.send(from, { kind: 'unknown-session', sessionId: id });
      return undefined;
    }
    if (s.addrKey !== addressKey(from)) return undefined;
    if (s.keys ? !verify(data, s.keys.toServer, this.mac) : isTagged(data)) {
      this.stats.forged++;
      return undefined;
    }
    if (!s.ready) return undefined;
    s.lastSeen = now;
    return s;
  }

  /** A BYE again for a session that ended by BYE (its GOODBYE was lost): GOODBYE again, once saved. */
  byeAgain(id: bigint, data: Buffer, from: Address): boolean {
    const l = this.sessions.left.get(id);
    if (!l) return false;
    const genuine = l.keys ? verify(data, l.keys.toServer, this.mac) : !isTagged(data);
    if (l.saved && genuine && l.addrKey === addressKey(from)) {
      const goodbye = encode({ kind: 'goodbye', sessionId: id });
      this.out.sendRaw(l.addr, l.keys ? seal(goodbye, l.keys.toClient, this.mac) : goodbye);
    }
    return true;
  }
}
