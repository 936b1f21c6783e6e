import { accessSync, constants, existsSync, rmSync } from 'node:fs';
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
    checkDriverLoads();
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock, and exclusive mode keeps it until the connection closes.
      db.exec('CREATE TABLE IF NOT EXISTS held (at TEXT); DELETE FROM held; INSERT INTO held VALUES (datetime())');
    } catch (e) {
      db?.close();
      const code = (e as { code?: string }).code;
      const message = (e as Error).message;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new StoreOpenError(`${describe} is in use by another server`);
      if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || !writable(dataDir)) {
        throw new StoreOpenError(`data directory ${dataDir} is not writable`);
      }
      throw new StoreOpenError(`cannot lock ${path}: ${message}`);
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

/**
 * The driver loads its native part on first use, and a failed build or one made for another Node fails
 * there in many words (missing bindings, a short file, a wrong ELF class, a module version): a database in
 * memory touches no file, so any failure to open one is the driver's.
 */
function checkDriverLoads(): void {
  try {
    new Database(':memory:').close();
  } catch {
    throw new StoreOpenError(
      `the SQLite driver (better-sqlite3) cannot load for Node ${process.versions.node}: run 'npm rebuild better-sqlite3', or use --store memory`,
    );
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
