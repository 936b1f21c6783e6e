import { ENTRIES_PER_PACKET_MAX } from '../../protocol/constants.js';
import { BATCH_HEADER_BYTES, batchMessageOverheadBytes } from '../../protocol/sizes.js';
import type { Batch, WireMessage } from '../../protocol/packets.js';
import type { ReadResult } from '../../store/store.js';

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
  const parts: Batch[] = [];
  const budget = req.datagramBytes - BATCH_HEADER_BYTES;
  let messages: WireMessage[] = [];
  let used = 0;
  let nextPosition = req.position;
  let nextOffset = req.offset;
  let partPosition = req.position;
  let partOffset = req.offset;
  let complete = true;

  const close = (): boolean => {
    parts.push({
      kind: 'batch',
      sessionId: req.sessionId,
      fetchId: req.fetchId,
      part: parts.length,
      lastPart: false,
      caughtUp: false,
      position: partPosition,
      offset: partOffset,
      nextPosition,
      nextOffset,
      missed: parts.length === 0 ? missed : 0,
      messages,
    });
    partPosition = nextPosition;
    partOffset = nextOffset;
    messages = [];
    used = 0;
    return parts.length < req.maxDatagrams;
  };

  let lastFrom = '';
  let fromBytes = 0;
  outer: for (const m of read.messages) {
    let offset = m.id === req.position ? req.offset : 0;
    if (offset > m.text.length) offset = 0;
    if (m.from !== lastFrom) {
      lastFrom = m.from;
      fromBytes = Buffer.byteLength(m.from);
    }
    const hasTo = m.to !== undefined;
    const nameBytes = fromBytes + (hasTo ? Buffer.byteLength(m.to!) : 0);
    for (;;) {
      const rest = m.text.length - offset;
      const prev = messages[messages.length - 1];
      if (messages.length >= ENTRIES_PER_PACKET_MAX) {
        if (!close()) {
          complete = false;
          break outer;
        }
        continue;
      }
      if (offset === 0) {
        const overhead = batchMessageOverheadBytes(m, prev, nameBytes, hasTo, undefined, rest);
        if (used + overhead + rest <= budget) {
          messages.push(m); // a stored message is a wire message already
          used += overhead + rest;
          nextPosition = m.id + 1;
          nextOffset = 0;
          break;
        }
      }
      // The chunk's length is at most `rest`, so its varint is at most as long.
      const overhead = batchMessageOverheadBytes(m, prev, nameBytes, hasTo, { total: m.text.length, offset }, rest);
      const room = budget - used - overhead;
      if (room < FRAGMENT_BYTES_MIN && messages.length > 0) {
        if (!close()) {
          complete = false;
          break outer;
        }
        continue;
      }
      const chunk = Math.min(rest, Math.max(room, 1));
      messages.push({ ...wire(m), fragment: { total: m.text.length, offset }, text: m.text.subarray(offset, offset + chunk) });
      used += overhead + chunk;
      offset += chunk;
      if (offset >= m.text.length) {
        nextPosition = m.id + 1;
        nextOffset = 0;
        break;
      }
      // The fragment filled the part: the next turn closes it and goes on in a new one.
      nextPosition = m.id;
      nextOffset = offset;
    }
  }
  if (complete) {
    if (read.next > nextPosition && nextOffset === 0) nextPosition = read.next;
    close();
  }
  const last = parts[parts.length - 1]!;
  last.lastPart = true;
  last.caughtUp = complete && read.atEnd;
  return parts;
}

function wire(m: { id: number; ts: number; from: string; to?: string; text: Buffer }): WireMessage {
  return m.to === undefined
    ? { id: m.id, ts: m.ts, from: m.from, text: m.text }
    : { id: m.id, ts: m.ts, from: m.from, to: m.to, text: m.text };
}
