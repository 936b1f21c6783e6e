import type { ProducerBatch, RetentionLimits } from './store.js';

/** The newest timestamp of a commit: age retention counts from it at each append. */
export function latestTs(batches: readonly ProducerBatch[]): number {
  let latest = 0;
  for (const b of batches) for (const m of b.messages) latest = Math.max(latest, m.ts);
  return latest;
}

/**
 * With an age limit, `trim` by the clock as well (at least every second), so that a quiet log ages out
 * too. Not kept alive by it: the process may end. Undefined without an age limit.
 */
export function trimByClock(retention: RetentionLimits, trim: (now: number) => void): NodeJS.Timeout | undefined {
  if (retention.ageMs <= 0) return undefined;
  return setInterval(() => trim(Date.now()), Math.min(1000, retention.ageMs)).unref();
}
