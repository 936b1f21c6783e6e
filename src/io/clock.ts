import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-millisecond resolution: the one clock the cores are fed. */
export const now = (): number => performance.timeOrigin + performance.now();
