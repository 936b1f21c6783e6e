import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { runSimulation } from './harness.js';

/**
 * The default workload over some seeds: writers, server and readers over a faulty network.
 * Its seeds are split over two test files, so that they run side by side.
 */
export async function defaultWorkload(t: TestContext, seeds: number[]): Promise<void> {
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
}
