import { MESSAGE_BYTES_MAX } from '../../protocol/constants.js';
import type { Batch, WireMessage } from '../../protocol/packets.js';
import type { Message } from './reader-types.js';

/** Parts kept that arrived ahead of a missing one, at most. */
const AHEAD_PARTS_MAX = 128;

const at = (position: number, offset: number): string => `${position}:${offset}`;

/**
 * Replies put back in log order, and long messages put back together: the parts of replies that arrive
 * ahead of a missing one wait here (bounded), and a message sent in fragments is joined once whole.
 */
export class Reassembly {
  /** Parts received and not yet taken, by where they start. */
  private readonly ahead = new Map<string, Batch>();
  private partial: (Message & { chunks: Buffer[]; bytes: number; total: number }) | undefined;

  /** Nothing held: a new session, or the reader went elsewhere. */
  reset(): void {
    this.ahead.clear();
    this.partial = undefined;
  }

  get held(): number {
    return this.ahead.size;
  }

  /**
   * Keeps a part until the reader reaches it. The part that fills the gap at (position, offset) is always
   * kept: with the store of parts ahead full, it is what empties it. False: held already, or no room.
   */
  hold(b: Batch, position: number, offset: number): boolean {
    const key = at(b.position, b.offset);
    if (this.ahead.has(key) || (this.ahead.size >= AHEAD_PARTS_MAX && key !== at(position, offset))) return false;
    this.ahead.set(key, b);
    return true;
  }

  /** The part that starts where the reader stands, taken out. */
  take(position: number, offset: number): Batch | undefined {
    const key = at(position, offset);
    const part = this.ahead.get(key);
    if (part) this.ahead.delete(key);
    return part;
  }

  /** Drops the parts that start before where the reader stands: taken already. */
  dropBefore(position: number, offset: number): void {
    for (const [k, p] of this.ahead) {
      if (p.position < position || (p.position === position && p.offset < offset)) this.ahead.delete(k);
    }
  }

  /** Whether the reader may stand at `offset` inside message `position`: only while holding its start. */
  continues(position: number, offset: number): boolean {
    const p = this.partial;
    if (p && p.id === position && p.bytes === offset) return true;
    this.partial = undefined;
    return false;
  }

  /** A fragment in: the whole message once its last fragment is here, else undefined. */
  fragment(m: WireMessage): Message | undefined {
    const frag = m.fragment!;
    if (frag.total > MESSAGE_BYTES_MAX) {
      this.partial = undefined; // a size no server may hold: reassemble nothing of it
      return undefined;
    }
    if (frag.offset === 0) this.partial = { ...wireToMessage(m, Buffer.alloc(0)), chunks: [], bytes: 0, total: frag.total };
    const p = this.partial;
    if (!p || p.id !== m.id || p.bytes !== frag.offset || p.total !== frag.total) {
      this.partial = undefined;
      return undefined;
    }
    p.chunks.push(Buffer.from(m.text));
    p.bytes += m.text.length;
    if (p.bytes < p.total) return undefined;
    this.partial = undefined;
    const { chunks, bytes, total: _total, ...msg } = p;
    return { ...msg, text: Buffer.concat(chunks, bytes) };
  }
}

/** A fragment's message fields, with the text given (its fragment marks left behind). */
function wireToMessage(m: WireMessage, t: Buffer): Message {
  const out: Message = m.to === undefined ? { id: m.id, ts: m.ts, from: m.from, text: t } : { id: m.id, ts: m.ts, from: m.from, to: m.to, text: t };
  if (m.file !== undefined) out.file = m.file;
  return out;
}
