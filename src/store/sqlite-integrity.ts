import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';
import { StoreOpenError } from './store-errors.js';

/**
 * What protects the sqlite log against a damaged file: a checksum per record, SQLite's own structural
 * check at start, and a mark beside the database that remembers how far the log had grown, so that a
 * database emptied or removed behind the server's back is not taken for a new one.
 */

/** A stored record whose bytes are not what was written: its messages are never served altered. */
export class RecordDamagedError extends Error {
  constructor(
    readonly firstId: number,
    readonly lastId: number,
    detail: string,
  ) {
    super(`messages ${firstId}–${lastId} in the log are damaged (${detail})`);
  }
}

/** CRC-32 over everything a record row says: its ids, time, sender, count and payload. */
export function recordChecksum(first: number, last: number, ts: number, sender: string, count: number, payload: Buffer): number {
  const head = Buffer.allocUnsafe(32);
  head.writeDoubleBE(first, 0);
  head.writeDoubleBE(last, 8);
  head.writeDoubleBE(ts, 16);
  head.writeDoubleBE(count, 24);
  return crc32(payload, crc32(Buffer.from(sender, 'utf8'), crc32(head)));
}

/** SQLite's structural check (every page, index and b-tree): the first problem, or undefined when sound. */
export function structuralDamage(db: Database.Database): string | undefined {
  const rows = db.pragma('quick_check(3)') as { quick_check: string }[];
  const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  return problems.length > 0 ? problems.join('; ') : undefined;
}

export const LOG_MARK_FILE = 'relay.log-mark';

/** How far this data directory's log has grown (the next id): kept beside the database, outside it. */
export class LogMark {
  private readonly path: string;
  private known: number;

  constructor(dataDir: string) {
    this.path = join(dataDir, LOG_MARK_FILE);
    this.known = LogMark.read(this.path);
  }

  /** The next id the log had reached when last marked (1: never held a message, or no mark). */
  get nextId(): number {
    return this.known;
  }

  /** Records that the log reached `nextId` (written only when it grew: once per start, and at the end). */
  mark(nextId: number): void {
    if (nextId <= this.known) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ nextId })}\n`);
    renameSync(tmp, this.path);
    this.known = nextId;
  }

  private static read(path: string): number {
    if (!existsSync(path)) return 1;
    try {
      const v = (JSON.parse(readFileSync(path, 'utf8')) as { nextId?: unknown }).nextId;
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : 1;
    } catch {
      throw new StoreOpenError(`${path} is not readable; it records how far the log had grown (remove it to accept the log as it is)`);
    }
  }
}
