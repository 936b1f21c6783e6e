import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from './harness.js';
import { CLEAN } from './network.js';

// SEED=n replays one seed exactly; SIM_SEEDS=n runs more (or fewer) of them. SIM_SCALE=f runs that
// fraction of each workload's seeds (at least one), for quick runs such as the mutation run's.
const single = process.env['SEED'];
const scale = Number(process.env['SIM_SCALE'] ?? 1);
const count = Number(process.env['SIM_SEEDS'] ?? Math.max(1, Math.round(1000 * scale)));

/** The seeds `first`..`last`, thinned to the SIM_SCALE fraction. */
function seeds(first: number, last: number): number[] {
  const n = Math.max(1, Math.round((last - first + 1) * scale));
  return Array.from({ length: n }, (_, i) => first + i);
}

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
  assert.equal(fired, scheduled, 'every scheduled fault happened before the run ended');
  assert.deepEqual(failed, []);
});

test('simulation: queue groups with a member killed, --count consumers that come and go until the queue is drained, slow output', async () => {
  for (const seed of seeds(60_001, 60_040)) {
    const r = await runSimulation(seed, { groupMembers: 3, memberCrash: true, countConsumers: true, slowOutput: seed % 2 === 0 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: readers killed mid-stream and restarted (at once on the same host, or later) resume with no gap; writers pause longer than the liveness timeout', async () => {
  let reclaimed = 0;
  // Seed 70_016 is one where a reader comes back at once from the same host: kept in thinned runs.
  for (const seed of new Set([...seeds(70_001, 70_040), 70_016])) {
    const r = await runSimulation(seed, { readerCrash: true, slowOutput: true, writerPauseMs: 8_000, readers: 2 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
    reclaimed += r.namesReclaimed;
  }
  // Some came back at once, from the same host: the server asked the dead one and gave the name over.
  assert.ok(reclaimed > 0, `names reclaimed: ${reclaimed}`);
});

test('simulation: on a clean network with a live server and idle spells, no client is ever told the server is lost', async () => {
  for (const seed of seeds(80_001, 80_030)) {
    const r = await runSimulation(seed, {
      faults: CLEAN,
      restarts: 0,
      partitions: 0,
      writerPauseMs: seed % 2 === 0 ? 3_000 : 8_000,
      readerDelays: [0, 700, 3_000],
      groupMembers: 2,
      storeFullMs: 0,
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: the store refuses appends for seconds (a full disk): writers wait, nothing is lost or doubled', async () => {
  for (const seed of seeds(90_001, 90_030)) {
    const r = await runSimulation(seed, { storeFullMs: 1_000 + (seed % 5) * 1_000, groupMembers: 2 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: readers that watch who is online (as the chat does) end up showing everyone as they are, through loss, restarts, partitions and killed readers', async () => {
  for (const seed of seeds(85_001, 85_040)) {
    const variant = seed % 3 === 0 ? { authenticated: true, partitions: 2 } : seed % 3 === 1 ? { restarts: 2, readerCrash: true } : { groupMembers: 2, memberCrash: true };
    const r = await runSimulation(seed, { watchers: 2, ...variant });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: a reader run with --once again and again, its server crashing as a run says goodbye: across runs every message is printed once', async () => {
  for (const seed of seeds(97_001, 97_040)) {
    const r = await runSimulation(seed, { onceRuns: true, restarts: 2, ...(seed % 2 === 1 && { store: 'sqlite' as const }) });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation on the sqlite store (a real file): every workload, with crashes and a full disk', async () => {
  for (const seed of seeds(95_001, 95_012)) {
    const r = await runSimulation(seed, { store: 'sqlite', restarts: 2, groupMembers: 2, memberCrash: true, readerCrash: true, countConsumers: true, storeFullMs: seed % 3 === 0 ? 2_000 : 0 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: a clean network with restarts and partitions still delivers everything exactly once', async () => {
  for (const seed of seeds(10_001, 10_020)) {
    const r = await runSimulation(seed, { restarts: 2, partitions: 2, linesPerWriter: 200 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: half the datagrams lost, lines longer than a datagram', async () => {
  for (const seed of seeds(20_001, 20_010)) {
    const r = await runSimulation(seed, {
      faults: { loss: 0.5, duplicate: 0.05, reorder: 0.1, delayMs: 0.5, jitterMs: 0.5 },
      longLineChance: 0.1,
      faultsForMs: 20_000,
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: authenticated mode through loss, restarts and partitions', async () => {
  for (const seed of seeds(30_001, 30_015)) {
    const r = await runSimulation(seed, { authenticated: true, restarts: 1, partitions: 1 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: two servers on one store; clients move on when theirs goes down or is cut off, and nothing is lost or doubled', async () => {
  for (const seed of seeds(40_001, 40_060)) {
    const r = await runSimulation(seed, { servers: 2, outages: 1, restarts: seed % 2, partitions: seed % 3, storeStalls: 0.02 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: the store failing requests now and then (its connection drops), with one server or two: nothing stalls, is lost or doubled', async () => {
  for (const seed of seeds(50_001, 50_060)) {
    const r = await runSimulation(seed, { servers: 1 + (seed % 2), outages: seed % 2, storeErrors: 0.05, storeStalls: 0.01 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});
