// Runs every test file, three at a time, the longest first. Node's own runner sorts the files it is given,
// which starts the 1,000-seed simulation (a minute and a half) among the last and leaves it running alone
// at the end; started first, it runs beside the others. The simulation files run at a lower CPU
// priority (test/sim/seeds.ts): on two cores, three files at a time are in effect the two tests on real
// time, while the simulation uses what their waits leave idle. So they are spread over the order: two
// of them at once would hold two of the three places. A file has 6 minutes (the 1,000-seed simulation,
// about a minute and a half alone, took over 4 beside the others on a busy machine, waiting for the CPU):
// the limit is there to stop a hang, not to time anything. The Redis Cluster file (21 processes at once)
// starts early, beside the simulations, which give way to it: next to a file that times a client, it could starve one.
// Usage: node --import tsx scripts/run-tests.mjs (what `npm test` runs after lint, typecheck and build).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from 'node:test';
import { tap } from 'node:test/reporters';

const FIRST = ['test/sim/sim.test.ts', 'test/e2e/follow.test.ts', 'test/e2e/promises.test.ts', 'test/e2e/errors.test.ts', 'test/sim/sim-workloads.test.ts', 'test/e2e/redis-cluster.test.ts', 'test/e2e/redis.test.ts', 'test/e2e/chat.test.ts', 'test/e2e/seed-features.test.ts', 'test/e2e/durable.test.ts', 'test/sim/sim-faults.test.ts'];

const all = readdirSync('test', { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join('test', d.name)).filter((f) => f.endsWith('.test.ts')).map((f) => `test/${d.name}/${f}`))
  .sort();
for (const f of FIRST) if (!all.includes(f)) throw new Error(`${f} is not a test file`);
const files = [...FIRST, ...all.filter((f) => !FIRST.includes(f))];

// The commands the tests run remember servers' keys (known_servers) in a config directory of the run's
// own, not the user's: test servers come and go on ports the system picks, with keys of their own.
// (test/e2e/processes.ts gives each command it starts a directory of its own as well.)
const config = mkdtempSync(join(tmpdir(), 'relay-test-config-'));
process.env.XDG_CONFIG_HOME = config;
process.on('exit', () => rmSync(config, { recursive: true, force: true }));

// A file that ends with a command it started still running would never end on Node 24 (its runner
// waits for the file's process whatever the timeout): test/e2e/processes.ts kills what its commands left.
// (forceExit would end such a file, but a file ended that way can lose the last of its report: seen
// here, 25 passing tests missing from a run that said it passed.)
const stream = run({ files, concurrency: 3, timeout: 360_000 });
// A failing test marked todo (a known open problem) is reported as such, and does not fail the run.
stream.on('test:fail', (e) => {
  if (e.todo === undefined) process.exitCode = 1;
});
stream.compose(tap).pipe(process.stdout);
