import type Database from 'better-sqlite3';
import { checkpointWorker, type CheckpointResult } from './checkpoint-worker.js';

/** Checkpoints run at most this often while appends go on. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * Past this many frames (about 32 MB of WAL), the main connection finishes the checkpoint itself, so that
 * the next write starts the WAL over. Under a steady stream some write always lands while the background
 * checkpoint runs, and only a checkpoint with no write in between lets the WAL restart.
 */
const WAL_FRAMES_RESTART = 8192;
/** What the WAL file is cut back to after a restart. */
export const WAL_BYTES_KEPT = 32 * 1024 * 1024;

/**
 * Copies the WAL back into the database from a worker thread (one for all the process's databases), so
 * that a commit never waits for a checkpoint (SQLite's automatic one runs inside the commit that crosses 1,000 pages: a stall of
 * 10-20 ms every few hundred small commits). If the worker fails, SQLite's own checkpointing takes over.
 */
export class WalCheckpointer {
  private inFlight = false;
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  private dirty = false;
  private failed = false;
  private closed = false;
  /** Checkpoints done in the background, and by the main connection to bound the WAL (for tests and stats). */
  readonly stats = { background: 0, foreground: 0 };

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly synchronous: 'NORMAL' | 'FULL',
  ) {
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${WAL_BYTES_KEPT}`);
    checkpointWorker.acquire();
  }

  /** Called after every committed append. */
  committed(): void {
    if (this.failed || this.closed) return;
    this.dirty = true;
    if (this.inFlight || this.timer) return;
    const wait = this.lastAt + CHECKPOINT_INTERVAL_MS - performance.now();
    if (wait <= 0) this.start();
    else this.timer = setTimeout(() => this.start(), wait).unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // After any checkpoint in flight: the worker answers in order.
    await checkpointWorker.release(this.path);
  }

  private start(): void {
    this.timer = undefined;
    if (this.closed || this.failed) return;
    this.dirty = false;
    this.inFlight = true;
    this.lastAt = performance.now();
    void checkpointWorker.checkpoint(this.path, this.synchronous).then((r) => this.onResult(r));
  }

  private onResult(r: CheckpointResult): void {
    this.inFlight = false;
    if (this.closed) return;
    if (r.error !== undefined) return this.fallBack();
    this.stats.background++;
    if ((r.log ?? 0) >= WAL_FRAMES_RESTART && this.db.open) {
      // Only what was written during the background checkpoint is left to copy: a short pause.
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.stats.foreground++;
    }
    if (this.dirty) this.committed();
  }

  private fallBack(): void {
    if (this.failed) return;
    this.failed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.db.open && !this.closed) this.db.pragma('wal_autocheckpoint = 1000');
  }
}
