import type { Ack, WriterMark } from '../../protocol/packets.js';
import { DATA_SEQ_OFFSET } from '../../protocol/sizes.js';

/** A DATA datagram kept until the server says its lines are stored. */
export interface Datagram {
  seq: number;
  data: Buffer;
  linesEnded: number;
  /** The marks sent ahead of the queue that it carries (see LinePacker.markAhead). */
  ahead?: WriterMark[];
  state: 'unsent' | 'sent' | 'received';
  sentAt: number;
  sends: number;
}

/** What an ACK did to the window. */
export interface Acknowledged {
  /** Datagrams the server has now that it had not said it had. */
  newlyReceived: number;
  /** Datagrams whose lines are stored: out of the window, oldest first. */
  confirmed: Datagram[];
  /** The newest of those newly received that went once: an RTT sample (Karn). */
  sample: Datagram | undefined;
  /** The highest sequence number the ACK names beyond the contiguous ones (0: none). */
  highestSacked: number;
}

/**
 * The datagrams a writer has sent, or will send, whose lines are not yet stored: oldest first, each
 * unsent, in flight or received (arrived, not yet stored); and how many are in flight.
 */
export class SentWindow {
  readonly datagrams: Datagram[] = [];
  /** Datagrams in flight: sent, neither received nor taken for lost. */
  outstanding = 0;

  get size(): number {
    return this.datagrams.length;
  }

  get oldest(): Datagram | undefined {
    return this.datagrams[0];
  }

  push(d: Datagram): void {
    this.datagrams.push(d);
  }

  sent(d: Datagram, now: number): void {
    d.state = 'sent';
    d.sentAt = now;
    d.sends++;
    this.outstanding++;
  }

  acknowledge(a: Ack, nextSeq: number): Acknowledged {
    const dgrams = this.datagrams;
    const base = dgrams[0]?.seq ?? nextSeq;
    const out: Acknowledged = { newlyReceived: 0, confirmed: [], sample: undefined, highestSacked: 0 };
    const received = (d: Datagram): void => {
      if (d.state === 'received') return;
      if (d.state === 'sent') this.outstanding--;
      d.state = 'received';
      out.newlyReceived++;
      if (d.sends === 1 && (!out.sample || d.seq > out.sample.seq)) out.sample = d;
    };
    for (let i = 0; i < dgrams.length && dgrams[i]!.seq <= a.received; i++) received(dgrams[i]!);
    for (const r of a.sacks) {
      for (let seq = Math.max(r.first, base); seq <= r.last && seq - base < dgrams.length; seq++) received(dgrams[seq - base]!);
      out.highestSacked = Math.max(out.highestSacked, r.last);
    }
    out.confirmed = this.confirmBefore(a.committed + 1);
    return out;
  }

  /** Takes out the datagrams before `seq`: their lines are stored. */
  confirmBefore(seq: number): Datagram[] {
    const confirmed: Datagram[] = [];
    while (this.datagrams.length > 0 && this.datagrams[0]!.seq < seq) {
      const d = this.datagrams.shift()!;
      if (d.state === 'sent') this.outstanding--;
      confirmed.push(d);
    }
    return confirmed;
  }

  /** A datagram three or more behind one that arrived, and older than `ageMs`, is taken as lost. */
  lostBehind(highestSacked: number, now: number, ageMs: number): boolean {
    let lost = false;
    for (const d of this.datagrams) {
      if (d.seq + 3 > highestSacked) break;
      if (d.state === 'sent' && now - d.sentAt >= ageMs) {
        this.unsend(d);
        lost = true;
      }
    }
    return lost;
  }

  /** Everything in flight is taken for lost (a timeout; or dropped by a THROTTLE): to be sent again. */
  allLost(): void {
    for (const d of this.datagrams) if (d.state === 'sent') this.unsend(d);
  }

  /** Puts `front` before the datagrams kept, which move up by as many sequence numbers: none of them is stored. */
  prepend(front: Datagram[]): void {
    for (const d of this.datagrams) {
      d.seq += front.length;
      d.data = Buffer.from(d.data); // the old buffer may still be queued for sending
      d.data.writeUInt32BE(d.seq, DATA_SEQ_OFFSET);
    }
    this.datagrams.unshift(...front);
  }

  /** A new session: everything not stored goes again, and nothing is in flight. */
  restart(): void {
    for (const d of this.datagrams) d.state = 'unsent';
    this.outstanding = 0;
  }

  private unsend(d: Datagram): void {
    d.state = 'unsent';
    this.outstanding--;
  }
}
