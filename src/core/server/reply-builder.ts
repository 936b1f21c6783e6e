import { ENTRIES_PER_PACKET_MAX } from '../../protocol/constants.js';
import { BATCH_HEADER_BYTES, batchMessageOverheadBytes } from '../../protocol/sizes.js';
import type { Batch, WireMessage } from '../../protocol/packets.js';
import type { ReadResult } from '../../store/store.js';

type StoredMessage = ReadResult['messages'][number];

/** Smallest useful fragment: below this, a big message starts in the next part instead. */
const FRAGMENT_BYTES_MIN = 64;

export interface ReplyRequest {
  sessionId: bigint;
  fetchId: number;
  position: number;
  offset: number;
  maxDatagrams: number;
  datagramBytes: number;
}

/**
 * Cuts a read into at most `maxDatagrams` BATCH parts, each within `datagramBytes`.
 * A message too big for one part travels in fragments; the reader asks again from (id, offset).
 */
export function buildReply(
  req: ReplyRequest,
  read: ReadResult,
  /** Messages the reader is told it missed (retention); by default those between its position and the log's first. */
  missed = read.first > req.position ? read.first - req.position : 0,
): Batch[] {
  const reply = new ReplyParts(req, read, missed);
  let complete = true;
  for (const m of read.messages) {
    if (!reply.add(m)) {
      complete = false;
      break;
    }
  }
  return reply.finish(read, complete);
}

/** The parts of one reply as they fill. */
class ReplyParts {
  private readonly parts: Batch[] = [];
  private readonly budget: number;
  private messages: WireMessage[] = [];
  private used = 0;
  private nextPosition: number;
  private nextOffset: number;
  private partPosition: number;
  private partOffset: number;
  private lastFrom = '';
  private fromBytes = 0;

  constructor(
    private readonly req: ReplyRequest,
    read: ReadResult,
    private readonly missed: number,
  ) {
    this.budget = req.datagramBytes - BATCH_HEADER_BYTES;
    this.nextPosition = this.partPosition = req.position;
    this.nextOffset = this.partOffset = req.offset;
    // The message the reader stood in (part way through its fragments) is gone: retention removed it. The
    // reader goes on from what is kept, at the start of a message; left where it stood, it would ask again
    // and again, and be told each time of what it missed.
    if (read.first > req.position) {
      this.nextPosition = Math.min(read.first, read.next);
      this.nextOffset = 0;
    }
  }

  /** Adds a stored message (the rest of it, where the reader stopped inside it); false once the reply is full. */
  add(m: StoredMessage): boolean {
    const req = this.req;
    let offset = m.id === req.position ? req.offset : 0;
    if (offset > m.text.length) offset = 0;
    if (m.from !== this.lastFrom) {
      this.lastFrom = m.from;
      this.fromBytes = Buffer.byteLength(m.from);
    }
    const hasTo = m.to !== undefined;
    const nameBytes = this.fromBytes + (hasTo ? Buffer.byteLength(m.to!) : 0) + (m.file === undefined ? 0 : 1 + Buffer.byteLength(m.file));
    for (;;) {
      const rest = m.text.length - offset;
      const prev = this.messages[this.messages.length - 1];
      if (this.messages.length >= ENTRIES_PER_PACKET_MAX) {
        if (!this.close()) return false;
        continue;
      }
      if (offset === 0) {
        const overhead = batchMessageOverheadBytes(m, prev, nameBytes, hasTo, undefined, rest);
        if (this.used + overhead + rest <= this.budget) {
          this.messages.push(m); // a stored message is a wire message already
          this.used += overhead + rest;
          this.nextPosition = m.id + 1;
          this.nextOffset = 0;
          return true;
        }
      }
      // The chunk's length is at most `rest`, so its varint is at most as long.
      const overhead = batchMessageOverheadBytes(m, prev, nameBytes, hasTo, { total: m.text.length, offset }, rest);
      const room = this.budget - this.used - overhead;
      if (room < FRAGMENT_BYTES_MIN && this.messages.length > 0) {
        if (!this.close()) return false;
        continue;
      }
      const chunk = Math.min(rest, Math.max(room, 1));
      this.messages.push({ ...wire(m), fragment: { total: m.text.length, offset }, text: m.text.subarray(offset, offset + chunk) });
      this.used += overhead + chunk;
      offset += chunk;
      if (offset >= m.text.length) {
        this.nextPosition = m.id + 1;
        this.nextOffset = 0;
        return true;
      }
      // The fragment filled the part: the next turn closes it and goes on in a new one.
      this.nextPosition = m.id;
      this.nextOffset = offset;
    }
  }

  /** Closes the part being filled; false when no more parts fit. */
  private close(): boolean {
    const parts = this.parts;
    parts.push({
      kind: 'batch',
      sessionId: this.req.sessionId,
      fetchId: this.req.fetchId,
      part: parts.length,
      lastPart: false,
      caughtUp: false,
      position: this.partPosition,
      offset: this.partOffset,
      nextPosition: this.nextPosition,
      nextOffset: this.nextOffset,
      missed: parts.length === 0 ? this.missed : 0,
      messages: this.messages,
    });
    this.partPosition = this.nextPosition;
    this.partOffset = this.nextOffset;
    this.messages = [];
    this.used = 0;
    return parts.length < this.req.maxDatagrams;
  }

  finish(read: ReadResult, complete: boolean): Batch[] {
    if (complete) {
      if (read.next > this.nextPosition && this.nextOffset === 0) this.nextPosition = read.next;
      this.close();
    }
    const last = this.parts[this.parts.length - 1]!;
    last.lastPart = true;
    last.caughtUp = complete && read.atEnd;
    return this.parts;
  }
}

function wire(m: { id: number; ts: number; from: string; to?: string; text: Buffer }): WireMessage {
  return m.to === undefined
    ? { id: m.id, ts: m.ts, from: m.from, text: m.text }
    : { id: m.id, ts: m.ts, from: m.from, to: m.to, text: m.text };
}
