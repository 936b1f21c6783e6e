/**
 * Runs simulation seeds: `npm run sim -- 5000` runs seeds 1..5000; `SEED=42 npm run sim` replays one.
 * Prints each failing seed with what went wrong.
 */
import { runSimulation } from './harness.js';

const single = process.env['SEED'];
const count = Number(process.argv[2] ?? 1000);
const first = Number(process.env['FIRST_SEED'] ?? 1);
const seeds = single !== undefined ? [Number(single)] : Array.from({ length: count }, (_, i) => first + i);
const started = performance.now();
let failed = 0;
for (const seed of seeds) {
  const r = await runSimulation(seed);
  if (!r.ok) {
    failed++;
    console.log(`seed ${seed} FAILED:\n  ${r.failures.slice(0, 10).join('\n  ')}`);
  } else if (single !== undefined) {
    console.log(JSON.stringify(r));
  }
}
const secs = (performance.now() - started) / 1000;
console.log(`${seeds.length - failed} passed, ${failed} failed (${seeds.length} seeds in ${secs.toFixed(1)} s)`);
process.exitCode = failed > 0 ? 1 : 0;
