import { open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { WriterMark } from '../../protocol/packets.js';
import { decodeMark, fingerprint, FINGERPRINT_BYTES, forgetMark, idKey, type FileId, type FilePlace } from './file-mark.js';
import { expandPatterns, listDir } from './file-patterns.js';
import { FollowedFile, readStart, type LineSink } from './followed-file.js';

/** Files followed at once (each holds a descriptor). */
export const FOLLOWED_FILES_MAX = 64;
/** Entries looked at per directory, when expanding a pattern or looking for a file that was renamed. */
const DIR_ENTRIES_MAX = 10_000;
const POLL_MS = 250;
/** A file renamed away or deleted is let go once nothing was added to it for this long (after it was read to its end). */
const LINGER_MS = 5_000;

export interface FollowOptions {
  patterns: readonly string[];
  /** The first run of this writer name reads files that exist from their start (else from their end). */
  fromStart: boolean;
  maxLineBytes: number;
  sink: LineSink;
  warn: (message: string) => void;
  pollMs?: number;
  lingerMs?: number;
}

/**
 * `run-writer --follow`: the files the patterns name, followed as `tail -F` does (appends; a file renamed
 * away or deleted is read to its end and the new one from its start; a truncated one again from its start;
 * files that appear later), each resuming where the store's marks say this writer name left off.
 */
export class FileFollower {
  private readonly files = new Map<string, FollowedFile>();
  /** Marks from the store not yet matched to a file (the first scan uses them). */
  private resume = new Map<string, { id: FileId; place: FilePlace }>();
  private known = false;
  private firstScan = true;
  private busy: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly warned = new Set<string>();
  /** Files let go (renamed away or deleted, then quiet), with their places: one seen again goes on from there. */
  private readonly released = new Map<string, { id: FileId; place: FilePlace }>();
  /** The last read stopped because the queue was full: kick when it has room. */
  waitingForRoom = false;

  constructor(private readonly opts: FollowOptions) {}

  /** Starts from the store's marks; `known`: the store knew this writer name (it has run before). */
  async start(marks: readonly WriterMark[], known: boolean): Promise<void> {
    for (const m of marks) {
      const d = decodeMark(m);
      if (d) this.resume.set(idKey(d.id), d);
    }
    this.known = known;
    this.timer = setInterval(() => this.kick(), this.opts.pollMs ?? POLL_MS);
    this.kick();
    await this.busy;
  }

  /** Looks and reads again now (the queue has room again). */
  kick(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = this.poll().finally(() => (this.busy = undefined));
  }

  /** Stops reading; the lines already queued are the caller's. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.busy;
    await Promise.all([...this.files.values()].map((f) => f.close()));
    this.files.clear();
  }

  /** Files followed now (tests, progress). */
  get followed(): { path: string; offset: number; attached: boolean }[] {
    return [...this.files.values()].map((f) => ({ path: f.path, offset: f.offset, attached: f.attached }));
  }

  private async poll(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.scan();
        await this.readAll();
      } catch (e) {
        this.warnOnce(`read:${(e as Error).message}`, `cannot follow: ${(e as Error).message}`);
      }
      // Marks queued without a line read after them (a file opened, let go, read anew) go out now too.
      this.opts.sink.flushed();
    } while (this.again && !this.stopped);
  }

  /** Which files the patterns name now: new ones opened, moved ones noticed, replaced ones read anew. */
  private async scan(): Promise<void> {
    const seen = new Set<string>();
    for (const path of await expandPatterns(this.opts.patterns, DIR_ENTRIES_MAX)) {
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      if (!st?.isFile()) continue;
      const id = { dev: st.dev, ino: st.ino };
      const key = idKey(id);
      if (seen.has(key)) continue;
      seen.add(key);
      const f = this.files.get(key);
      if (!f) {
        await this.open(path, id, Number(st.size), true);
        continue;
      }
      f.path = path;
      f.attached = true;
      if (!(await f.unchanged(Number(st.size)))) {
        const copy = await this.openCopy(dirname(path), f.at);
        this.opts.warn(`${path} was truncated or replaced: reading it again from its start${copy ? ` (the rest of what it held first, from its copy ${copy})` : ''}`);
        f.restart();
      }
    }
    for (const [key, f] of this.files) if (!seen.has(key)) f.attached = false;
    if (this.firstScan) await this.findMoved();
    this.firstScan = false;
  }

  /**
   * Files followed before that are no longer at a followed path (rotated while this writer was down): looked
   * for by device and inode next to the followed files, and read to their end. Those not found are given up.
   */
  private async findMoved(): Promise<void> {
    if (this.resume.size > 0) {
      for (const dir of new Set(this.opts.patterns.map((p) => dirname(p)))) {
        for (const name of await listDir(dir, DIR_ENTRIES_MAX)) {
          const path = join(dir, name);
          const st = await stat(path, { bigint: true }).catch(() => undefined);
          if (st?.isFile() && this.resume.has(idKey({ dev: st.dev, ino: st.ino }))) await this.open(path, { dev: st.dev, ino: st.ino }, Number(st.size), false);
        }
      }
    }
    for (const { id } of this.resume.values()) {
      this.opts.warn(`a file followed before (device ${id.dev}, inode ${id.ino}) is gone: what it held unsent, if anything, is lost`);
      this.opts.sink.mark(forgetMark(id));
    }
    this.resume.clear();
  }

  /**
   * Copy-and-truncate rotation: a copy of a followed file, next to it, holds what had not been read when the
   * file was truncated. Found by its first bytes (the newest such copy, at least as long as what was read):
   * it is read from there, and let go. Returns its path.
   */
  private async openCopy(dir: string, place: FilePlace): Promise<string | undefined> {
    if (place.fpBytes === 0) return undefined;
    let best: { path: string; id: FileId; size: number; mtime: bigint } | undefined;
    for (const name of await listDir(dir, DIR_ENTRIES_MAX)) {
      const path = join(dir, name);
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      if (!st?.isFile() || Number(st.size) < place.offset || this.files.has(idKey({ dev: st.dev, ino: st.ino }))) continue;
      if (best && st.mtimeNs <= best.mtime) continue;
      if (!fingerprint(await readHead(path, place.fpBytes)).equals(place.fp)) continue;
      best = { path, id: { dev: st.dev, ino: st.ino }, size: Number(st.size), mtime: st.mtimeNs };
    }
    if (!best) return undefined;
    this.resume.set(idKey(best.id), { id: best.id, place });
    await this.open(best.path, best.id, best.size, false);
    return best.path;
  }

  private async open(path: string, id: FileId, size: number, attached: boolean): Promise<void> {
    if (this.files.size >= FOLLOWED_FILES_MAX) {
      return this.warnOnce(`max:${path}`, `following at most ${FOLLOWED_FILES_MAX} files: ${path} is not followed`);
    }
    const handle = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
      this.warnOnce(`open:${path}`, `cannot read ${path}: ${e.code ?? e.message}`);
    });
    if (!handle) return;
    const key = idKey(id);
    // A file let go and found again (back under a followed name) is not new: it goes on where it was.
    const marked = this.resume.get(key) ?? this.released.get(key);
    this.resume.delete(key);
    this.released.delete(key);
    const head = await readStart(handle, Math.min(FINGERPRINT_BYTES, size));
    const headBytes = head.length;
    let offset = 0;
    if (marked && size >= marked.place.offset && fingerprint(head.subarray(0, marked.place.fpBytes)).equals(marked.place.fp)) {
      offset = marked.place.offset;
    } else if (marked) {
      const copy = await this.openCopy(dirname(path), marked.place);
      this.opts.warn(`${path} is not as it was when last followed (truncated or replaced): reading it from its start${copy ? ` (the rest of what it held first, from its copy ${copy})` : ''}`);
    } else if (this.firstScan && !this.known && !this.opts.fromStart) {
      offset = size; // the first run starts at the end of what exists, as tail -F does
    }
    const place = { offset, fpBytes: headBytes, fp: fingerprint(head) };
    const f = new FollowedFile(id, path, handle, place, this.opts.maxLineBytes, this.opts.sink);
    f.attached = attached;
    this.files.set(key, f);
    this.opts.sink.mark(f.mark);
  }

  /** Files renamed away or deleted first (they are older), then the others; as far as the queue has room. */
  private async readAll(): Promise<void> {
    const now = Date.now();
    const files = [...this.files.values()].sort((a, b) => Number(a.attached) - Number(b.attached));
    for (const f of files) {
      this.waitingForRoom = !this.opts.sink.accepting;
      if (this.waitingForRoom || this.stopped) return;
      const atEnd = await f.read(now);
      if (atEnd && !f.attached && now - f.idleSince! >= (this.opts.lingerMs ?? LINGER_MS)) {
        this.files.delete(idKey(f.id));
        this.released.set(idKey(f.id), { id: f.id, place: f.at });
        if (this.released.size > FOLLOWED_FILES_MAX) this.released.delete(this.released.keys().next().value!);
        await f.close();
        this.opts.sink.mark(forgetMark(f.id));
      }
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.opts.warn(message);
  }
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await readStart(handle, n);
  } finally {
    await handle.close();
  }
}
