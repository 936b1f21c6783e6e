/**
 * The relay's packets over a byte stream (TCP). The client opens with a preamble: the magic "RLYS", a
 * framing version, and a 16-byte link id it keeps for its whole run, so that a connection made again after
 * a drop is known as the same peer. Then, both ways, each packet is one frame: its length as a big-endian
 * u16 (1 to 65,535), then its bytes, exactly as it would travel in a UDP datagram.
 */

export const STREAM_MAGIC = Buffer.from('RLYS', 'ascii');
export const STREAM_FRAMING_VERSION = 1;
export const LINK_ID_BYTES = 16;
export const PREAMBLE_BYTES = STREAM_MAGIC.length + 1 + LINK_ID_BYTES;
export const FRAME_HEADER_BYTES = 2;
export const FRAME_BYTES_MAX = 0xffff;

export function encodePreamble(linkId: Buffer): Buffer {
  if (linkId.length !== LINK_ID_BYTES) throw new RangeError(`a link id is ${LINK_ID_BYTES} bytes`);
  return Buffer.concat([STREAM_MAGIC, Buffer.of(STREAM_FRAMING_VERSION), linkId]);
}

/** The link id of a preamble, or why it is not one. */
export function decodePreamble(b: Buffer): { linkId: Buffer } | { error: string } {
  if (b.length < PREAMBLE_BYTES) return { error: 'short preamble' };
  if (!b.subarray(0, STREAM_MAGIC.length).equals(STREAM_MAGIC)) return { error: 'not a relay stream' };
  const version = b[STREAM_MAGIC.length]!;
  if (version !== STREAM_FRAMING_VERSION) return { error: `stream framing version ${version} (this server speaks ${STREAM_FRAMING_VERSION})` };
  return { linkId: Buffer.from(b.subarray(STREAM_MAGIC.length + 1, PREAMBLE_BYTES)) };
}

export function encodeFrame(packet: Buffer): Buffer {
  if (packet.length === 0 || packet.length > FRAME_BYTES_MAX) throw new RangeError(`a frame holds 1 to ${FRAME_BYTES_MAX} bytes, not ${packet.length}`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + packet.length);
  frame.writeUInt16BE(packet.length, 0);
  packet.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export class FramingError extends Error {}

/**
 * Cuts a byte stream into packets. It holds at most one unfinished frame (and, first, the preamble when
 * told to expect one), so what it buffers is bounded by `frameBytesMax`, whatever the peer sends.
 */
export class FrameDecoder {
  private held: Buffer | undefined;
  private preamblePending: boolean;
  private readonly onPreamble: ((linkId: Buffer) => void) | undefined;
  private readonly frameBytesMax: number;

  constructor(
    private readonly onFrame: (packet: Buffer) => void,
    opts: { preamble?: (linkId: Buffer) => void; frameBytesMax?: number } = {},
  ) {
    this.onPreamble = opts.preamble;
    this.preamblePending = opts.preamble !== undefined;
    this.frameBytesMax = Math.min(opts.frameBytesMax ?? FRAME_BYTES_MAX, FRAME_BYTES_MAX);
  }

  /** Bytes held of a frame not yet complete. */
  get heldBytes(): number {
    return this.held?.length ?? 0;
  }

  /** Takes the next bytes of the stream; throws FramingError when they break the framing. */
  push(chunk: Buffer): void {
    const b = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = undefined;
    let at = 0;
    if (this.preamblePending) {
      if (b.length < PREAMBLE_BYTES) {
        this.held = b;
        return;
      }
      const p = decodePreamble(b);
      if ('error' in p) throw new FramingError(p.error);
      this.preamblePending = false;
      at = PREAMBLE_BYTES;
      this.onPreamble!(p.linkId);
    }
    while (b.length - at >= FRAME_HEADER_BYTES) {
      const length = b.readUInt16BE(at);
      if (length === 0) throw new FramingError('an empty frame');
      if (length > this.frameBytesMax) throw new FramingError(`a frame of ${length} bytes (at most ${this.frameBytesMax})`);
      if (b.length - at - FRAME_HEADER_BYTES < length) break;
      this.onFrame(b.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length));
      at += FRAME_HEADER_BYTES + length;
    }
    // A copy: a frame's bytes may be kept by the core, and they should not hold a whole chunk alive.
    if (at < b.length) this.held = Buffer.from(b.subarray(at));
  }
}
