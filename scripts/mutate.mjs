// `npm run mutate [-- --mutate 'src/core/sign-on.ts' ...]`: a StrykerJS run (over all of src/protocol and
// src/core, or the files given), kept in compact form in reports/mutation/runs/ (committed); then
// RESULTS.md is made from the runs, each file's mutants from the latest run that covered it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactRun, formatRun } from './mutation-run.mjs';

const RUNS = 'reports/mutation/runs';
// The simulation in the mutation run: every workload, a few seeds each (see test/sim/seeds.ts).
const env = { ...process.env, SIM_SCALE: process.env.SIM_SCALE ?? '0.03', SIM_SEEDS: process.env.SIM_SEEDS ?? '10' };
const stryker = spawnSync('npx', ['stryker', 'run', ...process.argv.slice(2)], { stdio: 'inherit', env });
if (stryker.status !== 0) process.exit(stryker.status ?? 1);
mkdirSync(RUNS, { recursive: true });
const run = compactRun(JSON.parse(readFileSync('reports/mutation/mutation.json', 'utf8')));
writeFileSync(join(RUNS, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`), formatRun(run));
const runs = readdirSync(RUNS).filter((f) => f.endsWith('.json')).sort().map((f) => join(RUNS, f));
const report = spawnSync('node', ['scripts/mutation-report.mjs', ...runs], { stdio: 'inherit' });
process.exit(report.status ?? 1);
