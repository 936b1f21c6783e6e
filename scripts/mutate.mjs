// `npm run mutate [-- --mutate 'src/core/sign-on.ts' ...]`: a StrykerJS run (over all of src/protocol and
// src/core, or the files given), kept in reports/mutation/runs/; then RESULTS.md is made from the runs,
// each file's mutants from the latest run that covered it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const RUNS = 'reports/mutation/runs';
// The simulation in the mutation run: every workload, a few seeds each (see test/sim/seeds.ts).
const env = { ...process.env, SIM_SCALE: process.env.SIM_SCALE ?? '0.03', SIM_SEEDS: process.env.SIM_SEEDS ?? '10' };
const stryker = spawnSync('npx', ['stryker', 'run', ...process.argv.slice(2)], { stdio: 'inherit', env });
if (stryker.status !== 0) process.exit(stryker.status ?? 1);
mkdirSync(RUNS, { recursive: true });
copyFileSync('reports/mutation/mutation.json', join(RUNS, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
const runs = readdirSync(RUNS).filter((f) => f.endsWith('.json')).sort().map((f) => join(RUNS, f));
const report = spawnSync('node', ['scripts/mutation-report.mjs', ...runs], { stdio: 'inherit' });
process.exit(report.status ?? 1);
