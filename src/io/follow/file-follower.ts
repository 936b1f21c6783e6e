import { open, stat, type FileHandle } from 'node:fs/promises';
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
  /** What the follower does, for `--log-level debug`: files opened and where, files let go. */
  trace?: (message: string) => void;
  pollMs?: number;
  lingerMs?: number;
  /** How a file is opened for reading (node:fs/promises `open`; a test rotates a file in between). */
  openFile?: (path: string) => Promise<FileHandle>;
}

/**
 * `run-writer --follow`: the files the patterns name, followed as `tail -F` does (appends; a file renamed
 * away or deleted is read to its end and the new one from its start; a truncated one again from its start;
 * files that appear later), each resuming where the store's marks say this writer name left off.
 */
export class FileFollower {
  private readonly files = new Map<string, FollowedFile>();
  /** The directories of the followed paths: where rotated files and copies are looked for. */
  private readonly dirs: string[];
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

  constructor(private readonly opts: FollowOptions) {
    this.dirs = [...new Set(opts.patterns.map((p) => dirname(p)))];
  }

  /** Starts from the store's marks; `known`: the store knew this writer name (it has run before). */
  async start(marks: readonly WriterMark[], known: boolean): Promise<void> {
    for (const m of marks) {
      const d = decodeMark(m);
      if (d) this.resume.set(idKey(d.id), d);
    }
    this.opts.trace?.(`${known ? 'resuming' : 'first run'}: ${this.resume.size} files marked`);
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

  /** Looks and reads now, and waits until that is done (tests step a follower this way). */
  async settle(): Promise<void> {
    this.kick();
    while (this.busy) await this.busy;
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
        const opened = await this.open(path, id, Number(st.size), true);
        if (opened) seen.add(opened);
        continue;
      }
      f.path = path;
      f.attached = true;
      if (!(await f.unchanged(Number(st.size)))) {
        const copy = await this.openCopy(await filesIn([dirname(path)]), f.at, false);
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
    // Listed once: for the files moved, and for the copies of those gone.
    const entries = this.resume.size > 0 ? await filesIn(this.dirs) : [];
    for (const e of entries) if (this.resume.has(idKey(e.id))) await this.open(e.path, e.id, e.size, false);
    const lost = [...this.resume.values()];
    this.resume.clear();
    for (const { id, place } of lost) {
      this.opts.sink.mark(forgetMark(id));
      // Gone, but copied first (copy-and-truncate, then the file removed): its unsent rest is in the copy.
      const copy = await this.openCopy(entries, place, true);
      if (copy) this.opts.warn(`a file followed before (device ${id.dev}, inode ${id.ino}) is gone: the rest of what it held is read from its copy ${copy}`);
      else this.opts.warn(`a file followed before (device ${id.dev}, inode ${id.ino}) is gone: what it held unsent, if anything, is lost`);
    }
  }

  /**
   * Copy-and-truncate rotation: a copy of a followed file, among `entries` (the files next to it), holds what
   * had not been read when the file was truncated. Found by its first bytes (the newest such copy, at least as
   * long as what was read): it is read from there, and let go. Returns its path.
   */
  private async openCopy(entries: readonly DirEntry[], place: FilePlace, settled: boolean): Promise<string | undefined> {
    if (place.fpBytes === 0) return undefined;
    let best: DirEntry | undefined;
    for (const e of entries) {
      if (e.size < place.offset || this.files.has(idKey(e.id)) || (best && e.mtime <= best.mtime)) continue;
      if (fingerprint(await readHead(e.path, place.fpBytes)).equals(place.fp)) best = e;
    }
    if (!best) return undefined;
    return (await this.open(best.path, best.id, best.size, false, { place, settled })) && best.path;
  }

  /**
   * Follows a file from its place: the one `given`, or the store's, or the one it had when let go earlier in
   * this run; a new file from its start (or, on a first run, its end). `settled`: the place needs nothing this
   * run queued to be stored, so its mark may go ahead of the queue.
   */
  private async open(path: string, listed: FileId, listedSize: number, attached: boolean, given?: { place: FilePlace; settled: boolean }): Promise<string | undefined> {
    if (this.files.size >= FOLLOWED_FILES_MAX) {
      this.warnOnce(`max:${path}`, `following at most ${FOLLOWED_FILES_MAX} files: ${path} is not followed`);
      return undefined;
    }
    const handle = await (this.opts.openFile ?? ((p: string) => open(p, 'r')))(path).catch((e: NodeJS.ErrnoException) => {
      this.warnOnce(`open:${path}`, `cannot read ${path}: ${e.code ?? e.message}`);
    });
    if (!handle) return undefined;
    // Which file this is, from the descriptor: the path may name another one than when it was listed (rotated
    // in between), and a file's key, place and lines must all be of the one file read.
    const st = await handle.stat({ bigint: true });
    const id = { dev: st.dev, ino: st.ino };
    const size = Number(st.size);
    const key = idKey(id);
    if (key !== idKey(listed) && (given !== undefined || this.files.has(key))) {
      await handle.close();
      return undefined;
    }
    const fromStore = this.resume.get(key);
    // A file let go and found again (back under a followed name) is not new: it goes on where it was.
    const fromRun = this.released.get(key);
    this.resume.delete(key);
    this.released.delete(key);
    const marked = given ?? (fromStore ? { place: fromStore.place, settled: true } : fromRun && { place: fromRun.place, settled: false });
    const head = await readStart(handle, Math.min(FINGERPRINT_BYTES, size));
    let offset = 0;
    if (marked && size >= marked.place.offset && fingerprint(head.subarray(0, marked.place.fpBytes)).equals(marked.place.fp)) {
      offset = marked.place.offset;
    } else if (marked) {
      const copy = await this.openCopy(await filesIn([dirname(path)]), marked.place, marked.settled);
      this.opts.warn(`${path} is not as it was when last followed (truncated or replaced): reading it from its start${copy ? ` (the rest of what it held first, from its copy ${copy})` : ''}`);
    } else if (this.firstScan && !this.known && !this.opts.fromStart) {
      offset = size; // the first run starts at the end of what exists, as tail -F does
    }
    const place = { offset, fpBytes: head.length, fp: fingerprint(head) };
    this.opts.trace?.(`following ${path} (inode ${id.ino}, ${size} bytes) from ${offset}${marked ? `; marked at ${marked.place.offset} (${marked.place.fpBytes} bytes known)` : ''}`);
    const f = new FollowedFile(id, path, handle, place, this.opts.maxLineBytes, this.opts.sink, marked?.settled ?? true);
    f.attached = attached;
    this.files.set(key, f);
    f.announce();
    return key;
  }

  /** Files renamed away or deleted first (they are older), then the others; as far as the queue has room. */
  private async readAll(): Promise<void> {
    const now = Date.now();
    const files = [...this.files.values()].sort((a, b) => Number(a.attached) - Number(b.attached));
    this.waitingForRoom = false;
    for (const f of files) {
      if (this.stopped) return;
      const atEnd = await f.read(now);
      // Stopped for want of room in the queue: read on as soon as it has some, not at the next poll.
      if (!atEnd) {
        this.waitingForRoom = true;
        return;
      }
      if (!f.attached && now - f.idleSince! >= (this.opts.lingerMs ?? LINGER_MS)) {
        this.files.delete(idKey(f.id));
        this.released.set(idKey(f.id), { id: f.id, place: f.at });
        if (this.released.size > FOLLOWED_FILES_MAX) this.released.delete(this.released.keys().next().value!);
        await f.close();
        this.opts.sink.mark(forgetMark(f.id));
        this.opts.trace?.(`let go of ${f.path} (inode ${f.id.ino}) at ${f.offset}`);
      }
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.opts.warn(message);
  }
}

interface DirEntry {
  path: string;
  id: FileId;
  size: number;
  mtime: bigint;
}

/** The regular files in these directories (at most DIR_ENTRIES_MAX looked at in each). */
async function filesIn(dirs: readonly string[]): Promise<DirEntry[]> {
  const out: DirEntry[] = [];
  for (const dir of dirs) {
    for (const name of await listDir(dir, DIR_ENTRIES_MAX)) {
      const path = join(dir, name);
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      if (st?.isFile()) out.push({ path, id: { dev: st.dev, ino: st.ino }, size: Number(st.size), mtime: st.mtimeNs });
    }
  }
  return out;
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await readStart(handle, n);
  } finally {
    await handle.close();
  }
}
