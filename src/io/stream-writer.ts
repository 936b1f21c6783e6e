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
 *
 * With `holdReading`, a stream whose peer does not take what is written is not read from either, until
 * what waits has gone: the server then neither reads its store nor seals replies for a peer that would
 * only have them dropped (the peer's requests wait in the kernel's buffers, and then in its own).
 */
export class StreamWriter {
  private corked = false;
  private holding = false;

  constructor(
    private readonly socket: Socket,
    private readonly pendingBytesMax: number,
    private readonly holdReading = false,
  ) {}

  /** False when the frame was not written: the stream is closed, or its peer does not read fast enough. */
  write(frame: Buffer): boolean {
    const s = this.socket;
    if (s.destroyed || !s.writable) return false;
    if (s.writableLength + frame.length > this.pendingBytesMax) {
      if (this.holdReading) this.hold();
      return false;
    }
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

  private hold(): void {
    if (this.holding) return;
    this.holding = true;
    this.socket.pause();
    // 'drain' comes when all that waited has been taken (what waits is past the stream's high-water mark).
    this.socket.once('drain', () => {
      this.holding = false;
      this.socket.resume();
    });
  }
}
