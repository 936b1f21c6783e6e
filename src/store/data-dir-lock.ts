import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StoreOpenError } from './store-errors.js';

export const LOCK_FILE = 'relay.lock';

/**
 * One server per data directory. The lock is a small SQLite file held in exclusive mode for as long as
 * the server runs: the operating system releases it when the process ends, however it ends, so a killed
 * server leaves no stale lock behind. (The log itself cannot be held exclusively: its WAL is checkpointed
 * from a second connection.)
 */
export class DataDirLock {
  private readonly db: Database.Database;
  private readonly created: boolean;

  constructor(
    readonly dataDir: string,
    describe: string,
  ) {
    const path = join(dataDir, LOCK_FILE);
    this.created = !existsSync(path);
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock, and exclusive mode keeps it until the connection closes.
      db.exec('CREATE TABLE IF NOT EXISTS held (at TEXT); DELETE FROM held; INSERT INTO held VALUES (datetime())');
    } catch (e) {
      db?.close();
      const code = (e as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new StoreOpenError(`${describe} is in use by another server`);
      throw new StoreOpenError(`cannot lock ${path}: ${(e as Error).message}`);
    }
    this.db = db;
  }

  /** Lets go. `discard` also removes a lock file this lock created (the directory turned out not to be ours). */
  release(discard = false): void {
    if (this.db.open) this.db.close();
    if (discard && this.created) {
      for (const f of [LOCK_FILE, `${LOCK_FILE}-journal`]) rmSync(join(this.dataDir, f), { force: true });
    }
  }
}
