// The default workload over many seeds. The other workloads are in sim-workloads.test.ts and
// sim-faults.test.ts, so that the three files run side by side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from './harness.js';
import { count, single } from './seeds.js';

test(`simulation: ${single ? `seed ${single}` : `${count} seeds`} of writers, server and readers over a faulty network`, async (t) => {
  const seeds = single ? [Number(single)] : Array.from({ length: count }, (_, i) => i + 1);
  const failed: string[] = [];
  let datagrams = 0;
  let dropped = 0;
  let scheduled = 0;
  let fired = 0;
  for (const seed of seeds) {
    const r = await runSimulation(seed);
    datagrams += r.datagrams;
    dropped += r.dropped;
    scheduled += r.faultsScheduled;
    fired += r.faultsFired;
    if (!r.ok) failed.push(`seed ${seed} (replay: SEED=${seed} npm test): ${r.failures.slice(0, 3).join('; ')}`);
  }
  t.diagnostic(`faults fired: ${fired} of ${scheduled} scheduled; datagrams dropped: ${dropped} of ${datagrams}`);
  assert.ok(dropped > 0 && dropped < datagrams, 'the network dropped some datagrams');
  assert.deepEqual(failed, []);
  assert.equal(fired, scheduled, 'every scheduled fault happened before the run ended');
});
