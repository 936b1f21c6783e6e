import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

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

// CommonJS, run with `eval`: the same code whether the server runs from TypeScript sources or from dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true, timeout: 1000 });
db.pragma('synchronous = ' + workerData.synchronous);
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
});
`;

interface CheckpointResult {
  log?: number;
  checkpointed?: number;
  error?: string;
}

/**
 * Copies the WAL back into the database from a worker thread, so that a commit never waits for a
 * checkpoint (SQLite's automatic one runs inside the commit that crosses 1,000 pages: a stall of
 * 10-20 ms every few hundred small commits). If the worker fails, SQLite's own checkpointing takes over.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
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
    path: string,
    synchronous: 'NORMAL' | 'FULL',
  ) {
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${WAL_BYTES_KEPT}`);
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, synchronous } });
    this.worker.on('message', (r: CheckpointResult) => this.onResult(r));
    this.worker.on('error', () => this.fallBack());
    // After the listeners (adding one references the worker again): it must never hold a process open.
    this.worker.unref();
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
    if (this.failed) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref(); // while we wait for it to finish
    this.worker.postMessage('close');
    await exited;
  }

  private start(): void {
    this.timer = undefined;
    if (this.closed || this.failed) return;
    this.dirty = false;
    this.inFlight = true;
    this.lastAt = performance.now();
    this.worker.postMessage('checkpoint');
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
