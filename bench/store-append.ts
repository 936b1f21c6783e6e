import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { NO_RETENTION, type NewMessage } from '../src/store/store.js';

/**
 * Appends per second into the sqlite store when each transaction holds `group` messages:
 * 1 is a commit per line; ~150 is one writer datagram; thousands is what group commit gathers under load.
 */
export async function appendRate(group: number, total: number, fsync = false): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-append-'));
  const store = new SqliteStore({ dataDir: dir, retention: NO_RETENTION, fsync });
  try {
    const messages: NewMessage[] = Array.from({ length: group }, (_, i) => ({ ts: 1, from: 'bench', text: Buffer.from(String(100000 + i)) }));
    const started = performance.now();
    for (let done = 0, seq = 1; done < total; done += group, seq++) {
      await store.append([{ producerId: 1n, lastSeq: seq, messages }]);
    }
    return total / ((performance.now() - started) / 1000);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
