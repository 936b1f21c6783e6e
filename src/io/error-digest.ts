import type { Logger } from 'pino';
import { storeFailureReason } from '../store/store-errors.js';

/** How often one kind of store error is logged at most: a full disk fails every commit, not every commit is news. */
const REPEAT_MS = 10_000;

/**
 * Logs store errors as one line each, without a stack (they come from the store, not from a bug here),
 * and the same error at most once per REPEAT_MS, saying how often it happened meanwhile.
 */
export class StoreErrorDigest {
  private readonly seen = new Map<string, { at: number; repeats: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {}

  report(op: string, error: unknown): void {
    const reason = storeFailureReason(error);
    const key = `${op}\0${reason}`;
    const now = this.clock();
    const last = this.seen.get(key);
    if (last && now - last.at < REPEAT_MS) {
      last.repeats++;
      return;
    }
    const repeats = last?.repeats ?? 0;
    this.seen.set(key, { at: now, repeats: 0 });
    if (this.seen.size > 100) this.seen.delete(this.seen.keys().next().value!);
    const code = (error as { code?: unknown } | null)?.code;
    this.logger.error(
      { op, reason, ...(typeof code === 'string' && { code }), ...(repeats > 0 && { repeats }) },
      `store error during ${op}: ${reason}` + (repeats > 0 ? ` (${repeats} more like it in the last ${REPEAT_MS / 1000} s)` : ''),
    );
    this.logger.debug({ op, err: error }, 'store error detail');
  }
}
