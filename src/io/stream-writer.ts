import type { Socket } from 'node:net';
import { FramingError, type FrameDecoder } from '../protocol/stream-framing.js';

/** Feeds what a stream brings to its decoder; a peer that breaks the framing is cut off, unanswered. */
export function readFrames(socket: Socket, decoder: FrameDecoder): void {
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      socket.destroy();
    }
  });
}

/**
 * Writes frames to one stream, bounded: what waits unsent never passes `pendingBytesMax` (a frame that
 * would pass it is refused, and the caller drops it as a lossy path would). Frames written in one turn
 * of the event loop leave together (cork), rather than one system call each.
 */
export class StreamWriter {
  private corked = false;

  constructor(
    private readonly socket: Socket,
    private readonly pendingBytesMax: number,
  ) {}

  /** False when the frame was not written: the stream is closed, or its peer does not read fast enough. */
  write(frame: Buffer): boolean {
    const s = this.socket;
    if (s.destroyed || !s.writable || s.writableLength + frame.length > this.pendingBytesMax) return false;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    s.write(frame);
    return true;
  }
}
