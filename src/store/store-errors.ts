/** In a few words, why the store failed a request: what a writer is told ("the server cannot store: disk full"). */
export function storeFailureReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'disk full';
  if (code === 'SQLITE_READONLY' || code === 'EROFS') return 'its store is read-only';
  if (code === 'SQLITE_IOERR' || (typeof code === 'string' && code.startsWith('SQLITE_IOERR'))) return 'a disk error';
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 120);
}

/** The store cannot be opened: a bad data directory, a file that is not ours, one in use. One line for the user. */
export class StoreOpenError extends Error {}
