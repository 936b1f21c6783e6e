import { setPriority } from 'node:os';

// How many simulation seeds a run takes. SEED=n replays one seed exactly; SIM_SEEDS=n runs more (or
// fewer) of the default ones. SIM_SCALE=f runs that fraction of each workload's seeds (at least one),
// for quick runs such as the mutation run's.
export const single = process.env['SEED'];
const scale = Number(process.env['SIM_SCALE'] ?? 1);
export const count = Number(process.env['SIM_SEEDS'] ?? Math.max(1, Math.round(1000 * scale)));

/** The seeds `first`..`last`, thinned to the SIM_SCALE fraction. */
export function seeds(first: number, last: number): number[] {
  const n = Math.max(1, Math.round((last - first + 1) * scale));
  return Array.from({ length: n }, (_, i) => first + i);
}

// The simulation runs on virtual time, so it can wait for the CPU: in `npm test` it runs at a lower
// priority (a tenth of the CPU when the tests on real time beside it want all of it), and takes what
// their waits leave idle.
if (process.env['NODE_TEST_CONTEXT'] !== undefined) setPriority(10);
