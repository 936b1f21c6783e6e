import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Databases the worker keeps a connection to at once; others are opened when next checkpointed. */
const CONNECTIONS_KEPT = 8;

// CommonJS, run with `eval`: the same code whether the server runs from TypeScript sources or from dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const open = new Map();
const forget = (path) => {
  const db = open.get(path);
  if (db) db.close();
  open.delete(path);
};
parentPort.on('message', ({ id, op, path, synchronous }) => {
  if (op === 'forget') {
    try { forget(path); } catch {}
    parentPort.postMessage({ id });
    return;
  }
  try {
    let db = open.get(path);
    if (db) open.delete(path);
    else {
      db = new Database(path, { fileMustExist: true, timeout: 1000 });
      db.pragma('synchronous = ' + synchronous);
    }
    open.set(path, db);
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (open.size > workerData.kept) forget(open.keys().next().value);
    parentPort.postMessage({ id, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    try { forget(path); } catch {}
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

export interface CheckpointResult {
  log?: number;
  checkpointed?: number;
  error?: string;
}

/**
 * One worker thread checkpoints every database of the process (each topic's log is a database of its
 * own: a thread each would cost megabytes and file descriptors per topic). It keeps a connection to the
 * few databases checkpointed last. It runs while some store uses it, and never holds the process open.
 */
class CheckpointWorker {
  private worker: Worker | undefined;
  private users = 0;
  private nextId = 0;
  private readonly waiting = new Map<number, (r: CheckpointResult) => void>();

  /** A store starts using the worker. */
  acquire(): void {
    this.users++;
  }

  /** Checkpoints `path` in the background; resolves with SQLite's answer, or an error (the worker failed). */
  checkpoint(path: string, synchronous: string): Promise<CheckpointResult> {
    return this.ask({ op: 'checkpoint', path, synchronous });
  }

  /** A store is done: the worker lets go of its database; the last store done stops the worker. */
  async release(path: string): Promise<void> {
    if (this.worker) await this.ask({ op: 'forget', path });
    if (--this.users > 0 || !this.worker) return;
    const worker = this.worker;
    this.worker = undefined;
    await worker.terminate();
  }

  private ask(message: { op: string; path: string; synchronous?: string }): Promise<CheckpointResult> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.ref(); // while an answer is awaited
      worker.postMessage({ id, ...message });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, kept: CONNECTIONS_KEPT } });
    worker.on('message', (r: CheckpointResult & { id: number }) => {
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
      if (this.waiting.size === 0) worker.unref();
    });
    const failAll = (why: string): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const resolve of this.waiting.values()) resolve({ error: why });
      this.waiting.clear();
    };
    worker.on('error', (e) => failAll(e.message));
    worker.on('exit', () => failAll('the checkpoint worker stopped'));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

export const checkpointWorker = new CheckpointWorker();
