import type { FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { FILE_BYTES_MAX } from '../../protocol/constants.js';
import type { WriterMark } from '../../protocol/packets.js';
import { LineSplitter } from '../line-splitter.js';
import { encodeKey, encodeValue, fingerprint, FINGERPRINT_BYTES, type FileId, type FilePlace } from './file-mark.js';

/** Bytes read from a file at a time. */
const CHUNK_BYTES = 64 * 1024;

/** Where a followed file's lines go: the writer's queue, each line followed by the file's new place. */
export interface LineSink {
  /** A line, with the name of the file it was read from. */
  line(bytes: Buffer, start: number, end: number, file: string): void;
  /** A line over the limit: not sent, reported, and skipped. */
  oversize(bytes: number): void;
  mark(m: WriterMark): void;
  /** A mark that needs none of the queued lines stored: it reaches the store ahead of them. */
  markAhead(m: WriterMark): void;
  /** The queue has room for more. */
  readonly accepting: boolean;
  /** A chunk's lines are queued: send them. */
  flushed(): void;
}

/**
 * One file being followed, through its own descriptor: a file renamed or deleted is read to its end all
 * the same. Lines are read from `place.offset`; after each, the file's place goes to the queue with it.
 */
export class FollowedFile {
  private splitter: LineSplitter;
  /** Where the splitter's input starts in the file (the last complete line's end, when it was made). */
  private base: number;
  /** Bytes read so far: the next read starts here. */
  private readAt: number;
  /** The name its lines carry: the path it was followed at (its file name, if the path is too long for the wire). */
  private label: string;
  /** At a followed path (false: renamed away or deleted, read to its end and then let go). */
  attached = true;
  /** When a read last found nothing new (for letting go of a detached file). */
  idleSince: number | undefined;
  /**
   * Its place needs nothing queued by this run to be stored (it came from the store, or nothing of the file
   * was sent before), and no line of it is queued yet: its marks may reach the store ahead of the queue.
   */
  private settled: boolean;
  private readonly key: Buffer;

  constructor(
    readonly id: FileId,
    private where: string,
    private readonly handle: FileHandle,
    private place: FilePlace,
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
    settled: boolean,
  ) {
    this.settled = settled;
    this.key = encodeKey(id);
    this.label = wireName(where);
    this.base = place.offset;
    this.readAt = place.offset;
    this.splitter = this.newSplitter();
  }

  get path(): string {
    return this.where;
  }

  /** Found at another followed path (renamed within the patterns): its lines say so from now on. */
  set path(path: string) {
    this.where = path;
    this.label = wireName(path);
  }

  get offset(): number {
    return this.place.offset;
  }

  /** How far its lines were sent, and the fingerprint of its start. */
  get at(): FilePlace {
    return { ...this.place };
  }

  /** The file's mark as of now. */
  get mark(): WriterMark {
    return { key: this.key, value: encodeValue(this.place) };
  }

  /** Sends its mark as following starts, so that a restart knows the file (and its first bytes) even behind a backlog. */
  announce(): void {
    if (this.settled) this.sink.markAhead(this.mark);
    else this.sink.mark(this.mark);
  }

  /** Reads while the queue has room; true when the file's end was reached. */
  async read(now: number): Promise<boolean> {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    while (this.sink.accepting) {
      const { bytesRead } = await this.handle.read(buf, 0, CHUNK_BYTES, this.readAt);
      if (bytesRead === 0) {
        this.idleSince ??= now;
        return true;
      }
      this.idleSince = undefined;
      const chunk = Buffer.from(buf.subarray(0, bytesRead));
      this.readAt += bytesRead;
      if (this.place.fpBytes < FINGERPRINT_BYTES && this.readAt > this.place.fpBytes) {
        await this.refreshFingerprint();
        // A file opened empty (or nearly): its first bytes tell it from its copy after a copy-and-truncate.
        if (this.settled) this.sink.markAhead(this.mark);
      }
      this.splitter.push(chunk);
      this.sink.flushed();
    }
    return false;
  }

  /** Whether the file at its place is still the one marked: not shorter than what was read, the same first bytes. */
  async unchanged(size: number): Promise<boolean> {
    if (size < this.place.offset) return false;
    if (this.place.fpBytes === 0) return true;
    return fingerprint(await this.head(this.place.fpBytes)).equals(this.place.fp);
  }

  /** The file was truncated (or replaced in place): it is read again from its start. */
  restart(): void {
    this.settled = false; // what was read before is queued: this place goes after it
    this.place = { offset: 0, fpBytes: 0, fp: Buffer.alloc(8) };
    this.base = 0;
    this.readAt = 0;
    this.splitter = this.newSplitter();
    this.sink.mark(this.mark);
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private newSplitter(): LineSplitter {
    return new LineSplitter(
      this.maxLineBytes,
      (bytes, start, end) => {
        this.sink.line(bytes, start, end, this.label);
        this.advance();
      },
      (bytes) => {
        this.sink.oversize(bytes);
        this.advance();
      },
    );
  }

  /** After a line: the file's place moves past it, and goes to the queue behind it. */
  private advance(): void {
    this.settled = false;
    this.place.offset = this.base + this.splitter.lineEnd;
    this.sink.mark(this.mark);
  }

  private async refreshFingerprint(): Promise<void> {
    const n = Math.min(FINGERPRINT_BYTES, this.readAt);
    this.place = { ...this.place, fpBytes: n, fp: fingerprint(await this.head(n)) };
  }

  private head(n: number): Promise<Buffer> {
    return readStart(this.handle, n);
  }
}

/** A file's first `n` bytes (fewer if it is shorter). */
export async function readStart(handle: FileHandle, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  const { bytesRead } = await handle.read(buf, 0, n, 0);
  return buf.subarray(0, bytesRead);
}

/** A file's name as lines carry it: the path, or its last part if the path is over FILE_BYTES_MAX bytes. */
function wireName(path: string): string {
  return Buffer.byteLength(path) <= FILE_BYTES_MAX ? path : basename(path);
}
